"""Samplers of p(phasor | magnitude): predictor-corrector, PF-ODE, EDM Heun.

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
        2022, Alg. 2, with optional churn); 2 * num_steps - 1 evaluations.
"""

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import ml_collections

from kspace.common import catalog
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


@SAMPLERS.register("heun")
def get_heun_sampler(sde, model_score_fn, config) -> tuple[SampleFn, int]:
  """EDM Heun sampler (Karras et al. 2022, Alg. 2) for any of our SDEs.

  Works on y = x / s(t) with noise level sigma(t): dy/dsigma = -sigma *
  s(t) * score(s(t) y, t). `num_steps` rho-spaced levels; a Heun (2nd
  order) update between consecutive non-zero levels and a final Euler step
  to sigma = 0 (which returns the denoised estimate). Churn > 0 re-injects
  noise (sigma_hat = sigma (1 + churn / num_steps)) for a stochastic
  variant.
  """
  num_steps = config.num_steps
  if num_steps < 2:
    raise ValueError(f"heun needs num_steps >= 2, got {num_steps}.")
  sigma_max = float(sde.noise_level(jnp.asarray(sde.T)))
  sigma_min = float(sde.noise_level(jnp.asarray(config.eps)))
  levels = karras_noise_levels(sigma_max, sigma_min, num_steps, config.rho)
  gamma = min(config.churn / num_steps, math.sqrt(2.0) - 1.0)

  def sample_fn(rng, params, magnitude, scan=None):
    score_fn = _magnitude_score_fn(model_score_fn, params, magnitude, scan)
    shape = magnitude.shape + (2,)
    batch = shape[0]

    def derivative(y, sigma):
      t = jnp.full((batch,), sde.t_from_noise_level(sigma))
      s = sde.scale(t)
      return sde_lib.batch_mul(-sigma * s, score_fn(sde_lib.batch_mul(s, y), t))

    prior_rng, rng = jax.random.split(rng)
    y = sde.prior_sampling(prior_rng, shape) / sde.scale(jnp.asarray(sde.T))

    def step(i, y):
      sigma, sigma_next = levels[i], levels[i + 1]
      sigma_hat = jnp.minimum(sigma * (1.0 + gamma), sigma_max)
      if gamma > 0:
        noise = _noise_like(jax.random.fold_in(rng, i), y)
        y = y + jnp.sqrt(sigma_hat**2 - sigma**2) * noise
      d = derivative(y, sigma_hat)
      y_euler = y + (sigma_next - sigma_hat) * d
      d_next = derivative(y_euler, sigma_next)
      return y + (sigma_next - sigma_hat) * 0.5 * (d + d_next)

    y = jax.lax.fori_loop(0, num_steps - 1, step, y)
    # Last step to sigma = 0: Euler, i.e. the denoised estimate.
    return y - levels[num_steps - 1] * derivative(y, levels[num_steps - 1])

  return sample_fn, 2 * num_steps - 1


def get_sampler(
    config: ml_collections.ConfigDict,
    sde: sde_lib.SDE,
    model_score_fn: Callable,
) -> tuple[SampleFn, int]:
  """The sampler named `config.name` (the `sampling` config block).

  Args:
    config: name ("pc" | "ode" | "heun"), num_steps, eps, denoise,
      predictor, corrector, snr, n_corrector_steps, rho, churn.
    sde: the forward SDE the model was trained with.
    model_score_fn: score_fn(params, x, t, magnitude, scan=...)
      (models.utils).

  Returns:
    (sample_fn(rng, params, magnitude (B,H,W), scan=None) -> (B,H,W,2)
    float32, score evaluations per sample).
  """
  return SAMPLERS.get(config.name)(sde, model_score_fn, config)
