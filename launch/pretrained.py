r"""Saves a trained phase model into the package, or installs a shipped one.

  # keep a train_phase run's EMA parameters and config (a few MB)
  python -m launch.pretrained save --workdir=runs/phase_cpu64 --name=cpu64
  # a shipped model as a train_phase run, for any --workdir consumer
  python -m launch.pretrained install --name=cpu64 --workdir=runs/phase_cpu64
  python -m launch.main --mode=sample_phase --config=configs/phase_sbdm.py:cpu64 \
      --workdir=runs/phase_cpu64

`save --out=FILE.npz` writes elsewhere than the package; `install --name`
takes such a path too. What is stored and what an installed run is:
`score_phase.sbdm.pretrained`.
"""

import subprocess
import sys

from absl import app
from absl import flags
from absl import logging
from etils import epath

from runtime import checkpoints
from score_phase.sbdm import pretrained


def _commit() -> str:
  """The checkout's commit, or "unknown" outside a git checkout."""
  try:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"],
        cwd=epath.Path(__file__).parent,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
  except (OSError, subprocess.CalledProcessError):
    return "unknown"


def run(command: str, workdir: str, name=None, out=None) -> str:
  """Does `command` ("save" | "install") and says what it did.

  Raises:
    app.UsageError: a missing or unknown argument.
    CheckpointError: what `pretrained.save` / `install` refuse.
  """
  if command == "save":
    if not (name or out):
      raise app.UsageError("save needs --name (or --out=FILE.npz).")
    out = out or pretrained.WEIGHTS_DIR / f"{name}.npz"
    info = pretrained.save(
        workdir, out, {"run": str(workdir), "saved_at_commit": _commit()}
    )
    return f"Saved step {info['step']} ({info['num_params']} parameters): {out}"
  if command == "install":
    if not name:
      raise app.UsageError(
          f"install needs --name (shipped: {pretrained.names()})."
      )
    step = pretrained.install(name, workdir)
    return f"Installed {name} (step {step}) in {workdir}"
  raise app.UsageError("Usage: python -m launch.pretrained save|install ...")


def main(argv):
  if len(argv) != 2:
    raise app.UsageError("Usage: python -m launch.pretrained save|install ...")
  logging.set_verbosity(logging.WARNING)
  try:
    print(
        run(
            argv[1],
            flags.FLAGS.workdir,
            flags.FLAGS.name,
            flags.FLAGS.out,
        )
    )
  except checkpoints.CheckpointError as e:
    print(f"Error: {e}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
  flags.DEFINE_string("workdir", None, "The train_phase run.")
  flags.DEFINE_string(
      "name", None, "A shipped model's name (install), or the name to save as."
  )
  flags.DEFINE_string(
      "out", None, "save: write this .npz instead of the package's weights/."
  )
  flags.mark_flags_as_required(["workdir"])
  app.run(main)
