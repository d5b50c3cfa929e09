"""Training and evaluation of reconstruction networks (modes train_recon and
eval_recon of launch/main.py).

The training batch is made inside the jitted step: records (magnitude +
phase, optional coil maps) -> `recon.simulate` (fresh mask, phase, coil
rotation and noise per example) -> network -> loss against the fully sampled
RSS target. Data parallelism is `jax.jit` over a 1-D mesh: the batch is
sharded along `data`, the state replicated; the step never names an axis.
Resume is exact: the state holds the step and the PRNG key, and the data
iterator restarts at the checkpointed step.
"""

import logging

import flax
import jax
import jax.numpy as jnp
import ml_collections
import optax
from etils import epath

from launch import checkpoints
from launch import metric_writers
from launch import parallel
from recon import evaluation
from recon import input_pipeline
from recon import losses
from recon import simulate
from recon.models import get_model


@flax.struct.dataclass
class TrainState:
  """Everything training carries from step to step (one pytree).

  Attributes:
    step: int32 scalar, updates applied so far.
    params: model parameters.
    opt_state: optax state.
    rng: uint32 raw PRNG key data (`jax.random.key_data`), folded with the
      step for each batch's masks, phases and noise.
  """

  step: jax.Array
  params: flax.core.FrozenDict
  opt_state: optax.OptState
  rng: jax.Array


def create_learning_rate_fn(
    optim: ml_collections.ConfigDict, num_steps: int
) -> optax.Schedule:
  """Linear warmup then constant / cosine / step decay."""
  if optim.schedule == "constant":
    decay = optax.constant_schedule(optim.lr)
  elif optim.schedule == "cosine":
    decay = optax.cosine_decay_schedule(
        optim.lr, max(num_steps - optim.warmup_steps, 1)
    )
  elif optim.schedule == "step":
    decay = optax.exponential_decay(
        optim.lr, optim.decay_every, optim.decay_factor, staircase=True
    )
  else:
    raise ValueError(
        f"Unknown schedule {optim.schedule!r}; use constant | cosine | step."
    )
  if not optim.warmup_steps:
    return decay
  warmup = optax.linear_schedule(0.0, optim.lr, optim.warmup_steps)
  return optax.join_schedules([warmup, decay], [optim.warmup_steps])


def create_optimizer(
    optim: ml_collections.ConfigDict,
    learning_rate_fn: optax.Schedule,
) -> optax.GradientTransformation:
  """Adam or RMSProp (+ optional weight decay and gradient clipping)."""
  if optim.optimizer == "adam":
    base = optax.adamw(learning_rate_fn, weight_decay=optim.weight_decay)
  elif optim.optimizer == "rmsprop":
    base = optax.chain(
        optax.add_decayed_weights(optim.weight_decay),
        optax.rmsprop(learning_rate_fn),
    )
  else:
    raise ValueError(
        f"Unknown optimizer {optim.optimizer!r}; use adam | rmsprop."
    )
  if optim.grad_clip is None:
    return base
  return optax.chain(optax.clip_by_global_norm(optim.grad_clip), base)


def get_init_fn(
    model,
    tx: optax.GradientTransformation,
    image_size: int,
    num_coils: int,
    init_prng_impl: str,
):
  """`init_fn(rng) -> TrainState`; rng a PRNG key (split for params).

  The parameter initializers draw from a key of `init_prng_impl` seeded from
  `rng` ("rbg", XLA's RngBitGenerator, compiles several times faster than
  threefry on CPU for the many per-layer draws; same values every run on a
  given backend). Training randomness stays on `rng`'s implementation.
  """

  def init_fn(rng):
    init_rng, state_rng = jax.random.split(rng)
    init_key = jax.random.key(
        jax.random.bits(init_rng, (), jnp.uint32), impl=init_prng_impl
    )
    kspace = jnp.zeros((1, num_coils, image_size, image_size), jnp.complex64)
    mask = jnp.ones((1, image_size, image_size), jnp.float32)
    params = model.init(init_key, kspace, mask)["params"]
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        opt_state=tx.init(params),
        rng=jax.random.key_data(state_rng),
    )

  return init_fn


