"""Tests of kspace.simulator.phantom.brain: `draw_brain`."""

import numpy as np

from kspace.simulator.phantom import brain
from kspace.simulator.phantom import coordinates
from kspace.simulator.phantom import tissues


def test_every_brain_holds_its_structures():
  y, x = coordinates.normalized_grid((64, 64))
  expected = {
      tissues.BACKGROUND,
      tissues.FAT,
      tissues.BONE,
      tissues.MARROW,
      tissues.FLUID,
      tissues.GRAY,
      tissues.PARENCHYMA,
      tissues.VESSEL,
  }
  for seed in range(5):
    labels = brain.draw_brain(np.random.default_rng(seed), y, x)
    assert labels.shape == (64, 64) and labels.dtype == np.uint8
    assert expected <= set(np.unique(labels).tolist())
  other = brain.draw_brain(np.random.default_rng(5), y, x)
  assert not np.array_equal(other, labels)
