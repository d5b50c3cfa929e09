"""Samplers of p(phasor | magnitude): predictor-corrector, PF-ODE, EDM Heun,
DPM-Solver++(2M).

Predictors and correctors share one signature, `update(rng, x, t) -> (x,
x_mean)` with x (B, H, W, 2) and t (B,); they are built by factories
`factory(sde, score_fn, config)` registered by name. A sampler factory
`factory(sde, model_score_fn, config) -> (sample_fn, nfe)` returns the pure
`sample_fn(rng, params, magnitude, scan=None) -> x (B, H, W, 2)` (jit it
over the mesh: magnitude and scan sharded along the batch, params
replicated; scan: `scan_params.encode`'s dict or None) and the number
of score evaluations per sample. The whole loop is one `lax.fori_loop`.
Noise is drawn for the whole global batch from one key, which does not
depend on how the batch is sharded.

  pc    reverse-SDE predictor (euler_maruyama | reverse_diffusion) +
        corrector (langevin | none), `num_steps` uniform in t.
  ode   the probability-flow ODE, Euler steps uniform in t.
  heun  EDM's 2nd-order Heun solver of the probability-flow ODE in the
        noise-level variable with Karras' rho-spaced levels (Karras et al.
        2022, Alg. 2, with optional churn: EDM's stochastic sampler);
        2 * num_steps - 1 evaluations.
  dpmpp_2m  DPM-Solver++(2M) (Lu et al. 2022, the multistep 2nd-order
        solver of the data-prediction ODE) on the same levels, as
        k-diffusion's `sample_dpmpp_2m`; num_steps evaluations.

`heun` and `dpmpp_2m` integrate the EDM view of every SDE (`sde.scale`,
`sde.noise_level`): y = x / s(t) with the denoiser
D(y; sigma) = y + sigma^2 s(t) score(s(t) y, t), so
dy/dsigma = (y - D) / sigma.
"""

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from kspace.common import catalog
from kspace.common import config_errors
from score_phase.sbdm import sde as sde_lib

Update = Callable[
    [jax.Array, jax.Array, jax.Array], tuple[jax.Array, jax.Array]
]
ScoreFn = Callable[[jax.Array, jax.Array], jax.Array]
SampleFn = Callable[[jax.Array, dict, jax.Array], jax.Array]

PREDICTORS: catalog.Catalog[Callable[..., Update]] = catalog.Catalog(
    "predictor"
)
CORRECTORS: catalog.Catalog[Callable[..., Update]] = catalog.Catalog(
    "corrector"
)
SAMPLERS: catalog.Catalog[Callable[..., tuple[SampleFn, int]]] = (
    catalog.Catalog("sampler")
)

# Score evaluations of one update of each predictor / corrector.
_PREDICTOR_EVALS = {"euler_maruyama": 1, "reverse_diffusion": 1, "none": 0}

# `sampling` fields added after runs were saved with the block, and the
# values that sample as those runs did: a checkpoint's config without them
# (score_phase.loading.read_config) still builds its sampler.
LATER_FIELDS = {"s_tmin": 0.0, "s_tmax": math.inf, "s_noise": 1.0}


def _noise_like(rng: jax.Array, x: jax.Array) -> jax.Array:
  return jax.random.normal(rng, x.shape, x.dtype)


@PREDICTORS.register("euler_maruyama")
def euler_maruyama_predictor(
    sde: sde_lib.SDE, score_fn: ScoreFn, probability_flow: bool = False
) -> Update:
  """One Euler-Maruyama step of the reverse SDE over dt = -T / N."""
  reverse = sde.reverse(score_fn, probability_flow)
  dt = -sde.T / sde.num_scales

  def update(rng, x, t):
    drift, diffusion = reverse.sde(x, t)
    x_mean = x + drift * dt
    noise = sde_lib.batch_mul(diffusion * math.sqrt(-dt), _noise_like(rng, x))
    return x_mean + noise, x_mean

  return update


