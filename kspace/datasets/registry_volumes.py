"""A registry's files grouped into volumes, in slice order.

No TFDS here: the `magnitude_registry` builder calls these.

  * DICOM: a file repeating another's SOPInstanceUID is a duplicate, left
    out. Single-frame files of one series (SeriesInstanceUID, and within
    it one echo time and one orientation, as multi-echo series hold several
    volumes) form a volume, ordered by ImagePositionPatient along the slice
    normal, else by InstanceNumber, else by file name. A file without a
    series UID, a multi-frame (enhanced MR) file and a Siemens mosaic are
    each their own volume (frames ordered by their positions,
    `image_files.dicom.frame_order`; a mosaic's tiles in tile order, as
    every mosaic of an fMRI or diffusion series is one volume of it).
    Derived images (`image_files.dicom.image_kind`: reformats, maps) are
    refused unless `keep_derived`.
  * NIfTI: a 2-D or 3-D file is a volume (slices along the third axis); a
    4-D file gives one volume per chosen index of its fourth axis
    (`nifti_volumes`: "all", or indices such as "0" or "0,2").
  * PNG / TIFF / JPEG: a file (its pages) is a volume.

A volume is named by the path of its first file relative to the registry
folder (with "#t" for volume t of a 4-D NIfTI); names, not DICOM UIDs,
identify volumes in the records, so no identifier of the scanner's database
leaves the header. Each volume's slices are normalised together
(`image_files.volume_scaling.normalize_volume_clipped`: one scale keeps
their relative intensities).
"""

import dataclasses
import os

import numpy as np
import pydicom

from kspace.datasets import errors
from kspace.datasets.image_files import dicom
from kspace.datasets.image_files import file_kinds
from kspace.datasets.image_files import slice_reading
from kspace.datasets.image_files import volume_scaling
from kspace.datasets import scan_headers


@dataclasses.dataclass(frozen=True)
class Volume:
  """One volume of a registry.

  Attributes:
    name: the relative path of its first file ("#t": a 4-D NIfTI volume).
    paths: its files in slice order (several for a DICOM series).
    volume_index: the index along a 4-D NIfTI's fourth axis, else None.
  """

  name: str
  paths: tuple[str, ...]
  volume_index: int | None = None


def parse_volume_indices(nifti_volumes: str) -> tuple[int, ...] | None:
  """ "all" -> None; "0,2" -> (0, 2). Raises ValueError otherwise."""
  if nifti_volumes == "all":
    return None
  try:
    indices = tuple(int(v) for v in nifti_volumes.split(","))
  except ValueError:
    indices = ()
  if not indices or min(indices) < 0:
    raise ValueError(
        "nifti_volumes must be 'all' or comma-separated indices >= 0 (e.g."
        f" '0' or '0,2'), got {nifti_volumes!r}."
    )
  return indices


def _series_key(header) -> tuple | None:
  uid = header.get("SeriesInstanceUID")
  if not uid:
    return None
  orientation = header.get("ImageOrientationPatient")
  rounded = (
      tuple(round(float(v), 3) for v in orientation) if orientation else None
  )
  return str(uid), str(header.get("EchoTime", "")), rounded


def _slice_order(members: list[tuple[str, object]]) -> list[str]:
  """A series' files in slice order (see the module docstring)."""
  positions = [
      dicom.slice_position(
          h.get("ImageOrientationPatient"), h.get("ImagePositionPatient")
      )
      for _, h in members
  ]
  if None not in positions and len(set(positions)) == len(positions):
    keys = positions
  else:
    numbers = [h.get("InstanceNumber") for _, h in members]
    keys = (
        [int(n) for n in numbers]
        if None not in numbers and len(set(numbers)) == len(numbers)
        else [p for p, _ in members]
    )
  return [p for _, p in sorted(zip(keys, (p for p, _ in members)))]