def get_train_step(
    model,
    tx: optax.GradientTransformation,
    simulate_fn,
    loss_fn,
    learning_rate_fn,
):
  """`train_step(state, batch) -> (state, metrics)`, pure; jit it.

  Args:
    model: Linen module with the recon model interface.
    tx: optax optimizer.
    simulate_fn: from `simulate.get_simulate_fn`.
    loss_fn: from `losses.get_loss_fn`.
    learning_rate_fn: the schedule (logged).

  Returns:
    The step function; `batch` is a dict of (B, ...) image fields and
    metrics a dict of float32 scalars (loss, grad_norm, lr).
  """

  def train_step(state: TrainState, batch):
    key = jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)
    inputs = simulate_fn(key, batch)

    def compute_loss(params):
      pred = model.apply(
          {"params": params}, inputs["masked_kspace"], inputs["mask"]
      )
      return loss_fn(pred, inputs["target"])

    loss, grads = jax.value_and_grad(compute_loss)(state.params)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics = {
        "loss": loss,
        "grad_norm": optax.global_norm(grads),
        "lr": learning_rate_fn(state.step),
    }
    return (
        state.replace(step=state.step + 1, params=params, opt_state=opt_state),
        metrics,
    )

  return train_step


def _setup(config: ml_collections.ConfigDict):
  """Model, optimizer, init function and their static facts."""
  num_low = simulate.min_num_low_frequencies(config)
  model = get_model(config.model, num_low)
  learning_rate_fn = create_learning_rate_fn(
      config.optim, config.train.num_steps
  )
  tx = create_optimizer(config.optim, learning_rate_fn)
  init_fn = get_init_fn(
      model,
      tx,
      config.data.image_size,
      config.forward.num_coils,
      config.model.init_prng_impl,
  )
  return model, tx, learning_rate_fn, init_fn


def _metadata(config: ml_collections.ConfigDict) -> dict:
  """What a checkpoint must agree on with the data it is used on."""
  return {
      "model": config.model.name,
      "num_coils": config.forward.num_coils,
      "image_size": config.data.image_size,
  }


def _check_metadata(saved: dict, config: ml_collections.ConfigDict) -> None:
  expected = _metadata(config)
  wrong = {
      key: (saved.get(key), value)
      for key, value in expected.items()
      if key in saved and saved[key] != value
  }
  if wrong:
    raise checkpoints.CheckpointError(
        "The checkpoint does not match the config (checkpoint vs config): "
        + ", ".join(f"{key}: {a} vs {b}" for key, (a, b) in wrong.items())
        + ". Use the training config or a fresh --workdir."
    )


def _restore_or_init(config, workdir, init_fn, mesh, manager):
  """The newest checkpoint's state, or a fresh one; params replicated."""
  rng = jax.random.key(config.seed)
  repl = parallel.replicated(mesh)
  abstract = jax.eval_shape(init_fn, rng)
  abstract = jax.tree.map(
      lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=repl), abstract
  )
  restored = checkpoints.restore_latest(manager, abstract)
  if restored is not None:
    step, state, metadata = restored
    _check_metadata(metadata, config)
    logging.info("Resumed from step %d in %s.", step, workdir)
    return state, step
  state = jax.jit(init_fn, out_shardings=repl)(rng)
  return state, None


