"""runtime.optimizers: the schedules and the optimizer of the optim block."""

import jax.numpy as jnp
import numpy as np
import pytest

from configs import base
from runtime import optimizers


def _optim(**overrides):
  optim = base.get_optim_config()
  optim.update({"lr": 1.0, **overrides})
  return optim


def test_warmup_then_each_schedule():
  constant = optimizers.create_learning_rate_fn(
      _optim(schedule="constant", warmup_steps=4)
  )
  np.testing.assert_allclose(
      [constant(s) for s in (0, 2, 4, 100)], [0.0, 0.5, 1.0, 1.0]
  )
  cosine = optimizers.create_learning_rate_fn(
      _optim(schedule="cosine", warmup_steps=2, decay_steps=10)
  )
  np.testing.assert_allclose(
      [cosine(s) for s in (2, 7, 12)], [1.0, 0.5, 0.0], atol=1e-6
  )
  step = optimizers.create_learning_rate_fn(
      _optim(schedule="step", decay_every=3, decay_factor=0.1)
  )
  np.testing.assert_allclose([step(s) for s in (0, 2, 3, 6)], [1, 1, 0.1, 0.01])


def _updates(tx, gradients):
  params = {"w": jnp.zeros(3)}
  state = tx.init(params)
  out = []
  for grad in gradients:
    update, state = tx.update({"w": jnp.asarray(grad)}, state, params)
    out.append(np.asarray(update["w"]))
  return out


def test_grad_clip_rescales_to_the_global_norm_and_zero_is_off():
  grads = [np.array([300.0, 400.0, 0.0]), np.array([0.3, 0.4, 0.0])]
  clipped = [g * min(1.0, 1.0 / np.linalg.norm(g)) for g in grads]
  with_clip, _ = optimizers.create_optimizer(_optim(grad_clip=1.0))
  without, _ = optimizers.create_optimizer(_optim(grad_clip=0.0))
  np.testing.assert_allclose(
      _updates(with_clip, grads), _updates(without, clipped), rtol=1e-6
  )
  # Adam is scale-invariant only for a constant scale: the unclipped second
  # update differs, so the comparison above can fail.
  assert not np.allclose(
      _updates(without, grads)[1], _updates(without, clipped)[1], rtol=1e-3
  )


def test_adam_first_step_is_lr_times_sign():
  tx, _ = optimizers.create_optimizer(_optim(lr=0.1, schedule="constant"))
  params = {"w": jnp.zeros(2)}
  updates, _ = tx.update({"w": jnp.array([2.0, -3.0])}, tx.init(params), params)
  np.testing.assert_allclose(updates["w"], [-0.1, 0.1], rtol=1e-5)


def test_unknown_names_are_rejected():
  with pytest.raises(ValueError, match="optim.schedule"):
    optimizers.create_learning_rate_fn(_optim(schedule="linear"))
  with pytest.raises(ValueError, match="optim.optimizer"):
    optimizers.create_optimizer(_optim(optimizer="sgd"))
