"""Trainers run from the command line in tests, as a user launches them.

Shared by the tests that drive `python -m launch.main` in subprocesses
(multiple processes, preemption, non-finite losses): the command line of
each trainer at a tiny size, what it logged, and what it checkpointed.
"""

import json
import pathlib
import sys

import jax
import numpy as np
import orbax.checkpoint as ocp

ROOT = pathlib.Path(__file__).parents[2]
# Tiny variants of every trainer (the data each builds is small).
TRAINERS = {
    "train_phase": ["--config=configs/phase_sbdm.py:tiny"],
    "train_gan": ["--config=configs/phase_gan.py:tiny"],
    "train_recon": [
        "--config=configs/recon.py:tiny,model=unet",
        "--config.data.num_train=32",
        "--config.data.num_test=8",
        "--config.eval.num_batches=1",
    ],
}


def command(mode, workdir, data_dir, *flags: str) -> list[str]:
  """`python -m launch.main` training `mode` in `workdir`; later flags
  override earlier ones."""
  return [
      sys.executable,
      "-m",
      "launch.main",
      f"--mode={mode}",
      f"--workdir={workdir}",
      *TRAINERS[mode],
      f"--config.data.data_dir={data_dir}",
      *flags,
  ]


def logged_steps(workdir: pathlib.Path) -> list[int]:
  """The steps of the training records in `workdir`/metrics.jsonl."""
  path = workdir / "metrics.jsonl"
  if not path.exists():
    return []
  records = map(json.loads, path.read_text().splitlines())
  return [record["step"] for record in records if "train/loss" in record]


def checkpoint_steps(workdir: pathlib.Path) -> list[int]:
  return sorted(
      int(p.name)
      for p in (workdir / "checkpoints").iterdir()
      if p.name.isdigit()
  )


def restore_state(workdir: pathlib.Path, step: int | None = None) -> dict:
  """The whole saved train state (parameters, optimiser and EMA state,
  step, PRNG key) at `step`, by default the newest."""
  step = checkpoint_steps(workdir)[-1] if step is None else step
  return ocp.StandardCheckpointer().restore(
      (workdir / "checkpoints" / str(step) / "state").absolute()
  )


def leaves(tree) -> list[tuple[str, np.ndarray]]:
  """(path, array) of every leaf, for comparisons that name the leaf."""
  return [
      (jax.tree_util.keystr(path), np.asarray(leaf))
      for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]
  ]
