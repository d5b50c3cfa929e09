r"""Entry point: `python -m launch.main --mode=MODE --config=FILE --workdir=DIR`.

Config fields are overridden with `--config.a.b=value`. `MODES` maps each
mode to the function it runs; every one takes (config, workdir). This is
the top layer: it wires the packages together (e.g. builds the phase
function a recon arm trains with) and nothing imports it.
"""

import os
import sys

import ml_collections
from absl import app
from absl import flags
from absl import logging
from etils import epath
from ml_collections import config_flags

from configs import base
from kspace import datasets
from kspace.common import config_errors
from launch import export_kspace
from launch import prepare_data
from launch.experiment import checks
from launch.experiment import phase_store
from launch.experiment import pipeline
from recon import evaluation as recon_evaluation
from recon import train as recon_train
from runtime import checkpoints
from runtime import metric_writers
from runtime import parallel
from runtime import train_loop
from score_phase import evaluation as phase_evaluation
from score_phase.gan import trainer as gan_trainer
from score_phase.sbdm import trainer as sbdm_trainer
from score_phase.sources import lookup


def train_recon(config: ml_collections.ConfigDict, workdir: str):
  """Trains a recon net on the phase `data.phase_source` names."""
  source = config.data.phase_source
  phase_fn = None
  if source not in recon_train.RECORD_SOURCES:
    kwargs = config.data.phase_kwargs.to_dict()
    if source in ("sbdm", "gan"):
      kwargs["workdir"] = config.data.phase_workdir
    phase_fn = lookup.get_phase_fn(source, **kwargs)
  return recon_train.train_and_evaluate(config, workdir, phase_fn=phase_fn)


MODES = {
    "experiment": pipeline.run,
    "prepare_data": prepare_data.prepare_data,
    "train_phase": sbdm_trainer.train_and_evaluate,
    "sample_phase": phase_evaluation.sample_and_evaluate,
    "train_gan": gan_trainer.train_and_evaluate,
    "train_recon": train_recon,
    "eval_recon": recon_evaluation.evaluate,
    "export_kspace": export_kspace.export,
}


class CommandLineError(ValueError):
  """A --config or --workdir that cannot be used (the message says why)."""


# Errors that mean bad input (data, config, checkpoint, stage outputs): each
# message names the problem and the fix.
USER_ERRORS = (
    datasets.DatasetError,
    phase_store.StoreError,
    checkpoints.CheckpointError,
    config_errors.ConfigError,
    metric_writers.NonFiniteLossError,
    checks.ExperimentError,
    export_kspace.ExportError,
    CommandLineError,
)
USER_ERROR_EXIT_CODE = 2
# What each mode writes first (trainers: checkpoints/, metrics.jsonl; the
# experiment and prepare_data: data_examples.png, then its stage folders;
# export_kspace: manifest.json, which it checks further).
# A non-empty --workdir holding none of these is someone else's folder.
RUN_MARKERS = frozenset(
    {"checkpoints", "metrics.jsonl", "data_examples.png"}
    | {"phase", "presynthesis", "recon", "manifest.json"}
)


def _user_error(message: str):
  print(f"Error: {message}", file=sys.stderr)
  sys.exit(USER_ERROR_EXIT_CODE)


def _one_line(error: Exception) -> str:
  """The last non-empty line of an error raised inside the flag parsers
  (which may quote a traceback), with escaped newlines and quotes undone."""
  text = str(error.args[0] if error.args else error)
  text = text.replace("\\n", "\n").replace("\\'", "'")
  lines = [line.strip() for line in text.splitlines() if line.strip()]
  if len(lines) > 1 and lines[-1].startswith("Did you mean"):
    field = lines[0].strip("'\"")
    return f"unknown config field '{field}' ({lines[-1].rstrip(chr(39))})"
  return (lines[-1] if lines else type(error).__name__).rstrip(".")


def parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing, with every mistake as one `Error:` line.

  A mistyped `--config.a.b=v` surfaces as a KeyError / AttributeError from
  deep inside ml_collections; a config file that fails to load (or an
  unknown variant) as a flags.Error quoting its traceback.
  """
  try:
    return flags.FLAGS(argv)
  except (flags.Error, KeyError, AttributeError, TypeError, ValueError) as e:
    _user_error(
        _unknown_override(argv)
        or f"{_one_line(e)}. Fix: name an existing configs/<file>.py[:variant] and override only fields it defines, with values of their type (--helpfull lists them)."
    )


def _unknown_override(argv: list[str]) -> str | None:
  """`configs.base.unknown_override` for the --config file of `argv`."""
  files = [a.removeprefix("--config=") for a in argv if "--config=" in a]
  try:
    config = base.from_file(files[0])
  except Exception:  # pylint: disable=broad-except
    return None  # No file, or the file is the problem: the generic message.
  overrides = [a for a in argv if a.startswith("--config.")]
  return base.unknown_override(config, overrides)


def load_config() -> ml_collections.ConfigDict:
  """The parsed --config, or one `Error:` line when it could not be loaded
  (ml_collections reports that only when the config is first used)."""
  config = _CONFIG.value
  try:
    config.keys()
  except (OSError, ImportError, SyntaxError) as e:
    _user_error(
        f"{_one_line(e)}. Fix: pass an existing configs/<file>.py[:variant]."
    )
  return config


def check_workdir(workdir: str) -> None:
  """Creates --workdir, refusing one that cannot be written or is foreign."""
  path = epath.Path(workdir)
  try:
    path.mkdir(parents=True, exist_ok=True)
    entries = {p.name for p in path.iterdir()}
  except OSError as e:
    raise CommandLineError(
        f"--workdir={workdir} cannot be created ({e.strerror or e}). Fix:"
        " pass a folder you can write to."
    ) from e
  if path.is_dir() and not str(path).startswith(("gs:", "s3:")):
    if not os.access(path, os.W_OK | os.X_OK):
      raise CommandLineError(
          f"--workdir={workdir} is not writable. Fix: pass a folder you can"
          " write to."
      )
  if entries and not entries & RUN_MARKERS:
    listed = ", ".join(sorted(entries)[:5]) + (
        ", ..." if len(entries) > 5 else ""
    )
    raise CommandLineError(
        f"--workdir={workdir} holds files this program did not write"
        f" ({listed}). Fix: pass a new or empty folder, or the folder of an"
        " earlier run to resume or evaluate it."
    )


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
  config = load_config()
  parallel.maybe_initialize_distributed()
  try:
    check_workdir(_WORKDIR.value)
    MODES[_MODE.value](config, _WORKDIR.value)
  except train_loop.Preempted as preempted:
    print(preempted, file=sys.stderr)
    sys.exit(train_loop.PREEMPTED_EXIT_CODE)
  except USER_ERRORS as e:
    # Bad input: the message names the problem and the fix; a traceback
    # from deep inside the stack would only hide it.
    print(f"Error: {e}", file=sys.stderr)
    sys.exit(USER_ERROR_EXIT_CODE)


if __name__ == "__main__":
  app.run(main, flags_parser=parse_flags)
