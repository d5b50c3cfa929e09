"""Training of the conditional phase score model (--mode=train_phase).

The SBDM's own concerns only: its train step (`objective.get_train_step`:
denoising score matching, EMA) and its sampler; the batches, sample figures and the training call
are `score_phase.trainer`'s, shared with the GAN. The loop, checkpoints, resume,
logging and the NaN / preemption stops are `runtime.train_loop`'s.
"""

from collections.abc import Sequence

import ml_collections
from etils import epath

from runtime import train_loop
from score_phase import trainer as phase_trainer
from score_phase.sbdm import loading as sbdm_loading
from score_phase.sbdm import objective
from score_phase.sbdm import state as sbdm_state


def get_task(
    config: ml_collections.ConfigDict,
    workdir: str | epath.Path,
    train_source: Sequence[dict],
    val_source: Sequence[dict] | None,
) -> train_loop.Task:
  """The SBDM's pieces for `runtime.train_loop.train`."""
  return phase_trainer.get_task(
      config,
      workdir,
      train_source,
      val_source,
      name=sbdm_state.TRAIN_MODE,
      init_fn=sbdm_state.get_init_fn(config),
      train_step=objective.get_train_step(config),
      compatibility=sbdm_state.compatibility(config),
      get_sampler=lambda mesh: sbdm_loading.get_phase_sampler(config, mesh)[0],
      sampling_params=lambda state: state.ema_params,
  )


def train_and_evaluate(
    config: ml_collections.ConfigDict,
    workdir: str,
    *,
    train_source: Sequence[dict] | None = None,
    val_source: Sequence[dict] | None = None,
) -> sbdm_state.TrainState:
  """Trains the SBDM of a configs/phase_sbdm.py config in `workdir`, resuming
  from its checkpoints (`phase_trainer.train_and_evaluate`)."""
  return phase_trainer.train_and_evaluate(
      get_task,
      config,
      workdir,
      train_source=train_source,
      val_source=val_source,
  )
