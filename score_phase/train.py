"""Training and evaluation of the conditional phase score model.

`launch/main.py` calls `train_and_evaluate(config, workdir)` (mode
train_phase) and `sample_and_evaluate(config, workdir)` (mode sample_phase).
The train step and the samplers are jitted over a 1-D `data` mesh: the batch
is sharded, the state replicated; the algorithm code never names the axis.

Resume is exact: the state holds the step and the base PRNG key, step keys
are fold_in(base, step), and the data order is a pure function of (seed,
step) (`kspace.datasets.batches(start_step=step)`).
"""

import dataclasses
import functools
import json
import logging
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from etils import epath

from launch import checkpoints
from launch import metric_writers
from launch import parallel
from score_phase import figures
from score_phase import input_pipeline
from score_phase import losses
from score_phase import metrics as metrics_lib
from score_phase import phase_sources
from score_phase import representation
from score_phase import sampling
from score_phase import sde as sde_lib
from score_phase.models import utils as model_utils

CHECKPOINT_DIR = "checkpoints"
FIGURE_DIR = "figures"
# Config blocks a checkpoint must agree with to be reused.
_COMPATIBLE_BLOCKS = ("model", "sde")
# Figures during training sample with key(seed + this), a stream separate
# from the training keys fold_in(key(seed'), step).
_FIGURE_SEED_OFFSET = 1


@dataclasses.dataclass(frozen=True)
class Components:
  """The static pieces built from a config (no arrays)."""

  sde: sde_lib.SDE
  model: object
  optimizer: object
  schedule: Callable
  image_size: int


def build(config: ml_collections.ConfigDict) -> Components:
  optimizer, schedule = losses.get_optimizer(config.optim)
  return Components(
      sde=sde_lib.get_sde(config.sde),
      model=model_utils.get_model(config.model),
      optimizer=optimizer,
      schedule=schedule,
      image_size=config.data.image_size,
  )


def _init_fn(components: Components):
  def init(rng):
    return losses.create_train_state(
        components.model, components.optimizer, rng, components.image_size
    )

  return init


def abstract_train_state(config, mesh) -> losses.TrainState:
  """Shapes, dtypes and (replicated) shardings of the train state."""
  components = build(config)
  shapes = jax.eval_shape(_init_fn(components), jax.random.key(0))
  sharding = parallel.replicated(mesh)
  return jax.tree.map(
      lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sharding),
      shapes,
  )


def _metadata(config, step: int) -> dict:
  return {"step": int(step), "config": json.loads(config.to_json())}


def _check_compatible(config, metadata: dict, directory) -> None:
  saved = metadata.get("config", {})
  problems = []
  for block in _COMPATIBLE_BLOCKS:
    current = json.loads(config[block].to_json())
    if saved.get(block) != current:
      problems.append(
          f"{block}: checkpoint {saved.get(block)} vs config {current}"
      )
  saved_size = saved.get("data", {}).get("image_size")
  if saved_size != config.data.image_size:
    problems.append(
        f"image_size: checkpoint {saved_size} vs config"
        f" {config.data.image_size}"
    )
  if problems:
    raise checkpoints.CheckpointError(
        f"The checkpoint in {directory} was trained with another config:\n  "
        + "\n  ".join(problems)
        + "\nUse the same config (or a fresh --workdir)."
    )


def restore_checkpoint(config, workdir, mesh):
  """(step, state, metadata) of the newest compatible checkpoint.

  Raises:
    CheckpointError: no checkpoint in `workdir`, or none compatible.
  """
  directory = epath.Path(workdir) / CHECKPOINT_DIR
  if not directory.exists():
    raise checkpoints.CheckpointError(
        f"No checkpoint directory {directory}; train first (--mode=train_phase"
        " with this --workdir)."
    )
  manager = checkpoints.create_manager(directory, async_save=False)
  try:
    restored = checkpoints.restore_latest(
        manager, abstract_train_state(config, mesh)
    )
  finally:
    manager.close()
  if restored is None:
    raise checkpoints.CheckpointError(
        f"No checkpoint in {directory}; train first (--mode=train_phase)."
    )
  _check_compatible(config, restored[2], directory)
  return restored


def _to_json(config) -> str:
  return config.to_json(sort_keys=True)


