"""Tests for score_phase.sources.baselines (the naive phase baselines)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from score_phase.sources import baselines

NAMES = (
    "zero",
    "uniform",
    "gaussian",
    "smooth_kspace_box",
    "smooth_polynomial",
)
SHAPE = (4, 24, 20)  # odd-ish, non-square


def _magnitude(seed=0):
  return jax.random.uniform(jax.random.key(seed), SHAPE)


def _neighbour_error(phase):
  """Mean absolute wrapped difference between horizontal neighbours."""
  diff = np.angle(np.exp(1j * (phase[..., 1:] - phase[..., :-1])))
  return float(np.mean(np.abs(diff)))


def test_registry_lists_all_sources():
  assert set(NAMES) <= set(baselines.PHASE_SOURCES.names())


@pytest.mark.parametrize("name", NAMES)
def test_shape_dtype_range_and_jit(name):
  phase_fn = jax.jit(baselines.get_baseline(name))
  phase = np.asarray(phase_fn(jax.random.key(1), _magnitude()))
  assert phase.shape == SHAPE and phase.dtype == np.float32
  assert np.all(phase > -math.pi) and np.all(phase <= math.pi)
  assert np.all(np.isfinite(phase))


@pytest.mark.parametrize("name", NAMES)
def test_seeded_and_independent_of_anatomy(name):
  phase_fn = baselines.get_baseline(name)
  a = phase_fn(jax.random.key(3), _magnitude(0))
  b = phase_fn(jax.random.key(3), _magnitude(1))  # other anatomy, same key
  np.testing.assert_array_equal(a, b)
  c = phase_fn(jax.random.key(4), _magnitude(0))
  if name == "zero":
    np.testing.assert_array_equal(a, c)
  else:
    assert not np.allclose(a, c)
    # Examples of one batch get different draws.
    assert not np.allclose(a[0], a[1])


def test_smooth_sources_are_smooth_and_iid_are_not():
  key, magnitude = jax.random.key(5), _magnitude()
  error = {
      name: _neighbour_error(
          np.asarray(baselines.get_baseline(name)(key, magnitude))
      )
      for name in NAMES
  }
  # Uniform i.i.d. phase: E|wrapped difference| = pi / 2.
  assert error["uniform"] == pytest.approx(math.pi / 2, rel=0.1)
  assert error["smooth_polynomial"] < 0.3 * error["uniform"]
  assert error["smooth_kspace_box"] < 0.4 * error["uniform"]
  assert error["gaussian"] > 0.5


def test_gaussian_std():
  phase_fn = baselines.get_baseline("gaussian", std=0.2)
  phase = np.asarray(phase_fn(jax.random.key(0), jnp.ones((4, 64, 64))))
  assert np.std(phase) == pytest.approx(0.2, rel=0.05)
  assert abs(np.mean(phase)) < 0.01


def test_polynomial_order_zero_is_constant():
  phase_fn = baselines.get_baseline("smooth_polynomial", order=0)
  phase = np.asarray(phase_fn(jax.random.key(0), _magnitude()))
  np.testing.assert_allclose(
      phase, np.broadcast_to(phase[:, :1, :1], phase.shape)
  )


def test_kspace_box_size_one_is_constant_phase():
  phase_fn = baselines.get_baseline("smooth_kspace_box", box_size=1)
  phase = np.asarray(phase_fn(jax.random.key(0), _magnitude()))
  constant = np.broadcast_to(phase[:, :1, :1], phase.shape)
  np.testing.assert_allclose(
      np.exp(1j * phase), np.exp(1j * constant), atol=1e-5
  )


def test_errors():
  with pytest.raises(ValueError, match="Unknown phase source"):
    baselines.get_baseline("nope")
  with pytest.raises(ValueError, match="keyword"):
    baselines.get_baseline("zero", std=1.0)
  with pytest.raises(ValueError, match="batch, H, W"):
    baselines.get_baseline("uniform")(jax.random.key(0), jnp.ones((8, 8)))
  with pytest.raises(ValueError, match="std"):
    baselines.get_baseline("gaussian", std=-1.0)
