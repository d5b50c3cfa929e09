"""Tests of kspace.datasets.image_files.nifti: the NIfTI reader."""

import numpy as np
import pytest

from kspace import datasets
from kspace.datasets.image_files import nifti
from tests.helpers import dicom_files


def test_slices_lie_along_the_last_axis_and_are_scaled(tmp_path):
  rng = np.random.default_rng(0)
  volume = rng.uniform(0, 100, (16, 12, 4)).astype(np.float32)
  path = tmp_path / "vol.nii.gz"
  dicom_files.write_nifti(path, volume, slope=3.0)
  slices = nifti.read_nifti(str(path))
  assert slices.shape == (4, 16, 12) and slices.dtype == np.float64
  np.testing.assert_allclose(slices, np.moveaxis(volume * 3.0, -1, 0), 1e-6)


def test_a_4d_series_is_read_one_volume_at_a_time(tmp_path):
  series = np.stack([np.full((8, 8, 2), t + 1.0) for t in range(3)], axis=-1)
  path = tmp_path / "series.nii"
  dicom_files.write_nifti(path, series.astype(np.float32))
  np.testing.assert_array_equal(nifti.read_nifti(str(path), 2), 3.0)
  with pytest.raises(datasets.DatasetError, match="4-D series"):
    nifti.read_nifti(str(path))


def test_nifti_shape_drops_trailing_singleton_axes():
  assert nifti.nifti_shape("a.nii", (8, 8, 1, 1)) == (8, 8)
  assert nifti.nifti_shape("a.nii", (8, 8, 3, 1)) == (8, 8, 3)
  with pytest.raises(datasets.DatasetError, match="has shape"):
    nifti.nifti_shape("a.nii", (8, 8, 2, 3, 2))
