"""Training of the conditional phase score model (--mode=train_phase).

The SBDM's own concerns only: its train step (denoising score matching,
EMA) and its sampler; the batches, sample figures and the training call
are `score_phase.trainer`'s, shared with the GAN. The loop, checkpoints, resume,
logging and the NaN / preemption stops are `runtime.train_loop`'s.
"""

from collections.abc import Sequence

import ml_collections
from etils import epath

from runtime import optimizers
from runtime import train_loop
from score_phase import trainer as phase_trainer
from score_phase.sbdm import loading as sbdm_loading
from score_phase.sbdm import networks
from score_phase.sbdm import objective
from score_phase.sbdm import sde as sde_lib
from score_phase.sbdm import state as sbdm_state


@train_loop.cached_by_config("model", "sde", "optim", "loss", "ema")
def get_train_step(config: ml_collections.ConfigDict):
  """Pure `train_step(state, batch, key) -> (state, metrics)` (DSM + EMA)."""
  sde = sde_lib.get_sde(config.sde)
  optimizer, schedule = optimizers.create_optimizer(config.optim)
  loss = config.loss
  if loss.crop_size and config.model.attn_resolutions:
    # Attention sits at feature-map *sizes*, which differ between crops and
    # whole images: the two would be different networks.
    raise ValueError(
        f"loss.crop_size={loss.crop_size} needs model.attn_resolutions=()"
        " (the middle block's attention stays): set"
        " --config.model.attn_resolutions='()' or loss.crop_size=0."
    )
  loss_fn = objective.get_loss_fn(
      sde,
      networks.get_model_score_fn(sde, config.model, train=True),
      eps=loss.eps,
      weighting=loss.weighting,
      magnitude_threshold=loss.magnitude_threshold,
      background_weight=loss.background_weight,
      noise_sampling=loss.noise_sampling,
      p_mean=loss.p_mean,
      p_std=loss.p_std,
      sigma_data=config.model.sigma_data,
      crop_size=loss.crop_size,
      scan_dropout=(loss.scan_field_dropout, loss.scan_all_dropout),
  )
  return sbdm_state.get_train_step(
      loss_fn, optimizer, schedule, config.ema.rate, config.ema.warmup
  )


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
      train_step=get_train_step(config),
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