# Training fields the jitted train step depends on (others, like num_steps
# or log_every, must not cause a recompilation).
_STEP_TRAINING_FIELDS = (
    "eps",
    "likelihood_weighting",
    "magnitude_threshold",
    "background_weight",
    "ema_rate",
    "ema_warmup",
)


def _step_json(config) -> str:
  """The parts of the config the compiled init / train step depend on."""
  return _to_json(
      ml_collections.ConfigDict({
          "sde": config.sde,
          "model": config.model,
          "optim": config.optim,
          "data": {"image_size": config.data.image_size},
          "training": {k: config.training[k] for k in _STEP_TRAINING_FIELDS},
      })
  )


def _from_json(config_json: str) -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(json.loads(config_json))


# The jitted functions are cached per (config, mesh), so repeated calls in
# one process (tests, in-process sweeps, resume) do not recompile.
@functools.lru_cache(maxsize=8)
def _get_init(config_json: str, mesh):
  components = build(_from_json(config_json))
  return jax.jit(_init_fn(components), out_shardings=parallel.replicated(mesh))


@functools.lru_cache(maxsize=8)
def _get_train_step(config_json: str, mesh):
  """The jitted train step: state replicated, batch sharded, state donated."""
  config = _from_json(config_json)
  components = build(config)
  training = config.training
  loss_fn = losses.get_loss_fn(
      components.sde,
      components.model,
      eps=training.eps,
      likelihood_weighting=training.likelihood_weighting,
      magnitude_threshold=training.magnitude_threshold,
      background_weight=training.background_weight,
      train=True,
  )
  repl = parallel.replicated(mesh)
  return jax.jit(
      losses.get_train_step(
          loss_fn,
          components.optimizer,
          components.schedule,
          training.ema_rate,
          training.ema_warmup,
      ),
      in_shardings=(repl, parallel.batch_sharding(mesh), repl),
      out_shardings=(repl, repl),
      donate_argnums=0,
  )


def get_phase_sampler(config, mesh, sampling_config=None):
  """A jitted phase sampler and its score evaluations per sample.

  Args:
    config: the phase_sbdm config (model, sde, sampling blocks).
    mesh: the data mesh.
    sampling_config: a `sampling` block overriding config.sampling.

  Returns:
    (sample_phase(rng, params, magnitude (B,H,W)) -> (B,H,W) float32 in
    (-pi, pi], with B a multiple of the device count; nfe).
  """
  return _get_phase_sampler(
      _step_json(config), _to_json(sampling_config or config.sampling), mesh
  )


@functools.lru_cache(maxsize=16)
def _get_phase_sampler(config_json: str, sampling_json: str, mesh):
  config = _from_json(config_json)
  sampling_config = _from_json(sampling_json)
  components = build(config)
  score_fn = model_utils.get_score_fn(components.sde, components.model)
  sample_fn, nfe = sampling.get_sampler(
      sampling_config, components.sde, score_fn
  )

  def sample_phase(rng, params, magnitude):
    return representation.phasor_to_phase(sample_fn(rng, params, magnitude))

  batch = parallel.batch_sharding(mesh)
  repl = parallel.replicated(mesh)
  return (
      jax.jit(
          sample_phase, in_shardings=(repl, repl, batch), out_shardings=batch
      ),
      nfe,
  )


def sample_phases(sample_phase, rng, params, magnitude, num_samples, mesh):
  """`num_samples` phases per image: (B,H,W) host array -> (K,B,H,W) numpy.

  The K copies run as one batch, padded to a multiple of the device count.
  """
  batch = magnitude.shape[0]
  tiled = np.concatenate([magnitude] * num_samples, axis=0)
  pad = -tiled.shape[0] % jax.device_count()
  if pad:
    tiled = np.concatenate([tiled, tiled[:pad]], axis=0)
  phases = sample_phase(rng, params, parallel.shard_batch(tiled, mesh))
  phases = np.asarray(jax.device_get(phases))[: batch * num_samples]
  return phases.reshape((num_samples, batch) + magnitude.shape[1:])


