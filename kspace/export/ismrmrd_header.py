"""The ISMRMRD XML header of an exported fastMRI file (`ismrmrd_header`).

What fastMRI's `SliceDataset`, DIRECT's `FastMRIDataset` and our own reader
(`kspace.datasets.fastmri_files.parse_header`, `scan_headers.from_ismrmrd`)
read from it:

  encoding/encodedSpace/matrixSize, reconSpace/matrixSize  (x, y, z): x the
      readout = the k-space rows (H), y the phase encodes = its columns (W),
      z = 1 (2-D slices);
  encoding/encodingLimits/kspace_encoding_step_1  minimum 0, maximum W - 1,
      center W // 2: fastMRI's padding is enc_y // 2 - center = 0 on the
      left and that + maximum + 1 = W on the right, so every column counts
      as acquired;
  acquisitionSystemInformation/systemFieldStrength_T,
  sequenceParameters/TE, TR (ms) and sequence_type  where the records know
      them (a field no slice states, or on which the slices disagree, is
      left out, never guessed).

`from_records` fills them in from a volume's records. Also written, as
ISMRMRD requires them: fieldOfView_mm, receiverChannels,
experimentalConditions/H1resonanceFrequency_Hz (when B0 is known),
trajectory (cartesian) and the slice limits.
"""

import dataclasses
import math
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence

import numpy as np

from kspace.simulator import physics
from kspace.simulator import sequences

NAMESPACE = "http://www.ismrm.org/ISMRMRD"
# ISMRMRD's sequence_type spellings; `scan_headers.sequence_family` reads
# them back.
SEQUENCE_TYPES = {
    sequences.GRADIENT_ECHO: "GradientEcho",
    sequences.SPIN_ECHO: "SpinEcho",
}


@dataclasses.dataclass(frozen=True)
class HeaderFields:
  """What one exported volume's header states.

  Attributes:
    height, width: the k-space matrix (rows = readout x, columns = phase
      encodes y), the same as the reconstruction's.
    num_slices: slices in the file.
    num_coils: receiver channels.
    field_of_view_mm: (x, y, z) of the encoded (= recon) space.
    field_strength_t, echo_time_ms, repetition_time_ms: NaN when unknown.
    sequence: `sequences.GRADIENT_ECHO` / `SPIN_ECHO`, or -1 unknown.
  """

  height: int
  width: int
  num_slices: int
  num_coils: int
  field_of_view_mm: tuple[float, float, float]
  field_strength_t: float = math.nan
  echo_time_ms: float = math.nan
  repetition_time_ms: float = math.nan
  sequence: int = -1


def _agreed(records: Sequence[dict], key: str, default=math.nan):
  """The records' common finite value of `key` (an array for vector
  fields), else `default`."""
  values = np.array(
      [np.asarray(r.get(key, math.nan), np.float64) for r in records]
  )
  if not np.all(np.isfinite(values)) or not np.all(values == values[0]):
    return default
  return values[0]


def from_records(
    records: Sequence[dict],
    num_coils: int,
    pixel_spacing_mm: float,
    slice_thickness_mm: float,
) -> HeaderFields:
  """The header of a volume's slices (records with `magnitude` (H, W) and
  any of the scan fields of `kspace.datasets.scan_headers`).

  A scan field is stated when every slice has the same finite value. The
  field of view is the slices' `pixel_spacing_mm` (row, column spacing)
  times the matrix where they agree on one, else `pixel_spacing_mm`.
  """
  height, width = np.shape(records[0]["magnitude"])
  spacing = _agreed(records, "pixel_spacing_mm", None)
  if spacing is None:
    spacing = (pixel_spacing_mm, pixel_spacing_mm)
  sequence = _agreed(records, "sequence", -1)
  return HeaderFields(
      height=int(height),
      width=int(width),
      num_slices=len(records),
      num_coils=int(num_coils),
      field_of_view_mm=(
          height * float(spacing[0]),
          width * float(spacing[1]),
          float(slice_thickness_mm),
      ),
      field_strength_t=float(_agreed(records, "field_strength_t")),
      echo_time_ms=float(_agreed(records, "echo_time_ms")),
      repetition_time_ms=float(_agreed(records, "repetition_time_ms")),
      sequence=int(sequence) if sequence >= 0 else -1,
  )


def _add(parent: ElementTree.Element, tag: str, text=None):
  child = ElementTree.SubElement(parent, f"{{{NAMESPACE}}}{tag}")
  if text is not None:
    child.text = text if isinstance(text, str) else f"{text:g}"
  return child


def _space(parent, tag: str, fields: HeaderFields) -> None:
  space = _add(parent, tag)
  size = _add(space, "matrixSize")
  for axis, value in zip("xyz", (fields.height, fields.width, 1)):
    _add(size, axis, str(int(value)))
  fov = _add(space, "fieldOfView_mm")
  for axis, value in zip("xyz", fields.field_of_view_mm):
    _add(fov, axis, float(value))


def _limit(parent, tag: str, count: int) -> None:
  limit = _add(parent, tag)
  _add(limit, "minimum", "0")
  _add(limit, "maximum", str(max(count - 1, 0)))
  _add(limit, "center", str(count // 2))


def _known(value: float) -> bool:
  return math.isfinite(value) and value > 0


def build(fields: HeaderFields) -> bytes:
  """The header's XML (UTF-8 bytes, as fastMRI files store it).

  Elements follow the ISMRMRD schema's order.
  """
  ElementTree.register_namespace("", NAMESPACE)
  root = ElementTree.Element(f"{{{NAMESPACE}}}ismrmrdHeader")
  system = _add(root, "acquisitionSystemInformation")
  if _known(fields.field_strength_t):
    _add(system, "systemFieldStrength_T", float(fields.field_strength_t))
  _add(system, "receiverChannels", str(int(fields.num_coils)))
  if _known(fields.field_strength_t):
    conditions = _add(root, "experimentalConditions")
    larmor_hz = (
        physics.GYROMAGNETIC_RATIO_MHZ_PER_T * 1e6 * fields.field_strength_t
    )
    _add(conditions, "H1resonanceFrequency_Hz", str(int(round(larmor_hz))))
  encoding = _add(root, "encoding")
  _space(encoding, "encodedSpace", fields)
  _space(encoding, "reconSpace", fields)
  limits = _add(encoding, "encodingLimits")
  _limit(limits, "kspace_encoding_step_1", fields.width)
  _limit(limits, "kspace_encoding_step_2", 1)
  _limit(limits, "slice", fields.num_slices)
  _add(encoding, "trajectory", "cartesian")
  timing = {
      "TR": fields.repetition_time_ms,
      "TE": fields.echo_time_ms,
  }
  sequence_type = SEQUENCE_TYPES.get(int(fields.sequence))
  if any(_known(v) for v in timing.values()) or sequence_type:
    parameters = _add(root, "sequenceParameters")
    for tag, value in timing.items():
      if _known(value):
        _add(parameters, tag, float(value))
    if sequence_type:
      _add(parameters, "sequence_type", sequence_type)
  return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
