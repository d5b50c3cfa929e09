"""Denoising score matching, the optimizer, EMA and the train step.

`get_train_step(...)` returns a pure `train_step(state, batch, key)` meant to
be jitted over a data mesh (batch sharded, state replicated): the batch mean
is a plain `jnp.mean`, so the compiler inserts the cross-device reduction
and the sharded step equals the single-device one.
"""

from collections.abc import Callable

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from kspace.common import config_errors
from score_phase import representation
from score_phase import scan_params
from score_phase import sde as sde_lib
from score_phase.models import utils as model_utils


@flax.struct.dataclass
class TrainState:
  """Everything training needs, one pytree (saved whole in checkpoints).

  Attributes:
    step: int32 scalar, number of optimizer updates done.
    params: network parameters.
    opt_state: optax state.
    ema_params: exponential moving average of `params` (used for sampling).
    rng: uint32 key data of the run's base PRNG key (per-step keys are
      fold_in(base, step), so resuming at a step reproduces the randomness).
  """

  step: jax.Array
  params: dict
  opt_state: optax.OptState
  ema_params: dict
  rng: jax.Array


# PRNG of the parameter initialisation only: XLA's RngBitGenerator compiles
# in ~4 s where threefry for ~100 parameter tensors takes 20+ s on a CPU. The
# init runs replicated, so the stream's sharding behaviour does not matter;
# training and sampling noise stay on the default (threefry) keys, whose
# values do not depend on the sharding.
PARAM_INIT_PRNG = "rbg"


def create_train_state(
    model: nn.Module,
    optimizer: optax.GradientTransformation,
    rng: jax.Array,
    image_size: int,
) -> TrainState:
  """A fresh state; pure, so it can run under `jax.eval_shape` / `jit`.

  Args:
    model: the score network.
    optimizer: optax transformation.
    rng: a (threefry) PRNG key; it seeds the parameters and becomes the
      state's base key.
    image_size: side of the square training images.
  """
  init_rng, state_rng = jax.random.split(rng)
  param_rng = jax.random.key(
      jax.random.bits(init_rng, (), jnp.uint32), impl=PARAM_INIT_PRNG
  )
  params = model_utils.init_params(model, param_rng, image_size)
  return TrainState(
      step=jnp.zeros((), jnp.int32),
      params=params,
      opt_state=optimizer.init(params),
      ema_params=params,
      rng=jax.random.key_data(state_rng),
  )


WEIGHTINGS = ("std2", "likelihood", "edm")
NOISE_SAMPLINGS = ("uniform_t", "lognormal")


def random_crops(
    rng: jax.Array, arrays: tuple[jax.Array, ...], size: int
) -> tuple[jax.Array, ...]:
  """The same random (size x size) window of each example of every array.

  Args:
    rng: PRNG key.
    arrays: (B, H, W, ...) arrays with the same B, H, W.
    size: the crop side, <= min(H, W).

  Returns:
    The arrays cut to (B, size, size, ...).
  """
  batch, height, width = arrays[0].shape[:3]
  if size > min(height, width):
    raise ValueError(f"crop_size {size} exceeds the images ({height}x{width}).")
  row_rng, col_rng = jax.random.split(rng)
  rows = jax.random.randint(row_rng, (batch,), 0, height - size + 1)
  cols = jax.random.randint(col_rng, (batch,), 0, width - size + 1)

  def crop(array, row, col):
    start = (row, col) + (0,) * (array.ndim - 2)
    return jax.lax.dynamic_slice(array, start, (size, size) + array.shape[2:])

  return tuple(jax.vmap(crop)(a, rows, cols) for a in arrays)


def sample_times(
    rng: jax.Array,
    sde: sde_lib.SDE,
    batch_size: int,
    *,
    eps: float,
    noise_sampling: str,
    p_mean: float,
    p_std: float,
) -> jax.Array:
  """Diffusion times of a batch: t ~ U(eps, T) ("uniform_t"), or
  log sigma ~ N(p_mean, p_std^2) mapped to t and clipped to [eps, T]
  ("lognormal", EDM's training distribution)."""
  if noise_sampling == "uniform_t":
    return jax.random.uniform(rng, (batch_size,), jnp.float32, eps, sde.T)
  config_errors.check_choice(
      "loss.noise_sampling", noise_sampling, NOISE_SAMPLINGS
  )
  sigma = jnp.exp(p_mean + p_std * jax.random.normal(rng, (batch_size,)))
  return jnp.clip(sde.t_from_noise_level(sigma), eps, sde.T)


