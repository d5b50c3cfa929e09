"""Entry points: sweeps as data, and the main job on tiny synthetic data."""

import json
import pathlib
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from configs import experiment as experiment_config
from configs import recon as recon_config
from launch import main as launch_main
from launch import prepare_data
from launch import sweep
from runtime import checkpoints


def test_sweep_turns_override_dicts_into_commands(tmp_path):
  config = tmp_path / "cfg.py"
  config.write_text(textwrap.dedent("""
      def get_config(arg=None):
        raise AssertionError("a sweep needs no config object")

      def sweep(arg):
        return [{"optim.lr": lr, "seed": arg} for lr in (1e-3, 1e-4)]
  """))
  commands = sweep.sweep_commands(f"{config}:7", "train_recon", "/w")
  assert len(commands) == 2
  assert commands[1][3:] == [
      "--mode=train_recon",
      f"--config={config}:7",
      "--workdir=/w/001_lr=0.0001_seed=7",
      "--config.optim.lr=0.0001",
      "--config.seed=7",
  ]


def test_sweep_summary_has_each_point_s_final_metrics(tmp_path):
  config = tmp_path / "cfg.py"
  config.write_text(textwrap.dedent("""
      def sweep(arg):
        return [{"optim.lr": lr} for lr in (1e-3, 1e-4)]
  """))
  workdir = tmp_path / "sweep"
  ran = workdir / "000_lr=0.001"
  (ran / "eval").mkdir(parents=True)
  (ran / "metrics.jsonl").write_text(
      '{"step": 10, "train/loss": 0.5}\n'
      '{"step": 20, "train/loss": 0.25, "val/ssim": 0.8}\n'
  )
  (ran / "eval" / "test_unet_metrics.json").write_text(
      json.dumps({"model": {"volume": {"ssim": {"mean": 0.75}}}})
  )
  path = sweep.write_summary(str(config), str(workdir))
  rows = json.loads((workdir / "summary.json").read_text())
  assert rows == [
      {
          "run": "000_lr=0.001",
          "optim.lr": 1e-3,
          "status": "done",
          "step": 20,
          "train/loss": 0.25,
          "val/ssim": 0.8,
          "test_unet/ssim": 0.75,
      },
      {"run": "001_lr=0.0001", "optim.lr": 1e-4, "status": "not run"},
  ]
  table = path.read_text().splitlines()
  assert table[2].startswith("| run | optim.lr | status | step | train/loss")
  assert table[4] == "| 000_lr=0.001 | 0.001 | done | 20 | 0.25 | 0.8 | 0.75 |"
  assert table[5] == "| 001_lr=0.0001 | 0.0001 | not run |  |  |  |  |"


def test_config_without_sweep_is_rejected(tmp_path):
  config = tmp_path / "cfg.py"
  config.write_text("def get_config(arg=None):\n  return None\n")
  with pytest.raises(ValueError, match="no sweep"):
    sweep.load_sweep(str(config))


@pytest.mark.parametrize(
    "path", sorted(pathlib.Path("configs").glob("*.py")), ids=lambda p: p.name
)
def test_every_declared_sweep_overrides_existing_fields(path):
  """A sweep key that names no config field would only fail on the cluster."""
  module = sweep.load_config_module(str(path))
  if not hasattr(module, "sweep"):
    return
  config = module.get_config(None)
  for overrides in module.sweep(None):
    for key, value in overrides.items():
      parent, _, field = f"root.{key}".rpartition(".")
      node = {"root": config}
      for name in parent.split("."):
        node = node[name]
      assert field in node, f"{path}: sweep key {key!r} is not a config field"
      assert type(value) is type(node[field]), key


def _prepare_data(workdir, *overrides) -> subprocess.CompletedProcess:
  """`launch.main --mode=prepare_data` on the quicktest config, as a user
  runs it."""
  return subprocess.run(
      [
          sys.executable,
          "-m",
          "launch.main",
          "--mode=prepare_data",
          "--config=configs/experiment.py:quicktest",
          f"--workdir={workdir}",
          *overrides,
      ],
      capture_output=True,
      text=True,
      cwd=pathlib.Path(__file__).parents[2],
      check=False,
  )


