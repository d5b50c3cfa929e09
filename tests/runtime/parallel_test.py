"""Two processes on 127.0.0.1 compute what one process computes.

Each trainer runs from the command line as a user launches it: once as one
process with 4 CPU devices, and as two processes with 2 devices each
(jax.distributed with an explicit coordinator, gloo collectives), each
loading only its half of every global batch. Both end with the same
parameters; only process 0 writes metrics; a restart of both processes
resumes from the checkpoint they wrote together.
"""

import os
import socket
import subprocess

import numpy as np
import pytest

from tests.helpers import cli_runs

pytestmark = pytest.mark.slow

DEVICES = 4
# Global batches of 8 split over 4 devices.
FLAGS = {
    "train_phase": [
        "--config.train.batch_size=8",
        "--config.eval.num_examples=4",
        "--config.eval.batch_size=4",
    ],
    "train_recon": ["--config.train.batch_size=8"],
}


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _launch(mode, workdir, data_dir, num_steps, num_processes):
  """Runs `launch.main` as `num_processes` processes sharing DEVICES CPU
  devices; returns their outputs."""
  port = _free_port()
  command = cli_runs.command(
      mode,
      workdir,
      data_dir,
      *FLAGS[mode],
      f"--config.train.num_steps={num_steps}",
      "--config.train.log_every=1",
      f"--config.train.checkpoint_every={num_steps}",
  )
  flags = os.environ.get("XLA_FLAGS", "").replace(
      f"--xla_force_host_platform_device_count={DEVICES}", ""
  )
  processes = []
  for process_id in range(num_processes):
    env = dict(
        os.environ,
        JAX_PLATFORMS="cpu",
        XLA_FLAGS=(
            f"{flags} --xla_force_host_platform_device_count="
            f"{DEVICES // num_processes}"
        ),
    )
    if num_processes > 1:
      env.update(
          PHASESYNTH_DISTRIBUTED="1",
          PHASESYNTH_COORDINATOR=f"127.0.0.1:{port}",
          PHASESYNTH_NUM_PROCESSES=str(num_processes),
          PHASESYNTH_PROCESS_ID=str(process_id),
      )
    processes.append(
        subprocess.Popen(
            command,
            cwd=cli_runs.ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    )
  outputs = [p.communicate(timeout=900)[0] for p in processes]
  for p, out in zip(processes, outputs):
    assert p.returncode == 0, out[-4000:]
  return outputs


def _final_params(workdir, step):
  return cli_runs.restore_state(workdir, step)["params"]


@pytest.mark.parametrize("mode", sorted(FLAGS))
def test_two_processes_equal_one_and_resume_together(mode, tmp_path):
  data_dir = tmp_path / "tfds"
  one, two = tmp_path / "one", tmp_path / "two"
  _launch(mode, one, data_dir, num_steps=4, num_processes=1)
  # Interrupted after 2 steps (a finished shorter run), then both resume.
  _launch(mode, two, data_dir, num_steps=2, num_processes=2)
  _launch(mode, two, data_dir, num_steps=4, num_processes=2)

  expected, got = _final_params(one, 4), _final_params(two, 4)
  leaves = cli_runs.leaves(expected)
  assert len(leaves) == len(cli_runs.leaves(got)) > 0
  # atol: the attention key bias has zero gradient in exact arithmetic
  # (softmax ignores a shift shared by all keys); its ~1e-6 values are
  # rounding noise and differ with the reduction order. A wrong shard or
  # gradient average moves weights by ~lr = 2e-3 per step.
  for (path, a), (_, b) in zip(leaves, cli_runs.leaves(got)):
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5, err_msg=path)
  # The run moved the parameters (equality is not two untouched inits).
  init = _final_params(two, 2)
  assert any(
      not np.allclose(a, b)
      for (_, a), (_, b) in zip(cli_runs.leaves(init), leaves)
  )
  # One writer (two would log each step twice): every step once, in
  # order, across the restart.
  assert cli_runs.logged_steps(two) == [1, 2, 3, 4]
  assert cli_runs.logged_steps(one) == [1, 2, 3, 4]
