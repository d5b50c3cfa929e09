"""Bad input on the command line, mode by mode: one `Error:` line naming
the fix, exit status 2, no traceback, nothing written.

Each case runs `python -m launch.main` in a subprocess, as a user does.
"""

import pathlib
import subprocess
import sys

import pytest

from launch import main as launch_main

pytestmark = pytest.mark.slow

ROOT = pathlib.Path(__file__).parents[2]
# A config file every mode accepts.
CONFIGS = {
    "experiment": "configs/experiment.py:quicktest",
    "prepare_data": "configs/experiment.py:quicktest",
    "train_phase": "configs/phase_sbdm.py:tiny",
    "sample_phase": "configs/phase_sbdm.py:tiny",
    "train_gan": "configs/phase_gan.py:tiny",
    "train_recon": "configs/recon.py:tiny",
    "eval_recon": "configs/recon.py:tiny",
    "export_kspace": "configs/export.py:quicktest",
}


def _main(*args) -> subprocess.CompletedProcess:
  return subprocess.run(
      [sys.executable, "-m", "launch.main", *args],
      cwd=ROOT,
      capture_output=True,
      text=True,
      check=False,
  )


def _assert_one_error_line(result, *words):
  assert result.returncode == launch_main.USER_ERROR_EXIT_CODE, result.stderr
  assert "Traceback" not in result.stderr
  errors = [l for l in result.stderr.splitlines() if l.startswith("Error:")]
  assert len(errors) == 1, result.stderr
  for word in words:
    assert word in errors[0]


def test_every_mode_is_covered():
  assert sorted(CONFIGS) == sorted(launch_main.MODES)


