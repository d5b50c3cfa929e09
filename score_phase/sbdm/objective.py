"""The SBDM's objective: denoising score matching on the unit phasor.

`get_loss_fn(sde, score_fn, ...)` returns a pure `loss_fn(params, batch,
key)`: noise levels drawn per image (`sample_times`), optional random crops
(`random_crops`), and the per-pixel weights of `representation`.
`get_train_step(config)` is the training step of a phase_sbdm config: that
loss, the optimizer and the EMA, applied by `sbdm.state`'s generic step.
Nothing here imports the data layer (a GPU benchmark builds the step
without it).
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import ml_collections

from kspace.common import config_errors
from runtime import optimizers
from runtime import train_loop
from score_phase import representation
from score_phase import scan_params
from score_phase.sbdm import networks
from score_phase.sbdm import sde as sde_lib
from score_phase.sbdm import state as sbdm_state

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


@train_loop.cached_by_config("model", "sde", "optim", "loss", "ema")
def get_train_step(config: ml_collections.ConfigDict):
  """Pure `train_step(state, batch, key) -> (state, metrics)` (DSM + EMA)."""
  sde = sde_lib.get_sde(config.sde)
  optimizer, schedule = optimizers.create_optimizer(config.optim)
  loss = config.loss
  if loss.crop_size and config.model.attn_resolutions:
    # Attention sits at feature-map *sizes*, which differ between crops and
    # whole images: the two would be different networks.
    raise ValueError(
        f"loss.crop_size={loss.crop_size} needs model.attn_resolutions=()"
        " (the middle block's attention stays): set"
        " --config.model.attn_resolutions='()' or loss.crop_size=0."
    )
  loss_fn = get_loss_fn(
      sde,
      networks.get_model_score_fn(sde, config.model, train=True),
      eps=loss.eps,
      weighting=loss.weighting,
      magnitude_threshold=loss.magnitude_threshold,
      background_weight=loss.background_weight,
      noise_sampling=loss.noise_sampling,
      p_mean=loss.p_mean,
      p_std=loss.p_std,
      sigma_data=config.model.sigma_data,
      crop_size=loss.crop_size,
      scan_dropout=(loss.scan_field_dropout, loss.scan_all_dropout),
  )
  return sbdm_state.get_train_step(
      loss_fn, optimizer, schedule, config.ema.rate, config.ema.warmup
  )
