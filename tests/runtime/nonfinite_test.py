"""A non-finite loss stops every trainer with one clear line, from the
command line, and keeps the last good checkpoint loadable.

Each trainer runs as a user launches it for 2 good steps, then resumes
with a learning rate so large that its parameters overflow within a few
steps (the usual way a NaN arrives). A checkpoint is written after every
step, so the step that went bad is the one that must not reach disk.
(Every trainer logs its gradient norm, and every logged metric is checked,
so an inf/NaN gradient stops training before its update is saved.)
"""

import subprocess

import numpy as np
import pytest

from launch import main as launch_main
from tests.helpers import cli_runs

pytestmark = pytest.mark.slow

NUM_STEPS = 8


@pytest.mark.parametrize("mode", sorted(cli_runs.TRAINERS))
def test_nan_loss_stops_with_one_line_and_keeps_the_last_good_checkpoint(
    mode, tmp_path
):
  workdir = tmp_path / "run"

  def run(*flags):
    command = cli_runs.command(
        mode,
        workdir,
        tmp_path / "tfds",
        "--config.train.log_every=1",
        "--config.train.checkpoint_every=1",
        *flags,
    )
    return subprocess.run(
        command, cwd=cli_runs.ROOT, capture_output=True, text=True, check=False
    )

  assert run("--config.train.num_steps=2").returncode == 0
  result = run(
      "--config.optim.lr=1e30", f"--config.train.num_steps={NUM_STEPS}"
  )
  assert result.returncode == launch_main.USER_ERROR_EXIT_CODE, result.stderr
  assert "Traceback" not in result.stderr
  errors = [l for l in result.stderr.splitlines() if l.startswith("Error:")]
  assert len(errors) == 1, result.stderr[-3000:]
  (error,) = errors
  assert "Non-finite metrics at step" in error and "learning rate" in error
  bad_step = int(error.split("at step ")[1].split(":")[0])
  good = bad_step - 1
  assert 2 <= good < NUM_STEPS
  assert f"last good checkpoint (step {good}) is kept" in error
  # Nothing of the bad step reached disk: not its checkpoint, not its log.
  assert cli_runs.checkpoint_steps(workdir)[-1] == good
  assert cli_runs.logged_steps(workdir) == list(range(1, good + 1))
  state = cli_runs.restore_state(workdir, good)
  assert all(np.all(np.isfinite(a)) for _, a in cli_runs.leaves(state))
  assert not list(workdir.glob("**/*.tmp*"))
  # The trainer itself restores it (compatibility checks included).
  assert run(f"--config.train.num_steps={good}").returncode == 0
  assert cli_runs.logged_steps(workdir) == list(range(1, good + 1))
