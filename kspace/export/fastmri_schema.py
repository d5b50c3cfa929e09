"""One exported volume as a fastMRI .h5 file, and where it goes.

Folder layout (fastMRI's folder names, so `fastmri.data.SliceDataset(root=
DIR / "multicoil_train")` and DIRECT's `FastMRIDataset` read it as it is):

  DIR/<multicoil|singlecoil>_<train|val|test>/<volume>[_p<k>].h5

The file (the schema of the official files, `kspace.datasets.fastmri_files`
reads it back):

  kspace              complex64 (slices, coils, H, W); single-coil
                      (slices, H, W). Fully sampled, no `mask` dataset
                      (fastMRI's training files have none).
  reconstruction_rss  float32 (slices, H, W), the RSS of the coil images;
  reconstruction_esc  single-coil only, float32 (slices, H, W): the same
                      image (one coil: |ifft2c(kspace)|).
  ismrmrd_header      the XML of `ismrmrd_header.build`.
  attrs               acquisition, max (of the reconstruction volume),
                      norm (its L2 norm), patient_id (`patient_id`: a
                      salted hash of the volume's name, never a header
                      field), and the provenance attrs the exporter passes
                      (phase source, checkpoint, seed, version, ...).
"""

import hashlib
import os
import re

import h5py
import numpy as np

from kspace.datasets import fastmri_files

# TFDS split -> fastMRI's folder suffix (train, val, test).
SPLIT_FOLDERS = fastmri_files.SPLIT_FOLDERS
TARGET_KEYS = {"singlecoil": ("reconstruction_esc", "reconstruction_rss")}
TARGET_KEYS["multicoil"] = ("reconstruction_rss",)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# The source file's own suffix, dropped from the stem (IM0001.dcm -> IM0001.h5,
# not IM0001.dcm.h5).
_IMAGE_SUFFIX = re.compile(
    r"\.(dcm|dicom|ima|nii|nii\.gz|mgz|png|jpe?g|tiff?|h5)$", re.IGNORECASE
)


def challenge(num_coils: int) -> str:
  """fastMRI's challenge name for a coil count: singlecoil for 1."""
  if num_coils < 1:
    raise ValueError(f"num_coils must be >= 1, got {num_coils}.")
  return "singlecoil" if num_coils == 1 else "multicoil"


def folder(num_coils: int, split: str) -> str:
  """`<challenge>_<train|val|test>` for a TFDS split name."""
  if split not in SPLIT_FOLDERS:
    raise ValueError(
        f"Unknown split {split!r}; use one of {list(SPLIT_FOLDERS)}."
    )
  return f"{challenge(num_coils)}_{SPLIT_FOLDERS[split]}"


def file_stem(volume_id: str) -> str:
  """A volume's name as a file stem: its image file suffix dropped, path
  separators and other characters a file name should not hold made '_'
  ("a/b c.dcm" -> "a_b_c")."""
  stem = _UNSAFE.sub("_", _IMAGE_SUFFIX.sub("", volume_id)).strip("._")
  return stem or "volume"


def file_name(stem: str, draw: int, num_draws: int) -> str:
  """`<stem>.h5` for a single phase draw, else `<stem>_p<draw>.h5`."""
  return f"{stem}.h5" if num_draws == 1 else f"{stem}_p{draw}.h5"


def patient_id(volume_id: str, salt: str) -> str:
  """16 hex digits of SHA-256(salt, volume name): the same for every file
  of a volume, unlinkable to the name without the salt."""
  digest = hashlib.sha256(f"{salt}\0{volume_id}".encode()).hexdigest()
  return digest[:16]


def write_volume(
    path: str | os.PathLike,
    kspace: np.ndarray,
    reconstruction: np.ndarray,
    header: bytes,
    attrs: dict,
) -> None:
  """Writes one volume in the fastMRI schema.

  Args:
    path: the .h5 file to create (the caller writes to a temporary name
      and renames it, so a reader never sees half a file).
    kspace: multi-coil (slices, C, H, W) or single-coil (slices, H, W)
      complex k-space.
    reconstruction: (slices, H, W) float, the RSS image.
    header: `ismrmrd_header.build`'s XML.
    attrs: acquisition, patient_id and provenance (str, int, float or bool
      values); max and norm are computed here.

  Raises:
    ValueError: shapes that do not fit the schema.
  """
  kspace = np.asarray(kspace, np.complex64)
  reconstruction = np.asarray(reconstruction, np.float32)
  if (
      kspace.ndim not in (3, 4)
      or reconstruction.shape != (kspace.shape[0],) + kspace.shape[-2:]
  ):
    raise ValueError(
        f"kspace {kspace.shape} must be (slices, [coils,] H, W) and the"
        f" reconstruction (slices, H, W), got {reconstruction.shape}."
    )
  name = "singlecoil" if kspace.ndim == 3 else "multicoil"
  with h5py.File(path, "w") as f:
    f.create_dataset("kspace", data=kspace)
    for key in TARGET_KEYS[name]:
      f.create_dataset(key, data=reconstruction)
    f.create_dataset("ismrmrd_header", data=np.bytes_(header))
    for key, value in attrs.items():
      f.attrs[key] = value
    f.attrs["max"] = float(reconstruction.max())
    f.attrs["norm"] = float(np.linalg.norm(reconstruction))
