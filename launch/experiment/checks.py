"""What the experiment refuses before its first stage, and the data block
every sub-config (SBDM, GAN, recon) is given."""

import ml_collections

from kspace.common import config_errors
from launch.experiment import arms as arms_lib
from recon import losses as recon_losses
from recon import models as recon_models
from runtime import optimizers
from score_phase import evaluation as phase_evaluation
from score_phase.gan import model as gan_model
from score_phase.sbdm import loading as sbdm_loading
from score_phase.sbdm import networks


class ExperimentError(ValueError):
  """A config or a stage output the experiment cannot use (says the fix)."""


def check_config(config: ml_collections.ConfigDict) -> None:
  """Raises ExperimentError for unknown arms, too few seeds or samples,
  ConfigError for a misspelt network, loss or optimizer."""
  unknown = sorted(set(config.arms) - set(arms_lib.KNOWN_ARMS))
  if unknown:
    raise ExperimentError(
        f"Unknown arms {unknown} in config.arms; known:"
        f" {sorted(arms_lib.KNOWN_ARMS)}."
    )
  if len(config.arms) != len(set(config.arms)):
    raise ExperimentError(f"config.arms lists an arm twice: {config.arms}.")
  unknown = sorted(set(config.phase_kwargs) - set(arms_lib.KNOWN_ARMS))
  if unknown:
    raise ExperimentError(
        f"config.phase_kwargs names {unknown}, not arms; known:"
        f" {sorted(arms_lib.KNOWN_ARMS)} (phase_kwargs.sbdm also serves"
        " sbdm_scan)."
    )
  sampler_kwargs = config.phase_kwargs.get("sbdm", {})
  try:
    sbdm_loading.resolve_sampling(
        config.sbdm.sampling,
        **{k: v for k, v in sampler_kwargs.items() if k != "use_ema"},
    )
  except ValueError as e:
    raise ExperimentError(f"config.phase_kwargs.sbdm: {e}") from None
  if config.num_phase_samples < 2:
    raise ExperimentError(
        f"num_phase_samples is {config.num_phase_samples}; K >= 2 phases per"
        " image, the same for every arm."
    )
  if not config.recon_seeds:
    raise ExperimentError("config.recon_seeds is empty.")
  if "oracle" in config.arms and config.data.name != "synthetic_mri":
    raise ExperimentError(
        "The oracle arm rescans synthetic anatomy; drop it from config.arms"
        f" for data.name={config.data.name!r}."
    )
  if config.variant == "registry" and not config.registry.manual_dir:
    raise ExperimentError(
        "The registry variant trains on your images: pass"
        " --config.registry.manual_dir=<folder of DICOM / NIfTI / PNG files>."
    )
  for arm in config.arms:
    if arms_lib.told_header(arm) and not config.get(
        f"{arms_lib.phase_model(arm)}_workdir"
    ):
      check_told_header(arm, "config." + arms_lib.phase_model(arm), config)
  oracles = phase_evaluation.ORACLES
  unknown = sorted(set(config.eval.phase_references) - set(oracles))
  if unknown:
    raise ExperimentError(
        f"Unknown eval.phase_references {unknown}; known: {sorted(oracles)}."
    )
  if config.eval.phase_references and config.data.name != "synthetic_mri":
    raise ExperimentError(
        "eval.phase_references rescan synthetic anatomy; set it to () for"
        f" data.name={config.data.name!r}."
    )
  if "oracle" in config.arms and config.registry.manual_dir:
    raise ExperimentError(
        "The oracle arm rescans synthetic anatomy, which a registry does not"
        " have; drop it from config.arms."
    )
  _check_choices(config)


def check_told_header(arm: str, where: str, config) -> None:
  """A header-aware arm needs a scan-conditioned phase model: `config` is
  the experiment's (its sub-config of the model) or the named run's."""
  model = arms_lib.phase_model(arm)
  block = config[model] if model in config else config
  if not block.model.get("scan_conditioning", False):
    raise ExperimentError(
        f"The {arm} arm tells its phase model each record's header, but the"
        f" {model} model of {where} was not trained with scan inputs. Fix:"
        " train it with model.scan_conditioning=True (e.g."
        " configs/phase_sbdm.py:cpu64), or drop the arm from config.arms."
    )


def _check_choices(config: ml_collections.ConfigDict) -> None:
  """Builds what the stages' configs name (networks, losses, optimizers):
  a misspelt choice (config_errors.ConfigError) fails before the first
  stage, not hours into the run."""
  recon_models.get_model(config.recon.model, num_low_frequencies=0)
  recon_losses.get_loss_fn(config.recon.loss.name)
  networks.get_model(config.sbdm.model)
  config_errors.check_choice(
      "gan.loss.gan", config.gan.loss.gan, gan_model.GAN_LOSSES
  )
  for block in (config.recon, config.sbdm, config.gan):
    optimizers.create_optimizer(block.optim)


def with_data(
    sub: ml_collections.ConfigDict, config
) -> ml_collections.ConfigDict:
  """A copy of a sub-config whose dataset fields are the experiment's."""
  sub = ml_collections.ConfigDict(sub.to_dict())
  for key, value in config.data.items():
    sub.data[key] = value
  return sub


def same_data(data, other) -> bool:
  """Whether two data blocks draw their train splits from the same
  anatomies: the same synthetic seed, or the same user folder."""
  if data.name != other.get("name"):
    return False
  if data.name == "synthetic_mri":
    return data.seed == other.get("seed")
  return data.manual_dir == other.get("manual_dir")


def check_no_leak(config, arm, run_dir, run_config) -> None:
  """A phase model trained elsewhere must not have seen recon_train: its
  samples would carry those images' true phase into its arm."""
  if same_data(config.data, run_config.get("data", {})):
    raise ExperimentError(
        f"The {arm} run in {run_dir} trained on the train split of"
        f" {config.data.name} (seed {config.data.seed}), which also holds"
        " this experiment's recon_train images: its phases would leak their"
        " ground truth into the arm. Fix: run the experiment on other"
        f" anatomies (--config.data.seed={config.data.seed + 1}), or leave"
        f" --config.{arm}_workdir empty to train it on phase_train here."
    )
