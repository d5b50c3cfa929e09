"""Tests for score_phase.sbdm.sde: marginals, priors, discretisations, reverse."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate
from scipy import stats

from score_phase.sbdm import sde as sde_lib

SDES = {
    "vesde": sde_lib.VESDE(num_scales=100, sigma_min=0.05, sigma_max=5.0),
    "vpsde": sde_lib.VPSDE(num_scales=100, beta_min=0.1, beta_max=20.0),
    "subvpsde": sde_lib.SubVPSDE(num_scales=100, beta_min=0.1, beta_max=20.0),
}
TIMES = np.array([0.01, 0.2, 0.5, 0.9, 1.0], np.float32)


def _closed_form(name, sde, t):
  """Mean coefficient and std of p_t(x | x0) from the textbook formulas."""
  if name == "vesde":
    sigma = sde.sigma_min * (sde.sigma_max / sde.sigma_min) ** t
    return 1.0, sigma
  integral = integrate.quad(
      lambda s: sde.beta_min + s * (sde.beta_max - sde.beta_min), 0, t
  )[0]
  if name == "vpsde":
    return math.exp(-0.5 * integral), math.sqrt(1 - math.exp(-integral))
  return math.exp(-0.5 * integral), 1 - math.exp(-integral)


@pytest.mark.parametrize("name", list(SDES))
def test_marginal_prob_matches_closed_form(name):
  sde = SDES[name]
  x0 = jnp.full((len(TIMES), 3), 2.0)
  mean, std = sde.marginal_prob(x0, jnp.asarray(TIMES))
  for i, t in enumerate(TIMES):
    coeff, expected_std = _closed_form(name, sde, float(t))
    np.testing.assert_allclose(mean[i], 2.0 * coeff, rtol=1e-5)
    np.testing.assert_allclose(std[i], expected_std, rtol=1e-5)


@pytest.mark.parametrize("name", list(SDES))
def test_forward_simulation_matches_marginal(name):
  """Euler-Maruyama on sde() reaches the marginal_prob mean and std."""
  sde = SDES[name]
  num_steps, num_samples, t_end = 400, 20000, 0.6
  x0 = 1.5
  dt = t_end / num_steps

  def step(x, inputs):
    t, key = inputs
    drift, diffusion = sde.sde(x, jnp.full((x.shape[0],), t))
    noise = jax.random.normal(key, x.shape)
    return x + drift * dt + sde_lib.batch_mul(diffusion, noise) * dt**0.5, None

  times = jnp.arange(num_steps) * dt
  keys = jax.random.split(jax.random.key(0), num_steps)
  x, _ = jax.lax.scan(step, jnp.full((num_samples, 1), x0), (times, keys))
  mean, std = sde.marginal_prob(jnp.full((1, 1), x0), jnp.array([t_end]))
  assert float(jnp.mean(x)) == pytest.approx(float(mean[0, 0]), abs=0.03)
  assert float(jnp.std(x)) == pytest.approx(float(std[0]), rel=0.03)


@pytest.mark.parametrize("name", list(SDES))
def test_prior(name):
  sde = SDES[name]
  z = sde.prior_sampling(jax.random.key(1), (4, 16, 16, 2))
  assert z.shape == (4, 16, 16, 2) and z.dtype == jnp.float32
  _, std_at_t = sde.marginal_prob(z, jnp.ones((4,)))
  # The prior is (close to) the marginal at T for data of unit scale.
  assert float(jnp.std(z)) == pytest.approx(float(std_at_t[0]), rel=0.05)
  prior_std = SDES[name].sigma_max if name == "vesde" else 1.0
  expected = stats.norm.logpdf(np.asarray(z), scale=prior_std).reshape(4, -1)
  np.testing.assert_allclose(sde.prior_logp(z), expected.sum(1), rtol=1e-5)


@pytest.mark.parametrize("name", list(SDES))
def test_edm_view(name):
  """scale * sqrt(noise_level^2) = std, and t_from_noise_level inverts it."""
  sde = SDES[name]
  t = jnp.asarray(TIMES)
  mean, std = sde.marginal_prob(jnp.ones((len(TIMES), 1)), t)
  np.testing.assert_allclose(sde.scale(t), mean[:, 0], rtol=1e-5)
  np.testing.assert_allclose(sde.scale(t) * sde.noise_level(t), std, rtol=1e-4)
  np.testing.assert_allclose(
      sde.t_from_noise_level(sde.noise_level(t)), t, rtol=1e-3
  )


def test_ve_discretization_accumulates_to_sigma():
  sde = SDES["vesde"]
  n = sde.num_scales
  t = jnp.arange(n) / (n - 1)
  _, g = sde.discretize(jnp.zeros((n, 1)), t)
  np.testing.assert_allclose(
      np.sqrt(np.cumsum(np.asarray(g) ** 2)),
      sde.sigma_min * (sde.sigma_max / sde.sigma_min) ** np.asarray(t),
      rtol=1e-4,
  )


def test_vp_discretization_mean_decay():
  # DDPM's sqrt(1 - beta_i) products converge to s(1) as O(1 / N).
  sde = sde_lib.VPSDE(num_scales=1000, beta_min=0.1, beta_max=20.0)
  n = sde.num_scales
  t = jnp.arange(n) / (n - 1)
  f, _ = sde.discretize(jnp.ones((n, 1)), t)
  decay = np.prod(1.0 + np.asarray(f)[:, 0])
  mean, _ = sde.marginal_prob(jnp.ones((1, 1)), jnp.ones((1,)))
  assert decay == pytest.approx(float(mean[0, 0]), rel=0.05)


@pytest.mark.parametrize("name", list(SDES))
@pytest.mark.parametrize("probability_flow", [False, True])
def test_reverse_with_exact_score_recovers_data(name, probability_flow):
  """Gaussian data N(0, s0^2): with its exact score, reverse-time Euler
  integration from the prior returns samples of std s0."""
  sde = SDES[name]
  s0, eps, num_steps, num_samples = 0.5, 1e-3, 500, 20000

  def score_fn(x, t):
    mean_coeff, std = sde.marginal_prob(jnp.ones_like(t), t)
    return -x / (mean_coeff**2 * s0**2 + std**2)[:, None]

  reverse = sde.reverse(score_fn, probability_flow)
  times = jnp.linspace(sde.T, eps, num_steps)
  dt = -(sde.T - eps) / (num_steps - 1)

  def step(x, inputs):
    t, key = inputs
    drift, diffusion = reverse.sde(x, jnp.full((x.shape[0],), t))
    noise = jax.random.normal(key, x.shape)
    noise = sde_lib.batch_mul(diffusion, noise) * (-dt) ** 0.5
    return x + drift * dt + noise, None

  x_t = sde.prior_sampling(jax.random.key(2), (num_samples, 1))
  keys = jax.random.split(jax.random.key(3), num_steps - 1)
  x, _ = jax.lax.scan(step, x_t, (times[:-1], keys))
  assert float(jnp.std(x)) == pytest.approx(s0, rel=0.05)


def test_get_sde_from_config():
  import ml_collections  # pylint: disable=g-import-not-at-top

  config = ml_collections.ConfigDict(
      dict(
          name="vpsde",
          num_scales=10,
          beta_min=0.2,
          beta_max=10.0,
          sigma_min=0.01,
          sigma_max=3.0,
      )
  )
  sde = sde_lib.get_sde(config)
  assert isinstance(sde, sde_lib.VPSDE) and sde.beta_max == 10.0
  with pytest.raises(ValueError, match="Unknown SDE"):
    sde_lib.get_sde(ml_collections.ConfigDict(dict(name="bad")))
