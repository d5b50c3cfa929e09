"""Reading a folder of magnitude images: listing, readers, normalisation.

No TFDS here: the `magnitude_registry` builder calls these.

Readers (chosen by file name, `file_kind`; other files are ignored):
  * DICOM (.dcm, .dicom, .ima, or any file with the "DICM" preamble):
    pydicom, uncompressed or compressed (RLE, JPEG baseline / extended /
    lossless, JPEG-LS, JPEG 2000: the pylibjpeg plugins); RescaleSlope /
    RescaleIntercept applied; multi-frame files give one slice per frame;
    MONOCHROME1 is inverted.
  * NIfTI (.nii, .nii.gz): nibabel with scl_slope/scl_inter applied; 2-D
    images give one slice, 3-D volumes one slice per index of the LAST axis
    (voxel axes as stored, not reoriented); 4-D only with a last axis of 1.
  * PNG / TIFF / JPEG (.png, .tif, .tiff, .jpg, .jpeg): Pillow; colour is
    converted to grayscale ("L"), 16-bit and float modes keep their values;
    multi-page TIFFs give one slice per page.

DICOM headers are checked before the pixels are read (`check_dicom_header`):
a non-MR modality (CT, ...), a secondary capture, a colour image, a
localiser, or a phase / real / imaginary image (ImageType) is refused.

Per file (`read_slices`), the slices are checked: finite, not all zero,
negative values at most interpolation undershoot (their total at most
`max_negative_fraction` of the positive total; they are then clipped to
zero and counted). `registry_volumes` groups files into volumes and
normalises each by its `percentile`-th percentile (`normalize`: robust to a
few hot pixels; one scale per volume keeps the relative intensities of its
slices), clipped to [0, 1]; each slice is then center-cropped to a square
(its shorter side) and resized (`square_resize`, Pillow's antialiased
bicubic filter, clipped to [0, 1] again).

Splits (`assign_splits`): if manual_dir has subfolders named train / val (or
validation) / test, their volumes form those splits. Otherwise each volume
is assigned to a split by a hash of its name (whole volumes, so the slices
of one volume never straddle splits).
"""

import hashlib
import os

import nibabel
import numpy as np
import pydicom
from PIL import Image
from PIL import ImageSequence

from kspace.datasets import errors
from kspace.datasets import files

DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")
NIFTI_SUFFIXES = (".nii", ".nii.gz")
IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg")
KIND_NAMES = {"dicom": "DICOM", "nifti": "NIfTI", "image": "PNG/TIFF/JPEG"}
SPLIT_FOLDERS = {
    "train": ("train",),
    "validation": ("val", "validation"),
    "test": ("test",),
}
# Negative values whose total is at most this fraction of the positive
# total are interpolation undershoot (a resampled volume), clipped to zero;
# more is a phase, real/imaginary or CT image.
MAX_NEGATIVE_FRACTION = 0.01
# Why a file is refused (`DatasetError.reason`), as the manifest lists it.
REASONS = {
    "unreadable": "corrupt, truncated or not the format its name says",
    "no_pixel_data": "no image (a DICOMDIR, report or presentation state)",
    "undecodable": "compressed pixel data no installed decoder reads",
    "not_mr": "a modality other than MR (CT, PET, ...)",
    "secondary_capture": "a secondary capture (screenshot, derived image)",
    "colour": "a colour (RGB) image",
    "localizer": "a localiser / scout",
    "not_magnitude": "a phase, real or imaginary image (ImageType)",
    "dimensions": "not a 2-D image or 3-D volume",
    "non_finite": "NaN or inf pixels",
    "negative": "negative values beyond interpolation undershoot",
    "empty": "all zero, or no slice above empty_threshold",
    "duplicate": "a copy of another file (the same SOPInstanceUID)",
}
# DICOM SOP classes of secondary captures (PS3.4 B.5).
_SECONDARY_CAPTURE_PREFIX = "1.2.840.10008.5.1.4.1.1.7"
# ImageType values (third and later) of a non-magnitude MR image.
_NOT_MAGNITUDE_TYPES = {"P", "PHASE", "R", "REAL", "I", "IMAGINARY"}
_LOCALIZER_TYPES = {"LOCALIZER", "SCOUT"}

MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Put magnitude images (DICOM .dcm, NIfTI .nii/.nii.gz, PNG/TIFF/JPEG) in
manual_dir (subfolders are searched). Optional subfolders train/, val/, test/
define the splits; otherwise files are split by a hash of their path."""


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


def _nifti_shape(path: str, shape) -> tuple[int, ...]:
  """The data shape without trailing singleton axes; 2-D to 4-D."""
  shape = tuple(int(s) for s in shape)
  while len(shape) > 2 and shape[-1] == 1:
    shape = shape[:-1]
  if len(shape) not in (2, 3, 4):
    raise errors.file_error(
        path,
        f"has shape {shape}; expected a 2-D image, a 3-D volume or a 4-D"
        " series of volumes.",
        "split it into 3-D files, e.g. with nibabel.funcs.four_to_three.",
        reason="dimensions",
    )
  return shape


def read_nifti(path: str, volume_index: int | None = None) -> np.ndarray:
  """The slices of a NIfTI file (slices along the third axis), scaled.

  Args:
    path: the file.
    volume_index: for a 4-D file, which volume along the fourth axis.

  Returns:
    float64 (N, H, W).

  Raises:
    DatasetError: unreadable, complex, more than 4-D, or 4-D without a
      volume_index.
  """
  try:
    image = nibabel.load(path)
    data = np.asarray(image.dataobj)
    if np.iscomplexobj(data):
      raise errors.file_error(
          path,
          "holds complex values.",
          "save np.abs(data): this registry holds magnitude images.",
          reason="not_magnitude",
      )
    data = np.asarray(image.get_fdata(), np.float64)
  except errors.DatasetError:
    raise
  except Exception as e:  # nibabel raises many types for corrupt files.
    raise errors.file_error(
        path,
        f"is not a readable NIfTI file ({type(e).__name__}: {e}).",
        "re-export it or remove it from the folder.",
        reason="unreadable",
    ) from e
  data = data.reshape(_nifti_shape(path, data.shape))
  if data.ndim == 2:
    return data[None]
  if data.ndim == 4:
    if volume_index is None or not 0 <= volume_index < data.shape[3]:
      raise errors.file_error(
          path,
          f"is a 4-D series of shape {data.shape}; volume {volume_index}"
          " was asked for.",
          "choose volumes with the registry's nifti_volumes.",
          reason="dimensions",
      )
    data = data[..., volume_index]
  return np.moveaxis(data, -1, 0)


def read_image(path: str) -> np.ndarray:
  """The grayscale frames (pages) of a PNG/TIFF/JPEG file.

  Args:
    path: the file.

  Returns:
    float64 (N, H, W).

  Raises:
    DatasetError: unreadable, or pages of different sizes.
  """
  try:
    with Image.open(path) as image:
      frames = []
      for frame in ImageSequence.Iterator(image):
        if frame.mode not in ("L", "I", "F") and not frame.mode.startswith(
            "I;16"
        ):
          frame = frame.convert("L")
        frames.append(np.asarray(frame, np.float64))
  except (OSError, ValueError, Image.DecompressionBombError) as e:
    raise errors.file_error(
        path,
        f"is not a readable image ({e}).",
        "re-export it or remove it from the folder.",
        reason="unreadable",
    ) from e
  if len({f.shape for f in frames}) != 1:
    raise errors.file_error(
        path,
        "has pages of different sizes.",
        "save one image per file.",
        reason="dimensions",
    )
  return np.stack(frames)


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
  kind = file_kind(path)
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
      check_dicom_header(dataset, path)
      return dataset
    if kind == "nifti":
      shape = _nifti_shape(path, nibabel.load(path).header.get_data_shape())
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
        f"is not a readable {KIND_NAMES[kind]} file ({type(e).__name__}: {e}).",
        "re-export it or remove it from the folder.",
        reason="unreadable",
    ) from e


READERS = {"dicom": read_dicom, "nifti": read_nifti, "image": read_image}


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
      values beyond undershoot, or an all-zero image (its `reason` names
      which, see `REASONS`).
  """
  kind = file_kind(path)
  if kind is None:
    raise errors.file_error(
        path,
        "has an unsupported type.",
        "use DICOM, NIfTI, PNG, TIFF or JPEG.",
        reason="unreadable",
    )
  if kind == "nifti":
    slices = read_nifti(path, volume_index)
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


