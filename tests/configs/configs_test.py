"""configs/: every variant builds from its table, a misspelt table entry or
override is refused, the experiment's sub-configs leave the dataset to it."""

# pylint: disable=protected-access  (the variants tables)

import pathlib

import ml_collections
import pytest
from absl import flags
from ml_collections import config_flags

from configs import base
from configs import experiment as experiment_config
from configs import phase_gan
from configs import phase_sbdm
from configs import recon as recon_config

MODULES = {
    "phase_sbdm": phase_sbdm,
    "phase_gan": phase_gan,
    "recon": recon_config,
    "experiment": experiment_config,
}
EXPERIMENT_FILE = (
    pathlib.Path(__file__).resolve().parents[2] / "configs" / "experiment.py"
)


def _all_variants():
  return [
      (name, variant)
      for name, module in MODULES.items()
      for variant in module._VARIANTS
  ]


@pytest.mark.parametrize("name,variant", _all_variants())
def test_every_variant_builds_from_fields_the_base_config_has(name, variant):
  # base.override refuses a table field the base config lacks, so a
  # variant that builds names only existing fields.
  config = MODULES[name].get_config(variant)
  assert isinstance(config, ml_collections.ConfigDict)
  if "variant" in config:
    assert config.variant == variant


def test_arg_forms_of_the_docstrings():
  assert phase_sbdm.get_config("cpu32,steps=7").train.num_steps == 7
  assert phase_sbdm.get_config("variant=tiny,steps=5").model.nf == 8
  assert phase_gan.get_config("demo,steps=7").train.num_steps == 7
  assert phase_gan.get_config(None).variant == "synthetic128"
  assert recon_config.get_config("tiny,model=unet").model.name == "unet"
  assert recon_config.get_config("tiny,model=varnet").model.name == "varnet"
  assert recon_config.get_config(None).model.name == "varnet"
  assert experiment_config.get_config(None).variant == "demo"
  assert len(recon_config.sweep(None)) == 4
  for module in MODULES.values():
    with pytest.raises(ValueError, match="Unknown variant 'huge'"):
      module.get_config("huge")


def test_gan_max_features_follows_features():
  for variant in phase_gan._VARIANTS:
    generator = phase_gan.get_config(variant).generator
    assert generator.max_features == 8 * generator.features


@pytest.mark.parametrize("name", list(MODULES))
def test_a_misspelt_table_entry_fails_at_get_config(name, monkeypatch):
  module = MODULES[name]
  row = next(iter(module._VARIANTS.values()))
  typo = {**row, "eval.num_exampels": 3}
  monkeypatch.setitem(module._VARIANTS, "typo", typo)
  with pytest.raises(ValueError, match="typo: unknown config field 'eval.num_"):
    module.get_config("typo")


def test_override_names_the_bad_field():
  config = ml_collections.ConfigDict({"model": {"nf": 8, "name": "x"}})
  with pytest.raises(ValueError, match="'model.nff'.*model has no 'nff'"):
    base.override(config, {"model.nff": 3}, "f.py:v")
  with pytest.raises(ValueError, match="'modle.nf'.*the config has no"):
    base.override(config, {"modle.nf": 3}, "f.py:v")
  with pytest.raises(ValueError, match="model.nf is a value"):
    base.override(config, {"model.nf.x": 3}, "f.py:v")
  with pytest.raises(ValueError, match="f.py:v: bad value for 'model.nf'"):
    base.override(config, {"model.nf": "wide"}, "f.py:v")
  base.override(config, {"model.nf": 16}, "f.py:v")
  assert config.model.nf == 16


@pytest.mark.parametrize("variant", list(experiment_config._VARIANTS))
def test_experiment_sub_configs_hold_none_of_its_data_fields(variant):
  config = experiment_config.get_config(variant)
  owned = set(config.data.keys())
  for sub in ("sbdm", "gan", "recon"):
    assert not owned & set(config[sub].data.keys()), sub
  # Set per arm by launch.experiment.stages.recon_config; volume_field is read
  # from the recon sub-config by the data stage.
  assert not {"val_split", "phase_source", "phase_field"} & set(
      config.recon.data.keys()
  )
  assert config.recon.data.volume_field == "volume_id"
  assert config.sbdm.data.val_split == config.gan.data.val_split


def _parse(*overrides):
  argv = ["prog", f"--config={EXPERIMENT_FILE}:quicktest", *overrides]
  flag_values = flags.FlagValues()
  holder = config_flags.DEFINE_config_file(
      "config", flag_values=flag_values, lock_config=True, sys_argv=argv
  )
  flag_values(argv)
  return holder.value


def test_command_line_override_of_a_sub_config_data_field_is_refused():
  config = _parse(
      "--config.data.num_train=5", "--config.sbdm.train.num_steps=3"
  )
  assert config.data.num_train == 5 and config.sbdm.train.num_steps == 3
  with pytest.raises((AttributeError, KeyError), match="num_train"):
    _parse("--config.sbdm.data.num_train=5")
  with pytest.raises((AttributeError, KeyError), match="phase_source"):
    _parse("--config.recon.data.phase_source=gan")


def test_known_arms_keep_their_order_and_pre_synthesis_keys():
  arms = experiment_config.KNOWN_ARMS
  by_index = sorted(arms, key=lambda name: arms[name].rng_index)
  # The pre-synthesis PRNG index of every arm, as launch.experiment has
  # always folded it in (changing one changes that arm's phases).
  assert by_index == [
      "gaussian",
      "smooth_kspace_box",
      "smooth_polynomial",
      "uniform",
      "zero",
      "sbdm",
      "gan",
      "oracle",
      "ground_truth",
      "sbdm_scan",
  ]
  assert [arms[a].rng_index for a in by_index] == list(range(len(arms)))
  assert experiment_config.ARMS == (
      "zero",
      "smooth_polynomial",
      "smooth_kspace_box",
      "gan",
      "sbdm",
      "oracle",
      "ground_truth",
  )
  assert experiment_config.arms_of_kind("learned") == (
      "gan",
      "sbdm",
      "sbdm_scan",
  )
  assert experiment_config.arms_of_kind("record") == ("oracle", "ground_truth")
  kinds = {arm.kind for arm in arms.values()}
  assert kinds == {"baseline", "learned", "record"}
  for variant in experiment_config._VARIANTS:
    assert set(experiment_config.get_config(variant).arms) <= set(arms)
