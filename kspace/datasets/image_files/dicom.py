"""DICOM files: the header check and the pixel reader.

pydicom reads uncompressed and compressed files (RLE, JPEG baseline /
extended / lossless, JPEG-LS, JPEG 2000: the pylibjpeg plugins);
`read_dicom` applies RescaleSlope / RescaleIntercept, gives one slice per
frame of a multi-frame file (in slice order, `frame_order`) and inverts
MONOCHROME1.

The header is checked before the pixels are read (`check_dicom_header`): a
non-MR modality (CT, ...), a secondary capture, a colour image, a
localiser, or a phase / real / imaginary image (ImageType) is refused.
`slice_position` places a slice along its normal (series ordering).
"""

import numpy as np
import pydicom

from kspace.datasets import errors

# DICOM SOP classes of secondary captures (PS3.4 B.5).
_SECONDARY_CAPTURE_PREFIX = "1.2.840.10008.5.1.4.1.1.7"
# ImageType values (third and later) of a non-magnitude MR image.
_NOT_MAGNITUDE_TYPES = {"P", "PHASE", "R", "REAL", "I", "IMAGINARY"}
_LOCALIZER_TYPES = {"LOCALIZER", "SCOUT"}


def check_dicom_header(dataset, path: str) -> None:
  """Refuses what is not a magnitude MR image, from the header alone.

  Args:
    dataset: a pydicom Dataset (pixels not needed).
    path: its file, for the message.

  Raises:
    DatasetError: with reason not_mr, secondary_capture, colour, localizer
      or not_magnitude.
  """
  modality = str(dataset.get("Modality", "MR")).upper()
  if modality != "MR":
    raise errors.file_error(
        path,
        f"is a {modality} image, not MR.",
        "export only the MR series.",
        reason="not_mr",
    )
  if str(dataset.get("SOPClassUID", "")).startswith(_SECONDARY_CAPTURE_PREFIX):
    raise errors.file_error(
        path,
        "is a secondary capture (a screenshot or derived image).",
        "export the original MR series.",
        reason="secondary_capture",
    )
  if int(dataset.get("SamplesPerPixel", 1) or 1) != 1:
    raise errors.file_error(
        path,
        "is a colour image (SamplesPerPixel"
        f" {dataset.get('SamplesPerPixel')}).",
        "export the grayscale MR series.",
        reason="colour",
    )
  image_type = dataset.get("ImageType", [])
  if isinstance(image_type, str):  # One value, or a raw backslash list.
    image_type = image_type.split("\\")
  image_type = [str(v).upper() for v in image_type]
  shown = "\\".join(image_type)
  if _LOCALIZER_TYPES & set(image_type):
    raise errors.file_error(
        path,
        f"is a localiser (ImageType {shown}).",
        "leave localisers out of the export.",
        reason="localizer",
    )
  if _NOT_MAGNITUDE_TYPES & set(image_type[2:]):
    raise errors.file_error(
        path,
        f"is not a magnitude image (ImageType {shown}).",
        "export the magnitude (M) images of the series.",
        reason="not_magnitude",
    )


def slice_position(orientation, position) -> float | None:
  """Where a slice lies along its normal (ImageOrientationPatient row x
  column, dotted with ImagePositionPatient); None when either is missing."""
  try:
    cosines = np.asarray([float(v) for v in orientation], np.float64)
    origin = np.asarray([float(v) for v in position], np.float64)
  except (TypeError, ValueError):
    return None
  if cosines.shape != (6,) or origin.shape != (3,):
    return None
  return float(np.cross(cosines[:3], cosines[3:]) @ origin)


def _frame_geometry(dataset, index: int):
  """(orientation, position) of frame `index` of an enhanced (multi-frame)
  DICOM, from its per-frame or shared functional groups."""
  found = {}
  for groups in (
      "PerFrameFunctionalGroupsSequence",
      "SharedFunctionalGroupsSequence",
  ):
    sequence = dataset.get(groups)
    if not sequence:
      continue
    group = sequence[index if groups.startswith("PerFrame") else 0]
    for name, item, key in (
        ("orientation", "PlaneOrientationSequence", "ImageOrientationPatient"),
        ("position", "PlanePositionSequence", "ImagePositionPatient"),
    ):
      if name not in found and group.get(item):
        found[name] = group.get(item)[0].get(key)
  return found.get("orientation"), found.get("position")


def frame_order(dataset, frames: int) -> np.ndarray:
  """The frames of a multi-frame DICOM in slice order: by position along
  the normal when every frame has one, else as stored."""
  positions = [
      slice_position(*_frame_geometry(dataset, i)) for i in range(frames)
  ]
  if any(p is None for p in positions):
    return np.arange(frames)
  return np.argsort(positions, kind="stable")


def read_dicom(path: str) -> np.ndarray:
  """The slices of a DICOM file, with rescale slope/intercept applied.

  Args:
    path: the file.

  Returns:
    float64 (N, H, W), one slice per frame (in slice order, `frame_order`).

  Raises:
    DatasetError: unreadable, no pixel data, undecodable or not 2-D frames.
  """
  try:
    dataset = pydicom.dcmread(path)
  except (pydicom.errors.InvalidDicomError, OSError, EOFError, ValueError) as e:
    raise errors.file_error(
        path,
        f"is not a readable DICOM file ({e}).",
        "re-export it or remove it from the folder.",
        reason="unreadable",
    ) from e
  if "PixelData" not in dataset:
    raise errors.file_error(
        path,
        "has no pixel data (a DICOMDIR or report?).",
        "remove it from the folder.",
        reason="no_pixel_data",
    )
  check_dicom_header(dataset, path)
  try:
    pixels = dataset.pixel_array
  except Exception as e:  # pydicom raises many types for bad/compressed data.
    raise errors.file_error(
        path,
        f"pixel data cannot be decoded ({type(e).__name__}: {e}).",
        "if it is compressed, check that the decoders install_requires"
        " names (pylibjpeg and its plugins) are installed, or decompress it"
        " (e.g. `gdcmconv --raw`); otherwise re-export it.",
        reason="undecodable",
    ) from e
  pixels = np.asarray(pixels, np.float64)
  frames = int(getattr(dataset, "NumberOfFrames", 1) or 1)
  if frames == 1:
    pixels = pixels[None]
  elif pixels.ndim == 3:
    pixels = pixels[frame_order(dataset, frames)]
  if pixels.ndim != 3:
    raise errors.file_error(
        path,
        f"pixel array has shape {pixels.shape}, expected (H, W) or"
        " (frames, H, W).",
        "re-export it as a grayscale image.",
        reason="dimensions",
    )
  if getattr(dataset, "PhotometricInterpretation", "") == "MONOCHROME1":
    # MONOCHROME1 shows low values bright; flip so signal is high.
    pixels = pixels.max() - pixels
  slope = float(getattr(dataset, "RescaleSlope", 1.0) or 1.0)
  intercept = float(getattr(dataset, "RescaleIntercept", 0.0) or 0.0)
  return pixels * slope + intercept
