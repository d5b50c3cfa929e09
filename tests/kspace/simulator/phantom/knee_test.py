"""Tests of kspace.simulator.phantom.knee: `draw_knee`."""

import numpy as np

from kspace.simulator.phantom import coordinates
from kspace.simulator.phantom import knee
from kspace.simulator.phantom import tissues


def test_every_knee_holds_its_structures():
  y, x = coordinates.normalized_grid((64, 64))
  expected = {
      tissues.BACKGROUND,
      tissues.FAT,
      tissues.MUSCLE,
      tissues.BONE,
      tissues.MARROW,
      tissues.GRAY,
      tissues.VESSEL,
  }
  for seed in range(5):
    labels = knee.draw_knee(np.random.default_rng(seed), y, x)
    assert labels.shape == (64, 64) and labels.dtype == np.uint8
    assert expected <= set(np.unique(labels).tolist())
  other = knee.draw_knee(np.random.default_rng(5), y, x)
  assert not np.array_equal(other, labels)