@PREDICTORS.register("reverse_diffusion")
def reverse_diffusion_predictor(
    sde: sde_lib.SDE, score_fn: ScoreFn, probability_flow: bool = False
) -> Update:
  """Ancestral-style step with the SDE's own discretisation (SMLD / DDPM)."""
  reverse = sde.reverse(score_fn, probability_flow)

  def update(rng, x, t):
    f, g = reverse.discretize(x, t)
    x_mean = x - f
    return x_mean + sde_lib.batch_mul(g, _noise_like(rng, x)), x_mean

  return update


@PREDICTORS.register("none")
def no_predictor(sde, score_fn, probability_flow=False) -> Update:
  del sde, score_fn, probability_flow
  return lambda rng, x, t: (x, x)


@CORRECTORS.register("langevin")
def langevin_corrector(
    sde: sde_lib.SDE, score_fn: ScoreFn, snr: float, n_steps: int
) -> Update:
  """`n_steps` Langevin MCMC steps with the step size set by a target SNR.

  The step size is 2 alpha (snr |z| / |score|)^2 with norms per example
  (score_sde averages them over the device's batch, which would make results
  depend on the sharding).
  """

  def per_example_norm(v):
    return jnp.sqrt(jnp.sum(jnp.square(v).reshape(v.shape[0], -1), axis=-1))

  def update(rng, x, t):
    if isinstance(sde, (sde_lib.VPSDE, sde_lib.SubVPSDE)):
      alpha = 1.0 - sde.beta(t) / sde.num_scales
    else:
      alpha = jnp.ones_like(t)

    def step(i, carry):
      x, _ = carry
      grad = score_fn(x, t)
      noise = _noise_like(jax.random.fold_in(rng, i), x)
      step_size = (
          2
          * alpha
          * jnp.square(snr * per_example_norm(noise) / per_example_norm(grad))
      )
      x_mean = x + sde_lib.batch_mul(step_size, grad)
      x = x_mean + sde_lib.batch_mul(jnp.sqrt(2 * step_size), noise)
      return x, x_mean

    return jax.lax.fori_loop(0, n_steps, step, (x, x))

  return update


@CORRECTORS.register("none")
def no_corrector(sde, score_fn, snr=0.0, n_steps=0) -> Update:
  del sde, score_fn, snr, n_steps
  return lambda rng, x, t: (x, x)


def _magnitude_score_fn(model_score_fn, params, magnitude, scan) -> ScoreFn:
  return lambda x, t: model_score_fn(params, x, t, magnitude, scan=scan)


def _pc_loop(
    sde: sde_lib.SDE,
    model_score_fn: Callable,
    *,
    predictor: str,
    corrector: str,
    snr: float,
    n_corrector_steps: int,
    probability_flow: bool,
    eps: float,
    denoise: bool,
) -> SampleFn:
  """The predictor-corrector loop from t = T to eps over sde.num_scales."""

  def sample_fn(rng, params, magnitude, scan=None):
    score_fn = _magnitude_score_fn(model_score_fn, params, magnitude, scan)
    predictor_update = PREDICTORS.get(predictor)(
        sde, score_fn, probability_flow
    )
    corrector_update = CORRECTORS.get(corrector)(
        sde, score_fn, snr, n_corrector_steps
    )
    prior_rng, rng = jax.random.split(rng)
    shape = magnitude.shape + (2,)
    x = sde.prior_sampling(prior_rng, shape)
    timesteps = jnp.linspace(sde.T, eps, sde.num_scales)

    def step(i, carry):
      x, _ = carry
      t = jnp.full((shape[0],), timesteps[i])
      corrector_rng, predictor_rng = jax.random.split(
          jax.random.fold_in(rng, i)
      )
      x, x_mean = corrector_update(corrector_rng, x, t)
      return predictor_update(predictor_rng, x, t)

    x, x_mean = jax.lax.fori_loop(0, sde.num_scales, step, (x, x))
    return x_mean if denoise else x

  return sample_fn


