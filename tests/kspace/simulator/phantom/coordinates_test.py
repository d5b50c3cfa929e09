"""Tests of kspace.simulator.phantom.coordinates: `normalized_grid`."""

import numpy as np
import pytest

from kspace.simulator.phantom import coordinates


def test_normalized_grid_spans_the_short_side():
  y, x = coordinates.normalized_grid((8, 16))
  assert y.shape == x.shape == (8, 16)
  np.testing.assert_allclose(y[:, 0], (np.arange(8) - 3.5) / 4)
  assert x.min() == pytest.approx(-1.875) and x.max() == pytest.approx(1.875)