def test_prepare_data_builds_data_and_writes_figure(tmp_path):
  """The experiment's data stage from the command line, on a private
  data_dir (the whole pipeline: tests/launch/experiment/pipeline_test.py, and .ci/run runs
  README command 1)."""
  workdir = tmp_path / "run"
  result = _prepare_data(workdir, f"--config.data.data_dir={tmp_path / 'tfds'}")
  assert result.returncode == 0, result.stderr[-3000:]
  figure = workdir / "data_examples.png"
  with figure.open("rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  assert not list(workdir.glob("*.tmp*"))
  assert "train 32" in result.stdout


def test_bad_input_gives_one_error_line_and_no_traceback(tmp_path):
  manual = tmp_path / "export"
  manual.mkdir()
  (manual / "broken.dcm").write_bytes(b"\0" * 200 + b"junk")
  result = _prepare_data(
      tmp_path / "run",
      "--config.data.name=magnitude_registry",
      f"--config.data.manual_dir={manual}",
      f"--config.data.data_dir={tmp_path / 'tfds'}",
  )
  assert result.returncode == launch_main.USER_ERROR_EXIT_CODE
  assert "Traceback" not in result.stderr
  assert "Error: " in result.stderr and "broken.dcm" in result.stderr
  assert "Fix:" in result.stderr


def test_data_figure_shows_what_the_records_have():
  rng = np.random.default_rng(0)
  magnitude = rng.uniform(size=(8, 8)).astype(np.float32)
  registry = [{"magnitude": magnitude, "source": "a.dcm"}] * 2
  fig = prepare_data.plot_examples(registry, num_coils=2, seed=0)
  assert [ax.get_title() for ax in fig.axes] == ["magnitude"] * 2
  complex_records = [
      {"magnitude": magnitude, "phase": magnitude, "labels": magnitude}
  ]
  fig = prepare_data.plot_examples(complex_records, num_coils=2, seed=0)
  titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
  assert titles[:3] == ["magnitude", "phase (rad)", "tissue labels"]
  assert len(titles) == 5


def test_unknown_experiment_variant_is_rejected():
  with pytest.raises(ValueError, match="default|quicktest"):
    experiment_config.get_config("huge")


def test_train_recon_builds_the_phase_function_of_the_config(
    monkeypatch, tmp_path
):
  received = {}
  monkeypatch.setattr(
      launch_main.recon_train,
      "train_and_evaluate",
      lambda config, workdir, phase_fn: received.update(phase_fn=phase_fn),
  )
  config = recon_config.get_config("tiny")
  launch_main.MODES["train_recon"](config, str(tmp_path))
  assert received["phase_fn"] is None  # ground truth: the records' phase
  config.data.phase_source = "smooth_polynomial"
  config.data.phase_kwargs = {"order": 0}
  launch_main.MODES["train_recon"](config, str(tmp_path))
  phase = np.asarray(
      received["phase_fn"](jax.random.key(0), np.ones((2, 8, 8), np.float32))
  )
  assert phase.shape == (2, 8, 8) and np.ptp(phase[0]) < 1e-5  # a constant
  config.data.phase_source = "sbdm"
  config.data.phase_workdir = str(tmp_path / "no_run")
  with pytest.raises(checkpoints.CheckpointError, match="--mode=train_phase"):
    launch_main.MODES["train_recon"](config, str(tmp_path))


ROOT = pathlib.Path(__file__).parents[2]


def _dry_run(script, *args, **env) -> list[str]:
  """The lines a cluster script prints with PHASESYNTH_DRY_RUN=1."""
  result = subprocess.run(
      ["bash", str(script), *args],
      env={"PATH": "/usr/bin:/bin", "PHASESYNTH_DRY_RUN": "1", **env},
      capture_output=True,
      text=True,
      check=False,
  )
  assert result.returncode == 0, result.stderr
  return result.stdout.splitlines()


@pytest.mark.parametrize(
    "nodes", ["gpu07", "gpu07,cpu1", "gpu[07-08],x", "gpu[07,09-12]"]
)
def test_slurm_dry_run_prints_the_command_and_jax_s_coordinator(
    nodes, monkeypatch
):
  args = ["--mode=train_phase", "--workdir=/scratch/a b"]
  out = _dry_run(
      ROOT / "launch" / "slurm.sbatch",
      *args,
      SLURM_JOB_ID="12345",
      SLURM_JOB_NODELIST=nodes,
      SLURM_NTASKS="16",
  )
  # The address jax.distributed will derive from the same environment.
  from jax._src.clusters import slurm_cluster  # pylint: disable=g-import-not-at-top

  monkeypatch.setenv("SLURM_JOB_ID", "12345")
  monkeypatch.setenv("SLURM_STEP_NODELIST", nodes)
  expected = slurm_cluster.SlurmCluster.get_coordinator_address(None, None)
  assert out == [
      f"coordinator: {expected}",
      "processes: 16 (SLURM_PROCID 0..15)",
      "env: PHASESYNTH_DISTRIBUTED=1",
      (
          "command: srun python -m launch.main --mode=train_phase"
          " --workdir=/scratch/a\\ b "
      ),
  ]


def test_tpu_dry_run_prints_the_command_and_runs_nothing(tmp_path):
  # A copy outside the checkout: no .venv yet, so the set-up is listed and
  # not run.
  (tmp_path / "launch").mkdir()
  script = tmp_path / "launch" / "run_tpu.sh"
  script.write_text((ROOT / "launch" / "run_tpu.sh").read_text())
  out = _dry_run(script, "--mode=train_recon", "--workdir=gs://b/r")
  assert out == [
      "worker: from the TPU metadata server",
      "coordinator, process count and id: from the TPU metadata server",
      "setup: python3 -m venv .venv",
      "setup: pip install --quiet -e . jax[tpu]",
      "env: PHASESYNTH_DISTRIBUTED=1",
      "command: python -m launch.main --mode=train_recon --workdir=gs://b/r ",
  ]
  assert sorted(p.name for p in tmp_path.iterdir()) == ["launch"]