@SAMPLERS.register("pc")
def get_pc_sampler(sde, model_score_fn, config) -> tuple[SampleFn, int]:
  """Predictor-corrector sampler (Song et al. 2021, Alg. 2/3)."""
  sde = dataclasses.replace(sde, num_scales=config.num_steps)
  n_corrector = config.n_corrector_steps if config.corrector != "none" else 0
  sample_fn = _pc_loop(
      sde,
      model_score_fn,
      predictor=config.predictor,
      corrector=config.corrector,
      snr=config.snr,
      n_corrector_steps=n_corrector,
      probability_flow=False,
      eps=config.eps,
      denoise=config.denoise,
  )
  nfe = config.num_steps * (_PREDICTOR_EVALS[config.predictor] + n_corrector)
  return sample_fn, nfe


@SAMPLERS.register("ode")
def get_ode_sampler(sde, model_score_fn, config) -> tuple[SampleFn, int]:
  """Probability-flow ODE, `num_steps` Euler steps uniform in t."""
  sde = dataclasses.replace(sde, num_scales=config.num_steps)
  sample_fn = _pc_loop(
      sde,
      model_score_fn,
      predictor="euler_maruyama",
      corrector="none",
      snr=0.0,
      n_corrector_steps=0,
      probability_flow=True,
      eps=config.eps,
      denoise=config.denoise,
  )
  return sample_fn, config.num_steps


def karras_noise_levels(
    sigma_max: float, sigma_min: float, num_steps: int, rho: float
) -> jax.Array:
  """EDM eq. 5: num_steps levels from sigma_max to sigma_min, then 0.

  Returns:
    (num_steps + 1,) float32, decreasing, last entry 0.
  """
  ramp = jnp.linspace(0.0, 1.0, num_steps)
  inv_rho = 1.0 / rho
  levels = (
      sigma_max**inv_rho + ramp * (sigma_min**inv_rho - sigma_max**inv_rho)
  ) ** rho
  return jnp.concatenate([levels, jnp.zeros((1,))]).astype(jnp.float32)


def _check_edm_view(sde: sde_lib.SDE, name: str) -> None:
  """Raises ConfigError unless `sde` has the EDM view the sampler needs."""
  for method in ("scale", "noise_level", "t_from_noise_level"):
    if getattr(type(sde), method) is getattr(sde_lib.SDE, method):
      raise config_errors.ConfigError(
          f"sampling.name={name!r} needs the SDE's EDM view (scale, noise"
          f" level), which {type(sde).__name__} does not define. Fix: use"
          " --config.sampling.name=pc or ode, or one of the SDEs "
          f"{sde_lib.SDES.names()}."
      )


def _check_num_steps(name: str, num_steps: int) -> None:
  if num_steps < 2:
    raise config_errors.ConfigError(
        f"{name} needs num_steps >= 2, got {num_steps}. Fix: set"
        " --config.sampling.num_steps to 2 or more."
    )


def _edm_levels(sde: sde_lib.SDE, config) -> tuple[float, np.ndarray]:
  """(sigma_max, the num_steps + 1 Karras levels from sigma(T) to
  sigma(eps), then 0, as float64 numpy)."""
  sigma_max = float(sde.noise_level(jnp.asarray(sde.T)))
  sigma_min = float(sde.noise_level(jnp.asarray(config.eps)))
  levels = karras_noise_levels(
      sigma_max, sigma_min, config.num_steps, config.rho
  )
  # float32 levels, as the samplers have always used; coefficients in float64.
  return sigma_max, np.asarray(levels, np.float64)


def _edm_prior(sde: sde_lib.SDE, rng: jax.Array, shape) -> jax.Array:
  """y = x(T) / s(T) for x(T) from the SDE's prior (the PC samplers' draw
  from the same key)."""
  return sde.prior_sampling(rng, shape) / sde.scale(jnp.asarray(sde.T))


