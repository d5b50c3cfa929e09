"""Tests of kspace.simulator.phantom.blobs: blobs and painting primitives."""

import numpy as np

from kspace.simulator.phantom import blobs
from kspace.simulator.phantom import coordinates


def test_an_unwobbled_blob_is_its_ellipse():
  y, x = coordinates.normalized_grid((64, 64))
  blob = blobs.random_blob(np.random.default_rng(0), (0.1, -0.2), (0.5, 0.3))
  assert blob.amplitudes == () and blob.phases == ()
  inside = ((y - 0.1) / 0.5) ** 2 + ((x + 0.2) / 0.3) ** 2 < 1
  np.testing.assert_array_equal(blob.level(y, x) < 1, inside)
  np.testing.assert_allclose(blob.scaled(0.5).level(y, x), 2 * blob.level(y, x))


def test_points_inside_a_wobbled_blob_are_inside():
  rng = np.random.default_rng(1)
  blob = blobs.random_blob(rng, (0.0, 0.1), (0.6, 0.4), 0.4, wobble=0.1)
  assert len(blob.amplitudes) == len(blob.phases) == 3
  assert max(blob.amplitudes) <= 0.1
  for _ in range(50):
    y, x = blob.point_inside(rng, 0.8)
    assert blob.level(np.array(y), np.array(x)) < 1


def test_paint_sets_the_label_inside_a_disc():
  y, x = coordinates.normalized_grid((16, 16))
  labels = np.zeros((16, 16), np.uint8)
  mask = blobs.disc(y, x, (0.0, 0.0), 0.5)
  assert mask.dtype == bool and 0 < mask.sum() < mask.size
  assert mask[8, 8] and not mask[0, 0]
  blobs.paint(labels, mask, 3)
  np.testing.assert_array_equal(labels == 3, mask)
  np.testing.assert_array_equal(labels[~mask], 0)
