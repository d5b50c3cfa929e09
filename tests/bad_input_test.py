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

ROOT = pathlib.Path(__file__).parent.parent
# A config file every mode accepts.
CONFIGS = {
    "experiment": "configs/experiment.py:quicktest",
    "prepare_data": "configs/experiment.py:quicktest",
    "train_phase": "configs/phase_sbdm.py:tiny",
    "sample_phase": "configs/phase_sbdm.py:tiny",
    "train_gan": "configs/phase_gan.py:tiny",
    "train_recon": "configs/recon.py:tiny",
    "eval_recon": "configs/recon.py:tiny",
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
