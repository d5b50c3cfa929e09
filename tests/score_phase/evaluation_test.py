"""End-to-end tests of score_phase.sbdm.trainer, .evaluation and .inference on
in-memory synthetic records: exact resume, NaN handling, sampling and
scoring, bad inputs, the SBDM as a phase source, no recompilation. Uses the
`tiny` config (compiled steps shared with other modules)."""

import json
import shutil

import jax
import numpy as np
import pytest

from configs import phase_sbdm
from kspace.common import config_errors
from kspace.simulator import generator
from launch import main as launch_main
from runtime import checkpoints
from runtime import metric_writers
from runtime import parallel
from score_phase import evaluation
from score_phase import batch_checks
from score_phase import loading
from score_phase.sbdm import loading as sbdm_loading
from score_phase.sbdm import state as sbdm_state
from score_phase.sbdm import trainer as sbdm_trainer
from score_phase.sources import lookup

SIZE = 16


def _config(num_steps=6, **train_overrides):
  config = phase_sbdm.get_config("tiny")
  config.train.num_steps = num_steps
  config.train.checkpoint_every = 2
  config.train.log_every = 2
  config.train.async_checkpoint = False
  config.train.update(train_overrides)
  config.eval.figure_samples = 2
  config.eval.num_examples = 8
  config.eval.num_samples = 2
  return config


def _records(split, count):
  records = []
  for i in range(count):
    example = generator.generate_example(
        generator.example_rng(0, split, i), SIZE
    )
    records.append({
        "magnitude": example["magnitude"],
        "phase": example["phase"],
        "labels": example["labels"],
        "index": np.int64(i),
    })
  return records


TRAIN = _records("train", 24)
VAL = _records("validation", 8)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """6 uninterrupted steps, and 4 steps + resume to 6."""
  full = tmp_path_factory.mktemp("full")
  state = sbdm_trainer.train_and_evaluate(
      _config(6), str(full), train_source=TRAIN, val_source=VAL
  )
  split = tmp_path_factory.mktemp("split")
  partial = sbdm_trainer.train_and_evaluate(
      _config(4), str(split), train_source=TRAIN, val_source=VAL
  )
  resumed = sbdm_trainer.train_and_evaluate(
      _config(6), str(split), train_source=TRAIN, val_source=VAL
  )
  return {
      "full": (full, jax.device_get(state)),
      "partial": jax.device_get(partial),
      "resumed": (split, jax.device_get(resumed)),
  }


def test_writes_metrics_checkpoints_and_figures(trained):
  workdir, state = trained["full"]
  assert int(state.step) == 6
  lines = [
      json.loads(l)
      for l in (workdir / "metrics.jsonl").read_text().splitlines()
  ]
  assert [l["step"] for l in lines] == [2, 4, 6]
  for line in lines:
    assert np.isfinite(line["train/loss"]) and line["train/loss"] > 0
    assert line["train/steps_per_second"] > 0
  # Metrics are averaged over the logged steps: lr(0) = 0 and lr(1) = 1e-3
  # in the 2-step warmup, then the full 2e-3.
  assert [l["train/lr"] for l in lines] == pytest.approx([5e-4, 2e-3, 2e-3])
  assert sorted(
      int(p.name)
      for p in (workdir / "checkpoints").iterdir()
      if p.name.isdigit()
  ) == [
      2,
      4,
      6,
  ]  # max_to_keep = 3
  assert list((workdir / "figures").glob("train_samples_0000006.png"))
  assert list((workdir / "tensorboard").iterdir())


def test_resume_is_exact(trained):
  assert int(trained["partial"].step) == 4
  _, full = trained["full"]
  _, resumed = trained["resumed"]
  assert int(resumed.step) == 6
  jax.tree.map(np.testing.assert_array_equal, full.params, resumed.params)
  jax.tree.map(
      np.testing.assert_array_equal, full.ema_params, resumed.ema_params
  )
  jax.tree.map(np.testing.assert_array_equal, full.opt_state, resumed.opt_state)


