"""Model registry, initialisation and the pure score function.

`get_score_fn(sde, model)` returns score_fn(params, x, t, magnitude): the
network predicts -z (the negative of the unit noise) and is divided by the
marginal std, so score = -z / std (the 1/sigma output scaling of NCSN++), for
every SDE. Noise labels fed to the network are log(noise_level(t)), one
parametrisation for VE, VP and sub-VP (no `t * 999` magic).
"""

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from score_phase import catalog
from score_phase import sde as sde_lib
from score_phase.models import ncsnpp

MODELS: catalog.Catalog[type[nn.Module]] = catalog.Catalog("model")
MODELS.register("ncsnpp")(ncsnpp.ConditionalNCSNpp)

# Channels of the phase representation (the unit phasor cos, sin).
PHASOR_CHANNELS = 2

ModelFn = Callable[..., jax.Array]
ScoreFn = Callable[[dict, jax.Array, jax.Array, jax.Array], jax.Array]


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
  )


def init_params(model: nn.Module, rng: jax.Array, image_size: int) -> dict:
  """Parameters for square images of side `image_size` (batch of 1)."""
  x = jnp.zeros((1, image_size, image_size, PHASOR_CHANNELS), jnp.float32)
  return model.init(
      rng, x, jnp.zeros((1,)), jnp.zeros((1, image_size, image_size))
  )["params"]


def get_score_fn(sde: sde_lib.SDE, model: nn.Module, train: bool = False):
  """score_fn(params, x, t, magnitude[, rng]) -> score, pure.

  Args:
    sde: the forward SDE (for the marginal std and noise labels).
    model: the Linen network.
    train: enable dropout; then an rng must be passed.

  Returns:
    score_fn(params, x (B,H,W,2), t (B,), magnitude (B,H,W), rng=None)
    -> (B,H,W,2) float32, the estimate of grad_x log p_t(x | magnitude).
  """

  def score_fn(params, x, t, magnitude, rng=None):
    labels = jnp.log(sde.noise_level(t))
    rngs = {"dropout": rng} if train else {}
    output = model.apply(
        {"params": params}, x, labels, magnitude, train=train, rngs=rngs
    )
    _, std = sde.marginal_prob(jnp.zeros_like(x), t)
    return sde_lib.batch_mul(1.0 / std, output)

  return score_fn
