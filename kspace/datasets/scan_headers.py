"""Scan parameters from file headers, each optional: what is not in the
header is stored as unknown, never guessed.

The fields are those of `synthetic_mri` records, which the phase model's
optional scan conditioning reads (`score_phase.scan_params`):

  field_strength_t  B0 in tesla (NaN: unknown).
  echo_time_ms      the nominal echo time (NaN: unknown).
  b0_direction      (3,) unit B0 vector in image axes (x along a row, y
                    along a column, the slice normal), NaN: unknown.
  sequence          `GRADIENT_ECHO` (0), `SPIN_ECHO` (1), or -1 unknown.

DICOM: MagneticFieldStrength (0018,0087), EchoTime (0018,0081),
ScanningSequence (0018,0020; "GR" gradient echo, else "SE" spin echo, with
or without "IR"/"EP"), and ImageOrientationPatient (0020,0037): with row and
column direction cosines r and c in the patient's LPS frame and the scanner
bore (B0) along the patient's z axis, B0 in image axes is
(r_z, c_z, (r x c)_z). ISMRMRD (fastMRI's `ismrmrd_header`):
acquisitionSystemInformation/systemFieldStrength_T, the first
sequenceParameters/TE, and sequenceParameters/sequence_type where present;
it has no slice orientation.
"""

import math
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence

import numpy as np
import tensorflow_datasets as tfds

from kspace.simulator import sequences

UNKNOWN_SEQUENCE = -1
_ISMRMRD_NS = {"m": "http://www.ismrm.org/ISMRMRD"}


def unknown() -> dict:
  """The record fields of a scan nothing is known about."""
  return {
      "field_strength_t": np.float32(np.nan),
      "echo_time_ms": np.float32(np.nan),
      "b0_direction": np.full((3,), np.nan, np.float32),
      "sequence": np.int32(UNKNOWN_SEQUENCE),
  }


def features() -> dict:
  """The TFDS feature specs of the scan fields, shared by every builder."""
  return {
      "field_strength_t": tfds.features.Scalar(dtype=np.float32),
      "echo_time_ms": tfds.features.Scalar(dtype=np.float32),
      "b0_direction": tfds.features.Tensor(shape=(3,), dtype=np.float32),
      "sequence": tfds.features.Scalar(dtype=np.int32),
  }


def dicom_extras(dataset) -> dict:
  """Further acquisition fields a DICOM header may hold (unknown: NaN /
  empty text): repetition_time_ms, pixel_spacing_mm (row, column spacing),
  scanning_sequence, sequence_variant and image_type as written (e.g.
  "SE\\IR", "SK\\SP", "ORIGINAL\\PRIMARY\\M\\ND")."""
  spacing = dataset.get("PixelSpacing")
  if spacing is None:
    spacing = _first_frame_group(
        dataset, "PixelMeasuresSequence", "PixelSpacing"
    )
  try:
    spacing = np.array([_positive(v) for v in spacing], np.float32)
  except TypeError:
    spacing = None
  if spacing is None or spacing.shape != (2,):
    spacing = np.full((2,), np.nan, np.float32)
  text = lambda key: "\\".join(
      str(v) for v in np.atleast_1d(dataset.get(key) or [])
  )
  return {
      "repetition_time_ms": np.float32(
          _positive(dataset.get("RepetitionTime"))
      ),
      "pixel_spacing_mm": spacing,
      "scanning_sequence": text("ScanningSequence"),
      "sequence_variant": text("SequenceVariant"),
      "image_type": text("ImageType"),
  }


def dicom_extra_features() -> dict:
  """The TFDS feature specs of `dicom_extras`."""
  return {
      "repetition_time_ms": tfds.features.Scalar(dtype=np.float32),
      "pixel_spacing_mm": tfds.features.Tensor(shape=(2,), dtype=np.float32),
      "scanning_sequence": tfds.features.Text(),
      "sequence_variant": tfds.features.Text(),
      "image_type": tfds.features.Text(),
  }


def _positive(value) -> float:
  try:
    number = float(value)
  except (TypeError, ValueError):
    return math.nan
  return number if math.isfinite(number) and number > 0 else math.nan


# Longer sequence names (ISMRMRD sequence_type, vendor names) by family.
_GRADIENT_ECHO_NAMES = ("GRADIENT", "FLASH", "FFE", "SPGR", "FISP", "GRE")
_SPIN_ECHO_NAMES = ("SPINECHO", "TSE", "FSE", "RARE", "HASTE")


