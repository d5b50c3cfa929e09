"""The SBDM's train state and step: parameters, optimizer, EMA, and the
checkpoint it restores from.

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
import ml_collections
import optax

from runtime import optimizers
from runtime import train_loop
from score_phase.sbdm import networks


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
  params = networks.init_params(model, param_rng, image_size)
  return TrainState(
      step=jnp.zeros((), jnp.int32),
      params=params,
      opt_state=optimizer.init(params),
      ema_params=params,
      rng=jax.random.key_data(state_rng),
  )


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


TRAIN_MODE = "train_phase"


def compatibility(config: ml_collections.ConfigDict) -> dict:
  """What a checkpoint must share with `config` to be restored into it."""
  return {
      "model": train_loop.model_identity(config.model),
      "sde": train_loop.as_json(config.sde),
      "image_size": config.data.image_size,
  }


@train_loop.cached_by_config("model", "optim", "data.image_size")
def get_init_fn(config: ml_collections.ConfigDict):
  """`init_fn(key) -> TrainState` for the config's network."""
  model = networks.get_model(config.model)
  optimizer, _ = optimizers.create_optimizer(config.optim)
  image_size = config.data.image_size

  def init_fn(rng):
    return create_train_state(model, optimizer, rng, image_size)

  return init_fn


def restore_state(config: ml_collections.ConfigDict, workdir, mesh):
  """(step, state) of the newest compatible checkpoint in `workdir`.

  Raises:
    CheckpointError: missing, or trained with another model / SDE / size.
  """
  step, state, _ = train_loop.restore(
      workdir, get_init_fn(config), compatibility(config), mesh, TRAIN_MODE
  )
  return step, state