def test_sample_and_evaluate(trained):
  workdir, _ = trained["full"]
  config = _config(6)
  # A second trained SBDM scored alongside with the same noise (here the
  # same run, so the paired difference is 0; an ablation names another).
  config.eval.compare_sbdm_workdirs = (str(workdir),)
  summary = evaluation.sample_and_evaluate(config, str(workdir), val_source=VAL)
  assert summary["step"] == 6 and summary["num_images"] == 8
  assert summary["nfe"] == 2 * config.sampling.num_steps - 1
  for key in (
      "mean_error",
      "sample_error",
      "mean_error_aligned",
      "gradient_error",
      "diversity_background",
      "kspace_nmse",
      "baseline/zero/mean_error",
      "baseline/smooth_polynomial/sample_error",
  ):
    assert np.isfinite(summary[key]), key
  assert 0.0 <= summary["sample_error"] <= np.pi
  written = json.loads((workdir / "sample_metrics_heun3.json").read_text())
  assert written["mean_error"] == pytest.approx(summary["mean_error"])
  assert list((workdir / "figures").glob("val_samples_heun3_*.png"))
  assert list((workdir / "figures").glob("val_sources_heun3_*.png"))
  # Every source scored as a sampler on the same images, paired vs the SBDM.
  scores = written["scores"]
  sources = (
      "sbdm",
      f"sbdm_{workdir.name}",
      "zero",
      "smooth_polynomial",
      "oracle_a",
      "oracle_a_unrevealed",
      "oracle_b",
  )
  assert set(sources) <= set(scores["sources"]) and scores["num_images"] == 8
  for source in sources:
    row = scores["sources"][source]
    for name in (
        "energy_total",
        "energy_d1",
        "spread_skill_d1",
        "crps",
        "crps_near_air",
        "w1_boundary",
        "spectral_distance",
    ):
      assert np.isfinite(row[name]["mean"]), (source, name)
  # A constant guess has no spread; the oracles' draws do.
  assert scores["sources"]["zero"]["spread_skill_d1"]["mean"] == 0.0
  assert scores["sources"]["oracle_b"]["spread_skill_d1"]["mean"] > 0.3
  assert set(scores["paired"]) == set(scores["sources"]) - {"sbdm"}
  same = scores["paired"][f"sbdm_{workdir.name}"]["energy_total"]
  assert same == {"mean_difference": 0.0, "low": 0.0, "high": 0.0}
  table = (workdir / "sample_scores_heun3.md").read_text()
  assert "| oracle_a |" in table and "Paired differences" in table
  assert "| crps_near_air |" in table


def test_sbdm_phase_source(trained):
  workdir, _ = trained["full"]
  phase_fn = lookup.get_phase_fn("sbdm", workdir=str(workdir))
  magnitude = np.stack([r["magnitude"] for r in VAL[:5]])  # padded to 8
  phase = np.asarray(phase_fn(jax.random.key(0), magnitude))
  assert phase.shape == (5, SIZE, SIZE) and phase.dtype == np.float32
  assert np.all(phase > -np.pi) and np.all(phase <= np.pi)
  with pytest.raises(ValueError, match="trained on 16x16"):
    phase_fn(jax.random.key(0), np.ones((4, 32, 32), np.float32))
  with pytest.raises(ValueError, match="NaN"):
    phase_fn(jax.random.key(0), np.full((4, SIZE, SIZE), np.nan, np.float32))
  with pytest.raises(ValueError, match="channel axis"):
    phase_fn(jax.random.key(0), np.ones((4, SIZE, SIZE, 1), np.float32))


def test_nan_loss_stops_and_keeps_last_good_checkpoint(trained, tmp_path):
  workdir, good = trained["full"]
  # Copy the finished run, then continue with a learning rate that blows
  # the parameters up in one step (magnitudes are normalised on the way in,
  # so bad data scale cannot do it): the next loss is inf/NaN.
  run = tmp_path / "nan_run"

  shutil.copytree(workdir, run)
  exploding = _config(10)
  exploding.optim.lr = 1e30
  with pytest.raises(
      metric_writers.NonFiniteLossError,
      match=r"step 8.*checkpoint \(step 6\) is kept",
  ):
    sbdm_trainer.train_and_evaluate(
        exploding, str(run), train_source=TRAIN, val_source=VAL
    )
  manager = checkpoints.create_manager(run / "checkpoints", async_save=False)
  assert manager.latest_step() == 6
  manager.close()
  step, state = sbdm_state.restore_state(
      _config(10), str(run), parallel.create_mesh()
  )
  assert step == 6
  jax.tree.map(np.testing.assert_array_equal, good.params, state.params)