def _edm_score(sde, score_fn, batch: int):
  """(y, sigma) -> the score of y = x / s(t) at noise level sigma,
  s(t) score(s(t) y, t) with t = t(sigma) (the EDM view, module docstring);
  sigma a scalar shared by the batch."""

  def score_of_y(y, sigma):
    t = jnp.full((batch,), sde.t_from_noise_level(sigma))
    s = sde.scale(t)
    return sde_lib.batch_mul(s, score_fn(sde_lib.batch_mul(s, y), t))

  return score_of_y


@SAMPLERS.register("heun")
def get_heun_sampler(sde, model_score_fn, config) -> tuple[SampleFn, int]:
  """EDM Heun sampler (Karras et al. 2022, Alg. 2) for any of our SDEs.

  Works on y = x / s(t) with noise level sigma(t): dy/dsigma = -sigma *
  s(t) * score(s(t) y, t). `num_steps` rho-spaced levels; a Heun (2nd
  order) update between consecutive non-zero levels and a final Euler step
  to sigma = 0 (which returns the denoised estimate).

  Churn > 0 is EDM's stochastic sampler: before the step from each level
  sigma_i in [s_tmin, s_tmax] it raises the noise to sigma_hat =
  sigma_i (1 + gamma), gamma = min(churn / num_steps, sqrt(2) - 1), adding
  fresh noise of std s_noise sqrt(sigma_hat^2 - sigma_i^2), then steps from
  sigma_hat. sigma_hat is capped at sigma(T): the network has not seen
  larger noise (so the first step, from sigma(T), adds none).
  """
  config = _with_later_fields(config)
  num_steps = config.num_steps
  _check_num_steps("heun", num_steps)
  _check_edm_view(sde, "heun")
  sigma_max, levels = _edm_levels(sde, config)
  sigmas = levels[:-1]
  in_range = (sigmas >= config.s_tmin) & (sigmas <= config.s_tmax)
  gamma = np.where(
      in_range, min(config.churn / num_steps, math.sqrt(2.0) - 1.0), 0.0
  )
  hats = np.minimum(sigmas * (1.0 + gamma), sigma_max)
  churn_std = config.s_noise * np.sqrt(np.maximum(hats**2 - sigmas**2, 0.0))
  stochastic = bool(np.any(churn_std > 0))
  levels, hats, churn_std = (
      jnp.asarray(a, jnp.float32) for a in (levels, hats, churn_std)
  )

  def sample_fn(rng, params, magnitude, scan=None):
    score_fn = _magnitude_score_fn(model_score_fn, params, magnitude, scan)
    shape = magnitude.shape + (2,)
    score_of_y = _edm_score(sde, score_fn, shape[0])

    def derivative(y, sigma):
      return -sigma * score_of_y(y, sigma)

    def churn(i, y):
      if not stochastic:
        return y
      noise = _noise_like(jax.random.fold_in(rng, i), y)
      return y + churn_std[i] * noise

    prior_rng, rng = jax.random.split(rng)
    y = _edm_prior(sde, prior_rng, shape)

    def step(i, y):
      sigma_hat, sigma_next = hats[i], levels[i + 1]
      y = churn(i, y)
      d = derivative(y, sigma_hat)
      y_euler = y + (sigma_next - sigma_hat) * d
      d_next = derivative(y_euler, sigma_next)
      return y + (sigma_next - sigma_hat) * 0.5 * (d + d_next)

    y = jax.lax.fori_loop(0, num_steps - 1, step, y)
    # Last step to sigma = 0: Euler, i.e. the denoised estimate.
    last = num_steps - 1
    y = churn(last, y)
    return y - hats[last] * derivative(y, hats[last])

  return sample_fn, 2 * num_steps - 1


