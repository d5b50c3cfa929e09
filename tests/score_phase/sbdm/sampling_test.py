"""Tests for score_phase.sbdm.sampling with the exact score of Gaussian data.

Data x0 = mu(magnitude) + s0 n, n ~ N(0, I), has the closed-form marginal
score -(x - s(t) mu) / (s(t)^2 s0^2 + std(t)^2), so every sampler can be
checked for correctness (sample mean and std) without training a network.
In the EDM view (y = x / s, noise level sigma) the probability-flow ODE of
these data is solved in closed form: y - mu scales by
sqrt((s0^2 + sigma'^2) / (s0^2 + sigma^2)) from sigma to sigma', so the ODE
solvers (heun, dpmpp_2m) are checked against the exact solution too.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from configs import phase_sbdm
from kspace.common import config_errors
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


def _exact_score_fn(sde, calls=None):
  """The exact score; each evaluation appends to `calls` when given (a
  host callback, so it counts evaluations run, not traced)."""

  def score_fn(params, x, t, magnitude, scan=None):
    del params
    if calls is not None:
      jax.debug.callback(lambda: calls.append(1))
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
          s_tmin=0.0,
          s_tmax=math.inf,
          s_noise=1.0,
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
    (
        "vesde",
        _config(name="heun", num_steps=24, churn=10.0, s_tmin=0.05, s_tmax=5.0),
        47,
    ),
    ("vesde", _config(name="dpmpp_2m", num_steps=30), 30),
    ("vpsde", _config(), 200),
    ("vpsde", _config(name="heun", num_steps=24), 47),
    ("vpsde", _config(name="dpmpp_2m", num_steps=30), 30),
]


@pytest.mark.parametrize("sde_name,config,expected_nfe", CASES)
def test_sampler_recovers_gaussian_data(sde_name, config, expected_nfe):
  sde = SDES[sde_name]
  calls = []
  sample_fn, nfe = sampling.get_sampler(
      config, sde, _exact_score_fn(sde, calls)
  )
  assert nfe == expected_nfe
  magnitude = jax.random.uniform(jax.random.key(0), SHAPE)
  x = jax.jit(sample_fn)(jax.random.key(1), {}, magnitude)
  jax.effects_barrier()
  # The reported NFE is what it runs: one batched evaluation per NFE.
  assert len(calls) == expected_nfe
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
  for name in ("heun", "dpmpp_2m"):
    with pytest.raises(config_errors.ConfigError, match="num_steps >= 2"):
      sampling.get_sampler(_config(name=name, num_steps=1), SDES["vesde"], None)


@dataclasses.dataclass(frozen=True)
class _NoEdmView(sde_lib.SDE):
  """An SDE without scale / noise levels (as a new SDE might start)."""


@pytest.mark.parametrize("name", ["heun", "dpmpp_2m"])
def test_edm_samplers_refuse_an_sde_without_the_edm_view(name):
  with pytest.raises(config_errors.ConfigError, match="EDM view"):
    sampling.get_sampler(
        _config(name=name, num_steps=4), _NoEdmView(num_scales=10), None
    )


# --- The ODE solvers against the closed-form solution. ---------------------


def _edm_problem(sde, batch=4):
  """(magnitude, key, y(T) the samplers start from, sigma(T), sigma(eps))."""
  magnitude = jax.random.uniform(jax.random.key(0), (batch, 8, 8))
  key = jax.random.key(1)
  # Every sampler draws its prior from the first half of its key.
  prior_key, _ = jax.random.split(key)
  y_prior = sde.prior_sampling(prior_key, (batch, 8, 8, 2)) / sde.scale(
      jnp.asarray(sde.T)
  )
  sigma_max = float(sde.noise_level(jnp.asarray(sde.T)))
  sigma_min = float(sde.noise_level(jnp.asarray(_config().eps)))
  return magnitude, key, y_prior, sigma_max, sigma_min


def _exact_ode_solution(sde):
  """(magnitude, key, the exact answer of heun / dpmpp_2m with infinitely
  many steps): the PF-ODE from sigma(T) to sigma(eps) in closed form, then
  the final step's denoiser, D(y; sigma) = mu + s0^2 / (s0^2 + sigma^2) (y -
  mu)."""
  magnitude, key, y_prior, sigma_max, sigma_min = _edm_problem(sde)
  factor = math.sqrt((S0**2 + sigma_min**2) / (S0**2 + sigma_max**2)) * (
      S0**2 / (S0**2 + sigma_min**2)
  )
  mu = _mu(magnitude)
  return magnitude, key, mu + factor * (y_prior - mu)


@pytest.mark.parametrize("sde_name", ["vesde", "vpsde"])
@pytest.mark.parametrize("name", ["dpmpp_2m", "heun"])
def test_ode_solvers_converge_to_the_exact_solution_at_second_order(
    sde_name, name
):
  sde = SDES[sde_name]
  magnitude, key, exact = _exact_ode_solution(sde)
  errors = []
  for num_steps in (16, 32, 64):
    sample_fn, _ = sampling.get_sampler(
        _config(name=name, num_steps=num_steps), sde, _exact_score_fn(sde)
    )
    x = jax.jit(sample_fn)(key, {}, magnitude)
    errors.append(float(jnp.max(jnp.abs(x - exact))))
  # Exact up to the discretisation: 64 steps within 1e-2 (of |y(T)| ~ 60).
  assert errors[-1] < 1e-2, errors
  # Error / 4 per doubling of the steps (2nd order).
  orders = -np.diff(np.log2(errors))
  assert np.all((orders > 1.6) & (orders < 2.6)), (errors, orders)


def _reference_dpmpp_2m(y, mu, sigmas):
  """k-diffusion's `sample_dpmpp_2m` loop (float64 numpy) with the exact
  Gaussian denoiser, written independently of the sampler."""
  denoise = lambda y, sigma: mu + S0**2 / (S0**2 + sigma**2) * (y - mu)
  old_denoised = None
  for i in range(len(sigmas) - 1):
    denoised = denoise(y, sigmas[i])
    t, t_next = -np.log(sigmas[i]), -np.log(max(sigmas[i + 1], 1e-300))
    h = t_next - t
    if old_denoised is None or sigmas[i + 1] == 0:
      y = sigmas[i + 1] / sigmas[i] * y - np.expm1(-h) * denoised
    else:
      r = (t - (-np.log(sigmas[i - 1]))) / h
      blended = (1 + 1 / (2 * r)) * denoised - 1 / (2 * r) * old_denoised
      y = sigmas[i + 1] / sigmas[i] * y - np.expm1(-h) * blended
    old_denoised = denoised
  return y


@pytest.mark.parametrize("num_steps", [2, 7])
def test_dpmpp_2m_is_k_diffusions_loop(num_steps):
  sde = SDES["vesde"]
  magnitude, key, y_prior, sigma_max, sigma_min = _edm_problem(sde)
  sample_fn, nfe = sampling.get_sampler(
      _config(name="dpmpp_2m", num_steps=num_steps), sde, _exact_score_fn(sde)
  )
  assert nfe == num_steps
  sigmas = np.asarray(
      sampling.karras_noise_levels(sigma_max, sigma_min, num_steps, 7.0),
      np.float64,
  )
  expected = _reference_dpmpp_2m(
      np.asarray(y_prior, np.float64),
      np.asarray(_mu(magnitude), np.float64),
      sigmas,
  )
  x = jax.jit(sample_fn)(key, {}, magnitude)
  np.testing.assert_allclose(x, expected, atol=1e-4)


def test_dpmpp_2m_beats_heun_at_equal_nfe():
  """The reason to add it: at ~15 evaluations DPM-Solver++(2M) is closer
  to the exact ODE solution than Heun (8 steps, 15 NFE)."""
  sde = SDES["vesde"]
  magnitude, key, exact = _exact_ode_solution(sde)
  errors = {}
  for name, num_steps in (("dpmpp_2m", 15), ("heun", 8)):
    sample_fn, nfe = sampling.get_sampler(
        _config(name=name, num_steps=num_steps), sde, _exact_score_fn(sde)
    )
    assert nfe == 15
    x = jax.jit(sample_fn)(key, {}, magnitude)
    errors[name] = float(jnp.max(jnp.abs(x - exact)))
  assert errors["dpmpp_2m"] < 0.5 * errors["heun"], errors


# --- EDM's stochastic Heun (churn). ----------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [dict(churn=5.0), dict(churn=10.0, s_tmin=0.05, s_tmax=10.0)],
)
def test_heun_churn_draws_the_data_distribution(overrides):
  """On 32 768 values (std of the std estimate 0.4%), at 48 steps."""
  sde = SDES["vesde"]
  sample_fn, _ = sampling.get_sampler(
      _config(name="heun", num_steps=48, **overrides),
      sde,
      _exact_score_fn(sde),
  )
  magnitude = jax.random.uniform(jax.random.key(0), (256, 8, 8))
  x = jax.jit(sample_fn)(jax.random.key(1), {}, magnitude)
  residual = np.asarray(x - _mu(magnitude))
  assert abs(residual.mean()) < 0.005
  assert residual.std() == pytest.approx(S0, rel=0.025)


def _heun_samples(**overrides):
  sde = SDES["vesde"]
  sample_fn, _ = sampling.get_sampler(
      _config(name="heun", num_steps=24, **overrides),
      sde,
      _exact_score_fn(sde),
  )
  magnitude = jax.random.uniform(jax.random.key(0), (64, 8, 8))
  x = jax.jit(sample_fn)(jax.random.key(1), {}, magnitude)
  return np.asarray(x - _mu(magnitude))


def test_churn_acts_only_inside_its_noise_range_and_scales_by_s_noise():
  deterministic = _heun_samples()
  # Every level is below s_tmin: no churn, the very same samples.
  np.testing.assert_array_equal(
      _heun_samples(churn=40.0, s_tmin=100.0), deterministic
  )
  # In range: fresh noise, other samples of the same distribution.
  churned = _heun_samples(churn=40.0, s_tmin=0.05, s_tmax=5.0)
  assert np.mean(np.abs(churned - deterministic)) > 0.05
  # s_noise > 1 adds more noise than it removes: over-dispersed samples.
  assert _heun_samples(churn=40.0, s_noise=1.5).std() > 1.3 * S0


def test_a_saved_config_without_the_later_fields_samples_as_before():
  """Runs saved before s_tmin / s_tmax / s_noise existed build the same
  sampler; the defaults that do so are the config file's."""
  defaults = phase_sbdm.get_config("tiny").sampling
  assert {k: defaults[k] for k in sampling.LATER_FIELDS} == (
      sampling.LATER_FIELDS
  )
  sde = SDES["vesde"]
  old = _config(name="heun", num_steps=6, churn=5.0)
  for field in sampling.LATER_FIELDS:
    del old[field]
  magnitude = jnp.ones((4, 8, 8))
  samples = [
      sampling.get_sampler(config, sde, _exact_score_fn(sde))[0](
          jax.random.key(2), {}, magnitude
      )
      for config in (old, _config(name="heun", num_steps=6, churn=5.0))
  ]
  np.testing.assert_array_equal(*samples)
