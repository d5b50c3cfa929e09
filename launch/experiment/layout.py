"""The experiment's run folder, in one place:

data_examples.png        the data figure (prepare_data)
phase/{sbdm,gan}/        the phase models trained here
presynthesis/<arm>_<h>/  an arm's pre-synthesized phases, h = the hash of
                         what made them (`launch.experiment.stages.store_key`)
recon/<arm>/seed<s>/     one recon run; eval/test_<key>.npz its test scores
                         at each test mask (`test_masks`: R4, R8,
                         R4_equispaced)
recon_secondary/...      the same for the second recon net, if any
val_thresholds.json      the hallucination threshold per test mask
                         (val_thresholds_recon_secondary.json: the second's)
figures/, results.json, report.md (written last)

`DURABLE` are the small files that carry a run to another machine: with
them (and the same command, phase models and data) a rerun trains no
finished net again; everything else is rebuilt from the seeds.
"""

import hashlib
import json
import shutil
from typing import NamedTuple

from etils import epath

from runtime import checkpoints
from runtime import train_loop

THRESHOLDS = "val_thresholds.json"
# Glob patterns under the run folder: each finished net's test scores and
# training log (its validation curve), and the hallucination thresholds.
DURABLE = (
    "val_thresholds*.json",
    "recon*/*/seed*/eval/test_*.npz",
    "recon*/*/seed*/metrics.jsonl",
)
# The experiment's recon nets: its sub-config names (configs/experiment.py).
PRIMARY, SECONDARY = "recon", "recon_secondary"


class TestMask(NamedTuple):
  """One test table's masks: its key, acceleration, centre fraction and
  mask type (None: the recon net's own forward.mask_type)."""

  key: str
  acceleration: float
  center_fraction: float
  mask_type: str | None


def test_masks(config) -> list[TestMask]:
  """The test tables of `config.eval.accelerations`: entries
  (acceleration, center_fraction[, mask_type])."""
  masks = []
  for entry in config.eval.accelerations:
    acceleration, fraction, *rest = entry
    mask_type = rest[0] if rest else None
    masks.append(
        TestMask(
            r_key(acceleration, mask_type),
            float(acceleration),
            float(fraction),
            mask_type,
        )
    )
  return masks


def nets(config) -> tuple[str, ...]:
  """The recon nets the experiment trains: its primary one, and the second
  where the variant names one."""
  return (PRIMARY,) + ((SECONDARY,) if SECONDARY in config else ())


def copy_durable(workdir, target) -> list[epath.Path]:
  """Copies a run's `DURABLE` files into `target` (same relative paths);
  returns the copies."""
  workdir, target = epath.Path(workdir), epath.Path(target)
  copies = []
  for pattern in DURABLE:
    for path in sorted(workdir.glob(pattern)):
      copy = target / path.relative_to(workdir)
      copy.parent.mkdir(parents=True, exist_ok=True)
      shutil.copy2(path, copy)
      copies.append(copy)
  return copies


def thresholds_path(workdir, net: str = PRIMARY) -> epath.Path:
  suffix = "" if net == PRIMARY else f"_{net}"
  return workdir / THRESHOLDS.replace(".json", f"{suffix}.json")


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


def recon_dir(workdir, arm, seed, net: str = PRIMARY) -> epath.Path:
  return workdir / net / arm / f"seed{seed}"


def r_key(acceleration, mask_type: str | None = None) -> str:
  """A test mask's key in eval files, results and figures: R4, R8 (the
  net's own mask type), R4_equispaced."""
  key = f"R{float(acceleration):g}"
  return f"{key}_{mask_type}" if mask_type else key


def eval_path(workdir, arm, seed, key: str, net: str = PRIMARY) -> epath.Path:
  """One recon run's test scores at one test mask (npz; key: `r_key`)."""
  return recon_dir(workdir, arm, seed, net) / "eval" / f"test_{key}.npz"


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
