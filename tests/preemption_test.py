"""kill -9 and SIGTERM in the middle of each trainer, from the command line.

Each trainer runs as a user launches it; it is killed (SIGKILL: no chance
to save) or preempted (SIGTERM: saves the current step, exits with status
75) after a few steps, then the same command is run again. The final
parameters equal an uninterrupted run's and every step is logged once.
"""

import json
import pathlib
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from runtime import train_loop

pytestmark = pytest.mark.slow

ROOT = pathlib.Path(__file__).parent.parent
NUM_STEPS = 20
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


def _command(mode, workdir, data_dir):
  return [
      sys.executable,
      "-m",
      "launch.main",
      f"--mode={mode}",
      f"--workdir={workdir}",
      *TRAINERS[mode],
      f"--config.data.data_dir={data_dir}",
      f"--config.train.num_steps={NUM_STEPS}",
      "--config.train.log_every=1",
      "--config.train.checkpoint_every=2",
  ]


def _run(command):
  result = subprocess.run(
      command, cwd=ROOT, capture_output=True, text=True, check=False
  )
  assert result.returncode == 0, result.stderr[-4000:]


def _logged_steps(workdir):
  path = workdir / "metrics.jsonl"
  if not path.exists():
    return []
  return [
      json.loads(line)["step"]
      for line in path.read_text().splitlines()
      if "train/loss" in line
  ]


def _interrupt(command, workdir, sig, after_step):
  """Starts `command`, sends `sig` once `after_step` is logged; returns
  (exit status, seconds from the signal to the exit, last step logged
  when it was sent)."""
  process = subprocess.Popen(
      command,
      cwd=ROOT,
      stdout=subprocess.DEVNULL,
      stderr=subprocess.PIPE,
      text=True,
  )
  deadline = time.monotonic() + 600
  while not _logged_steps(workdir) or _logged_steps(workdir)[-1] < after_step:
    assert process.poll() is None, process.stderr.read()[-4000:]
    assert time.monotonic() < deadline
    time.sleep(0.05)
  process.send_signal(sig)
  sent, reached = time.monotonic(), _logged_steps(workdir)[-1]
  process.wait(timeout=300)
  return process.returncode, time.monotonic() - sent, reached


def _params(workdir):
  steps = [
      int(p.name)
      for p in (workdir / "checkpoints").iterdir()
      if p.name.isdigit()
  ]
  state = ocp.StandardCheckpointer().restore(
      (workdir / "checkpoints" / str(max(steps)) / "state").absolute()
  )
  # The whole state: parameters, optimiser and EMA state, step, PRNG key.
  return max(steps), jax.tree_util.tree_leaves_with_path(state)


@pytest.mark.parametrize("mode", sorted(TRAINERS))
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
    assert _logged_steps(workdir) == list(range(1, NUM_STEPS + 1))
    assert not list(workdir.glob("**/*.tmp*"))
