r"""Entry point: `python -m launch.main --mode=MODE --config=FILE --workdir=DIR`.

Config fields are overridden with `--config.a.b=value`. `MODES` maps each
mode to the function it runs; every one takes (config, workdir). This is
the top layer: it wires the packages together (e.g. builds the phase
function a recon arm trains with) and nothing imports it.
"""

import sys

import ml_collections
from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from kspace import datasets
from kspace.datasets import phase_store
from launch import experiment
from launch import prepare_data
from recon import evaluation as recon_evaluation
from recon import train as recon_train
from runtime import checkpoints
from runtime import metric_writers
from runtime import parallel
from runtime import train_loop
from score_phase import evaluation as phase_evaluation
from score_phase import gan
from score_phase import inference
from score_phase import train as phase_train


def train_recon(config: ml_collections.ConfigDict, workdir: str):
  """Trains a recon net on the phase `data.phase_source` names."""
  source = config.data.phase_source
  phase_fn = None
  if source not in recon_train.RECORD_SOURCES:
    kwargs = config.data.phase_kwargs.to_dict()
    if source in ("sbdm", "gan"):
      kwargs["workdir"] = config.data.phase_workdir
    phase_fn = inference.get_phase_fn(source, **kwargs)
  return recon_train.train_and_evaluate(config, workdir, phase_fn=phase_fn)


MODES = {
    "experiment": experiment.run,
    "prepare_data": prepare_data.prepare_data,
    "train_phase": phase_train.train_and_evaluate,
    "sample_phase": phase_evaluation.sample_and_evaluate,
    "train_gan": gan.train_and_evaluate,
    "train_recon": train_recon,
    "eval_recon": recon_evaluation.evaluate,
}

# Errors that mean bad input (data, config, checkpoint, stage outputs): each
# message names the problem and the fix.
USER_ERRORS = (
    datasets.DatasetError,
    phase_store.StoreError,
    checkpoints.CheckpointError,
    metric_writers.NonFiniteLossError,
    experiment.ExperimentError,
)
USER_ERROR_EXIT_CODE = 2

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Config file (configs/*.py[:arg]).", lock_config=True
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for outputs.")
_MODE = flags.DEFINE_enum("mode", "experiment", list(MODES), "What to run.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if not flags.FLAGS["verbosity"].present:
    # Progress lines and warnings only; orbax and TFDS log every save and
    # read at INFO (pass --verbosity=0 to see them).
    logging.set_verbosity(logging.WARNING)
  parallel.maybe_initialize_distributed()
  try:
    MODES[_MODE.value](_CONFIG.value, _WORKDIR.value)
  except train_loop.Preempted as preempted:
    print(preempted, file=sys.stderr)
    sys.exit(train_loop.PREEMPTED_EXIT_CODE)
  except USER_ERRORS as e:
    # Bad input: the message names the problem and the fix; a traceback
    # from deep inside the stack would only hide it.
    print(f"Error: {e}", file=sys.stderr)
    sys.exit(USER_ERROR_EXIT_CODE)


if __name__ == "__main__":
  app.run(main)
