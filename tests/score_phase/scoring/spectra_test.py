"""Tests of score_phase.scoring.spectra: where a phase puts k-space energy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from score_phase.scoring import spectra


def test_a_constant_image_keeps_all_energy_at_the_centre():
  images = jnp.ones((2, 16, 16), jnp.complex64) * jnp.exp(1j * 0.7)
  np.testing.assert_allclose(
      spectra.high_frequency_fraction(images), 0.0, atol=1e-6
  )
  radial = spectra.radial_power_spectrum(images)
  assert radial.shape == (2, 8)
  np.testing.assert_allclose(radial[:, 0], 1.0, atol=1e-6)
  np.testing.assert_allclose(radial.sum(axis=1), 1.0, atol=1e-6)


def test_a_checkerboard_phase_puts_all_energy_at_the_edge():
  rows, cols = np.meshgrid(np.arange(16), np.arange(16), indexing="ij")
  images = jnp.exp(1j * np.pi * (rows + cols))[None]  # +-1 alternating
  np.testing.assert_allclose(
      spectra.high_frequency_fraction(images), 1.0, atol=1e-6
  )
  assert int(jnp.argmax(spectra.radial_power_spectrum(images)[0])) == 7


def test_random_phase_spreads_energy_and_smooth_phase_does_not():
  magnitude = jnp.ones((64, 32, 32))
  noise = jax.random.uniform(
      jax.random.key(0), magnitude.shape, minval=-np.pi, maxval=np.pi
  )
  rough = spectra.high_frequency_fraction(magnitude * jnp.exp(1j * noise))
  # White noise: every k-space sample alike, 1 - (1/4)^2 outside the block.
  assert float(rough.mean()) == pytest.approx(1 - 1 / 16, abs=0.01)
  y = jnp.linspace(-1, 1, 32)[:, None]
  smooth = spectra.high_frequency_fraction(
      magnitude[:1] * jnp.exp(1j * 2.0 * y**2)
  )
  assert float(smooth[0]) < 0.05
