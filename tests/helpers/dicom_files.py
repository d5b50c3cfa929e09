"""Writers of tiny MR image files for the registry tests: a minimal MR
DICOM dataset or file built from scratch, and a NIfTI file."""

import nibabel
import numpy as np
from pydicom.dataset import FileDataset
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian
from pydicom.uid import generate_uid

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"


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


def write_nifti(path, volume, slope=1.0, inter=0.0):
  """A NIfTI file of `volume` (identity affine) with scl_slope / scl_inter."""
  image = nibabel.Nifti1Image(volume, np.eye(4))
  image.header.set_slope_inter(slope, inter)
  nibabel.save(image, str(path))