def plan(
    manual_dir: str,
    paths: list[str],
    nifti_volumes: str = "all",
    strict: bool = False,
    keep_derived: bool = False,
) -> tuple[list[Volume], list[tuple[str, errors.DatasetError]]]:
  """Groups files into volumes from their headers alone.

  Args:
    manual_dir: the registry folder.
    paths: its supported files (`image_files.registry_folder.list_images`).
    nifti_volumes: which volumes of 4-D NIfTI files ("all" or "0,2").
    strict: raise at the first bad header instead of skipping the file.
    keep_derived: keep derived DICOM images (reformats, maps) instead of
      refusing them (reason "derived").

  Returns:
    (volumes sorted by name, [(path, error)] of files refused by their
    header, `image_files.slice_reading.inspect_file`).
  """
  indices = parse_volume_indices(nifti_volumes)
  relative = lambda path: os.path.relpath(path, manual_dir)
  volumes, refused, series, instances = [], [], {}, {}
  for path in paths:
    try:
      header = slice_reading.inspect_file(path)
      kind = file_kinds.file_kind(path)
      if kind == "dicom" and not keep_derived:
        dicom.check_not_derived(header, path)
      instance = kind == "dicom" and header.get("SOPInstanceUID")
      if instance and instance in instances:
        raise errors.file_error(
            path,
            f"is a copy of {relative(instances[instance])} (the same"
            " SOPInstanceUID).",
            "remove one of them.",
            reason="duplicate",
        )
      if instance:
        instances[instance] = path
    except errors.DatasetError as e:
      if strict:
        raise
      refused.append((path, e))
      continue
    if kind == "dicom":
      key = _series_key(header)
      frames = int(header.get("NumberOfFrames", 1) or 1)
      packed = frames > 1 or "MOSAIC" in dicom.image_type(header)
      if key is not None and not packed:
        series.setdefault(key, []).append((path, header))
        continue
    elif kind == "nifti" and len(header) == 4:
      chosen = range(header[3]) if indices is None else indices
      volumes += [
          Volume(f"{relative(path)}#{t}", (path,), t)
          for t in chosen
          if t < header[3]
      ]
      continue
    volumes.append(Volume(relative(path), (path,)))
  for members in series.values():
    ordered = _slice_order(members)
    volumes.append(Volume(relative(ordered[0]), tuple(ordered)))
  return sorted(volumes, key=lambda v: v.name), refused


@dataclasses.dataclass
class VolumeSlices:
  """What `read` found in a volume.

  Attributes:
    slices: float64 (N, H, W) in [0, 1], normalised together.
    files: the file of each slice.
    num_clipped: negative pixels clipped to zero.
    bad_files: [(path, error)] of the files left out.
  """

  slices: np.ndarray
  files: list[str]
  num_clipped: int
  bad_files: list[tuple[str, errors.DatasetError]]


def read(
    volume: Volume,
    percentile: float,
    max_negative_fraction: float = slice_reading.MAX_NEGATIVE_FRACTION,
    strict: bool = False,
) -> VolumeSlices:
  """A volume's slices, validated and normalised together; a bad file
  (unreadable pixels, NaN, another size than the first good one, ...) is
  left out and the rest of the volume kept.

  Args:
    volume: from `plan`.
    percentile: normalisation percentile over the volume.
    max_negative_fraction: see `slice_reading.read_slices`.
    strict: raise at the first bad file instead.

  Returns:
    The `VolumeSlices` (no slices when every file is bad).

  Raises:
    DatasetError: with strict, at the first bad file (its `reason` says
      why).
  """
  slices, files, clipped, bad = [], [], 0, []
  for path in volume.paths:
    try:
      pixels, num_clipped = slice_reading.read_slices(
          path, max_negative_fraction, volume.volume_index
      )
      if slices and pixels.shape[1:] != slices[0].shape[1:]:
        raise errors.file_error(
            path,
            f"has slices of {pixels.shape[1:]}, the rest of its series"
            f" {slices[0].shape[1:]}.",
            "export the series again, or remove the odd file.",
            reason="dimensions",
        )
    except errors.DatasetError as e:
      if strict:
        raise
      bad.append((path, e))
      continue
    slices.append(pixels)
    files += [path] * len(pixels)
    clipped += num_clipped
  if not slices:  # Every file is bad.
    return VolumeSlices(np.zeros((0, 0, 0)), [], 0, bad)
  stacked = volume_scaling.normalize_volume_clipped(
      np.concatenate(slices), percentile
  )
  return VolumeSlices(stacked, files, clipped, bad)


def scan_fields(volume: Volume) -> dict:
  """The scan parameters in the header of the volume's first file
  (`scan_headers.from_dicom` and `dicom_extras`) and whether it is derived
  (`image_files.dicom.image_kind`); unknown / False for NIfTI and
  PNG/TIFF/JPEG."""
  path = volume.paths[0]
  if file_kinds.file_kind(path) != "dicom":
    header = pydicom.Dataset()  # Knows nothing.
  else:
    header = slice_reading.inspect_file(path)
  return (
      scan_headers.from_dicom(header)
      | scan_headers.dicom_extras(header)
      | {"derived": dicom.image_kind(header) == "derived"}
  )
