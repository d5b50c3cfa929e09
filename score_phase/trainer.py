"""What every phase-model trainer (the SBDM's `train`, the GAN's `gan`)
shares: its batches, its sample-figure hook and its `runtime.train_loop`
Task. A trainer supplies only its name, state, step and sampler.
"""

from collections.abc import Callable, Sequence

import jax
import ml_collections
from etils import epath

from runtime import parallel
from runtime import train_loop
from score_phase import evaluation
from score_phase import batch_checks
from score_phase import input_pipeline
from score_phase import loading

# Figures during training sample with key(seed + this), a stream separate
# from the training keys fold_in(key(seed'), step).
_FIGURE_SEED_OFFSET = 1


def figure_hook(
    config: ml_collections.ConfigDict,
    workdir: str | epath.Path,
    val_source: Sequence[dict],
    get_sampler: Callable,
    sampling_params: Callable,
) -> train_loop.Hook:
  """Samples a few validation images every `train.eval_every` steps.

  Args:
    config: the trainer's config (`eval.figure_examples`, `figure_samples`).
    workdir: figures go to workdir/figures.
    val_source: validation records.
    get_sampler: mesh -> jitted `sample_phase(rng, params, magnitude)`.
    sampling_params: state -> the parameters to sample with.
  """
  evaluation_config = config.eval
  # The same checks (and magnitude normalisation) as the training batches.
  figure_batch = batch_checks.check_batch(
      next(
          input_pipeline.eval_batches(
              val_source,
              evaluation_config.figure_examples,
              evaluation_config.figure_examples,
          )
      ),
      config.data.image_size,
  )

  def write(state, step, writer):
    mesh = parallel.create_mesh()
    samples = loading.sample_phases(
        get_sampler(mesh),
        jax.random.key(config.seed + _FIGURE_SEED_OFFSET),
        sampling_params(state),
        figure_batch["magnitude"],
        evaluation_config.figure_samples,
        mesh,
    )
    evaluation.write_figure(
        writer,
        workdir,
        step,
        figure_batch["magnitude"],
        figure_batch["phase"],
        samples,
        "train_samples",
    )

  return train_loop.Hook(config.train.eval_every, write)


def get_task(
    config: ml_collections.ConfigDict,
    workdir: str | epath.Path,
    train_source: Sequence[dict],
    val_source: Sequence[dict] | None,
    *,
    name: str,
    init_fn: Callable,
    train_step: Callable,
    compatibility: dict,
    get_sampler: Callable,
    sampling_params: Callable,
) -> train_loop.Task:
  """A phase model's `runtime.train_loop.Task`: shuffled magnitude/phase
  batches, the shared checks, config metadata and the figure hook."""
  image_size = config.data.image_size
  hooks = ()
  if config.eval.figure_examples > 0:
    hooks = (
        figure_hook(config, workdir, val_source, get_sampler, sampling_params),
    )
  return train_loop.Task(
      name=name,
      init_fn=init_fn,
      train_step=train_step,
      batches=lambda start, size: input_pipeline.train_batches(
          train_source, size, seed=config.seed, start_step=start
      ),
      check_batch=lambda batch: batch_checks.check_batch(
          batch,
          image_size,
          scan=config.get("model", {}).get("scan_conditioning", False),
      ),
      compatibility=compatibility,
      metadata={"config": train_loop.as_json(config)},
      hooks=hooks,
  )


def sources(
    config: ml_collections.ConfigDict,
    train_source: Sequence[dict] | None,
    val_source: Sequence[dict] | None,
) -> tuple[Sequence[dict], Sequence[dict] | None]:
  """The given sources, or the config's dataset splits for those missing
  (validation only when figures are drawn)."""
  if train_source is None:
    train_source = input_pipeline.get_source(config.data, "train")
  if val_source is None and config.eval.figure_examples > 0:
    val_source = input_pipeline.get_source(config.data, config.data.val_split)
  return train_source, val_source


def train_and_evaluate(
    get_task: Callable[..., train_loop.Task],
    config: ml_collections.ConfigDict,
    workdir: str,
    *,
    train_source: Sequence[dict] | None = None,
    val_source: Sequence[dict] | None = None,
):
  """Trains a phase model (resuming from `workdir` if it has checkpoints).

  Args:
    get_task: the model's `get_task(config, workdir, train_source,
      val_source) -> Task` (its name, state, step and sampler).
    config: the model's config (configs/phase_sbdm.py, configs/phase_gan.py).
    workdir: checkpoints, metrics.jsonl, tensorboard/ and figures/ go here.
    train_source, val_source: optional record sources (default: the
      config's dataset splits).

  Returns:
    The final train state.

  Raises:
    NonFiniteLossError: a loss became NaN/inf (the last good checkpoint is
      kept).
    CheckpointError: the checkpoints in workdir do not fit the config.
    Preempted: SIGTERM; the current step was saved.
  """
  train_source, val_source = sources(config, train_source, val_source)
  task = get_task(config, workdir, train_source, val_source)
  return train_loop.train(task, config.train, workdir, config.seed)
