"""Training of the conditional phase score model (--mode=train_phase).

The SBDM's own concerns only: its train step (denoising score matching,
EMA), its batches and its sample figures. The loop, checkpoints, resume,
logging and the NaN / preemption stops are `runtime.train_loop`'s.
"""

from collections.abc import Sequence

import jax
import ml_collections
from etils import epath

from runtime import optimizers
from runtime import parallel
from runtime import train_loop
from score_phase import evaluation
from score_phase import inference
from score_phase import input_pipeline
from score_phase import losses
from score_phase import sde as sde_lib
from score_phase.models import utils as model_utils

# Figures during training sample with key(seed + this), a stream separate
# from the training keys fold_in(key(seed'), step).
_FIGURE_SEED_OFFSET = 1


@train_loop.cached_by_config("model", "sde", "optim", "loss", "ema")
def get_train_step(config: ml_collections.ConfigDict):
  """Pure `train_step(state, batch, key) -> (state, metrics)` (DSM + EMA)."""
  sde = sde_lib.get_sde(config.sde)
  optimizer, schedule = optimizers.create_optimizer(config.optim)
  loss_fn = losses.get_loss_fn(
      sde,
      model_utils.get_model(config.model),
      eps=config.loss.eps,
      likelihood_weighting=config.loss.likelihood_weighting,
      magnitude_threshold=config.loss.magnitude_threshold,
      background_weight=config.loss.background_weight,
      train=True,
  )
  return losses.get_train_step(
      loss_fn, optimizer, schedule, config.ema.rate, config.ema.warmup
  )


def _figure_hook(config, workdir, val_source) -> train_loop.Hook:
  """Samples a few validation images with the EMA parameters."""
  evaluation_config = config.eval
  figure_batch = next(
      input_pipeline.eval_batches(
          val_source,
          evaluation_config.figure_examples,
          evaluation_config.figure_examples,
      )
  )

  def write(state, step, writer):
    mesh = parallel.create_mesh()
    sample_phase, _ = inference.get_phase_sampler(config, mesh)
    samples = inference.sample_phases(
        sample_phase,
        jax.random.key(config.seed + _FIGURE_SEED_OFFSET),
        state.ema_params,
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
) -> train_loop.Task:
  """The SBDM's pieces for `runtime.train_loop.train`."""
  image_size = config.data.image_size
  hooks = ()
  if config.eval.figure_examples > 0:
    hooks = (_figure_hook(config, workdir, val_source),)
  return train_loop.Task(
      name="train_phase",
      init_fn=inference.get_init_fn(config),
      train_step=get_train_step(config),
      batches=lambda start, size: input_pipeline.train_batches(
          train_source, size, seed=config.seed, start_step=start
      ),
      check_batch=lambda batch: input_pipeline.check_batch(batch, image_size),
      compatibility=inference.compatibility(config),
      metadata={"config": train_loop.as_json(config)},
      hooks=hooks,
  )


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
    Preempted: SIGTERM; the current step was saved.
  """
  if train_source is None:
    train_source = input_pipeline.get_source(config.data, "train")
  if val_source is None and config.eval.figure_examples > 0:
    val_source = input_pipeline.get_source(config.data, config.data.val_split)
  task = get_task(config, workdir, train_source, val_source)
  return train_loop.train(task, config.train, workdir, config.seed)
