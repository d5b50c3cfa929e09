"""Tests of kspace.datasets.image_files.slice_reading: headers and the
validated slices of any supported file."""

import numpy as np
import pytest
from PIL import Image

from kspace import datasets
from kspace.datasets.image_files import slice_reading
from tests.helpers import dicom_files


def _reason(call):
  with pytest.raises(datasets.DatasetError) as error:
    call()
  assert error.value.reason in slice_reading.REASONS
  return error.value.reason


def test_undershoot_is_clipped_and_counted(tmp_path):
  image = np.full((8, 8), 100.0, np.float32)
  image[0, 0], image[1, 1] = -3.0, -1.0
  dicom_files.write_nifti(tmp_path / "resampled.nii", image)
  slices, clipped = slice_reading.read_slices(str(tmp_path / "resampled.nii"))
  assert clipped == 2 and slices.min() == 0 and slices.shape == (1, 8, 8)
  assert (
      _reason(
          lambda: slice_reading.read_slices(
              str(tmp_path / "resampled.nii"), max_negative_fraction=0.0
          )
      )
      == "negative"
  )


def test_empty_unsupported_and_non_finite_files_are_refused(tmp_path):
  Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "empty.png")
  Image.fromarray(np.full((8, 8), 7, np.uint8)).save(tmp_path / "blank.png")
  (tmp_path / "notes.txt").write_text("no image")
  dicom_files.write_nifti(
      tmp_path / "nan.nii", np.full((8, 8), np.nan, np.float32)
  )
  read = lambda name: lambda: slice_reading.read_slices(str(tmp_path / name))
  assert _reason(read("empty.png")) == "empty"
  assert _reason(read("blank.png")) == "empty"  # constant: no image in it
  assert _reason(read("notes.txt")) == "unreadable"
  assert _reason(read("nan.nii")) == "non_finite"


def test_inspect_file_reads_headers_only(tmp_path):
  dicom_files.write_dicom(tmp_path / "a.dcm", np.ones((6, 4)), EchoTime=4.5)
  dicom_files.write_nifti(tmp_path / "b.nii", np.ones((6, 4, 3, 1), np.float32))
  Image.fromarray(np.ones((6, 4), np.uint8)).save(tmp_path / "c.png")
  header = slice_reading.inspect_file(str(tmp_path / "a.dcm"))
  assert float(header.EchoTime) == 4.5 and "PixelData" not in header
  assert slice_reading.inspect_file(str(tmp_path / "b.nii")) == (6, 4, 3)
  assert slice_reading.inspect_file(str(tmp_path / "c.png")) is None
  (tmp_path / "d.dcm").write_bytes(b"\0" * 200 + b"junk")
  assert (
      _reason(lambda: slice_reading.inspect_file(str(tmp_path / "d.dcm")))
      == "unreadable"
  )
