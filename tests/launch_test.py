"""Entry points: sweeps as data, and the main job on tiny synthetic data."""

import textwrap

import pytest

from launch import sweep


def test_sweep_turns_override_dicts_into_commands(tmp_path):
  config = tmp_path / "cfg.py"
  config.write_text(textwrap.dedent("""
      def get_config(arg=None):
        raise AssertionError("a sweep needs no config object")

      def sweep(arg):
        return [{"optim.lr": lr, "seed": arg} for lr in (1e-3, 1e-4)]
  """))
  commands = sweep.sweep_commands(f"{config}:7", "train_recon", "/w")
  assert len(commands) == 2
  assert commands[1][3:] == [
      "--mode=train_recon",
      f"--config={config}:7",
      "--workdir=/w/001_lr=0.0001_seed=7",
      "--config.optim.lr=0.0001",
      "--config.seed=7",
  ]


def test_config_without_sweep_is_rejected(tmp_path):
  config = tmp_path / "cfg.py"
  config.write_text("def get_config(arg=None):\n  return None\n")
  with pytest.raises(ValueError, match="no sweep"):
    sweep.load_sweep(str(config))
