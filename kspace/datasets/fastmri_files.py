"""Reading the official fastMRI .h5 files: layout, schema, slices.

No TFDS here: the `fastmri` builder calls these.

manual_dir layout (the official tarballs extract to these folder names):
each anatomy's folders under its own subfolder,

  <manual_dir>/knee/singlecoil_train/*.h5
  <manual_dir>/knee/singlecoil_val/*.h5
  <manual_dir>/knee/singlecoil_test/*.h5      (optional)
  <manual_dir>/knee/multicoil_{train,val,test}/*.h5
  <manual_dir>/brain/multicoil_{train,val,test}/*.h5

or, with no `<anatomy>` subfolder, one anatomy's folders right under
`<manual_dir>` (`<manual_dir>/multicoil_train/*.h5`: as the tarballs of one
anatomy extract, and as --mode=export_kspace writes its --workdir).

Instead of a folder, `<root>/<challenge>_<split>.txt` may list .h5 paths
(one per line, relative to `<root>`: the anatomy subfolder or manual_dir),
e.g. to carve a test split out of the validation files (`split_files`).

Per file, `inspect_volume` validates the schema and reads the metadata
(attrs, the ISMRMRD header's matrix sizes and encoding limits:
`fastmri_header`) before anything is written, and `check_values` reads
every slice once for NaN/inf or unreadable data before its first slice is
written; a file either of them refuses raises a `DatasetError` whose reason
(`REASONS`) the builder's manifest lists. `read_volume` then yields each
slice's features (`fastmri_slices`):
  * single-coil: image = ifft2c(kspace[slice]);
  * multi-coil: coil images ifft2c(kspace[slice]) (C, H, W) are combined
    with sensitivity maps estimated from the fully sampled center columns
    (`fastmri_slices.coil_combine`), with the maps' phase made relative to
    the strongest coil so that the combined image keeps the object's phase;
  * the image (and maps, coil images) are center-cropped to the header's
    reconSpace matrix, as fastMRI crops to `recon_size`: this removes the
    2x readout oversampling (knee k-space is 640 readout samples for a
    320 x 320 reconstruction), then center-cropped (or zero-padded) to
    crop x crop; the target likewise.

The acquired phase-encode columns are [padding_left, padding_right), from
the header's encodingLimits as fastMRI computes them
(`fastmri_header.sampled_columns`): the scanner zero-fills the columns
outside them. A test file's mask is cut to them (as fastMRI's transforms
do) before its center run gives the ACS columns, and the ACS columns of a
fully sampled file are kept inside them.

Test data (`<challenge>_test`: a `mask`, no reconstruction) is read as
fastMRI's test split is: zero-filled images, no target (zeros,
has_target False), max_value 0. Outside the test split such a file is
refused (reason "undersampled"): its aliased images are no ground truth.
"""

import dataclasses
import os
from collections.abc import Iterator

import h5py
import numpy as np

from kspace.datasets import errors
from kspace.datasets import fastmri_header
from kspace.datasets import fastmri_slices
from kspace.datasets import files
from kspace.datasets import scan_headers

# Read here by kspace.export (the writer of files in this schema).
parse_header = fastmri_header.parse_header
coil_combine = fastmri_slices.coil_combine

CHALLENGES = ("singlecoil", "multicoil")
ANATOMIES = ("knee", "brain")
# TFDS split -> the fastMRI folder suffix.
SPLIT_FOLDERS = {"train": "train", "validation": "val", "test": "test"}
TARGET_KEYS = {
    "singlecoil": "reconstruction_esc",
    "multicoil": "reconstruction_rss",
}
KSPACE_NDIM = {"singlecoil": 3, "multicoil": 4}
# Why a file is skipped (`DatasetError.reason`), as the manifest lists it.
REASONS = {
    "unreadable": "not HDF5, truncated or corrupt (a broken download)",
    "invalid": "no complex 'kspace' dataset, an empty one, or a bad mask",
    "wrong_challenge": "single-coil data for a multi-coil config or reverse",
    "small_target": "a reconstruction smaller than crop_size",
    "header": (
        "an ismrmrd_header that is not ISMRMRD XML, or encoding limits"
        " outside the k-space"
    ),
    "undersampled": (
        "test data (a mask, no reconstruction) outside the test split"
    ),
    "non_finite": "NaN or inf k-space or reconstruction values",
}

MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Download fastMRI from https://fastmri.med.nyu.edu/ and extract it so that
<manual_dir>/<anatomy>/<challenge>_<split>/*.h5 exist, e.g.
<manual_dir>/knee/singlecoil_train/file1000001.h5 and
<manual_dir>/knee/singlecoil_val/...; anatomy in {knee, brain}, challenge in
{singlecoil, multicoil}, split in {train, val, test}; one anatomy's
<challenge>_<split>/ folders may also lie right under <manual_dir>. A text file
<manual_dir>/<anatomy>/<challenge>_<split>.txt listing .h5 paths can replace a
folder."""


@dataclasses.dataclass(frozen=True)
class Volume:
  """What `inspect_volume` learned about one file (nothing bulky)."""

  path: str
  num_slices: int
  num_coils: int
  kspace_shape: tuple[int, ...]
  has_target: bool
  has_mask: bool
  acquisition: str
  patient_id: str
  max_value: float
  norm: float
  encoding_size: tuple[int, int, int]
  recon_size: tuple[int, int, int]
  padding: tuple[int, int] = (0, 0)
  scan: dict = dataclasses.field(default_factory=scan_headers.unknown)

  @property
  def recon_crop(self) -> tuple[int, int] | None:
    """(rows, columns) of the reconSpace matrix (fastMRI's recon_size: x
    along the readout rows, y along the phase-encode columns); None without
    a header."""
    rows, columns = self.recon_size[:2]
    return (rows, columns) if rows > 0 and columns > 0 else None


def split_files(
    manual_dir: str, challenge: str, anatomy: str
) -> dict[str, list[str]]:
  """The .h5 files of each split, from folders or .txt file lists.

  Args:
    manual_dir: root folder (see the module docstring for the layout).
    challenge: "singlecoil" | "multicoil".
    anatomy: "knee" | "brain".

  Returns:
    dict split -> sorted absolute paths; splits without folder/list omitted.

  Raises:
    DatasetError: no split found, an empty folder, or listed files missing.
  """
  check_variant(challenge, anatomy)
  root = os.path.join(manual_dir, anatomy)
  if not os.path.isdir(root):
    root = manual_dir  # One anatomy's folders right under manual_dir.
  found = {}
  for split, suffix in SPLIT_FOLDERS.items():
    folder = os.path.join(root, f"{challenge}_{suffix}")
    listing = folder + ".txt"
    if os.path.isfile(listing):
      with open(listing) as f:
        names = [line.strip() for line in f if line.strip()]
      paths = [os.path.join(root, name) for name in names]
      missing = [p for p in paths if not os.path.isfile(p)]
      if missing:
        raise errors.file_error(
            listing,
            f"lists {len(missing)} missing file(s), e.g. {missing[0]}.",
            "fix the paths (relative to the listing's folder).",
        )
      source = listing
    elif os.path.isdir(folder):
      paths = [
          os.path.join(folder, name)
          for name in os.listdir(folder)
          if name.endswith(".h5")
      ]
      source = folder
    else:
      continue
    if not paths:
      raise errors.file_error(
          source,
          "has no .h5 files.",
          "put the fastMRI files there or remove the empty split folder.",
      )
    found[split] = sorted(paths)
  if not found:
    raise errors.file_error(
        root,
        f"has no {challenge} split folder or listing.",
        MANUAL_DOWNLOAD_INSTRUCTIONS,
    )
  return found


def check_variant(challenge: str, anatomy: str) -> None:
  """Raises ValueError unless challenge in CHALLENGES, anatomy in ANATOMIES."""
  if challenge not in CHALLENGES or anatomy not in ANATOMIES:
    raise ValueError(
        f"Unknown fastMRI variant {challenge}_{anatomy}; use challenge in"
        f" {CHALLENGES} and anatomy in {ANATOMIES}."
    )


def _open(path: str) -> h5py.File:
  try:
    return h5py.File(path, "r")
  except OSError as e:
    raise errors.file_error(
        path,
        f"cannot be read as HDF5 ({e}).",
        "the download is probably truncated or corrupt: re-download it or"
        " remove it from the folder.",
        reason="unreadable",
    ) from e


def _attr_text(attrs, key: str) -> str:
  value = attrs.get(key, "")
  return value.decode() if isinstance(value, bytes) else str(value)


def _check_kspace(path: str, kspace, challenge: str) -> None:
  expected = KSPACE_NDIM[challenge]
  if kspace.ndim != expected:
    other = "multicoil" if challenge == "singlecoil" else "singlecoil"
    raise errors.file_error(
        path,
        f"kspace has {kspace.ndim} dims {kspace.shape}; {challenge} files"
        f" have {expected} (slices, {'coils, ' * (expected == 4)}H, W).",
        f"use the {other} config for this file, or move it.",
        reason="wrong_challenge",
    )
  if not np.issubdtype(kspace.dtype, np.complexfloating):
    raise errors.file_error(
        path,
        f"kspace has dtype {kspace.dtype}, expected complex.",
        "re-download the file.",
    )
  if min(kspace.shape) < 1:
    raise errors.file_error(
        path, f"kspace is empty {kspace.shape}.", "remove the file."
    )


def _check_target(path: str, target, num_slices: int, crop_size: int):
  key = target.name.lstrip("/")
  if target.ndim != 3 or target.shape[0] != num_slices:
    raise errors.file_error(
        path,
        f"{key} has shape {target.shape} for {num_slices} slices; need"
        " (slices, H, W).",
        "re-download the file.",
    )
  if min(target.shape[1:]) < crop_size:
    raise errors.file_error(
        path,
        f"{key} has shape {target.shape}; need (slices, >= {crop_size},"
        f" >= {crop_size}).",
        "lower crop_size or re-download the file.",
        reason="small_target",
    )


def _check_mask(path: str, mask, width: int) -> None:
  if mask.size != width:
    raise errors.file_error(
        path,
        f"mask has {mask.size} entries for {width} k-space columns.",
        "re-download the file.",
    )


def _inspect(f: h5py.File, path: str, challenge: str, crop_size: int):
  if "kspace" not in f:
    raise errors.file_error(
        path, "has no 'kspace' dataset.", "is this a fastMRI file?"
    )
  kspace = f["kspace"]
  _check_kspace(path, kspace, challenge)
  width = int(kspace.shape[-1])
  target_key = TARGET_KEYS[challenge]
  has_target = target_key in f
  max_value = float(f.attrs.get("max", 0.0))
  if has_target:
    _check_target(path, f[target_key], kspace.shape[0], crop_size)
    if "max" not in f.attrs:
      max_value = float(np.max(f[target_key][()]))
  if "mask" in f:
    _check_mask(path, f["mask"], width)
  scan = scan_headers.unknown()
  encoding_size, recon_size, padding = (0, 0, 0), (0, 0, 0), (0, width)
  if "ismrmrd_header" in f:
    header = f["ismrmrd_header"][()]
    encoding_size, recon_size = fastmri_header.parse_header(path, header)
    padding = fastmri_header.sampled_columns(path, header, encoding_size, width)
    scan = scan_headers.from_ismrmrd(header)
  return Volume(
      path=path,
      num_slices=int(kspace.shape[0]),
      num_coils=int(kspace.shape[1]) if challenge == "multicoil" else 1,
      kspace_shape=tuple(kspace.shape),
      has_target=has_target,
      has_mask="mask" in f,
      acquisition=_attr_text(f.attrs, "acquisition"),
      patient_id=_attr_text(f.attrs, "patient_id"),
      max_value=max_value,
      norm=float(f.attrs.get("norm", 0.0)),
      encoding_size=encoding_size,
      recon_size=recon_size,
      padding=padding,
      scan=scan,
  )


def _unreadable(path: str, e: Exception) -> errors.DatasetError:
  return errors.file_error(
      path,
      f"cannot be read ({type(e).__name__}: {e}).",
      "the file is probably corrupt: re-download it or remove it from the"
      " folder.",
      reason="unreadable",
  )


def inspect_volume(path: str, challenge: str, crop_size: int) -> Volume:
  """Validates one fastMRI file's schema and reads its metadata.

  Args:
    path: .h5 file.
    challenge: "singlecoil" | "multicoil".
    crop_size: the configured crop (the target must be at least this big).

  Returns:
    A Volume.

  Raises:
    DatasetError: unreadable file, missing/ill-shaped datasets, a bad
      header (its `reason` names which, see `REASONS`).
  """
  with _open(path) as f:
    try:
      return _inspect(f, path, challenge, crop_size)
    except errors.DatasetError:
      raise
    except (OSError, KeyError, RuntimeError, TypeError, ValueError) as e:
      # A corrupt object header or B-tree inside a file that opens.
      raise _unreadable(path, e) from e


def check_split(volume: Volume, split: str) -> None:
  """Refuses test data (a mask) outside the test split: its zero-filled,
  aliased images are no ground truth to train or score on."""
  if volume.has_mask and split != "test":
    raise errors.file_error(
        volume.path,
        "is undersampled test data (it has a mask"
        f"{', no reconstruction' * (not volume.has_target)}) in the"
        f" {split} split.",
        "move it to the <challenge>_test folder (or its listing).",
        reason="undersampled",
    )


def check_values(volume: Volume, challenge: str, acs_fraction: float) -> None:
  """Reads every slice once: raises before any slice of a file with NaN/inf
  or unreadable data, or without ACS columns, is written.

  Args:
    volume: from `inspect_volume`.
    challenge: "singlecoil" | "multicoil".
    acs_fraction: see `fastmri_slices.acs_columns` (multi-coil only).

  Raises:
    DatasetError: reason "non_finite" (naming the slice), "unreadable" (a
      corrupt chunk) or "invalid" (no ACS columns).
  """
  with _open(volume.path) as f:
    if challenge == "multicoil":
      _acs_columns(volume, f, acs_fraction)
    for index in range(volume.num_slices):
      try:
        kspace = f["kspace"][index]
        target = f[TARGET_KEYS[challenge]][index] if volume.has_target else None
      except (OSError, KeyError, RuntimeError, ValueError) as e:
        raise _unreadable(volume.path, e) from e
      errors.check_finite(kspace, volume.path, f"kspace of slice {index}")
      if target is not None:
        errors.check_finite(target, volume.path, f"target of slice {index}")


def _acs_columns(volume: Volume, f: h5py.File, acs_fraction: float) -> int:
  mask = f["mask"][()] if volume.has_mask else None
  return fastmri_slices.acs_columns(
      volume.path,
      volume.kspace_shape[-1],
      volume.padding,
      mask,
      acs_fraction,
  )


def read_volume(
    volume: Volume, challenge: str, crop_size: int, acs_fraction: float
) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
  """Reads one file's slices and their image-domain features.

  Args:
    volume: the file, as `inspect_volume` returned it (and `check_values`
      passed).
    challenge: "singlecoil" | "multicoil".
    crop_size: S.
    acs_fraction: fraction of center columns for the sensitivity maps of a
      fully sampled multi-coil file (an undersampled one uses its mask's
      center run; `fastmri_slices.acs_columns`).

  Yields:
    (slice index, features): `fastmri_slices.slice_example`'s features
    plus target (S, S)
    float32 (zeros without a target in the file).

  Raises:
    DatasetError: no fully sampled center columns, NaN/inf k-space or
      target (naming the file and slice).
  """
  size = (crop_size, crop_size)
  with _open(volume.path) as f:
    num_low = 0
    if challenge == "multicoil":
      num_low = _acs_columns(volume, f, acs_fraction)
    for index in range(volume.num_slices):
      kspace = f["kspace"][index]
      errors.check_finite(kspace, volume.path, f"kspace of slice {index}")
      example = fastmri_slices.slice_example(
          kspace.astype(np.complex64),
          challenge,
          crop_size,
          num_low,
          volume.recon_crop,
      )
      if volume.has_target:
        target = f[TARGET_KEYS[challenge]][index]
        errors.check_finite(target, volume.path, f"target of slice {index}")
        target = files.center_crop_or_pad(target, size)
      else:
        target = np.zeros(size)
      example["target"] = target.astype(np.float32)
      yield index, example