def normalize(slices: np.ndarray, percentile: float) -> np.ndarray:
  """Divides by the `percentile`-th percentile (the max if that is 0), clips.

  Args:
    slices: (N, H, W) non-negative values, not all zero.
    percentile: in (0, 100].

  Returns:
    float64 (N, H, W) in [0, 1].
  """
  scale = np.percentile(slices, percentile)
  if scale <= 0:
    scale = slices.max()
  return np.clip(slices / scale, 0, 1)


def square_resize(image: np.ndarray, size: int) -> np.ndarray:
  """Center-crops (H, W) to a square of its shorter side, resizes to size.

  Args:
    image: (H, W) float.
    size: output side.

  Returns:
    float32 (size, size), clipped to [0, 1] (bicubic overshoots).
  """
  side = min(image.shape)
  square = files.center_crop_or_pad(image, (side, side)).astype(np.float32)
  if side != size:
    resized = Image.fromarray(square).resize(
        (size, size), Image.Resampling.BICUBIC
    )
    square = np.asarray(resized, np.float32)
  return np.clip(square, 0, 1).astype(np.float32)


def list_images(manual_dir: str) -> list[str]:
  """Supported files under `manual_dir` (recursive), sorted.

  Args:
    manual_dir: the folder.

  Returns:
    Paths, sorted by folder then name; hidden files are skipped.

  Raises:
    DatasetError: when there are none.
  """
  found = []
  for folder, subfolders, names in os.walk(manual_dir):
    subfolders.sort()
    for name in sorted(names):
      if name.startswith("."):
        continue
      path = os.path.join(folder, name)
      if file_kind(path) is not None:
        found.append(path)
  if not found:
    raise errors.file_error(
        manual_dir,
        "has no DICOM, NIfTI, PNG, TIFF or JPEG files.",
        MANUAL_DOWNLOAD_INSTRUCTIONS,
    )
  return found


def assign_splits(
    manual_dir: str,
    names: list[str],
    val_fraction: float,
    test_fraction: float,
) -> dict[str, list[str]]:
  """Volumes per split: from split subfolders, else by a hash of the name.

  Hash order is deterministic and independent of listing order; the first
  round(val_fraction * n) volumes (at least one if the fraction is > 0 and
  there are >= 3) go to validation, the next to test, the rest to train.
  Empty splits are omitted.

  Args:
    manual_dir: root folder.
    names: the volumes' names, paths relative to manual_dir
      (`registry_volumes.Volume.name`).
    val_fraction, test_fraction: used only without split subfolders.

  Returns:
    dict split -> sorted names.
  """
  top = {n: n.split(os.sep)[0].lower() for n in names}
  has_folders = any(
      os.path.isdir(os.path.join(manual_dir, name))
      for folders in SPLIT_FOLDERS.values()
      for name in folders
  )
  if has_folders:
    splits = {
        split: sorted(n for n in names if top[n] in folders)
        for split, folders in SPLIT_FOLDERS.items()
    }
    outside = [n for n in names if not any(n in s for s in splits.values())]
    if outside:
      raise errors.file_error(
          os.path.join(manual_dir, outside[0]),
          "is outside the train/val/test subfolders that define the splits.",
          "move it into one of them (or remove the split subfolders).",
      )
  else:
    ordered = sorted(names, key=lambda n: hashlib.sha1(n.encode()).hexdigest())
    count = len(ordered)

    def share(fraction: float) -> int:
      num = int(round(fraction * count))
      return max(num, 1) if fraction > 0 and count >= 3 else num

    num_val, num_test = share(val_fraction), share(test_fraction)
    splits = {
        "validation": sorted(ordered[:num_val]),
        "test": sorted(ordered[num_val : num_val + num_test]),
        "train": sorted(ordered[num_val + num_test :]),
    }
  splits = {split: ns for split, ns in splits.items() if ns}
  if not splits:
    raise errors.file_error(
        manual_dir, "has no files in any split.", MANUAL_DOWNLOAD_INSTRUCTIONS
    )
  return splits
