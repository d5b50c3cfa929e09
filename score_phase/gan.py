"""Training of the pix2pix GAN baseline (--mode=train_gan).

The GAN's own concerns only: its train step (`gan_model`), its batches (the
SBDM's) and its sample figures. The loop, checkpoints, resume, logging and
the NaN / preemption stops are `runtime.train_loop`'s. A trained run is a
phase source: `inference.get_phase_fn("gan", workdir=...)`.
"""

from collections.abc import Sequence

import jax
import ml_collections
from etils import epath

from runtime import optimizers
from runtime import parallel
from runtime import train_loop
from score_phase import evaluation
from score_phase import gan_model
from score_phase import inference
from score_phase import input_pipeline

# Figures during training sample with key(seed + this), a stream separate
# from the training keys fold_in(key(seed'), step).
_FIGURE_SEED_OFFSET = 1


@train_loop.cached_by_config("generator", "discriminator", "optim", "loss")
def get_train_step(config: ml_collections.ConfigDict):
  """Pure `train_step(state, batch, key) -> (state, metrics)` (see
  `gan_model.get_train_step`) for a phase_gan config."""
  optimizer, schedule = optimizers.create_optimizer(config.optim)
  return gan_model.get_train_step(
      gan_model.get_generator(config.generator),
      gan_model.get_discriminator(config.discriminator),
      optimizer,
      schedule,
      gan_loss=config.loss.gan,
      l1_weight=config.loss.l1_weight,
      magnitude_threshold=config.loss.magnitude_threshold,
      background_weight=config.loss.background_weight,
  )


def _figure_hook(config, workdir, val_source) -> train_loop.Hook:
  """Samples a few validation images with the generator."""
  evaluation_config = config.eval
  # The same checks (and magnitude preparation) as the training batches.
  figure_batch = input_pipeline.check_batch(
      next(
          input_pipeline.eval_batches(
              val_source,
              evaluation_config.figure_examples,
              evaluation_config.figure_examples,
          )
      ),
      config.data.image_size,
  )
  magnitude = figure_batch["magnitude"]

  def write(state, step, writer):
    mesh = parallel.create_mesh()
    samples = inference.sample_phases(
        inference.get_gan_phase_sampler(config, mesh),
        jax.random.key(config.seed + _FIGURE_SEED_OFFSET),
        state.generator_params,
        magnitude,
        evaluation_config.figure_samples,
        mesh,
    )
    evaluation.write_figure(
        writer,
        workdir,
        step,
        magnitude,
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
) -> train_loop.Task:
  """The GAN's pieces for `runtime.train_loop.train`."""
  image_size = config.data.image_size
  hooks = ()
  if config.eval.figure_examples > 0:
    hooks = (_figure_hook(config, workdir, val_source),)
  return train_loop.Task(
      name=gan_model.TRAIN_MODE,
      init_fn=gan_model.get_init_fn(config),
      train_step=get_train_step(config),
      batches=lambda start, size: input_pipeline.train_batches(
          train_source, size, seed=config.seed, start_step=start
      ),
      check_batch=lambda batch: input_pipeline.check_batch(batch, image_size),
      compatibility=gan_model.compatibility(config),
      metadata={"config": train_loop.as_json(config)},
      hooks=hooks,
  )


def train_and_evaluate(
    config: ml_collections.ConfigDict,
    workdir: str,
    *,
    train_source: Sequence[dict] | None = None,
    val_source: Sequence[dict] | None = None,
) -> gan_model.GanState:
  """Trains (resuming from `workdir` if it has checkpoints).

  Args:
    config: configs/phase_gan.py.
    workdir: checkpoints, metrics.jsonl, tensorboard/ and figures/ go here.
    train_source, val_source: optional record sources (default: the
      config's dataset splits).

  Returns:
    The final GAN state.

  Raises:
    NonFiniteLossError: a loss became NaN/inf (the last good checkpoint is
      kept).
    CheckpointError: the checkpoints in workdir do not fit the config.
    Preempted: SIGTERM; the current step was saved.
  """
  if train_source is None:
    train_source = input_pipeline.get_source(config.data, "train")
  if val_source is None and config.eval.figure_examples > 0:
    val_source = input_pipeline.get_source(config.data, config.data.val_split)
  task = get_task(config, workdir, train_source, val_source)
  return train_loop.train(task, config.train, workdir, config.seed)
