"""A recon net's train state, its network and how it is initialised.

Shared by `recon.train` (which trains it) and `recon.evaluation` (which
restores and scores it).
"""

import flax
import jax
import jax.numpy as jnp
import ml_collections
import optax

from recon import models
from recon import simulate
from runtime import optimizers
from runtime import train_loop

# The --mode that writes recon checkpoints.
TRAIN_MODE = "train_recon"


@flax.struct.dataclass
class TrainState:
  """Everything training carries from step to step (one pytree).

  Attributes:
    step: int32 scalar, updates applied so far.
    params: model parameters.
    opt_state: optax state.
    rng: uint32 key data of the run's base PRNG key (the loop folds in the
      step for each batch's masks, phases and noise).
  """

  step: jax.Array
  params: flax.core.FrozenDict
  opt_state: optax.OptState
  rng: jax.Array


def compatibility(config: ml_collections.ConfigDict) -> dict:
  """What a checkpoint must share with `config` to be restored into it."""
  return {
      "model": train_loop.model_identity(config.model),
      "num_coils": config.forward.num_coils,
      "image_size": config.data.image_size,
  }


@train_loop.cached_by_config("model", "forward", "data.image_size")
def get_model(config: ml_collections.ConfigDict):
  """The network, with the static ACS width of the configured masks."""
  return models.get_model(
      config.model, simulate.min_num_low_frequencies(config)
  )


@train_loop.cached_by_config("model", "forward", "optim", "data.image_size")
def get_init_fn(config: ml_collections.ConfigDict):
  """`init_fn(key) -> TrainState`.

  The parameter initializers draw from a key of `model.init_prng_impl`
  seeded from `key` ("rbg", XLA's RngBitGenerator, compiles several times
  faster than threefry on CPU for the many per-layer draws).
  """
  model = get_model(config)
  tx, _ = optimizers.create_optimizer(config.optim)
  size, num_coils = config.data.image_size, config.forward.num_coils

  def init_fn(rng):
    init_rng, state_rng = jax.random.split(rng)
    init_key = jax.random.key(
        jax.random.bits(init_rng, (), jnp.uint32),
        impl=config.model.init_prng_impl,
    )
    kspace = jnp.zeros((1, num_coils, size, size), jnp.complex64)
    mask = jnp.ones((1, size, size), jnp.float32)
    params = model.init(init_key, kspace, mask)["params"]
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        opt_state=tx.init(params),
        rng=jax.random.key_data(state_rng),
    )

  return init_fn
