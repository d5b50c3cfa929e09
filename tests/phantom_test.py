"""Tests of kspace.simulator.phantom: anatomy labels and tissue properties."""

import numpy as np
import pytest

from kspace.simulator import phantom


@pytest.mark.parametrize("anatomy", sorted(phantom.ANATOMIES))
@pytest.mark.parametrize("shape", [(32, 32), (24, 40)])
def test_anatomy_is_a_cross_section(anatomy, shape):
  labels = phantom.draw_anatomy(
      np.random.default_rng(11), shape, anatomy, (0.85, 1.08), 0.3, 0.05
  )
  assert labels.shape == shape and labels.dtype == np.uint8
  assert labels.max() < phantom.NUM_CLASSES
  # Background around tissue, several tissue classes.
  assert labels[0, 0] == phantom.BACKGROUND
  assert len(np.unique(labels)) >= 4
  again = phantom.draw_anatomy(
      np.random.default_rng(11), shape, anatomy, (0.85, 1.08), 0.3, 0.05
  )
  np.testing.assert_array_equal(labels, again)


def test_unknown_anatomy_raises():
  with pytest.raises(ValueError, match="Unknown anatomy 'elbow'"):
    phantom.draw_anatomy(
        np.random.default_rng(0), (16, 16), "elbow", (1, 1), 0, 0
    )


def test_class_properties_are_drawn_within_the_tissue_ranges():
  props = phantom.sample_class_properties(np.random.default_rng(0))
  for name in ("signal", "susceptibility_ppm", "fat_fraction"):
    low, high = np.array([getattr(t, name) for t in phantom.TISSUES]).T
    assert props[name].shape == (phantom.NUM_CLASSES,)
    assert np.all(low <= props[name]) and np.all(props[name] <= high)
  with pytest.raises(ValueError, match="one Tissue per label"):
    phantom.sample_class_properties(
        np.random.default_rng(0), phantom.TISSUES[:3]
    )


def test_smooth_noise_is_standardised_and_smooth():
  noise = phantom.smooth_noise(np.random.default_rng(0), (64, 48), 4.0)
  assert noise.shape == (64, 48)
  assert noise.mean() == pytest.approx(0, abs=1e-12)
  assert noise.std() == pytest.approx(1)
  # Neighbours of a 4-pixel-wide field are strongly correlated.
  assert np.corrcoef(noise[:, 1:].ravel(), noise[:, :-1].ravel())[0, 1] > 0.9


def test_normalized_grid_spans_the_short_side():
  y, x = phantom.normalized_grid((8, 16))
  assert y.shape == x.shape == (8, 16)
  np.testing.assert_allclose(y[:, 0], (np.arange(8) - 3.5) / 4)
  assert x.min() == pytest.approx(-1.875) and x.max() == pytest.approx(1.875)
