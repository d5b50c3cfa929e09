r"""Turns a config file's `sweep()` into one command line per run.

A config module may define `sweep(arg) -> list[dict]`, each dict mapping a
dotted config field to a value. This prints (or runs one after another) the
matching `launch.main` commands; paste them into a cluster job array.

  python -m launch.sweep --mode=train_recon --config=configs/recon.py:tiny \
      --workdir=runs/sweep [--run]
"""

import importlib.util
import shlex
import subprocess
import sys

from absl import app
from absl import flags


def _define_flags():
  # Defined only when run as a script: launch.main owns --config/--mode/
  # --workdir in any process that imports both modules (e.g. the tests).
  flags.DEFINE_string("config", None, "configs/<file>.py[:arg]")
  flags.DEFINE_string("mode", None, "launch.main mode for every run.")
  flags.DEFINE_string("workdir", None, "Parent dir; one subdir a run.")
  flags.DEFINE_bool("run", False, "Run the commands instead of printing.")
  flags.mark_flags_as_required(["config", "mode", "workdir"])


def load_config_module(path: str):
  """Imports a config file by path, as ml_collections' --config does."""
  spec = importlib.util.spec_from_file_location("swept_config", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def load_sweep(config_spec: str) -> list[dict]:
  path, _, arg = config_spec.partition(":")
  module = load_config_module(path)
  if not hasattr(module, "sweep"):
    raise ValueError(f"{path} defines no sweep(arg); nothing to launch.")
  return list(module.sweep(arg or None))


def sweep_commands(
    config_spec: str, mode: str, workdir: str
) -> list[list[str]]:
  """One `python -m launch.main ...` argv per sweep point."""
  commands = []
  for index, overrides in enumerate(load_sweep(config_spec)):
    name = "_".join(f"{k.split('.')[-1]}={v}" for k, v in overrides.items())
    command = [
        sys.executable,
        "-m",
        "launch.main",
        f"--mode={mode}",
        f"--config={config_spec}",
        f"--workdir={workdir}/{index:03d}_{name}",
    ]
    command += [f"--config.{key}={value}" for key, value in overrides.items()]
    commands.append(command)
  return commands


def main(argv):
  del argv
  args = flags.FLAGS
  for command in sweep_commands(args.config, args.mode, args.workdir):
    print(shlex.join(command))
    if args.run:
      subprocess.run(command, check=True)


if __name__ == "__main__":
  _define_flags()
  app.run(main)
