"""Training of the pix2pix GAN baseline (--mode=train_gan).

The GAN's own concerns only: its train step (`gan.model`) and its sampler;
the batches, sample figures and the training call are `score_phase.trainer`'s,
shared with the SBDM. The loop, checkpoints, resume, logging and the NaN /
preemption stops are `runtime.train_loop`'s. A trained run is a
phase source: `lookup.get_phase_fn("gan", workdir=...)`.
"""

from collections.abc import Sequence

import ml_collections
from etils import epath

from runtime import optimizers
from runtime import train_loop
from score_phase import trainer as phase_trainer
from score_phase.gan import loading as gan_loading
from score_phase.gan import model as gan_model


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


def get_task(
    config: ml_collections.ConfigDict,
    workdir: str | epath.Path,
    train_source: Sequence[dict],
    val_source: Sequence[dict] | None,
) -> train_loop.Task:
  """The GAN's pieces for `runtime.train_loop.train`."""
  return phase_trainer.get_task(
      config,
      workdir,
      train_source,
      val_source,
      name=gan_model.TRAIN_MODE,
      init_fn=gan_model.get_init_fn(config),
      train_step=get_train_step(config),
      compatibility=gan_model.compatibility(config),
      get_sampler=lambda mesh: gan_loading.get_gan_phase_sampler(config, mesh),
      sampling_params=lambda state: state.generator_params,
  )


def train_and_evaluate(
    config: ml_collections.ConfigDict,
    workdir: str,
    *,
    train_source: Sequence[dict] | None = None,
    val_source: Sequence[dict] | None = None,
) -> gan_model.GanState:
  """Trains the GAN of a configs/phase_gan.py config in `workdir`, resuming
  from its checkpoints (`phase_trainer.train_and_evaluate`)."""
  return phase_trainer.train_and_evaluate(
      get_task,
      config,
      workdir,
      train_source=train_source,
      val_source=val_source,
  )
