"""Tests of kspace.datasets.image_files.volume_scaling: one scale per volume,
clipped, then a square resize."""

import numpy as np
import pytest

from kspace.common import normalize
from kspace.datasets.image_files import volume_scaling


def test_one_clipped_scale_for_the_whole_volume():
  rng = np.random.default_rng(0)
  gains = np.array([1.0, 2.0, 4.0])[:, None, None]
  slices = rng.uniform(0, 1, (3, 8, 8)) * gains
  scaled = volume_scaling.normalize_volume_clipped(slices, 99.5)
  expected = np.clip(slices / np.percentile(slices, 99.5), 0, 1)
  np.testing.assert_array_equal(scaled, expected)
  assert scaled.dtype == np.float64 and scaled.max() == 1
  # Unlike the models' per-image normalisation, the slices keep their
  # relative intensities.
  per_image = normalize.normalize_magnitude(slices)
  assert per_image[0].max() > 0.9 and scaled[0].max() < 0.5


def test_a_mostly_empty_volume_is_scaled_by_its_max():
  slices = np.zeros((1, 10, 10))
  slices[0, 0, 0] = 4.0
  scaled = volume_scaling.normalize_volume_clipped(slices, 50)
  assert scaled[0, 0, 0] == 1 and scaled.sum() == 1


@pytest.mark.parametrize("shape, size", [((12, 20), 8), ((10, 10), 10)])
def test_square_resize_crops_the_center_and_clips(shape, size):
  image = np.linspace(-0.2, 1.2, np.prod(shape)).reshape(shape)
  square = volume_scaling.square_resize(image, size)
  assert square.shape == (size, size) and square.dtype == np.float32
  assert square.min() >= 0 and square.max() <= 1
  if shape == (size, size):
    np.testing.assert_array_equal(square, np.clip(image, 0, 1).astype("f4"))
