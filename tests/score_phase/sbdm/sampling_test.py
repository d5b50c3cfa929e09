"""Tests for score_phase.sbdm.sampling with the exact score of Gaussian data.

Data x0 = mu(magnitude) + s0 n, n ~ N(0, I), has the closed-form marginal
score -(x - s(t) mu) / (s(t)^2 s0^2 + std(t)^2), so every sampler can be
checked for correctness (sample mean and std) without training a network.
"""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from score_phase.sbdm import sampling
from score_phase.sbdm import sde as sde_lib

S0 = 0.3
SHAPE = (32, 8, 8)  # (B, H, W) magnitudes; samples are (B, H, W, 2)
SDES = {
    "vesde": sde_lib.VESDE(num_scales=100, sigma_min=0.01, sigma_max=20.0),
    "vpsde": sde_lib.VPSDE(num_scales=100, beta_min=0.1, beta_max=20.0),
}


def _mu(magnitude):
  return jnp.stack([magnitude, -magnitude], axis=-1)


def _exact_score_fn(sde):
  def score_fn(params, x, t, magnitude, scan=None):
    del params
    mean_coeff, std = sde.marginal_prob(jnp.ones_like(t), t)
    variance = (mean_coeff**2 * S0**2 + std**2)[:, None, None, None]
    mean = sde_lib.batch_mul(mean_coeff, _mu(magnitude))
    return -(x - mean) / variance

  return score_fn


def _config(**overrides):
  config = ml_collections.ConfigDict(
      dict(
          name="pc",
          num_steps=100,
          eps=1e-3,
          denoise=False,
          predictor="reverse_diffusion",
          corrector="langevin",
          snr=0.16,
          n_corrector_steps=1,
          rho=7.0,
          churn=0.0,
      )
  )
  config.update(overrides)
  return config


CASES = [
    ("vesde", _config(), 200),
    ("vesde", _config(predictor="euler_maruyama", corrector="none"), 100),
    ("vesde", _config(name="ode", num_steps=200), 200),
    ("vesde", _config(name="heun", num_steps=24), 47),
    ("vesde", _config(name="heun", num_steps=24, churn=5.0), 47),
    ("vpsde", _config(), 200),
    ("vpsde", _config(name="heun", num_steps=24), 47),
]


@pytest.mark.parametrize("sde_name,config,expected_nfe", CASES)
def test_sampler_recovers_gaussian_data(sde_name, config, expected_nfe):
  sde = SDES[sde_name]
  sample_fn, nfe = sampling.get_sampler(config, sde, _exact_score_fn(sde))
  assert nfe == expected_nfe
  magnitude = jax.random.uniform(jax.random.key(0), SHAPE)
  x = jax.jit(sample_fn)(jax.random.key(1), {}, magnitude)
  assert x.shape == SHAPE + (2,) and x.dtype == jnp.float32
  residual = np.asarray(x - _mu(magnitude))
  assert abs(residual.mean()) < 0.02
  assert residual.std() == pytest.approx(S0, rel=0.06)


def test_sampler_is_deterministic_given_key():
  sde = SDES["vesde"]
  sample_fn, _ = sampling.get_sampler(
      _config(num_steps=10), sde, _exact_score_fn(sde)
  )
  magnitude = jnp.ones((4, 8, 8))
  a = sample_fn(jax.random.key(3), {}, magnitude)
  np.testing.assert_array_equal(a, sample_fn(jax.random.key(3), {}, magnitude))
  assert not np.allclose(a, sample_fn(jax.random.key(4), {}, magnitude))


def test_predictor_corrector_uniform_signature():
  sde = SDES["vesde"]
  score_fn = lambda x, t: -x
  x = jnp.ones((2, 4, 4, 2))
  t = jnp.full((2,), 0.5)
  for name in sampling.PREDICTORS.names():
    out = sampling.PREDICTORS.get(name)(sde, score_fn, False)(
        jax.random.key(0), x, t
    )
    assert len(out) == 2 and out[0].shape == x.shape
  for name in sampling.CORRECTORS.names():
    out = sampling.CORRECTORS.get(name)(sde, score_fn, 0.16, 2)(
        jax.random.key(0), x, t
    )
    assert len(out) == 2 and out[1].shape == x.shape


def test_karras_noise_levels():
  levels = np.asarray(sampling.karras_noise_levels(80.0, 0.002, 5, 7.0))
  assert levels.shape == (6,)
  np.testing.assert_allclose(levels[[0, 4, 5]], [80.0, 0.002, 0.0], rtol=1e-5)
  assert np.all(np.diff(levels) < 0)


def test_unknown_sampler():
  with pytest.raises(ValueError, match="Unknown sampler"):
    sampling.get_sampler(_config(name="ddim"), SDES["vesde"], None)
  with pytest.raises(ValueError, match="num_steps >= 2"):
    sampling.get_sampler(_config(name="heun", num_steps=1), SDES["vesde"], None)
