"""Any supported file, by its kind: its header and its validated slices.

`inspect_file` opens the header alone (cheap, for grouping and refusing
files before any pixels are read); `read_slices` reads the pixels with the
kind's reader (`READERS`: `dicom`, `nifti`, `pictures`).

The slices of a file are checked: finite, not all zero or constant, negative
values at most interpolation undershoot (their total at most `max_negative_fraction`
of the positive total; they are then clipped to zero and counted). A
refused file raises `DatasetError` with one of the `REASONS` the manifest
lists.
"""

import nibabel
import numpy as np
import pydicom
from PIL import Image

from kspace.datasets import errors
from kspace.datasets.image_files import dicom
from kspace.datasets.image_files import file_kinds
from kspace.datasets.image_files import nifti
from kspace.datasets.image_files import pictures

# Negative values whose total is at most this fraction of the positive
# total are interpolation undershoot (a resampled volume), clipped to zero;
# more is a phase, real/imaginary or CT image.
MAX_NEGATIVE_FRACTION = 0.01
# Why a file is refused (`DatasetError.reason`), as the manifest lists it.
REASONS = {
    "unreadable": "corrupt, truncated or not the format its name says",
    "no_pixel_data": "no image (a DICOMDIR, report or presentation state)",
    "undecodable": "compressed pixel data that does not decode (corrupt)",
    "missing_decoder": (
        "compressed pixel data whose decoder is not installed (JPEG"
        " lossless, JPEG-LS, 12-bit JPEG: the 'jpeg' extra)"
    ),
    "not_mr": "a modality other than MR (CT, PET, ...)",
    "secondary_capture": "a secondary capture (screenshot, derived image)",
    "colour": "a colour (RGB) image",
    "localizer": "a localiser / scout",
    "not_magnitude": "a phase, real or imaginary image (ImageType)",
    "projection": "a MIP / MinIP / projection image, not a slice (ImageType)",
    "derived": (
        "a derived image: reformat (MPR), map, subtraction (ImageType"
        " DERIVED / SECONDARY); kept with keep_derived"
    ),
    "mosaic": "a Siemens mosaic whose slices cannot be cut apart",
    "dimensions": "not a 2-D image or 3-D volume",
    "non_finite": "NaN or inf pixels",
    "negative": "negative values beyond interpolation undershoot",
    "empty": "all zero or constant (a blank image)",
    "duplicate": "a copy of another file (the same SOPInstanceUID)",
}


def inspect_file(path: str):
  """Cheap header-level check that `path` opens and has image dimensions.

  Args:
    path: a file under manual_dir.

  Returns:
    The header: a pydicom Dataset without pixels (DICOM), the data shape
    with trailing singleton axes dropped (NIfTI), or None (PNG/TIFF/JPEG).

  Raises:
    DatasetError: naming the file and the fix.
  """
  kind = file_kinds.file_kind(path)
  try:
    if kind == "dicom":
      dataset = pydicom.dcmread(path, stop_before_pixels=True)
      if "Rows" not in dataset or "Columns" not in dataset:
        raise errors.file_error(
            path,
            "has no image (Rows/Columns missing: a DICOMDIR or report?).",
            "remove it from the folder.",
            reason="no_pixel_data",
        )
      dicom.check_dicom_header(dataset, path)
      return dataset
    if kind == "nifti":
      shape = nifti.nifti_shape(
          path, nibabel.load(path).header.get_data_shape()
      )
      return shape
    if kind == "image":
      with Image.open(path) as image:
        image.size  # pylint: disable=pointless-statement
      return None
    else:
      raise errors.file_error(
          path,
          "has an unsupported type.",
          "use DICOM, NIfTI, PNG, TIFF or JPEG.",
          reason="unreadable",
      )
  except errors.DatasetError:
    raise
  except Exception as e:  # The readers raise many types for corrupt files.
    raise errors.file_error(
        path,
        f"is not a readable {file_kinds.KIND_NAMES[kind]} file"
        f" ({type(e).__name__}: {e}).",
        "re-export it or remove it from the folder.",
        reason="unreadable",
    ) from e


READERS = {
    "dicom": dicom.read_dicom,
    "nifti": nifti.read_nifti,
    "image": pictures.read_image,
}


def read_slices(
    path: str,
    max_negative_fraction: float = MAX_NEGATIVE_FRACTION,
    volume_index: int | None = None,
) -> tuple[np.ndarray, int]:
  """The raw slices of any supported file, validated.

  Args:
    path: the file.
    max_negative_fraction: negative values whose total is at most this
      fraction of the positive total are interpolation undershoot and are
      clipped to zero; more refuses the file.
    volume_index: the volume of a 4-D NIfTI file.

  Returns:
    (float64 (N, H, W) non-negative slices, the number of pixels clipped).

  Raises:
    DatasetError: unreadable file, wrong dimensionality, NaN/inf, negative
      values beyond undershoot, or an all-zero or constant image (its
      `reason` names which, see `REASONS`).
  """
  kind = file_kinds.file_kind(path)
  if kind is None:
    raise errors.file_error(
        path,
        "has an unsupported type.",
        "use DICOM, NIfTI, PNG, TIFF or JPEG.",
        reason="unreadable",
    )
  if kind == "nifti":
    slices = nifti.read_nifti(path, volume_index)
  else:
    slices = READERS[kind](path)
  if slices.ndim != 3 or min(slices.shape) < 1:
    raise errors.file_error(
        path,
        f"gives slices of shape {slices.shape}.",
        "check the file.",
        reason="dimensions",
    )
  errors.check_finite(slices, path, "pixel data")
  positive = np.maximum(slices, 0)
  if positive.max() <= 0:
    raise errors.file_error(
        path,
        "is all zero (or negative).",
        "remove it from the folder.",
        reason="empty",
    )
  if slices.min() == slices.max():
    # A blank image (a failed reconstruction, a padding frame): the
    # volume's scaling would store it as a uniformly bright square.
    raise errors.file_error(
        path,
        f"is blank: every pixel is {slices.max():g}.",
        "remove it from the folder.",
        reason="empty",
    )
  negative = positive - slices
  if negative.sum() > max_negative_fraction * positive.sum():
    raise errors.file_error(
        path,
        f"has negative values (min {slices.min():g}, max {slices.max():g},"
        f" negative total {negative.sum() / positive.sum():.1%} of the"
        " positive); this looks like a phase, real/imaginary or CT image, not"
        " a magnitude.",
        "export magnitude images.",
        reason="negative",
    )
  return positive, int(np.count_nonzero(negative))