def _write_figure(writer, workdir, step, magnitude, phase, samples, name):
  spread = np.asarray(metrics_lib.circular_std(jnp.asarray(samples)))
  image = figures.sample_figure(magnitude, phase, samples, spread)
  directory = epath.Path(workdir) / FIGURE_DIR
  directory.mkdir(parents=True, exist_ok=True)
  path = directory / f"{name}_{step:07d}.png"
  figures.save_png(image, str(path))
  writer.write_image(step, name, image)
  return path


def train_and_evaluate(
    config: ml_collections.ConfigDict,
    workdir: str,
    *,
    train_source: Sequence[dict] | None = None,
    val_source: Sequence[dict] | None = None,
) -> losses.TrainState:
  """Trains (resuming from `workdir` if it has checkpoints).

  Args:
    config: configs/phase_sbdm.py.
    workdir: checkpoints, metrics.jsonl, tensorboard/ and figures/ go here.
    train_source, val_source: optional record sources (default: the
      config's dataset splits).

  Returns:
    The final train state.

  Raises:
    NonFiniteLossError: the loss became NaN/inf (the last good checkpoint is
      kept).
    CheckpointError: the checkpoints in workdir do not fit the config.
  """
  workdir = epath.Path(workdir)
  mesh = parallel.create_mesh()
  per_process_batch = parallel.check_batch_size(config.training.batch_size)
  components = build(config)
  training = config.training
  if train_source is None:
    train_source = input_pipeline.get_source(config.data, "train")
  if val_source is None and training.figure_examples > 0:
    val_source = input_pipeline.get_source(config.data, config.data.val_split)

  repl = parallel.replicated(mesh)
  manager = checkpoints.create_manager(
      workdir / CHECKPOINT_DIR,
      training.keep_checkpoints,
      training.async_checkpoints,
  )
  writer = metric_writers.MetricWriter(workdir)
  try:
    restored = checkpoints.restore_latest(
        manager, abstract_train_state(config, mesh)
    )
    if restored is None:
      state = _get_init(_step_json(config), mesh)(jax.random.key(config.seed))
      last_checkpoint = None
    else:
      _, state, metadata = restored
      _check_compatible(config, metadata, manager.directory)
      last_checkpoint = int(state.step)
      logging.info("Resuming from step %d.", last_checkpoint)

    train_step = _get_train_step(_step_json(config), mesh)
    figure_fn = None
    if training.figure_examples > 0:
      figure_fn, _ = get_phase_sampler(config, mesh)
      figure_batch = next(
          input_pipeline.eval_batches(
              val_source, training.figure_examples, training.figure_examples
          )
      )

    start_step = int(state.step)
    base_key = jax.random.wrap_key_data(jax.device_get(state.rng))
    batches = input_pipeline.train_batches(
        train_source,
        per_process_batch,
        seed=config.seed,
        start_step=start_step,
    )
    pending = []
    timer = metric_writers.StepTimer(start_step)
    bar = metric_writers.progress_bar(
        training.num_steps, start_step, "train_phase"
    )
    for step in range(start_step, training.num_steps):
      batch = input_pipeline.check_batch(next(batches), components.image_size)
      state, step_metrics = train_step(
          state,
          parallel.shard_batch(batch, mesh),
          jax.random.fold_in(base_key, step),
      )
      pending.append(step_metrics)
      done = step + 1
      is_checkpoint = (
          done % training.checkpoint_every == 0 or done == training.num_steps
      )
      if done % training.log_every == 0 or is_checkpoint:
        values = jax.device_get(pending)
        pending = []
        summary = {
            key: float(np.mean([v[key] for v in values])) for key in values[0]
        }
        metric_writers.check_finite(summary, done, last_checkpoint)
        summary["steps_per_sec"] = timer.rate(done)
        writer.write_scalars(done, summary)
        bar.set_postfix(loss=f"{summary['loss']:.4f}")
      if is_checkpoint:
        checkpoints.save(manager, done, state, _metadata(config, done))
        last_checkpoint = done
      if figure_fn is not None and (
          done == training.num_steps
          or (training.figure_every and done % training.figure_every == 0)
      ):
        samples = sample_phases(
            figure_fn,
            jax.random.key(config.seed + _FIGURE_SEED_OFFSET),
            state.ema_params,
            figure_batch["magnitude"],
            training.figure_samples,
            mesh,
        )
        _write_figure(
            writer,
            workdir,
            done,
            figure_batch["magnitude"],
            figure_batch["phase"],
            samples,
            "train_samples",
        )
      bar.update(1)
    bar.close()
  finally:
    manager.wait_until_finished()
    manager.close()
    writer.close()
  return state


