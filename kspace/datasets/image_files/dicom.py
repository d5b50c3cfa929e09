"""DICOM files: the header check and the pixel reader.

pydicom reads uncompressed and compressed files; `read_dicom` applies
RescaleSlope / RescaleIntercept, gives one slice per frame of a multi-frame
file (in slice order, `frame_order`) and per tile of a Siemens mosaic
(`mosaic`), and inverts MONOCHROME1.

Decoders (pydicom's plugins): RLE, JPEG 2000 (pylibjpeg-openjpeg, MIT) and
8-bit JPEG baseline / extended (Pillow) come with the main install; 12-bit
JPEG extended, JPEG lossless and JPEG-LS need the optional `jpeg` extra
(pylibjpeg-libjpeg, GPL-3.0: `JPEG_EXTRA_SYNTAXES`), or python-gdcm. A file
no installed decoder reads is refused with reason "missing_decoder", its
message naming the extra.

The header is checked before the pixels are read (`check_dicom_header`): a
non-MR modality (CT, ...), a secondary capture, a colour image, a
localiser, a phase / real / imaginary image, a projection (MIP, MinIP,
ImageType PROJECTION IMAGE: not a slice), a mosaic that cannot be cut
apart, or compressed pixels without a decoder are refused. `image_kind`
tells an original image from a derived one (ImageType DERIVED / SECONDARY,
MPR, reformats, maps), which the registry skips unless asked to keep it.
`slice_position` places a slice along its normal (series ordering).
"""

import re

import numpy as np
import pydicom
from pydicom import pixels as dicom_pixels
from pydicom import uid as dicom_uid

from kspace.datasets import errors
from kspace.datasets.image_files import mosaic

# DICOM SOP classes of secondary captures (PS3.4 B.5).
_SECONDARY_CAPTURE_PREFIX = "1.2.840.10008.5.1.4.1.1.7"
# ImageType values (third and later) of a non-magnitude MR image.
_NOT_MAGNITUDE_TYPES = {"P", "PHASE", "R", "REAL", "I", "IMAGINARY"}
_LOCALIZER_TYPES = {"LOCALIZER", "SCOUT"}
# Words of ImageType values (split at spaces and underscores, as in
# "PROJECTION IMAGE", "MIP_SAG") and whole values (the enhanced MR image's
# defined terms) that mark a projection through a volume.
_PROJECTION_WORDS = {"MIP", "MINIP", "MNIP", "PROJECTION"}
_PROJECTION_VALUES = {"MAX_IP", "MIN_IP", "MEAN_IP"}
# ... and a reformat (a plane resampled from a volume).
_REFORMAT_WORDS = {"MPR", "REFORMATTED", "RESAMPLED", "CURVED"}
# The transfer syntaxes that only pylibjpeg-libjpeg (GPL-3.0, the `jpeg`
# extra) or python-gdcm decode; Pillow also reads the 8-bit JPEG baseline /
# extended ones.
JPEG_EXTRA_SYNTAXES = (
    dicom_uid.JPEGBaseline8Bit,
    dicom_uid.JPEGExtended12Bit,
    dicom_uid.JPEGLossless,
    dicom_uid.JPEGLosslessSV1,
    dicom_uid.JPEGLSLossless,
    dicom_uid.JPEGLSNearLossless,
)
JPEG_EXTRA_INSTALL = 'pip install -e ".[jpeg]"'


def image_type(dataset) -> list[str]:
  """ImageType (0008,0008) as upper-case values ([] when absent)."""
  value = dataset.get("ImageType", [])
  if isinstance(value, str):  # One value, or a raw backslash list.
    value = value.split("\\")
  return [str(v).strip().upper() for v in value]


def image_kind(dataset) -> str:
  """The kind of image ImageType says: original, derived or projection.

  Projection: a MIP / MinIP / PROJECTION IMAGE value (a maximum or minimum
  along rays through a volume, not a slice). Derived: value 1 DERIVED, value
  2 SECONDARY, or an MPR / REFORMATTED value (reformats, parameter maps such
  as ADC, subtractions). Without ImageType: original (nothing is guessed).

  Returns:
    "original" | "derived" | "projection".
  """
  values = image_type(dataset)
  words = {w for v in values for w in re.split(r"[\s_]+", v) if w}
  if words & _PROJECTION_WORDS or _PROJECTION_VALUES & set(values):
    return "projection"
  if (
      values[:1] == ["DERIVED"]
      or values[1:2] == ["SECONDARY"]
      or words & _REFORMAT_WORDS
  ):
    return "derived"
  return "original"


def check_not_derived(dataset, path: str) -> None:
  """Refuses a derived image (`image_kind`), reason "derived"."""
  if image_kind(dataset) == "derived":
    shown = "\\".join(image_type(dataset))
    raise errors.file_error(
        path,
        f"is a derived image (ImageType {shown}): a reformat, map or other"
        " image computed from an acquisition, not an acquired slice.",
        "export the original series (ImageType ORIGINAL), or keep derived"
        " images with the registry's keep_derived=True (their records say"
        " derived).",
        reason="derived",
    )


