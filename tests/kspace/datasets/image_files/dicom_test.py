"""Tests of kspace.datasets.image_files.dicom: header check and reader."""

import numpy as np
import pytest

from kspace import datasets
from kspace.datasets.image_files import dicom
from tests.helpers import dicom_files


def _disc(shape, seed=0):
  y, x = np.meshgrid(
      np.linspace(-1, 1, shape[0]), np.linspace(-1, 1, shape[1]), indexing="ij"
  )
  rng = np.random.default_rng(seed)
  return np.round((x**2 + y**2 < 0.8) * rng.uniform(100, 1000, shape))


def test_read_dicom_applies_rescale_slope_and_intercept(tmp_path):
  pixels = _disc((16, 24))
  path = tmp_path / "scan.dcm"
  dicom_files.write_dicom(path, pixels, slope=2.0, intercept=5.0)
  np.testing.assert_allclose(
      dicom.read_dicom(str(path)), (pixels * 2.0 + 5.0)[None]
  )


def test_monochrome1_is_inverted(tmp_path):
  pixels = _disc((8, 8))
  path = tmp_path / "inverted.dcm"
  dicom_files.write_dicom(path, pixels, PhotometricInterpretation="MONOCHROME1")
  np.testing.assert_allclose(
      dicom.read_dicom(str(path)), (pixels.max() - pixels)[None]
  )


@pytest.mark.parametrize(
    "header, reason",
    [
        ({"Modality": "CT"}, "not_mr"),
        ({"SOPClassUID": "1.2.840.10008.5.1.4.1.1.7"}, "secondary_capture"),
        ({"SamplesPerPixel": 3}, "colour"),
        ({"ImageType": ["ORIGINAL", "PRIMARY", "LOCALIZER"]}, "localizer"),
        ({"ImageType": "ORIGINAL\\PRIMARY\\P"}, "not_magnitude"),
    ],
)
def test_header_check_refuses_what_is_not_a_magnitude_mr_image(header, reason):
  dataset = dicom_files.mr_dataset((4, 4))
  dicom.check_dicom_header(dataset, "ok.dcm")
  for keyword, value in header.items():
    setattr(dataset, keyword, value)
  with pytest.raises(datasets.DatasetError) as error:
    dicom.check_dicom_header(dataset, "bad.dcm")
  assert error.value.reason == reason


def test_slice_position_is_along_the_normal():
  axial = [1, 0, 0, 0, 1, 0]
  assert dicom.slice_position(axial, [3, 4, -7.5]) == -7.5
  assert dicom.slice_position(None, [0, 0, 1]) is None
  assert dicom.slice_position(axial, [0, 0]) is None


@pytest.mark.parametrize(
    "image_type, kind",
    [
        # Acquired images, as Siemens, GE and Philips label them.
        ("ORIGINAL\\PRIMARY\\M\\ND\\NORM", "original"),
        ("ORIGINAL\\PRIMARY\\OTHER", "original"),
        ("ORIGINAL\\PRIMARY\\M_SE\\M\\SE", "original"),
        (None, "original"),  # no ImageType: nothing is guessed
        # Reformats, maps and subtractions computed from an acquisition.
        ("DERIVED\\SECONDARY\\MPR", "derived"),
        ("DERIVED\\SECONDARY\\REFORMATTED\\AVERAGE", "derived"),
        ("DERIVED\\PRIMARY\\DIFFUSION\\ADC\\ND", "derived"),
        ("DERIVED\\PRIMARY\\M\\ND\\SUB", "derived"),
        ("ORIGINAL\\SECONDARY\\M", "derived"),
        # Projections through a volume.
        ("DERIVED\\PRIMARY\\MIP_SAG", "projection"),
        ("DERIVED\\PRIMARY\\MNIP\\NORM", "projection"),
        ("DERIVED\\PRIMARY\\PROJECTION IMAGE\\M", "projection"),
        ("DERIVED\\PRIMARY\\ANGIO\\MAX_IP", "projection"),
    ],
)
def test_image_kind_tells_originals_derived_images_and_projections(
    image_type, kind
):
  dataset = dicom_files.mr_dataset((4, 4))
  if image_type is not None:
    dataset.ImageType = image_type.split("\\")
  assert dicom.image_kind(dataset) == kind
  if kind == "projection":
    with pytest.raises(datasets.DatasetError, match="projection") as error:
      dicom.check_dicom_header(dataset, "mip.dcm")
    assert error.value.reason == "projection"
    return
  dicom.check_dicom_header(dataset, "ok.dcm")  # derived: the registry's call
  if kind == "derived":
    with pytest.raises(datasets.DatasetError, match="keep_derived") as error:
      dicom.check_not_derived(dataset, "mpr.dcm")
    assert error.value.reason == "derived"
  else:
    dicom.check_not_derived(dataset, "ok.dcm")
