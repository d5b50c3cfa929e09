r"""Entry point: `python -m launch.main --mode=MODE --config=FILE --workdir=DIR`.

Config fields are overridden with `--config.a.b=value`. `MODES` maps each
mode to the function it runs; every one takes (config, workdir).
"""

import importlib

from absl import app
from absl import flags
from ml_collections import config_flags

from launch import parallel

# Mode -> "module:function"; imported lazily so a mode only pulls in its own
# dependencies.
MODES = {
    "prepare_data": "launch.data:prepare_data",
    "experiment": "launch.experiment:run_experiment",
    "train_phase": "score_phase.train:train_and_evaluate",
    "sample_phase": "score_phase.train:sample_and_evaluate",
    "train_recon": "recon.train:train_and_evaluate",
    "eval_recon": "recon.train:evaluate",
}

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Config file (configs/*.py[:arg]).", lock_config=True
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for outputs.")
_MODE = flags.DEFINE_enum("mode", "experiment", list(MODES), "What to run.")
flags.mark_flags_as_required(["config", "workdir"])


def resolve(mode: str):
  module_name, function_name = MODES[mode].split(":")
  return getattr(importlib.import_module(module_name), function_name)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  parallel.maybe_initialize_distributed()
  resolve(_MODE.value)(_CONFIG.value, _WORKDIR.value)


if __name__ == "__main__":
  app.run(main)
