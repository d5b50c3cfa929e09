"""kill -9 and SIGTERM in the middle of each trainer, from the command line.

Each trainer runs as a user launches it; it is killed (SIGKILL: no chance
to save) or preempted (SIGTERM: saves the current step, exits with status
75) after a few steps, then the same command is run again. The final
parameters equal an uninterrupted run's and every step is logged once.
"""

import signal
import subprocess
import time

import numpy as np
import pytest

import cli_runs
from runtime import train_loop

pytestmark = pytest.mark.slow

NUM_STEPS = 20


def _command(mode, workdir, data_dir):
  return cli_runs.command(
      mode,
      workdir,
      data_dir,
      f"--config.train.num_steps={NUM_STEPS}",
      "--config.train.log_every=1",
      "--config.train.checkpoint_every=2",
  )


def _run(command):
  result = subprocess.run(
      command, cwd=cli_runs.ROOT, capture_output=True, text=True, check=False
  )
  assert result.returncode == 0, result.stderr[-4000:]


def _interrupt(command, workdir, sig, after_step):
  """Starts `command`, sends `sig` once `after_step` is logged; returns
  (exit status, seconds from the signal to the exit, last step logged
  when it was sent)."""
  process = subprocess.Popen(
      command,
      cwd=cli_runs.ROOT,
      stdout=subprocess.DEVNULL,
      stderr=subprocess.PIPE,
      text=True,
  )
  deadline = time.monotonic() + 600
  while (
      not cli_runs.logged_steps(workdir)
      or cli_runs.logged_steps(workdir)[-1] < after_step
  ):
    assert process.poll() is None, process.stderr.read()[-4000:]
    assert time.monotonic() < deadline
    time.sleep(0.05)
  process.send_signal(sig)
  sent, reached = time.monotonic(), cli_runs.logged_steps(workdir)[-1]
  process.wait(timeout=300)
  return process.returncode, time.monotonic() - sent, reached


def _params(workdir):
  """(newest checkpoint step, the leaves of its whole state)."""
  step = cli_runs.checkpoint_steps(workdir)[-1]
  return step, cli_runs.leaves(cli_runs.restore_state(workdir, step))


@pytest.mark.parametrize("mode", sorted(cli_runs.TRAINERS))
def test_kill_and_sigterm_resume_exactly(mode, tmp_path):
  data_dir = tmp_path / "tfds"
  reference = tmp_path / "reference"
  _run(_command(mode, reference, data_dir))
  step, expected = _params(reference)
  assert step == NUM_STEPS

  for sig in (signal.SIGKILL, signal.SIGTERM):
    workdir = tmp_path / sig.name
    command = _command(mode, workdir, data_dir)
    status, seconds, reached = _interrupt(command, workdir, sig, 3)
    if sig == signal.SIGTERM:
      assert status == train_loop.PREEMPTED_EXIT_CODE
      assert seconds < 120
      # Saved where it had got to, not at the last periodic save.
      saved, _ = _params(workdir)
      assert reached <= saved < NUM_STEPS
    else:
      assert status == -signal.SIGKILL
    _run(command)
    step, got = _params(workdir)
    assert step == NUM_STEPS
    assert len(got) == len(expected) > 0
    for (path, a), (_, b) in zip(expected, got):
      np.testing.assert_allclose(
          b, a, rtol=1e-5, atol=1e-6, err_msg=f"{sig.name} {path}"
      )
    assert cli_runs.logged_steps(workdir) == list(range(1, NUM_STEPS + 1))
    assert not list(workdir.glob("**/*.tmp*"))
