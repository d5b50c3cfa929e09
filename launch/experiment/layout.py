"""The experiment's run folder, in one place:

data_examples.png        the data figure (prepare_data)
phase/{sbdm,gan}/        the phase models trained here
presynthesis/<arm>_<h>/  an arm's pre-synthesized phases, h = the hash of
                         what made them (`launch.experiment.stages.store_key`)
recon/<arm>/seed<s>/     one recon run; eval/test_R<R>.npz its test scores
val_thresholds.json      the hallucination threshold per acceleration
figures/, results.json, report.md (written last)
"""

import hashlib
import json

from etils import epath

from runtime import checkpoints
from runtime import train_loop

THRESHOLDS = "val_thresholds.json"


def short_hash(obj) -> str:
  """10 hex digits of the SHA-1 of a JSON-able object (sorted keys)."""
  return hashlib.sha1(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:10]


def checkpoint_step(run_dir) -> int | None:
  """The newest checkpoint step of a training run (None: none yet)."""
  directory = epath.Path(run_dir) / train_loop.CHECKPOINT_DIR
  if not directory.exists():
    return None
  manager = checkpoints.create_manager(directory, async_save=False)
  try:
    return manager.latest_step()
  finally:
    manager.close()


def recon_dir(workdir, arm, seed) -> epath.Path:
  return workdir / "recon" / arm / f"seed{seed}"


def r_key(acceleration) -> str:
  """The acceleration's key in eval files, results and figures: R4, R8."""
  return f"R{float(acceleration):g}"


def eval_path(workdir, arm, seed, acceleration) -> epath.Path:
  """One recon run's test scores at one acceleration (npz)."""
  return (
      recon_dir(workdir, arm, seed) / "eval" / f"test_{r_key(acceleration)}.npz"
  )


def phase_model_dir(workdir, arm) -> epath.Path:
  """Where the experiment trains a learned arm's phase model."""
  return workdir / "phase" / arm


def presynthesis_dir(workdir, arm, key: dict) -> epath.Path:
  """An arm's pre-synthesized phases, named by the hash of what made them."""
  return workdir / "presynthesis" / f"{arm}_{short_hash(key)}"


def figure_path(workdir, name: str) -> epath.Path:
  return workdir / "figures" / f"{name}.png"


def results_path(workdir) -> epath.Path:
  return workdir / "results.json"


def report_path(workdir) -> epath.Path:
  return workdir / "report.md"
