"""Tests of kspace.simulator.phantom.texture_noise: `smooth_noise`."""

import numpy as np
import pytest

from kspace.simulator.phantom import texture_noise


def test_smooth_noise_is_standardised_and_smooth():
  noise = texture_noise.smooth_noise(np.random.default_rng(0), (64, 48), 4.0)
  assert noise.shape == (64, 48)
  assert noise.mean() == pytest.approx(0, abs=1e-12)
  assert noise.std() == pytest.approx(1)
  # Neighbours of a 4-pixel-wide field are strongly correlated.
  assert np.corrcoef(noise[:, 1:].ravel(), noise[:, :-1].ravel())[0, 1] > 0.9
