"""Tests for score_phase.scoring.point_metrics on inputs with known answers."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from score_phase.scoring import point_metrics

SHAPE = (3, 16, 12)


def _phase(seed):
  return jax.random.uniform(
      jax.random.key(seed), SHAPE, minval=-math.pi, maxval=math.pi
  )


def _magnitude(seed=9):
  return jax.random.uniform(jax.random.key(seed), SHAPE)


@jax.jit
def _all(samples, target, magnitude):
  return point_metrics.phase_metrics(
      samples,
      target,
      magnitude,
      background_threshold=0.2,
      center_fraction=0.25,
  )


def test_perfect_samples_score_zero():
  target, magnitude = _phase(0), _magnitude()
  result = _all(jnp.stack([target] * 4), target, magnitude)
  for key in (
      "mean_error",
      "sample_error",
      "mean_error_aligned",
      "sample_error_aligned",
      "gradient_error",
      "kspace_nmse",
      "kspace_nmse_center",
      "diversity_foreground",
      "gradient_diversity_background",
  ):
    np.testing.assert_allclose(result[key], 0.0, atol=2e-3, err_msg=key)


def test_constant_offset_is_removed_by_alignment_only():
  target, magnitude = _phase(0), _magnitude()
  shifted = target + 2.5
  result = _all(shifted[None], target, magnitude)
  np.testing.assert_allclose(result["sample_error"], 2.5, rtol=1e-4)
  np.testing.assert_allclose(result["sample_error_aligned"], 0, atol=1e-4)
  np.testing.assert_allclose(result["gradient_error"], 0, atol=1e-4)
  # Wrapping: an offset of 2 pi - 0.5 is an error of 0.5.
  np.testing.assert_allclose(
      point_metrics.circular_error(
          target + 2 * math.pi - 0.5, target, magnitude
      ),
      0.5,
      rtol=1e-4,
  )


def test_random_phase_errors_and_diversity():
  target, magnitude = _phase(0), _magnitude()
  samples = jnp.stack([_phase(s) for s in range(1, 41)])
  result = _all(samples, target, magnitude)
  # Uniform random guesses: E|wrapped error| = pi / 2.
  assert float(jnp.mean(result["sample_error"])) == pytest.approx(
      math.pi / 2, rel=0.05
  )
  assert float(jnp.mean(result["diversity_foreground"])) > 1.5
  np.testing.assert_allclose(
      point_metrics.circular_std(jnp.zeros((5, 4))), 0.0, atol=1e-3
  )


def test_circular_mean_handles_wrap():
  phases = jnp.array([math.pi - 0.1, -math.pi + 0.1])[:, None]
  np.testing.assert_allclose(
      np.abs(point_metrics.circular_mean(phases)), math.pi, atol=1e-5
  )


def test_weighting_ignores_zero_magnitude():
  target = jnp.zeros(SHAPE)
  magnitude = jnp.zeros(SHAPE).at[:, :8].set(1.0)
  phase = jnp.zeros(SHAPE).at[:, 8:].set(3.0)  # wrong only where m = 0
  np.testing.assert_allclose(
      point_metrics.circular_error(phase, target, magnitude), 0.0, atol=1e-6
  )


def test_kspace_nmse_matches_numpy():
  target, phase, magnitude = _phase(0), _phase(1), _magnitude()
  expected = np.sum(
      np.asarray(magnitude) ** 2
      * np.abs(np.exp(1j * np.asarray(phase)) - np.exp(1j * np.asarray(target)))
      ** 2,
      axis=(1, 2),
  ) / np.sum(np.asarray(magnitude) ** 2, axis=(1, 2))
  np.testing.assert_allclose(
      point_metrics.kspace_nmse(phase, target, magnitude), expected, rtol=1e-4
  )
  centered = np.fft.fftshift(
      np.fft.fft2(
          np.fft.ifftshift(
              np.asarray(magnitude) * np.exp(1j * np.asarray(phase)),
              axes=(1, 2),
          ),
          norm="ortho",
      ),
      axes=(1, 2),
  )
  reference = np.fft.fftshift(
      np.fft.fft2(
          np.fft.ifftshift(
              np.asarray(magnitude) * np.exp(1j * np.asarray(target)),
              axes=(1, 2),
          ),
          norm="ortho",
      ),
      axes=(1, 2),
  )
  rows = np.abs(np.arange(16) - 8) <= 0.25 * 8
  cols = np.abs(np.arange(12) - 6) <= 0.25 * 6
  keep = rows[:, None] & cols[None, :]
  expected_center = np.sum(
      np.abs(centered - reference) ** 2 * keep, axis=(1, 2)
  ) / np.sum(np.abs(reference) ** 2 * keep, axis=(1, 2))
  np.testing.assert_allclose(
      point_metrics.kspace_nmse(phase, target, magnitude, 0.25),
      expected_center,
      rtol=1e-4,
  )
