"""Tests of kspace.simulator.generator.scan_draws: one scan's draws."""

import numpy as np
import pytest

from kspace.simulator import sequences
from kspace.simulator.generator import scan_draws
from kspace.simulator.generator import synthetic_params


def _b0_draws(orientation, count=400):
  rng = np.random.default_rng(0)
  return np.stack([
      scan_draws.draw_b0_direction(
          rng, rng, orientation, synthetic_params.DEFAULT_PARAMS
      )
      for _ in range(count)
  ])


def test_axial_b0_is_near_the_slice_normal_at_any_azimuth():
  b0 = _b0_draws("axial")
  np.testing.assert_allclose(np.linalg.norm(b0, axis=1), 1, atol=1e-12)
  # Tilt |N(0, 10 deg)|: beyond 30 deg with probability 0.3%.
  assert np.mean(np.abs(b0[:, 2]) > np.cos(np.radians(30))) > 0.98
  tilt = np.degrees(np.arccos(np.abs(b0[:, 2])))
  assert np.median(tilt) == pytest.approx(0.674 * 10, abs=1.0)
  # The in-plane azimuth is uniform: no preferred in-plane axis.
  azimuth = np.arctan2(b0[:, 1], b0[:, 0])
  assert abs(np.mean(np.exp(2j * azimuth))) < 0.15


@pytest.mark.parametrize("orientation", ["coronal", "sagittal"])
def test_coronal_b0_lies_in_the_plane_along_the_rows(orientation):
  b0 = _b0_draws(orientation)
  assert np.mean(np.abs(b0[:, 1]) > np.cos(np.radians(30))) > 0.98
  assert np.mean(np.abs(b0[:, 2]) < np.sin(np.radians(30))) > 0.98
  # In-plane jitter of 5 deg off the rows.
  jitter = np.degrees(np.arctan2(np.abs(b0[:, 0]), np.abs(b0[:, 1])))
  assert np.median(jitter) == pytest.approx(0.674 * 5, abs=0.7)


def test_sequences_are_drawn_with_their_probability():
  rng = np.random.default_rng(0)
  draws = [
      scan_draws.draw_sequence(rng, synthetic_params.DEFAULT_PARAMS)
      for _ in range(400)
  ]
  sequence = np.array([d[0] for d in draws])
  assert np.mean(sequence == sequences.SPIN_ECHO) == pytest.approx(
      0.5, abs=0.08
  )


def test_quadrature_rng_redraws_only_the_noise_imaginary_part():
  def draw(quadrature_rng=None):
    scan_rng, hidden_rng, noise_rng = np.random.default_rng(4).spawn(3)
    return scan_draws.draw_acquisition(
        scan_rng,
        hidden_rng,
        noise_rng,
        (16, 20),
        "axial",
        synthetic_params.DEFAULT_PARAMS,
        quadrature_rng,
    )

  plain, other = draw(), draw(np.random.default_rng(9))
  np.testing.assert_array_equal(other.noise.real, plain.noise.real)
  assert not np.allclose(other.noise.imag, plain.noise.imag)
  np.testing.assert_array_equal(other.background_phase, plain.background_phase)
  np.testing.assert_array_equal(other.b0_direction, plain.b0_direction)
  assert other.sequence == plain.sequence
  assert plain.sequence in (sequences.GRADIENT_ECHO, sequences.SPIN_ECHO)