CASES = {
    # case: (extra args given a workdir w, words the error must name)
    "mistyped_field": (
        lambda mode, w: [f"--config={CONFIGS[mode]}", "--config.sed=1"],
        ["'sed'", "seed", "Fix:"],
    ),
    "wrong_type": (
        lambda mode, w: [f"--config={CONFIGS[mode]}", "--config.seed=abc"],
        ["config.seed=abc", "Fix:"],
    ),
    "missing_config_file": (
        lambda mode, w: ["--config=configs/no_such.py"],
        ["configs/no_such.py", "Fix:"],
    ),
    "unknown_variant": (
        lambda mode, w: [f"--config={CONFIGS[mode].split(':')[0]}:no_such"],
        ["no_such", "Fix:"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("mode", sorted(CONFIGS))
def test_bad_config_is_one_error_line(mode, case, tmp_path):
  make_args, words = CASES[case]
  workdir = tmp_path / "run"
  result = _main(
      f"--mode={mode}", f"--workdir={workdir}", *make_args(mode, workdir)
  )
  _assert_one_error_line(result, *words)
  assert not workdir.exists()


@pytest.mark.parametrize("mode", sorted(CONFIGS))
def test_unusable_workdir_is_one_error_line(mode, tmp_path):
  config = f"--config={CONFIGS[mode]}"
  a_file = tmp_path / "file"
  a_file.write_text("")
  result = _main(f"--mode={mode}", config, f"--workdir={a_file}/run")
  _assert_one_error_line(result, "cannot be created", "Fix:")

  foreign = tmp_path / "thesis"
  foreign.mkdir()
  (foreign / "chapter1.tex").write_text("")
  result = _main(f"--mode={mode}", config, f"--workdir={foreign}")
  _assert_one_error_line(result, "did not write", "chapter1.tex", "Fix:")
  assert [p.name for p in foreign.iterdir()] == ["chapter1.tex"]


@pytest.mark.parametrize(
    "mode,trainer", [("eval_recon", "train_recon"), ("sample_phase", "")]
)
def test_a_run_without_its_checkpoint_is_one_error_line(
    mode, trainer, tmp_path
):
  workdir = tmp_path / "run"
  (workdir / "checkpoints").mkdir(parents=True)
  result = _main(
      f"--mode={mode}", f"--config={CONFIGS[mode]}", f"--workdir={workdir}"
  )
  _assert_one_error_line(result, "No checkpoint", trainer or "train_phase")


def test_a_checkpoint_of_another_model_is_one_error_line(tmp_path):
  """eval_recon pointed at a GAN run: the checkpoint is refused, named."""
  workdir = tmp_path / "gan"
  trained = _main(
      "--mode=train_gan",
      f"--config={CONFIGS['train_gan']}",
      f"--workdir={workdir}",
      "--config.train.num_steps=1",
      f"--config.data.data_dir={tmp_path / 'tfds'}",
  )
  assert trained.returncode == 0, trained.stderr[-3000:]
  before = sorted(p.name for p in (workdir / "checkpoints").iterdir())
  result = _main(
      "--mode=eval_recon",
      f"--config={CONFIGS['eval_recon']}",
      f"--workdir={workdir}",
  )
  _assert_one_error_line(result, str(workdir))
  assert sorted(p.name for p in (workdir / "checkpoints").iterdir()) == before


# A misspelt choice per mode (a name that does not exist), and the trainer
# that must have run first for the modes that start from a checkpoint.
UNKNOWN_CHOICES = {
    "experiment": ("--config.recon.model.name=unte", "model.name", None),
    "prepare_data": ("--config.data.name=synthetic_mr", "data.name", None),
    "train_phase": ("--config.model.compute_dtype=fp16", "compute_dtype", None),
    "sample_phase": ("--config.sampling.name=eulr", "sampler", "train_phase"),
    "train_gan": ("--config.loss.gan=ls", "loss.gan", None),
    "train_recon": ("--config.optim.optimizer=sgd", "optim.optimizer", None),
    "eval_recon": (
        "--config.model.compute_dtype=fp16",
        "compute_dtype",
        "train_recon",
    ),
    "export_kspace": ("--config.export.phase_source=sbmd", "phase source", None),
}


@pytest.mark.parametrize("mode", sorted(CONFIGS))
def test_unknown_choice_is_one_error_line(mode, tmp_path):
  """A misspelt network, loss, optimizer, sampler, dtype or dataset name
  is refused with the known names before anything is trained or saved."""
  override, setting, trainer = UNKNOWN_CHOICES[mode]
  workdir = tmp_path / "run"
  data_dir = f"--config.data.data_dir={tmp_path / 'tfds'}"
  if trainer:
    trained = _main(
        f"--mode={trainer}",
        f"--config={CONFIGS[trainer]}",
        f"--workdir={workdir}",
        "--config.train.num_steps=1",
        data_dir,
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
  before = sorted(p.name for p in workdir.rglob("*"))
  result = _main(
      f"--mode={mode}",
      f"--config={CONFIGS[mode]}",
      f"--workdir={workdir}",
      data_dir,
      override,
  )
  _assert_one_error_line(result, setting, override.split("=")[1], "Fix:")
  assert sorted(p.name for p in workdir.rglob("*")) == before


def test_an_eval_batch_that_does_not_split_fails_before_training(tmp_path):
  """The validation batch must split over the devices: said before step 1,
  not after the whole training run."""
  workdir = tmp_path / "run"
  result = _main(
      "--mode=train_recon",
      f"--config={CONFIGS['train_recon']}",
      f"--workdir={workdir}",
      f"--config.data.data_dir={tmp_path / 'tfds'}",
      "--config.eval.batch_size=6",
  )
  _assert_one_error_line(result, "Batch size 6", "4 devices", "Fix:")
  assert not (workdir / "checkpoints").exists()


@pytest.mark.parametrize("block", ["sbdm", "gan", "recon"])
def test_a_sub_config_data_override_names_the_experiment_field(block, tmp_path):
  # The experiment gives every sub-config its own data block: an override
  # of the sub-config's copy would be silently ignored, so it is refused.
  result = _main(
      "--mode=experiment",
      f"--config={CONFIGS['experiment']}",
      f"--workdir={tmp_path / 'run'}",
      f"--config.{block}.data.num_train=5",
  )
  _assert_one_error_line(
      result, f"'{block}.data.num_train'", "Fix: pass --config.data.num_train"
  )
  assert not (tmp_path / "run").exists()