@SAMPLERS.register("dpmpp_2m")
def get_dpmpp_2m_sampler(sde, model_score_fn, config) -> tuple[SampleFn, int]:
  """DPM-Solver++(2M) (Lu et al. 2022, Alg. 2) on Karras' levels.

  In the EDM view (module docstring) with lambda = -log sigma and step
  h_i = log(sigma_i / sigma_{i+1}), each step from sigma_i to a non-zero
  sigma_{i+1} is
    y <- (sigma_{i+1} / sigma_i) y + (1 - e^{-h_i}) D',
  with D' = D_i at the first step (1st order) and after it the
  linear extrapolation D' = (1 + 1 / (2 r)) D_i - 1 / (2 r) D_{i-1},
  r = h_{i-1} / h_i (2nd order, one denoiser evaluation per step). The last
  step, to sigma = 0, returns D at the smallest level (1st order), as
  k-diffusion's `sample_dpmpp_2m`. `num_steps` levels, `num_steps`
  evaluations; deterministic given the prior draw.
  """
  num_steps = config.num_steps
  _check_num_steps("dpmpp_2m", num_steps)
  _check_edm_view(sde, "dpmpp_2m")
  _, levels = _edm_levels(sde, config)
  sigmas, sigmas_next = levels[: num_steps - 1], levels[1:num_steps]
  h = np.log(sigmas / sigmas_next)
  h_last = np.concatenate([[np.nan], h[:-1]])
  new_weight = np.where(np.arange(num_steps - 1) > 0, 1 + h / (2 * h_last), 1)
  old_weight = 1.0 - new_weight
  ratio = sigmas_next / sigmas
  data_weight = -np.expm1(-h)
  levels, new_weight, old_weight, ratio, data_weight = (
      jnp.asarray(a, jnp.float32)
      for a in (levels, new_weight, old_weight, ratio, data_weight)
  )

  def sample_fn(rng, params, magnitude, scan=None):
    score_fn = _magnitude_score_fn(model_score_fn, params, magnitude, scan)
    shape = magnitude.shape + (2,)
    score_of_y = _edm_score(sde, score_fn, shape[0])

    def denoise(y, sigma):
      return y + sigma**2 * score_of_y(y, sigma)

    prior_rng, _ = jax.random.split(rng)
    y = _edm_prior(sde, prior_rng, shape)

    def step(i, carry):
      y, previous = carry
      denoised = denoise(y, levels[i])
      blended = new_weight[i] * denoised + old_weight[i] * previous
      return ratio[i] * y + data_weight[i] * blended, denoised

    y, _ = jax.lax.fori_loop(0, num_steps - 1, step, (y, jnp.zeros_like(y)))
    return denoise(y, levels[num_steps - 1])

  return sample_fn, num_steps


def _with_later_fields(config: ml_collections.ConfigDict):
  """`config` with the `LATER_FIELDS` it lacks (a copy when any is missing)."""
  missing = {k: v for k, v in LATER_FIELDS.items() if k not in config}
  if not missing:
    return config
  config = ml_collections.ConfigDict(config.to_dict())
  config.update(missing)
  return config


def get_sampler(
    config: ml_collections.ConfigDict,
    sde: sde_lib.SDE,
    model_score_fn: Callable,
) -> tuple[SampleFn, int]:
  """The sampler named `config.name` (the `sampling` config block).

  Args:
    config: name ("pc" | "ode" | "heun" | "dpmpp_2m"), num_steps, eps,
      denoise, predictor, corrector, snr, n_corrector_steps, rho, churn,
      s_tmin, s_tmax, s_noise (those of `LATER_FIELDS` may be missing).
    sde: the forward SDE the model was trained with.
    model_score_fn: score_fn(params, x, t, magnitude, scan=...)
      (models.utils).

  Returns:
    (sample_fn(rng, params, magnitude (B,H,W), scan=None) -> (B,H,W,2)
    float32, score evaluations per sample).

  Raises:
    ConfigError: an unknown sampler, too few steps, or an SDE the sampler
      cannot integrate.
  """
  return SAMPLERS.get(config.name)(sde, model_score_fn, config)
