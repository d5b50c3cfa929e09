"""Which reader a file needs, by its name (`file_kind`).

  * "dicom": .dcm, .dicom, .ima, or a file without a suffix that has the
    "DICM" preamble (`dicom`);
  * "nifti": .nii, .nii.gz (`nifti`);
  * "image": .png, .tif, .tiff, .jpg, .jpeg (`pictures`).

Other files are ignored.
"""

import os

DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")
NIFTI_SUFFIXES = (".nii", ".nii.gz")
IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg")
KIND_NAMES = {"dicom": "DICOM", "nifti": "NIfTI", "image": "PNG/TIFF/JPEG"}


def _has_dicom_preamble(path: str) -> bool:
  try:
    with open(path, "rb") as f:
      f.seek(128)
      return f.read(4) == b"DICM"
  except OSError:
    return False


def file_kind(path: str) -> str | None:
  """The reader for `path`, by its name (or a DICOM preamble).

  Args:
    path: a file.

  Returns:
    "dicom" | "nifti" | "image", or None for an unsupported file.
  """
  lower = path.lower()
  if lower.endswith(DICOM_SUFFIXES):
    return "dicom"
  if lower.endswith(NIFTI_SUFFIXES):
    return "nifti"
  if lower.endswith(IMAGE_SUFFIXES):
    return "image"
  if "." not in os.path.basename(path) and _has_dicom_preamble(path):
    return "dicom"
  return None