def train_and_evaluate(
    config: ml_collections.ConfigDict,
    workdir: str,
    *,
    sources: dict | None = None,
) -> TrainState:
  """Trains for `train.num_steps`, then (`train.final_eval`) evaluates on
  `eval.split` as `evaluate` does.

  Args:
    config: configs/recon.py config.
    workdir: checkpoints, metrics.jsonl, TensorBoard events, eval outputs.
    sources: optional {split: random-access records} replacing the dataset
      (tests, notebooks).

  Returns:
    The final TrainState.

  Raises:
    metric_writers.NonFiniteLossError: a NaN/inf loss; the last good
      checkpoint is kept and nothing later is saved.
  """
  workdir = epath.Path(workdir)
  sources = dict(sources or {})
  mesh = parallel.create_mesh()
  local_batch_size = parallel.check_batch_size(config.train.batch_size)
  model, tx, learning_rate_fn, init_fn = _setup(config)
  manager = checkpoints.create_manager(
      workdir / "checkpoints",
      config.train.max_to_keep,
      config.train.async_checkpoint,
  )
  state, last_checkpoint = _restore_or_init(
      config, workdir, init_fn, mesh, manager
  )
  start_step = int(jax.device_get(state.step))

  train_step = jax.jit(
      get_train_step(
          model,
          tx,
          simulate.get_simulate_fn(config),
          losses.get_loss_fn(config.train.loss),
          learning_rate_fn,
      ),
      in_shardings=(parallel.replicated(mesh), parallel.batch_sharding(mesh)),
      out_shardings=(parallel.replicated(mesh), parallel.replicated(mesh)),
      donate_argnums=0,
  )
  eval_step = jax.jit(evaluation.get_eval_step(model, config))

  def get_source(split):
    if split not in sources:
      sources[split] = input_pipeline.get_source(config, split)
    return sources[split]

  iterator = input_pipeline.batches(
      get_source("train"),
      local_batch_size,
      seed=config.seed,
      shuffle=config.data.shuffle,
      start_step=start_step,
  )
  writer = metric_writers.MetricWriter(workdir)
  timer = metric_writers.StepTimer(start_step)
  train_config = config.train
  try:
    with metric_writers.progress_bar(
        train_config.num_steps, start_step, "train_recon"
    ) as bar:
      for step in range(start_step + 1, train_config.num_steps + 1):
        batch = input_pipeline.model_inputs(next(iterator), config)
        state, metrics = train_step(state, parallel.shard_batch(batch, mesh))
        bar.update()
        is_last = step == train_config.num_steps
        save = step % train_config.checkpoint_every == 0 or is_last
        if step % train_config.log_every == 0 or save:
          metrics = jax.device_get(metrics)
          # Checked before any save: a NaN step never reaches a checkpoint.
          metric_writers.check_finite(metrics, step, last_checkpoint)
          writer.write_scalars(
              step,
              {
                  **{f"train/{k}": v for k, v in metrics.items()},
                  "train/steps_per_second": timer.rate(step),
              },
          )
          bar.set_postfix(loss=f"{float(metrics['loss']):.4g}")
        if save:
          checkpoints.save(
              manager, step, state, {**_metadata(config), "step": step}
          )
          last_checkpoint = step
        if train_config.eval_every and (
            step % train_config.eval_every == 0 or is_last
        ):
          outputs = evaluation.run(
              config,
              state.params,
              eval_step,
              get_source(config.data.val_split),
              mesh,
              config.forward.num_coils,
              train_config.eval_batches,
              config.eval.batch_size,
          )
          summary = evaluation.summarize(outputs, config.eval.ci_level)
          writer.write_scalars(
              step,
              {
                  f"val/{name}": summary["model"]["slice"][name]["mean"]
                  for name in evaluation.METRICS
              },
          )
  finally:
    manager.wait_until_finished()
    manager.close()
    writer.close()
  if train_config.final_eval:
    _evaluate_state(
        config,
        workdir,
        state.params,
        eval_step,
        mesh,
        get_source(config.eval.split),
    )
  return state


def _evaluate_state(config, workdir, params, eval_step, mesh, source) -> dict:
  """Runs `eval.split`, writes the JSON summary and figure, returns it."""
  outputs = evaluation.run(
      config,
      params,
      eval_step,
      source,
      mesh,
      config.forward.num_coils,
      config.eval.num_batches,
      config.eval.batch_size,
  )
  summary = evaluation.summarize(outputs, config.eval.ci_level)
  name = f"{config.eval.split}_{config.model.name}"
  evaluation.write_report(
      summary, outputs, workdir / "eval", name, config.eval.num_figure_examples
  )
  return summary


def evaluate(
    config: ml_collections.ConfigDict,
    workdir: str,
    *,
    sources: dict | None = None,
) -> dict:
  """Evaluates the newest checkpoint in `workdir` on `eval.split`.

  Writes `<workdir>/eval/<split>_<model>_metrics.json` (per-slice and
  per-volume NMSE/PSNR/SSIM with mean and confidence interval, for the model
  and the zero-filled input) and the `<split>_<model>.png` figure.

  Returns:
    The summary dict (see `evaluation.summarize`).

  Raises:
    checkpoints.CheckpointError: no checkpoint, or one for another config.
    ValueError: bad k-space (coil count, shapes, NaN).
  """
  workdir = epath.Path(workdir)
  sources = dict(sources or {})
  mesh = parallel.create_mesh()
  model, _, _, init_fn = _setup(config)
  manager = checkpoints.create_manager(
      workdir / "checkpoints", config.train.max_to_keep, False
  )
  try:
    if manager.latest_step() is None:
      raise checkpoints.CheckpointError(
          f"No checkpoint in {workdir / 'checkpoints'}; run"
          " --mode=train_recon first or point --workdir at a training run."
      )
    state, step = _restore_or_init(config, workdir, init_fn, mesh, manager)
  finally:
    manager.close()
  source = sources.get(config.eval.split) or input_pipeline.get_source(
      config, config.eval.split
  )
  eval_step = jax.jit(evaluation.get_eval_step(model, config))
  summary = _evaluate_state(
      config, workdir, state.params, eval_step, mesh, source
  )
  writer = metric_writers.MetricWriter(workdir)
  writer.write_scalars(
      step,
      {
          f"{config.eval.split}/{name}": summary["model"]["volume"][name][
              "mean"
          ]
          for name in evaluation.METRICS
      },
  )
  writer.close()
  return summary
