"""Reading the official fastMRI .h5 files: layout, schema, slices.

No TFDS here: the `fastmri` builder calls these.

manual_dir layout (the official tarballs extract to these folder names; put
each anatomy's folders under its own subfolder):

  <manual_dir>/knee/singlecoil_train/*.h5
  <manual_dir>/knee/singlecoil_val/*.h5
  <manual_dir>/knee/singlecoil_test/*.h5      (optional)
  <manual_dir>/knee/multicoil_{train,val,test}/*.h5
  <manual_dir>/brain/multicoil_{train,val,test}/*.h5

Instead of a folder, `<manual_dir>/<anatomy>/<challenge>_<split>.txt` may
list .h5 paths (one per line, relative to `<manual_dir>/<anatomy>`), e.g. to
carve a test split out of the validation files (`split_files`).

Per file, `inspect_volume` validates the schema and reads the metadata
(attrs, ISMRMRD header matrix sizes) before anything is written;
`read_volume` then yields each slice's features:
  * single-coil: image = ifft2c(kspace[slice]);
  * multi-coil: coil images ifft2c(kspace[slice]) (C, H, W) are combined
    with sensitivity maps estimated from the fully sampled center columns
    (`coil_combine`), with the maps' phase made relative to the strongest
    coil so that the combined image keeps the object's phase;
  * the image (and maps, coil images) are center-cropped to crop x crop
    (zero-padded where the matrix is smaller); the target likewise.
"""

import dataclasses
import os
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator

import h5py
import numpy as np

from kspace import coils
from kspace import fft
from kspace import masks
from kspace.common import phase
from kspace.datasets import errors
from kspace.datasets import files
from kspace.datasets import scan_headers

CHALLENGES = ("singlecoil", "multicoil")
ANATOMIES = ("knee", "brain")
# TFDS split -> the fastMRI folder suffix.
SPLIT_FOLDERS = {"train": "train", "validation": "val", "test": "test"}
TARGET_KEYS = {
    "singlecoil": "reconstruction_esc",
    "multicoil": "reconstruction_rss",
}
KSPACE_NDIM = {"singlecoil": 3, "multicoil": 4}
_ISMRMRD_NS = {"m": "http://www.ismrm.org/ISMRMRD"}

MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Download fastMRI from https://fastmri.med.nyu.edu/ and extract it so that
<manual_dir>/<anatomy>/<challenge>_<split>/*.h5 exist, e.g.
<manual_dir>/knee/singlecoil_train/file1000001.h5 and
<manual_dir>/knee/singlecoil_val/...; anatomy in {knee, brain}, challenge in
{singlecoil, multicoil}, split in {train, val, test}. A text file
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
  scan: dict = dataclasses.field(default_factory=scan_headers.unknown)


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


def parse_header(path: str, header: bytes | str) -> tuple[tuple, tuple]:
  """Encoded and recon matrix sizes (x, y, z) from the ISMRMRD XML header.

  Args:
    path: the file (for the message).
    header: the `ismrmrd_header` dataset's XML.

  Returns:
    (encoding size, recon size), each 3 ints.

  Raises:
    DatasetError: not ISMRMRD XML with encoding matrix sizes.
  """
  try:
    root = ElementTree.fromstring(header)
    sizes = []
    for space in ("encodedSpace", "reconSpace"):
      node = root.find(f"m:encoding/m:{space}/m:matrixSize", _ISMRMRD_NS)
      sizes.append(
          tuple(int(node.find(f"m:{a}", _ISMRMRD_NS).text) for a in "xyz")
      )
  except (ElementTree.ParseError, AttributeError, TypeError, ValueError) as e:
    raise errors.file_error(
        path,
        "ismrmrd_header is not valid ISMRMRD XML with encoding matrix sizes"
        f" ({e}).",
        "re-download the file.",
    ) from e
  return sizes[0], sizes[1]


def _open(path: str) -> h5py.File:
  try:
    return h5py.File(path, "r")
  except OSError as e:
    raise errors.file_error(
        path,
        f"cannot be read as HDF5 ({e}).",
        "the download is probably truncated or corrupt: re-download it or"
        " remove it from the folder.",
    ) from e


def _attr_text(attrs, key: str) -> str:
  value = attrs.get(key, "")
  return value.decode() if isinstance(value, bytes) else str(value)


def inspect_volume(path: str, challenge: str, crop_size: int) -> Volume:
  """Validates one fastMRI file's schema and reads its metadata.

  Args:
    path: .h5 file.
    challenge: "singlecoil" | "multicoil".
    crop_size: the configured crop (the target must be at least this big).

  Returns:
    A Volume.

  Raises:
    DatasetError: unreadable file, missing/ill-shaped datasets.
  """
  with _open(path) as f:
    if "kspace" not in f:
      raise errors.file_error(
          path, "has no 'kspace' dataset.", "is this a fastMRI file?"
      )
    kspace = f["kspace"]
    expected = KSPACE_NDIM[challenge]
    if kspace.ndim != expected:
      other = "multicoil" if challenge == "singlecoil" else "singlecoil"
      raise errors.file_error(
          path,
          f"kspace has {kspace.ndim} dims {kspace.shape}; {challenge} files"
          f" have {expected} (slices, {'coils, ' * (expected == 4)}H, W).",
          f"use the {other} config for this file, or move it.",
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
    target_key = TARGET_KEYS[challenge]
    has_target = target_key in f
    max_value = float(f.attrs.get("max", 0.0))
    if has_target:
      target = f[target_key]
      if (
          target.ndim != 3
          or target.shape[0] != kspace.shape[0]
          or min(target.shape[1:]) < crop_size
      ):
        raise errors.file_error(
            path,
            f"{target_key} has shape {target.shape} for {kspace.shape[0]}"
            f" slices; need (slices, >= {crop_size}, >= {crop_size}).",
            "lower crop_size or re-download the file.",
        )
      if "max" not in f.attrs:
        max_value = float(np.max(target[()]))
    scan = scan_headers.unknown()
    if "ismrmrd_header" in f:
      header = f["ismrmrd_header"][()]
      encoding_size, recon_size = parse_header(path, header)
      scan = scan_headers.from_ismrmrd(header)
    else:
      encoding_size, recon_size = (0, 0, 0), (0, 0, 0)
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
        scan=scan,
    )


def center_run_length(mask: np.ndarray) -> int:
  """Length of the contiguous run of sampled columns around the center.

  Args:
    mask: the file's column mask, any shape with W entries.

  Returns:
    Number of sampled columns in the run through column W // 2 (0 if that
    column is not sampled).
  """
  lines = np.asarray(mask).reshape(-1) > 0
  center = lines.size // 2
  if not lines[center]:
    return 0
  left = center
  while left > 0 and lines[left - 1]:
    left -= 1
  right = center
  while right < lines.size - 1 and lines[right + 1]:
    right += 1
  return right - left + 1


def coil_combine(
    kspace: np.ndarray, num_low_frequencies: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Sensitivity-weighted combination with reference-coil phase.

  Maps S = L / RSS(L) from the low-resolution (ACS) coil images L, rotated by
  the phase of the strongest coil's map: without that rotation the maps carry
  the object's low-resolution phase and the combine would remove it.

  Args:
    kspace: (C, H, W) complex fully sampled (or zero-filled) coil k-space.
    num_low_frequencies: fully sampled center columns used for the maps.

  Returns:
    (image (H, W), sens (C, H, W), coil_images (C, H, W)), complex64.
  """
  coil_images = np.asarray(fft.ifft2c(kspace))
  sens = np.asarray(coils.estimate_sensitivities(kspace, num_low_frequencies))
  energy = np.sum(np.abs(coil_images) ** 2, axis=(-2, -1))
  reference = sens[int(np.argmax(energy))]
  sens = sens * np.exp(-1j * np.angle(reference))
  image = np.sum(np.conj(sens) * coil_images, axis=0)
  return (
      image.astype(np.complex64),
      sens.astype(np.complex64),
      coil_images.astype(np.complex64),
  )


def slice_example(
    kspace: np.ndarray,
    challenge: str,
    crop_size: int,
    num_low_frequencies: int = 0,
) -> dict[str, np.ndarray]:
  """Image-domain features of one slice.

  Args:
    kspace: single-coil (H, W) or multi-coil (C, H, W) complex k-space.
    challenge: "singlecoil" | "multicoil".
    crop_size: S.
    num_low_frequencies: ACS columns for the maps (multi-coil only).

  Returns:
    dict with magnitude, phase (S, S) float32, kspace (C, S, S) complex64,
    and for multi-coil sens (C, S, S) complex64.
  """
  size = (crop_size, crop_size)
  if challenge == "singlecoil":
    image = files.center_crop_or_pad(np.asarray(fft.ifft2c(kspace)), size)
    coil_images = image[None]
    out = {}
  else:
    image, sens, coil_images = coil_combine(kspace, num_low_frequencies)
    image = files.center_crop_or_pad(image, size)
    coil_images = files.center_crop_or_pad(coil_images, size)
    out = {"sens": files.center_crop_or_pad(sens, size)}
  out.update(
      magnitude=np.abs(image).astype(np.float32),
      phase=np.asarray(phase.wrap_phase(np.angle(image))),
      kspace=np.asarray(fft.fft2c(coil_images), np.complex64),
  )
  return out


def read_volume(
    volume: Volume, challenge: str, crop_size: int, acs_fraction: float
) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
  """Reads one file's slices and their image-domain features.

  Args:
    volume: the file, as `inspect_volume` returned it.
    challenge: "singlecoil" | "multicoil".
    crop_size: S.
    acs_fraction: fraction of center columns for the sensitivity maps of a
      fully sampled multi-coil file (an undersampled one uses its mask's
      center run).

  Yields:
    (slice index, features): `slice_example`'s features plus target (S, S)
    float32 (zeros without a target in the file).

  Raises:
    DatasetError: no fully sampled center columns, NaN/inf k-space or
      target (naming the file and slice).
  """
  size = (crop_size, crop_size)
  with _open(volume.path) as f:
    num_low = 0
    if challenge == "multicoil":
      width = volume.kspace_shape[-1]
      if volume.has_mask:
        num_low = center_run_length(f["mask"][()])
      else:
        num_low = masks.num_low_frequencies(width, acs_fraction)
      if not 0 < num_low <= width:
        raise errors.file_error(
            volume.path,
            f"cannot find fully sampled center columns (got {num_low}).",
            "check the file's mask or raise acs_fraction.",
        )
    for index in range(volume.num_slices):
      kspace = f["kspace"][index]
      errors.check_finite(kspace, volume.path, f"kspace of slice {index}")
      example = slice_example(
          kspace.astype(np.complex64), challenge, crop_size, num_low
      )
      if volume.has_target:
        target = f[TARGET_KEYS[challenge]][index]
        errors.check_finite(target, volume.path, f"target of slice {index}")
        target = files.center_crop_or_pad(target, size)
      else:
        target = np.zeros(size)
      example["target"] = target.astype(np.float32)
      yield index, example
