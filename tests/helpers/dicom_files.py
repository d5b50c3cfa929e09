"""Writers of tiny MR image files for the registry tests: a minimal MR
DICOM dataset or file built from scratch, a Siemens mosaic as the scanner
writes it (private tags and CSA header), and a NIfTI file."""

import math
import struct

import nibabel
import numpy as np
from pydicom.dataset import FileDataset
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian
from pydicom.uid import generate_uid

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
MOSAIC_TYPE = ["ORIGINAL", "PRIMARY", "M", "ND", "MOSAIC"]


def mr_dataset(
    shape, transfer_syntax=ExplicitVRLittleEndian, bits_allocated=16, bits=16
):
  """A minimal single-frame MR DICOM dataset of `shape` without pixels."""
  meta = FileMetaDataset()
  meta.MediaStorageSOPClassUID = MR_IMAGE_STORAGE
  meta.MediaStorageSOPInstanceUID = generate_uid()
  meta.TransferSyntaxUID = transfer_syntax
  ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
  ds.SOPClassUID = MR_IMAGE_STORAGE
  ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
  ds.Modality = "MR"
  ds.Rows, ds.Columns = shape
  ds.SamplesPerPixel = 1
  ds.PhotometricInterpretation = "MONOCHROME2"
  ds.BitsAllocated = bits_allocated
  ds.BitsStored = bits
  ds.HighBit = bits - 1
  ds.PixelRepresentation = 0
  return ds


def write_dicom(path, pixels, slope=1.0, intercept=0.0, **header):
  """A minimal uncompressed MR DICOM file built from scratch, with any
  further `header` keywords (e.g. EchoTime=4.5) set."""
  ds = mr_dataset(pixels.shape)
  ds.RescaleSlope = slope
  ds.RescaleIntercept = intercept
  ds.PixelData = pixels.astype(np.uint16).tobytes()
  for keyword, value in header.items():
    setattr(ds, keyword, value)
  ds.save_as(str(path), enforce_file_format=True)


def csa_header(tags: dict[str, tuple[str, list[str]]]) -> bytes:
  """A Siemens CSA2 header ("SV10"), as the scanner writes (0029,1010).

  Args:
    tags: name -> (VR, string items), e.g.
      {"NumberOfImagesInMosaic": ("US", ["5"])}.

  Returns:
    The bytes: "SV10", 4 unused bytes, the tag count and 77; per tag its
    64-byte name, VM, VR, SyngoDT, item count and 77; per item 4 int32
    (the second its length) and the null-terminated text padded to 4
    bytes.
  """
  out = [b"SV10", b"\4\3\2\1", struct.pack("<2I", len(tags), 77)]
  for name, (vr, items) in tags.items():
    out.append(
        struct.pack(
            "<64si4s3i",
            name.encode(),
            len(items),
            vr.encode(),
            0,
            len(items),
            77,
        )
    )
    for item in items:
      data = item.encode() + b"\0"
      out.append(struct.pack("<4i", len(data), len(data), 77, len(data)))
      out.append(data + b"\0" * (-len(data) % 4))
  return b"".join(out)


def mosaic_image(slices: np.ndarray) -> np.ndarray:
  """The (R, C) mosaic of (n, h, w) slices: ceil(sqrt(n)) tiles a side,
  filled row by row, the unused tiles zero."""
  n, h, w = slices.shape
  side = math.ceil(math.sqrt(n))
  grid = np.zeros((side * h, side * w), slices.dtype)
  for index, tile in enumerate(slices):
    row, column = divmod(index, side)
    grid[row * h : (row + 1) * h, column * w : (column + 1) * w] = tile
  return grid


def write_mosaic(
    path,
    slices,
    *,
    private_tag=True,
    csa=True,
    transfer_syntax=ExplicitVRLittleEndian,
    **header,
):
  """A Siemens mosaic (an EPI volume in one image) built as the scanner
  writes it: ImageType ...\\MOSAIC, the slice count in the private tag
  (0019,100A) NumberOfImagesInMosaic and in the CSA image header
  (0029,1010). An anonymiser's copy drops them (private_tag=csa=False)."""
  n, h, w = slices.shape
  grid = mosaic_image(slices)
  ds = mr_dataset(grid.shape, transfer_syntax)
  ds.ImageType = MOSAIC_TYPE
  ds.Manufacturer = "SIEMENS"
  ds.AcquisitionMatrix = [w, 0, 0, h]
  if private_tag:
    block = ds.private_block(0x0019, "SIEMENS MR HEADER", create=True)
    block.add_new(0x08, "CS", "IMAGE NUM 4")
    block.add_new(0x0A, "US", n)
  if csa:
    block = ds.private_block(0x0029, "SIEMENS CSA HEADER", create=True)
    block.add_new(0x08, "CS", "IMAGE NUM 4")
    tags = {
        "EchoLinePosition": ("IS", [str(h // 2)]),
        "NumberOfImagesInMosaic": ("US", [str(n)]),
        "SliceNormalVector": ("FD", ["0.0", "0.0", "1.0"]),
    }
    block.add_new(0x10, "OB", csa_header(tags))
  ds.RescaleSlope, ds.RescaleIntercept = 1.0, 0.0
  ds.PixelData = grid.astype(np.uint16).tobytes()
  for keyword, value in header.items():
    setattr(ds, keyword, value)
  ds.save_as(str(path), enforce_file_format=True)
  return grid


def write_nifti(path, volume, slope=1.0, inter=0.0):
  """A NIfTI file of `volume` (identity affine) with scl_slope / scl_inter."""
  image = nibabel.Nifti1Image(volume, np.eye(4))
  image.header.set_slope_inter(slope, inter)
  nibabel.save(image, str(path))
