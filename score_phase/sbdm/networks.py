"""Model registry, initialisation and the pure score function.

`get_score_fn(sde, model, preconditioning=...)` returns score_fn(params, x,
t, magnitude), for every SDE, with one of two parametrisations (noise labels
are log(noise_level(t)) in both, no `t * 999` magic):

  noise  NCSN++'s: the network sees x_t as is and predicts -z (the
         negative unit noise); score = output / std.
  edm    Karras et al. 2022 (EDM), sec. 5: on y = x_t / s(t) = x0 + sigma z,
         the denoiser D = c_skip y + c_out F(c_in y) with
         c_in = 1 / sqrt(sigma^2 + sigma_data^2),
         c_skip = sigma_data^2 / (sigma^2 + sigma_data^2),
         c_out = sigma sigma_data / sqrt(sigma^2 + sigma_data^2), and
         score = (D - y) / (sigma^2 s). The network's input and target have
         unit variance at every noise level, which helps a small network
         trained briefly; at sigma >> sigma_data it no longer sees inputs of
         size sigma_max.
"""

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from kspace.common import catalog
from kspace.common import config_errors
from runtime import precision
from score_phase.sbdm import ncsnpp
from score_phase.sbdm import sde as sde_lib

MODELS: catalog.Catalog[type[nn.Module]] = catalog.Catalog("model")
MODELS.register("ncsnpp")(ncsnpp.ConditionalNCSNpp)

# Channels of the phase representation (the unit phasor cos, sin).
PHASOR_CHANNELS = 2

ModelFn = Callable[..., jax.Array]
ScoreFn = Callable[[dict, jax.Array, jax.Array, jax.Array], jax.Array]


def get_model_score_fn(
    sde: sde_lib.SDE, config: ml_collections.ConfigDict, train: bool = False
):
  """`get_score_fn` of the network and preconditioning of a `config.model`
  block."""
  return get_score_fn(
      sde,
      get_model(config),
      train=train,
      preconditioning=config.preconditioning,
      sigma_data=config.sigma_data,
  )


def get_model(config: ml_collections.ConfigDict) -> nn.Module:
  """Builds the network named `config.name` from a `config.model` block."""
  return MODELS.get(config.name)(
      nf=config.nf,
      ch_mult=tuple(config.ch_mult),
      num_res_blocks=config.num_res_blocks,
      attn_resolutions=tuple(config.attn_resolutions),
      dropout=config.dropout,
      embedding_type=config.embedding_type,
      fourier_scale=config.fourier_scale,
      max_positions=config.max_positions,
      norm_groups=config.norm_groups,
      out_channels=PHASOR_CHANNELS,
      magnitude_pyramid=config.magnitude_pyramid,
      scan_conditioning=config.scan_conditioning,
      # (Runs trained before the option have no field: additive.)
      scale_shift_norm=config.get("scale_shift_norm", False),
      norm_group_channels=config.norm_group_channels,
      dtype=precision.compute_dtype(config.compute_dtype),
      remat=config.remat,
  )


def init_params(model: nn.Module, rng: jax.Array, image_size: int) -> dict:
  """Parameters for square images of side `image_size` (batch of 1)."""
  x = jnp.zeros((1, image_size, image_size, PHASOR_CHANNELS), jnp.float32)
  return model.init(
      rng, x, jnp.zeros((1,)), jnp.zeros((1, image_size, image_size))
  )["params"]


PRECONDITIONINGS = ("noise", "edm")


def edm_coefficients(sigma: jax.Array, sigma_data: float):
  """(c_in, c_skip, c_out) of EDM's denoiser at noise level sigma."""
  total = sigma**2 + sigma_data**2
  return (
      jax.lax.rsqrt(total),
      sigma_data**2 / total,
      sigma * sigma_data * jax.lax.rsqrt(total),
  )


def get_score_fn(
    sde: sde_lib.SDE,
    model: nn.Module,
    train: bool = False,
    preconditioning: str = "noise",
    sigma_data: float = 0.5,
):
  """score_fn(params, x, t, magnitude[, rng]) -> score, pure.

  Args:
    sde: the forward SDE (for the marginal std and noise labels).
    model: the Linen network.
    train: enable dropout; then an rng must be passed.
    preconditioning: "noise" | "edm" (see the module docstring).
    sigma_data: the data's std per channel (edm).

  Returns:
    score_fn(params, x (B,H,W,2), t (B,), magnitude (B,H,W), rng=None,
    scan=None) -> (B,H,W,2) float32, the estimate of
    grad_x log p_t(x | magnitude[, scan]) (scan: `scan_params.encode`'s
    dict, None for none known).
  """
  config_errors.check_choice(
      "model.preconditioning", preconditioning, PRECONDITIONINGS
  )

  def network(params, x, labels, magnitude, rng, scan):
    rngs = {"dropout": rng} if train else {}
    return model.apply(
        {"params": params}, x, labels, magnitude, scan, train=train, rngs=rngs
    )

  def noise_score_fn(params, x, t, magnitude, rng=None, scan=None):
    labels = jnp.log(sde.noise_level(t))
    output = network(params, x, labels, magnitude, rng, scan)
    _, std = sde.marginal_prob(jnp.zeros_like(x), t)
    return sde_lib.batch_mul(1.0 / std, output)

  def edm_score_fn(params, x, t, magnitude, rng=None, scan=None):
    sigma, scale = sde.noise_level(t), sde.scale(t)
    y = sde_lib.batch_mul(1.0 / scale, x)
    c_in, c_skip, c_out = edm_coefficients(sigma, sigma_data)
    output = network(
        params,
        sde_lib.batch_mul(c_in, y),
        jnp.log(sigma),
        magnitude,
        rng,
        scan,
    )
    denoised = sde_lib.batch_mul(c_skip, y) + sde_lib.batch_mul(c_out, output)
    return sde_lib.batch_mul(1.0 / (sigma**2 * scale), denoised - y)

  return edm_score_fn if preconditioning == "edm" else noise_score_fn
