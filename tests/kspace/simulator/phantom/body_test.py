"""Tests of kspace.simulator.phantom.body: `draw_body`."""

import numpy as np

from kspace.simulator.phantom import body
from kspace.simulator.phantom import coordinates
from kspace.simulator.phantom import tissues


def test_every_body_holds_its_structures():
  y, x = coordinates.normalized_grid((64, 64))
  expected = {
      tissues.BACKGROUND,
      tissues.FAT,
      tissues.MUSCLE,
      tissues.PARENCHYMA,
      tissues.GRAY,
      tissues.FLUID,
      tissues.BONE,
      tissues.MARROW,
      tissues.VESSEL,
  }
  for seed in range(5):
    labels = body.draw_body(np.random.default_rng(seed), y, x)
    assert labels.shape == (64, 64) and labels.dtype == np.uint8
    assert expected <= set(np.unique(labels).tolist())
  other = body.draw_body(np.random.default_rng(5), y, x)
  assert not np.array_equal(other, labels)