def sequence_family(names: Sequence[str] | str | None) -> int:
  """GRADIENT_ECHO, SPIN_ECHO or UNKNOWN_SEQUENCE from sequence names.

  Args:
    names: DICOM ScanningSequence values (e.g. ["SE", "IR"]: the codes GR
      and SE decide, GR first as in EP\\GR) or an ISMRMRD sequence_type
      (e.g. "TurboSpinEcho", "Flash").
  """
  if names is None:
    return UNKNOWN_SEQUENCE
  if isinstance(names, str):
    names = [names]
  tokens = [str(n).strip().upper() for n in names]
  if "GR" in tokens or any(
      k in t for t in tokens for k in _GRADIENT_ECHO_NAMES
  ):
    return sequences.GRADIENT_ECHO
  if "SE" in tokens or any(k in t for t in tokens for k in _SPIN_ECHO_NAMES):
    return sequences.SPIN_ECHO
  return UNKNOWN_SEQUENCE


def b0_in_image_axes(orientation: Sequence[float] | None) -> np.ndarray:
  """(3,) float32 B0 direction in image axes from ImageOrientationPatient.

  NaN when the orientation is missing or not two unit, orthogonal vectors.
  """
  missing = np.full((3,), np.nan, np.float32)
  if orientation is None or len(orientation) != 6:
    return missing
  cosines = np.asarray([float(v) for v in orientation], np.float64)
  row, column = cosines[:3], cosines[3:]
  if (
      not np.all(np.isfinite(cosines))
      or abs(np.linalg.norm(row) - 1) > 1e-3
      or abs(np.linalg.norm(column) - 1) > 1e-3
      or abs(row @ column) > 1e-3
  ):
    return missing
  normal = np.cross(row, column)
  return np.array([row[2], column[2], normal[2]], np.float32)


def _first_frame_group(dataset, sequence: str, key: str):
  """`key` of `sequence` in an enhanced (multi-frame) DICOM's shared, else
  first per-frame, functional group; None where absent."""
  for groups in (
      "SharedFunctionalGroupsSequence",
      "PerFrameFunctionalGroupsSequence",
  ):
    group = (dataset.get(groups) or [None])[0]
    if group is not None and group.get(sequence):
      value = group.get(sequence)[0].get(key)
      if value is not None:
        return value
  return None


def from_dicom(dataset) -> dict:
  """The scan fields of a pydicom Dataset (see the module docstring).

  An enhanced (multi-frame) MR file keeps the echo time in MREchoSequence
  (EffectiveEchoTime), the orientation in PlaneOrientationSequence and
  the sequence family in EchoPulseSequence (SPIN, GRADIENT; BOTH is
  unknown); these are read where the classic fields are absent.
  """
  fields = unknown()
  fields["field_strength_t"] = np.float32(
      _positive(dataset.get("MagneticFieldStrength"))
  )
  echo_time = dataset.get("EchoTime")
  if echo_time is None:
    echo_time = _first_frame_group(
        dataset, "MREchoSequence", "EffectiveEchoTime"
    )
  fields["echo_time_ms"] = np.float32(_positive(echo_time))
  orientation = dataset.get("ImageOrientationPatient")
  if orientation is None:
    orientation = _first_frame_group(
        dataset, "PlaneOrientationSequence", "ImageOrientationPatient"
    )
  fields["b0_direction"] = b0_in_image_axes(orientation)
  scanning = dataset.get("ScanningSequence")
  if scanning is not None and isinstance(scanning, str):
    scanning = scanning.split("\\")
  if scanning is None:
    pulse = str(dataset.get("EchoPulseSequence", "")).upper()
    scanning = {"SPIN": ["SE"], "GRADIENT": ["GR"]}.get(pulse)
  fields["sequence"] = np.int32(sequence_family(scanning))
  return fields


def from_ismrmrd(header: bytes | str) -> dict:
  """The scan fields of an ISMRMRD XML header (no orientation there).

  Unparseable XML gives all-unknown fields: the header's sizes are checked
  elsewhere (`fastmri_header.parse_header`).
  """
  fields = unknown()
  try:
    root = ElementTree.fromstring(header)
  except (ElementTree.ParseError, TypeError):
    return fields
  text = lambda path: getattr(root.find(path, _ISMRMRD_NS), "text", None)
  fields["field_strength_t"] = np.float32(
      _positive(text("m:acquisitionSystemInformation/m:systemFieldStrength_T"))
  )
  fields["echo_time_ms"] = np.float32(
      _positive(text("m:sequenceParameters/m:TE"))
  )
  fields["sequence"] = np.int32(
      sequence_family(text("m:sequenceParameters/m:sequence_type"))
  )
  return fields
