"""Siemens mosaics: one DICOM image that holds a grid of slices.

Siemens stores each volume of an EPI series (fMRI, diffusion) as one image
with its slices side by side: ImageType holds "MOSAIC", and the number of
slices is in the private tag (0019,100A) NumberOfImagesInMosaic (private
creator "SIEMENS MR HEADER") and in the CSA image header (0029,1010)
(creator "SIEMENS CSA HEADER"). The grid has ceil(sqrt(n)) tiles a side,
filled row by row from the top left, the unused tiles zero; the tiles are in
the acquisition's slice order.

`count` finds n (the private tag, else the CSA header, read by nibabel);
`tile_shape` checks that the grid fits the image; `unpack` cuts the image
into its n slices. A mosaic whose n is unknown (anonymisers often drop
private tags) cannot be cut apart: `image_files.dicom` refuses it (reason
"mosaic") rather than read a grid of slices as one anatomical slice.
"""

import math
import struct
import warnings

import numpy as np

with warnings.catch_warnings():
  # nibabel.nicom warns on import that its DICOM readers are experimental;
  # only its CSA header parser is used here.
  warnings.simplefilter("ignore", UserWarning)
  from nibabel.nicom import csareader

PRIVATE_CREATOR = "SIEMENS MR HEADER"
NUMBER_OF_IMAGES_ELEMENT = 0x0A  # (0019,xx0A) NumberOfImagesInMosaic, US.


def _private_count(dataset) -> int | None:
  try:
    value = dataset.private_block(0x0019, PRIVATE_CREATOR)[
        NUMBER_OF_IMAGES_ELEMENT
    ].value
  except (KeyError, ValueError):
    return None
  if isinstance(value, bytes):
    # Implicit VR without pydicom's private dictionary: the raw US bytes.
    value = int.from_bytes(value[:2], "little") if len(value) >= 2 else None
  try:
    return int(value)
  except (TypeError, ValueError):
    return None


def _csa_count(dataset) -> int | None:
  try:
    header = csareader.get_csa_header(dataset, "image")
    return None if header is None else int(csareader.get_n_mosaic(header))
  except (
      csareader.CSAError,
      KeyError,
      IndexError,
      TypeError,
      ValueError,
      struct.error,
  ):
    return None


def count(dataset) -> int | None:
  """The number of slices in a mosaic: (0019,100A), else the CSA header.

  Args:
    dataset: a pydicom Dataset (pixels not needed).

  Returns:
    n >= 1, or None when neither header has it.
  """
  for found in (_private_count(dataset), _csa_count(dataset)):
    if found is not None and found >= 1:
      return found
  return None


def tile_shape(shape: tuple[int, int], n: int) -> tuple[int, int] | None:
  """(rows, columns) of one tile of an n-slice mosaic of `shape`; None when
  the ceil(sqrt(n))-a-side grid does not divide the image."""
  side = math.ceil(math.sqrt(n))
  rows, columns = shape
  if rows % side or columns % side:
    return None
  return rows // side, columns // side


def unpack(pixels: np.ndarray, n: int) -> np.ndarray:
  """The n slices of a mosaic image, in tile order (row by row).

  Args:
    pixels: (R, C) the mosaic; `tile_shape((R, C), n)` must not be None.
    n: the number of slices (`count`).

  Returns:
    (n, R / side, C / side), same dtype.
  """
  side = math.ceil(math.sqrt(n))
  rows, columns = tile_shape(pixels.shape, n)
  tiles = pixels.reshape(side, rows, side, columns).transpose(0, 2, 1, 3)
  return tiles.reshape(side * side, rows, columns)[:n]
