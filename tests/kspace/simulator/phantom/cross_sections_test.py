"""Tests of kspace.simulator.phantom.cross_sections: `draw_anatomy`."""

import numpy as np
import pytest

from kspace.simulator.phantom import cross_sections
from kspace.simulator.phantom import tissues


@pytest.mark.parametrize("anatomy", sorted(cross_sections.ANATOMIES))
@pytest.mark.parametrize("shape", [(32, 32), (24, 40)])
def test_anatomy_is_a_cross_section(anatomy, shape):
  labels = cross_sections.draw_anatomy(
      np.random.default_rng(11), shape, anatomy, (0.85, 1.08), 0.3, 0.05
  )
  assert labels.shape == shape and labels.dtype == np.uint8
  assert labels.max() < tissues.NUM_CLASSES
  # Background around tissue, several tissue classes.
  assert labels[0, 0] == tissues.BACKGROUND
  assert len(np.unique(labels)) >= 4
  again = cross_sections.draw_anatomy(
      np.random.default_rng(11), shape, anatomy, (0.85, 1.08), 0.3, 0.05
  )
  np.testing.assert_array_equal(labels, again)


def test_unknown_anatomy_raises():
  with pytest.raises(ValueError, match="Unknown anatomy 'elbow'"):
    cross_sections.draw_anatomy(
        np.random.default_rng(0), (16, 16), "elbow", (1, 1), 0, 0
    )


def test_placement_varies_the_same_anatomy():
  first, second = (
      cross_sections.draw_anatomy(
          np.random.default_rng(seed), (32, 32), "knee", (0.85, 1.08), 0.3, 0
      )
      for seed in range(2)
  )
  assert not np.array_equal(first, second)
