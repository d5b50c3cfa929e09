"""kill -9 and SIGTERM in the middle of each trainer and of the experiment
pipeline, from the command line.

Each trainer runs as a user launches it; it is killed (SIGKILL: no chance
to save) or preempted (SIGTERM: saves the current step, exits with status
75) after a few steps, then the same command is run again. The final
parameters equal an uninterrupted run's and every step is logged once. The
experiment is killed inside its phase-model stage and inside a recon run,
then rerun: its results equal an uninterrupted run's.
"""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from runtime import train_loop
from tests.helpers import cli_runs

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


def _start_until(command, condition) -> subprocess.Popen:
  """Starts `command` and returns it, still running, once `condition()`
  holds."""
  process = subprocess.Popen(
      command,
      cwd=cli_runs.ROOT,
      stdout=subprocess.DEVNULL,
      stderr=subprocess.PIPE,
      text=True,
  )
  deadline = time.monotonic() + 600
  while not condition():
    assert process.poll() is None, process.stderr.read()[-4000:]
    assert time.monotonic() < deadline
    time.sleep(0.05)
  return process


def _interrupt(command, workdir, sig, after_step):
  """Starts `command`, sends `sig` once `after_step` is logged; returns
  (exit status, seconds from the signal to the exit, last step logged
  when it was sent)."""
  process = _start_until(
      command, lambda: cli_runs.logged_steps(workdir)[-1:] >= [after_step]
  )
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


# The experiment at its smallest: three arms (one learned), one seed, runs
# long enough to be killed between two of their checkpoints.
EXPERIMENT = [
    "--mode=experiment",
    "--config=configs/experiment.py:quicktest",
    "--config.data.image_size=16",
    "--config.data.num_train=16",
    "--config.data.num_val=4",
    "--config.data.num_test=4",
    "--config.eval.phase_quality_images=4",
    "--config.arms=('smooth_polynomial','sbdm','ground_truth')",
    "--config.recon_seeds=(0,)",
    f"--config.sbdm.train.num_steps={NUM_STEPS}",
    "--config.sbdm.train.checkpoint_every=2",
    f"--config.recon.train.num_steps={NUM_STEPS}",
    "--config.recon.train.checkpoint_every=2",
]


def _saved_steps(pattern: str, workdir) -> list[int]:
  return [int(p.name) for p in workdir.glob(pattern) if p.name.isdigit()]


def _kill_when_saved(command, workdir, pattern) -> None:
  """Starts `command` and kills it (SIGKILL) as soon as a checkpoint
  matching `pattern` is saved, in the middle of that stage."""
  process = _start_until(command, lambda: _saved_steps(pattern, workdir))
  process.kill()
  process.wait(timeout=60)
  assert max(_saved_steps(pattern, workdir)) < NUM_STEPS  # killed mid-stage


def _numbers(tree, path=""):
  """(path, value) of every number in a JSON tree."""
  if isinstance(tree, dict):
    for key in sorted(tree):
      yield from _numbers(tree[key], f"{path}/{key}")
  elif isinstance(tree, list):
    for i, item in enumerate(tree):
      yield from _numbers(item, f"{path}/{i}")
  elif isinstance(tree, (int, float)):
    yield path, tree


def test_kill_the_experiment_and_rerun_matches_an_uninterrupted_run(tmp_path):
  data_dir = tmp_path / "tfds"

  def command(workdir):
    return [
        sys.executable,
        "-m",
        "launch.main",
        f"--workdir={workdir}",
        *EXPERIMENT,
        f"--config.data.data_dir={data_dir}",
    ]

  reference = tmp_path / "reference"
  _run(command(reference))
  workdir = tmp_path / "killed"
  _kill_when_saved(command(workdir), workdir, "phase/sbdm/checkpoints/*")
  # (the order: GT nets, then arm by arm; sbdm's phase model before its net)
  _kill_when_saved(command(workdir), workdir, "recon/sbdm/seed0/checkpoints/*")
  assert not (workdir / "results.json").exists()
  _run(command(workdir))

  expected = json.loads((reference / "results.json").read_text())
  got = json.loads((workdir / "results.json").read_text())
  for run in (expected, got):
    assert run.pop("phase_models")["sbdm"]["step"] == NUM_STEPS
  assert list(_numbers(got)) and [p for p, _ in _numbers(got)] == [
      p for p, _ in _numbers(expected)
  ]
  for (path, a), (_, b) in zip(_numbers(expected), _numbers(got)):
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6, err_msg=path)
  for arm in ("smooth_polynomial", "sbdm", "ground_truth"):
    run = f"recon/{arm}/seed0"
    step, want = _params(reference / run)
    assert step == NUM_STEPS and _params(workdir / run)[0] == step
    for (path, a), (_, b) in zip(want, _params(workdir / run)[1]):
      np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6, err_msg=path)
  assert not list(workdir.glob("**/*.tmp*"))