def _missing_decoder_error(path: str, syntax) -> errors.DatasetError:
  if syntax in JPEG_EXTRA_SYNTAXES:
    return errors.file_error(
        path,
        f"is {syntax.name} DICOM, which needs the 'jpeg' extra (GPL-3.0"
        " pylibjpeg-libjpeg) or python-gdcm to decode.",
        f"{JPEG_EXTRA_INSTALL}, or decompress the file (e.g. `gdcmconv"
        " --raw`).",
        reason="missing_decoder",
    )
  return errors.file_error(
      path,
      f"is {syntax.name} DICOM and no installed decoder reads it.",
      "pip install -e . (pylibjpeg, pylibjpeg-openjpeg, pylibjpeg-rle), or"
      " decompress the file (e.g. `gdcmconv --raw`).",
      reason="missing_decoder",
  )


def _decoder(dataset):
  """pydicom's decoder of the file's transfer syntax, None if it has none
  (uncompressed data and unknown syntaxes are left to pydicom)."""
  meta = getattr(dataset, "file_meta", None)
  syntax = meta.get("TransferSyntaxUID") if meta is not None else None
  if syntax is None or not dicom_uid.UID(syntax).is_compressed:
    return None
  try:
    return dicom_pixels.get_decoder(dicom_uid.UID(syntax))
  except NotImplementedError:
    return None


def check_decoder(dataset, path: str) -> None:
  """Refuses compressed pixels no installed decoder reads, naming the extra
  that would (reason "missing_decoder")."""
  decoder = _decoder(dataset)
  if decoder is not None and not decoder.is_available:
    raise _missing_decoder_error(path, decoder.UID)


def _check_mosaic(dataset, path: str, shown: str) -> None:
  """Refuses a Siemens mosaic that cannot be cut into its slices."""
  frames = int(dataset.get("NumberOfFrames", 1) or 1)
  count = mosaic.count(dataset)
  shape = (int(dataset.get("Rows", 0)), int(dataset.get("Columns", 0)))
  if count is None:
    problem = (
        "has no NumberOfImagesInMosaic (private tag (0019,100A) or the CSA"
        " header, which anonymisers often remove), so its slices cannot be"
        " cut apart"
    )
  elif frames != 1 or mosaic.tile_shape(shape, count) is None:
    problem = (
        f"holds {count} slices that do not tile its {shape[0]} x {shape[1]}"
        f" image ({frames} frame(s))"
    )
  else:
    return
  raise errors.file_error(
      path,
      f"is a Siemens mosaic (ImageType {shown}, a grid of slices in one"
      f" image) that {problem}.",
      "export it with its private tags, or convert the series to NIfTI"
      " (e.g. dcm2niix) before anonymising and use that.",
      reason="mosaic",
  )


def check_dicom_header(dataset, path: str) -> None:
  """Refuses what is not a magnitude MR image, from the header alone.

  Args:
    dataset: a pydicom Dataset (pixels not needed).
    path: its file, for the message.

  Raises:
    DatasetError: with reason not_mr, secondary_capture, colour, localizer,
      not_magnitude, projection, mosaic or missing_decoder.
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
  values = image_type(dataset)
  shown = "\\".join(values)
  if _LOCALIZER_TYPES & set(values):
    raise errors.file_error(
        path,
        f"is a localiser (ImageType {shown}).",
        "leave localisers out of the export.",
        reason="localizer",
    )
  if _NOT_MAGNITUDE_TYPES & set(values[2:]):
    raise errors.file_error(
        path,
        f"is not a magnitude image (ImageType {shown}).",
        "export the magnitude (M) images of the series.",
        reason="not_magnitude",
    )
  if image_kind(dataset) == "projection":
    raise errors.file_error(
        path,
        f"is a projection (ImageType {shown}): each pixel is a maximum or"
        " minimum along a ray through the volume, not a slice.",
        "leave MIP / MinIP / projection series out of the export.",
        reason="projection",
    )
  if "MOSAIC" in values:
    _check_mosaic(dataset, path, shown)
  check_decoder(dataset, path)


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


def _decode_error(dataset, path: str, error: Exception) -> errors.DatasetError:
  """Why the pixels did not decode: the missing `jpeg` extra when only it
  reads this file (Pillow refuses 12-bit JPEG), else corrupt data."""
  decoder = _decoder(dataset)
  if (
      decoder is not None
      and decoder.UID in JPEG_EXTRA_SYNTAXES
      and "pylibjpeg" not in decoder.available_plugins
  ):
    return _missing_decoder_error(path, decoder.UID)
  return errors.file_error(
      path,
      f"pixel data cannot be decoded ({type(error).__name__}: {error}).",
      "re-export it, or decompress it (e.g. `gdcmconv --raw`).",
      reason="undecodable",
  )


def read_dicom(path: str) -> np.ndarray:
  """The slices of a DICOM file, with rescale slope/intercept applied.

  Args:
    path: the file.

  Returns:
    float64 (N, H, W), one slice per frame (in slice order, `frame_order`)
    or per tile of a mosaic (in tile order).

  Raises:
    DatasetError: unreadable, no pixel data, refused by its header
      (`check_dicom_header`), undecodable or not 2-D frames.
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
    raise _decode_error(dataset, path, e) from e
  pixels = np.asarray(pixels, np.float64)
  frames = int(getattr(dataset, "NumberOfFrames", 1) or 1)
  if "MOSAIC" in image_type(dataset) and pixels.ndim == 2:
    pixels = mosaic.unpack(pixels, mosaic.count(dataset))
  elif frames == 1:
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
