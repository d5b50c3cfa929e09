"""Tests of score_phase.sbdm.pretrained: a saved model, installed in a fresh
workdir, samples as its run did; the shipped models install and sample
phase-like maps; bad input is refused with one clear error."""

import re

import numpy as np
import jax
import pytest

from configs import phase_sbdm
from kspace.common import normalize
from kspace.simulator import generator
from launch import pretrained as pretrained_cli
from runtime import checkpoints
from score_phase import loading
from score_phase.sbdm import loading as sbdm_loading
from score_phase.sbdm import pretrained
from score_phase.sbdm import trainer as sbdm_trainer

SIZE = 16


def _records(count):
  return [
      {
          k: v
          for k, v in generator.generate_example(
              generator.example_rng(0, "train", i), SIZE
          ).items()
          if k in ("magnitude", "phase", "labels")
      }
      | {"index": np.int64(i)}
      for i in range(count)
  ]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  """A tiny train_phase run of 4 steps."""
  config = phase_sbdm.get_config("tiny")
  config.train.num_steps = 4
  config.train.checkpoint_every = 4
  config.train.async_checkpoint = False
  config.eval.figure_examples = 0
  workdir = tmp_path_factory.mktemp("run")
  sbdm_trainer.train_and_evaluate(
      config, str(workdir), train_source=_records(16)
  )
  return workdir


def test_an_installed_model_samples_as_its_run(run, tmp_path):
  path = tmp_path / "tiny.npz"
  info = pretrained.save(str(run), path, {"run": "tiny"})
  assert info["step"] == 4 and info["run"] == "tiny"
  assert info["num_params"] > 0
  installed = tmp_path / "installed"
  assert pretrained.install(str(path), str(installed)) == 4
  assert loading.read_config(installed).to_dict() == (
      loading.read_config(run).to_dict()
  )
  magnitude = np.stack([r["magnitude"] for r in _records(4)])
  key = jax.random.key(3)
  phases = [
      np.asarray(sbdm_loading.load_sbdm_phase_fn(str(d))(key, magnitude))
      for d in (run, installed)
  ]
  np.testing.assert_array_equal(phases[0], phases[1])
  # Not a trivially equal pair: another key gives other phases.
  other = sbdm_loading.load_sbdm_phase_fn(str(installed))(
      jax.random.key(4), magnitude
  )
  assert not np.allclose(phases[1], np.asarray(other))


def test_install_refuses_a_used_workdir_and_an_unknown_name(run, tmp_path):
  path = tmp_path / "tiny.npz"
  pretrained.save(str(run), path)
  with pytest.raises(checkpoints.CheckpointError, match="already holds"):
    pretrained.install(str(path), str(run))
  with pytest.raises(checkpoints.CheckpointError, match="No pretrained phase"):
    pretrained.install("no_such_model", str(tmp_path / "x"))
  with pytest.raises(checkpoints.CheckpointError, match="No checkpoint"):
    pretrained.save(str(tmp_path / "empty"), tmp_path / "y.npz")
  assert not (tmp_path / "y.npz").exists()


def test_a_torn_or_foreign_file_is_refused_by_name(run, tmp_path):
  path = tmp_path / "tiny.npz"
  pretrained.save(str(run), path)
  whole = path.read_bytes()
  torn = tmp_path / "torn.npz"
  torn.write_bytes(whole[: len(whole) // 2])
  foreign = tmp_path / "foreign.npz"
  np.savez(foreign, weights=np.zeros(3))
  text = tmp_path / "text.npz"
  text.write_text("not a model")
  # Its config and info, but none of its parameters.
  paramless = tmp_path / "paramless.npz"
  with np.load(path) as stored:
    np.savez(
        paramless,
        **{k: stored[k] for k in stored.files if not k.startswith("params/")},
    )
  for bad in (torn, foreign, text, paramless):
    with pytest.raises(checkpoints.CheckpointError, match=re.escape(str(bad))):
      pretrained.install(str(bad), str(tmp_path / f"into_{bad.stem}"))
    assert not (tmp_path / f"into_{bad.stem}").exists()


def test_the_command_line_saves_and_installs(run, tmp_path):
  out = tmp_path / "cli.npz"
  said = pretrained_cli.run("save", str(run), out=str(out))
  assert said.startswith("Saved step 4") and out.exists()
  said = pretrained_cli.run("install", str(tmp_path / "new"), name=str(out))
  assert said == f"Installed {out} (step 4) in {tmp_path / 'new'}"
  with pytest.raises(pretrained_cli.app.UsageError, match="save needs"):
    pretrained_cli.run("save", str(run))
  with pytest.raises(pretrained_cli.app.UsageError, match="save|install"):
    pretrained_cli.run("load", str(run))


def _interior_roughness(phase, labels):
  """Mean |wrapped difference| of horizontal neighbours inside one tissue
  (uniform noise: pi / 2)."""
  step = np.angle(np.exp(1j * (phase[..., 1:] - phase[..., :-1])))
  inside = (labels[..., 1:] == labels[..., :-1]) & (labels[..., 1:] > 0)
  return float(np.abs(step)[inside].mean())


@pytest.mark.slow  # samples a 64x64 model
@pytest.mark.parametrize("name", ["cpu64"])
def test_a_shipped_model_installs_and_samples_phase_like_maps(name, tmp_path):
  assert name in pretrained.names()
  workdir = tmp_path / name
  pretrained.install(name, str(workdir))
  config = loading.read_config(workdir)
  size = config.data.image_size
  examples = [
      generator.generate_example(generator.example_rng(5, "test", i), size)
      for i in range(8)
  ]
  magnitude = normalize.normalize_magnitude(
      np.stack([e["magnitude"] for e in examples])
  )
  labels = np.stack([e["labels"] for e in examples])
  phase_fn = sbdm_loading.load_sbdm_phase_fn(
      str(workdir), sampler_name="dpmpp_2m", num_steps=10
  )
  phase = np.asarray(phase_fn(jax.random.key(0), magnitude))
  assert phase.shape == magnitude.shape and np.all(np.isfinite(phase))
  assert np.all(np.abs(phase) <= np.pi + 1e-6)
  truth = np.stack([e["phase"] for e in examples])
  # Smooth inside tissue as the true phase is, far from noise (pi / 2).
  sampled, true = (_interior_roughness(p, labels) for p in (phase, truth))
  assert sampled < 2 * true + 0.1, (sampled, true)