def get_loss_fn(
    sde: sde_lib.SDE,
    score_fn: Callable,
    *,
    eps: float,
    weighting: str,
    magnitude_threshold: float,
    background_weight: float,
    noise_sampling: str = "uniform_t",
    p_mean: float = -1.2,
    p_std: float = 1.2,
    sigma_data: float = 0.5,
    crop_size: int = 0,
    scan_dropout: tuple[float, float] = (0.3, 0.2),
):
  """Continuous-time denoising score matching (Song et al. 2021, eq. 7).

  With t from `sample_times`, z ~ N(0, I), x_t = mean(x0, t) + std(t) z, the
  loss is lambda(t) |score(x_t, t) + z / std|^2, summed over the 2 phasor
  channels and averaged over pixels with magnitude weights
  (`representation.pixel_weights`) and over the batch. lambda:
    std2        std^2 (Song et al.'s default),
    likelihood  g(t)^2,
    edm         s^2 sigma^2 / c_out^2 = sigma^2 (sigma^2 + sigma_data^2) /
                sigma_data^2 (s^2 where the SDE scales x): EDM's weighting,
                under which the loss is |D - x0|^2 / c_out^2, i.e. unit
                weight on the preconditioned network's own error.

  Args:
    sde: the forward SDE.
    score_fn: score_fn(params, x, t, magnitude, rng) in training mode
      (`models.utils.get_model_score_fn(..., train=True)`).
    eps, noise_sampling, p_mean, p_std: see `sample_times`.
    weighting: one of `WEIGHTINGS`.
    magnitude_threshold, background_weight: `pixel_weights`.
    sigma_data: the data's std per channel (edm weighting).
    crop_size: > 0 trains on random crops of this side (the network is
      fully convolutional; the magnitude was normalised on the whole image).
    scan_dropout: (per-field, all-fields) probabilities that a batch's scan
      parameters are hidden from the network (`scan_params.drop`), so it
      learns the null-conditioned model too.

  Returns:
    loss_fn(params, batch, rng) -> scalar float32 loss; batch holds
    magnitude (B,H,W) and phase (B,H,W) float32, and for a scan-conditioned
    network scan_values / scan_present (`scan_params.encode`).
  """
  config_errors.check_choice("loss.weighting", weighting, WEIGHTINGS)

  def loss_fn(params, batch, rng):
    t_rng, z_rng, dropout_rng, crop_rng = jax.random.split(rng, 4)
    phase, magnitude = batch["phase"], batch["magnitude"]
    scan = None
    if "scan_present" in batch:
      scan = {
          "scan_values": batch["scan_values"],
          "scan_present": scan_params.drop(
              jax.random.fold_in(rng, 1), batch["scan_present"], *scan_dropout
          ),
      }
    if crop_size:
      phase, magnitude = random_crops(crop_rng, (phase, magnitude), crop_size)
    x0 = representation.phase_to_phasor(phase)
    batch_size = x0.shape[0]
    t = sample_times(
        t_rng,
        sde,
        batch_size,
        eps=eps,
        noise_sampling=noise_sampling,
        p_mean=p_mean,
        p_std=p_std,
    )
    z = jax.random.normal(z_rng, x0.shape, jnp.float32)
    mean, std = sde.marginal_prob(x0, t)
    x_t = mean + sde_lib.batch_mul(std, z)
    score = score_fn(params, x_t, t, magnitude, dropout_rng, scan)
    error = jnp.square(sde_lib.batch_mul(std, score) + z)  # std^2 weighting
    if weighting == "likelihood":
      _, g = sde.sde(jnp.zeros_like(x0), t)
      error = sde_lib.batch_mul(g**2 / std**2, error)
    elif weighting == "edm":
      sigma = sde.noise_level(t)
      error = sde_lib.batch_mul(
          (sigma**2 + sigma_data**2) / sigma_data**2, error
      )
    weights = representation.pixel_weights(
        magnitude, magnitude_threshold, background_weight
    )
    return jnp.mean(jnp.sum(error, axis=-1) * weights)

  return loss_fn


def ema_update(ema_params, params, decay: float):
  """ema <- decay * ema + (1 - decay) * params, leaf by leaf."""
  return jax.tree.map(
      lambda e, p: decay * e + (1.0 - decay) * p, ema_params, params
  )


def ema_decay(step: jax.Array, ema_rate: float, warmup: float) -> jax.Array:
  """min(ema_rate, (1 + step) / (warmup + step)): early EMAs forget the init.

  Without the warmup an EMA of rate 0.999 still holds 0.999^1000 = 37% of
  the (untrained) initial parameters after 1000 steps.
  """
  step = jnp.asarray(step, jnp.float32)
  return jnp.minimum(ema_rate, (1.0 + step) / (warmup + step))


def get_train_step(
    loss_fn: Callable,
    optimizer: optax.GradientTransformation,
    schedule: Callable,
    ema_rate: float,
    ema_warmup: float = 0.0,
):
  """train_step(state, batch, key) -> (state, metrics); pure and jittable.

  Args:
    loss_fn: from `get_loss_fn`.
    optimizer: from `runtime.optimizers.create_optimizer`.
    schedule: the learning-rate schedule (for logging).
    ema_rate: EMA decay per step.
    ema_warmup: > 0 enables the EMA warmup of `ema_decay` (0: constant
      decay `ema_rate`).

  Returns:
    The step function; metrics are float32 scalars: loss, grad_norm, lr.
  """

  def train_step(state: TrainState, batch, key):
    loss, grads = jax.value_and_grad(loss_fn)(state.params, batch, key)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    if ema_warmup > 0:
      decay = ema_decay(state.step, ema_rate, ema_warmup)
    else:
      decay = ema_rate
    new_state = state.replace(
        step=state.step + 1,
        params=params,
        opt_state=opt_state,
        ema_params=ema_update(state.ema_params, params, decay),
    )
    metrics = {
        "loss": loss,
        "grad_norm": optax.global_norm(grads),
        "lr": schedule(state.step),
    }
    return new_state, metrics

  return train_step
