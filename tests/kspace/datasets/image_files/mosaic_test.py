"""Tests of kspace.datasets.image_files.mosaic on Siemens mosaics built as
the scanner writes them (tests.helpers.dicom_files.write_mosaic)."""

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import ImplicitVRLittleEndian

from kspace import datasets
from kspace.datasets.image_files import dicom
from kspace.datasets.image_files import mosaic
from tests.helpers import dicom_files


def _slices(n=5, shape=(6, 8)):
  """n slices, slice k a disc of brightness 100 (k + 1) with texture."""
  y, x = np.mgrid[: shape[0], : shape[1]]
  disc = (y - 3) ** 2 + (x - 4) ** 2 < 8
  return np.stack([disc * (100.0 * (k + 1) + x) for k in range(n)])


@pytest.mark.parametrize(
    "where",
    [
        dict(),  # private tag and CSA header, as the scanner writes
        dict(csa=False),
        dict(private_tag=False),  # the CSA header alone
        dict(transfer_syntax=ImplicitVRLittleEndian, csa=False),
    ],
)
def test_a_mosaic_is_cut_into_its_slices_in_tile_order(tmp_path, where):
  slices = _slices()
  path = tmp_path / "epi.dcm"
  grid = dicom_files.write_mosaic(path, slices, **where)
  assert grid.shape == (18, 24)  # 3 x 3 tiles, 4 of them unused
  header = pydicom.dcmread(path, stop_before_pixels=True)
  assert mosaic.count(header) == 5
  np.testing.assert_array_equal(dicom.read_dicom(str(path)), slices)


def test_a_raw_private_value_is_read_as_the_scanner_wrote_it():
  # Implicit VR without pydicom's private dictionary leaves the US bytes.
  header = Dataset()
  block = header.private_block(0x0019, mosaic.PRIVATE_CREATOR, create=True)
  block.add_new(mosaic.NUMBER_OF_IMAGES_ELEMENT, "UN", b"\x0c\x00")
  assert mosaic.count(header) == 12
  assert mosaic.count(Dataset()) is None


def test_an_anonymised_mosaic_is_refused_not_read_as_one_slice(tmp_path):
  path = tmp_path / "anonymised.dcm"
  dicom_files.write_mosaic(path, _slices(), private_tag=False, csa=False)
  with pytest.raises(
      datasets.DatasetError, match="anonymised.dcm.*mosaic"
  ) as e:
    dicom.read_dicom(str(path))
  assert e.value.reason == "mosaic"
  assert "NumberOfImagesInMosaic" in str(e.value) and "dcm2niix" in str(e.value)


def test_a_count_that_does_not_tile_the_image_is_refused(tmp_path):
  path = tmp_path / "odd.dcm"
  dicom_files.write_mosaic(path, _slices(), private_tag=False, csa=False)
  ds = pydicom.dcmread(path)
  block = ds.private_block(0x0019, mosaic.PRIVATE_CREATOR, create=True)
  block.add_new(mosaic.NUMBER_OF_IMAGES_ELEMENT, "US", 20)  # a 5 x 5 grid
  ds.save_as(path)
  with pytest.raises(datasets.DatasetError, match="20 slices.*18 x 24") as e:
    dicom.read_dicom(str(path))
  assert e.value.reason == "mosaic"


def test_tile_shape_and_unpack():
  assert mosaic.tile_shape((18, 24), 5) == (6, 8)
  assert mosaic.tile_shape((18, 24), 9) == (6, 8)
  assert mosaic.tile_shape((18, 24), 10) is None  # 4 x 4 does not divide 18
  slices = _slices(n=7)
  np.testing.assert_array_equal(
      mosaic.unpack(dicom_files.mosaic_image(slices), 7), slices
  )
