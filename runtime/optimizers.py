"""The optimizer factory every trainer uses (the `optim` config block).

Fields (configs/base.get_optim_config): optimizer (adam | rmsprop), lr,
schedule (constant | cosine | step), warmup_steps, decay_steps (cosine),
decay_every and decay_factor (step), beta1, beta2, eps, weight_decay,
grad_clip (0: off). The schedule depends on the optim block only, not on the
run length, so a longer or resumed run reuses the compiled step.
"""

import ml_collections
import optax

from kspace.common import config_errors

SCHEDULES = ("constant", "cosine", "step")
OPTIMIZERS = ("adam", "rmsprop")


def create_learning_rate_fn(optim: ml_collections.ConfigDict) -> optax.Schedule:
  """Linear warmup from 0, then constant / cosine / step decay.

  Args:
    optim: the `optim` block.

  Returns:
    step -> learning rate.
  """
  config_errors.check_choice("optim.schedule", optim.schedule, SCHEDULES)
  if optim.schedule == "constant":
    decay = optax.constant_schedule(optim.lr)
  elif optim.schedule == "cosine":
    decay = optax.cosine_decay_schedule(optim.lr, optim.decay_steps)
  else:
    decay = optax.exponential_decay(
        optim.lr, optim.decay_every, optim.decay_factor, staircase=True
    )
  if not optim.warmup_steps:
    return decay
  warmup = optax.linear_schedule(0.0, optim.lr, optim.warmup_steps)
  return optax.join_schedules([warmup, decay], [optim.warmup_steps])


def create_optimizer(
    optim: ml_collections.ConfigDict,
) -> tuple[optax.GradientTransformation, optax.Schedule]:
  """Adam(W) or RMSProp with the schedule, weight decay and clipping.

  Args:
    optim: the `optim` block.

  Returns:
    (optax transformation, learning-rate schedule).
  """
  config_errors.check_choice("optim.optimizer", optim.optimizer, OPTIMIZERS)
  learning_rate_fn = create_learning_rate_fn(optim)
  if optim.optimizer == "adam":
    base = optax.adamw(
        learning_rate_fn,
        b1=optim.beta1,
        b2=optim.beta2,
        eps=optim.eps,
        weight_decay=optim.weight_decay,
    )
  else:
    base = optax.chain(
        optax.add_decayed_weights(optim.weight_decay),
        optax.rmsprop(learning_rate_fn, eps=optim.eps),
    )
  if optim.grad_clip <= 0:
    return base, learning_rate_fn
  return (
      optax.chain(optax.clip_by_global_norm(optim.grad_clip), base),
      learning_rate_fn,
  )