def evaluate(
    config: ml_collections.ConfigDict,
    params,
    source: Sequence[dict],
    mesh,
    sampling_config=None,
):
  """Samples phases for the validation images and scores them.

  Returns:
    (metrics: dict name -> float, averaged over images, including
    `baseline/<name>/...` for the naive guesses and `nfe`;
    figure data: (magnitude, phase, samples) of the first batch).
  """
  evaluation = config.eval
  sample_phase, nfe = get_phase_sampler(config, mesh, sampling_config)
  score = _get_metrics_fn(
      evaluation.background_threshold, evaluation.center_fraction
  )
  baseline_fns = {
      name: jax.jit(phase_sources.get_phase_fn(name))
      for name in evaluation.baselines
  }
  totals, count, first = {}, 0, None
  rng = jax.random.key(config.seed)
  for index, batch in enumerate(
      input_pipeline.eval_batches(
          source, evaluation.batch_size, evaluation.num_examples
      )
  ):
    magnitude = input_pipeline.check_magnitude(
        batch["magnitude"], config.data.image_size
    )
    phase = np.asarray(batch["phase"], np.float32)
    batch_rng = jax.random.fold_in(rng, index)
    samples = sample_phases(
        sample_phase,
        batch_rng,
        params,
        magnitude,
        evaluation.num_samples,
        mesh,
    )
    results = {"sbdm": score(samples, phase, magnitude)}
    for name, phase_fn in baseline_fns.items():
      guesses = jnp.stack([
          phase_fn(jax.random.fold_in(batch_rng, k), magnitude)
          for k in range(evaluation.num_samples)
      ])
      results[f"baseline/{name}"] = score(guesses, phase, magnitude)
    for prefix, values in results.items():
      for key, value in values.items():
        name = key if prefix == "sbdm" else f"{prefix}/{key}"
        totals[name] = totals.get(name, 0.0) + float(np.sum(value))
    count += magnitude.shape[0]
    if first is None:
      first = (magnitude, phase, samples)
  summary = {key: value / count for key, value in totals.items()}
  summary["nfe"] = nfe
  summary["num_images"] = count
  return summary, first


@functools.lru_cache(maxsize=4)
def _get_metrics_fn(background_threshold: float, center_fraction: float):
  """Jitted metrics(samples, phase, magnitude) with the eval constants."""
  return jax.jit(
      functools.partial(
          metrics_lib.phase_metrics,
          background_threshold=background_threshold,
          center_fraction=center_fraction,
      )
  )


def sample_and_evaluate(
    config: ml_collections.ConfigDict,
    workdir: str,
    *,
    val_source: Sequence[dict] | None = None,
) -> dict:
  """Loads the newest checkpoint, samples the validation split, scores it.

  Writes `<workdir>/sample_metrics_<sampler>.json` and a figure
  `figures/val_samples_<sampler>_<step>.png`.

  Returns:
    The metrics dict (see `evaluate`), plus `step`.

  Raises:
    CheckpointError: missing or incompatible checkpoint.
  """
  workdir = epath.Path(workdir)
  mesh = parallel.create_mesh()
  step, state, _ = restore_checkpoint(config, workdir, mesh)
  if val_source is None:
    val_source = input_pipeline.get_source(config.data, config.data.val_split)
  params = state.ema_params if config.eval.use_ema else state.params
  summary, (magnitude, phase, samples) = evaluate(
      config, params, val_source, mesh
  )
  summary["step"] = step
  tag = f"{config.sampling.name}{config.sampling.num_steps}"
  (workdir / f"sample_metrics_{tag}.json").write_text(
      json.dumps(summary, indent=2, sort_keys=True)
  )
  writer = metric_writers.MetricWriter(workdir)
  try:
    writer.write_scalars(step, {f"val/{k}": v for k, v in summary.items()})
    shown = min(config.training.figure_examples, magnitude.shape[0])
    _write_figure(
        writer,
        workdir,
        step,
        magnitude[:shown],
        phase[:shown],
        samples[: config.training.figure_samples, :shown],
        f"val_samples_{tag}",
    )
  finally:
    writer.close()
  return summary