def test_missing_and_incompatible_checkpoints(trained, tmp_path):
  with pytest.raises(checkpoints.CheckpointError, match="--mode=train_phase"):
    evaluation.sample_and_evaluate(_config(), str(tmp_path), val_source=VAL)
  workdir, _ = trained["full"]
  wider = _config()
  wider.model.nf = 16
  with pytest.raises(checkpoints.CheckpointError):
    evaluation.sample_and_evaluate(wider, str(workdir), val_source=VAL)
  other_sde = _config()
  other_sde.sde.sigma_max = 10.0
  with pytest.raises(checkpoints.CheckpointError, match="sde"):
    evaluation.sample_and_evaluate(other_sde, str(workdir), val_source=VAL)


def test_bad_training_input(tmp_path):
  nan_records = [{
      "magnitude": np.full((SIZE, SIZE), np.nan, np.float32),
      "phase": np.zeros((SIZE, SIZE), np.float32),
  }] * 8
  with pytest.raises(ValueError, match="NaN"):
    sbdm_trainer.train_and_evaluate(
        _config(2),
        str(tmp_path / "a"),
        train_source=nan_records,
        val_source=VAL,
    )
  with pytest.raises(ValueError, match="trained on 16x16"):
    batch_checks.check_batch(
        {"magnitude": np.ones((8, 32, 32)), "phase": np.ones((8, 32, 32))},
        SIZE,
    )
  bad_batch = _config(2)
  bad_batch.train.batch_size = 6
  with pytest.raises(ValueError, match="divisible"):
    sbdm_trainer.train_and_evaluate(
        bad_batch, str(tmp_path / "b"), train_source=TRAIN, val_source=VAL
    )
  # A misspelt oracle is refused before any sampling.
  bad_oracle = _config(2)
  bad_oracle.eval.oracles = ("oracle_c",)
  with pytest.raises(config_errors.ConfigError, match="eval.oracles"):
    evaluation.evaluate(bad_oracle, params=None, source=VAL, mesh=None)


def test_no_recompilation_on_resume_or_resampling(
    trained, tmp_path, count_traces
):
  """Trace-count guard: a second run in the process reuses the compiled
  train step, and later sampler calls the compiled sampler."""
  workdir = tmp_path / "run"
  shutil.copytree(trained["full"][0], workdir)
  shutil.rmtree(workdir / "checkpoints" / "6")  # resume from step 4
  with count_traces("train_step") as traces:
    resumed = sbdm_trainer.train_and_evaluate(
        _config(6), str(workdir), train_source=TRAIN, val_source=VAL
    )
  assert int(resumed.step) == 6
  assert traces() == 0
  mesh = parallel.create_mesh()
  sample_phase, _ = sbdm_loading.get_phase_sampler(_config(), mesh)
  _, state = sbdm_state.restore_state(_config(), str(workdir), mesh)
  magnitude = np.stack([r["magnitude"] for r in VAL])
  loading.sample_phases(
      sample_phase, jax.random.key(0), state.params, magnitude, 1, mesh
  )
  with count_traces("sample_phase") as traces:
    for seed in (1, 2):
      loading.sample_phases(
          sample_phase,
          jax.random.key(seed),
          state.ema_params,
          magnitude,
          1,
          mesh,
      )
  assert traces() == 0


def test_launch_modes_are_wired():
  assert launch_main.MODES["train_phase"] is sbdm_trainer.train_and_evaluate
  assert launch_main.MODES["sample_phase"] is evaluation.sample_and_evaluate
  for variant in ("tiny", "cpu32", "synthetic128", "fastmri320", "paper"):
    config = phase_sbdm.get_config(variant)
    assert config.train.batch_size % 4 == 0
  assert phase_sbdm.get_config("cpu32,steps=7").train.num_steps == 7
  with pytest.raises(ValueError, match="Unknown variant"):
    phase_sbdm.get_config("huge")
