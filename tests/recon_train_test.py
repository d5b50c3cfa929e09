"""recon.train: overfitting, exact resume, NaN handling, bad input, configs."""

import json

import jax
import numpy as np
import pytest

from configs import recon as recon_config
from launch import checkpoints
from launch import metric_writers
from launch import parallel
from recon import evaluation
from recon import input_pipeline
from recon import losses
from recon import simulate
from recon import train
from recon.models import get_model


def _config(**train_overrides):
  config = recon_config.get_config("tiny,model=unet")
  config.train.eval_every = 0
  config.train.update(train_overrides)
  return config


def _sources(config):
  return {
      split: input_pipeline.get_source(config, split)
      for split in input_pipeline.SPLITS
  }


def test_loss_decreases_on_a_tiny_overfit_set():
  config = _config()
  config.train.loss = "l1"
  config.optim.lr = 3e-3
  model, tx, lr_fn, init_fn = train._setup(config)
  mesh = parallel.create_mesh()
  state = jax.jit(init_fn)(jax.random.key(0))
  step = jax.jit(
      train.get_train_step(
          model, tx, simulate.get_simulate_fn(config), losses.l1_loss, lr_fn
      )
  )
  records = input_pipeline.fake_records(4, config.data.image_size, seed=0)
  batch = input_pipeline.model_inputs(
      {k: np.stack([r[k] for r in records]) for k in records[0]}, config
  )
  batch = parallel.shard_batch(batch, mesh)
  history = []
  for _ in range(30):
    state, metrics = step(state, batch)
    history.append(float(metrics["loss"]))
  assert np.all(np.isfinite(history))
  assert np.mean(history[-5:]) < 0.5 * np.mean(history[:3]), history


@pytest.fixture(scope="module")
def resumed_run(tmp_path_factory):
  """4 steps straight vs 2 steps + resume to 4, on the same data."""
  config = _config(num_steps=4, checkpoint_every=2)
  sources = _sources(config)
  straight = tmp_path_factory.mktemp("straight")
  resumed = tmp_path_factory.mktemp("resumed")
  full = train.train_and_evaluate(config, straight, sources=sources)
  half = _config(num_steps=2, checkpoint_every=2, final_eval=False)
  train.train_and_evaluate(half, resumed, sources=sources)
  again = train.train_and_evaluate(
      _config(num_steps=4, checkpoint_every=2, final_eval=False),
      resumed,
      sources=sources,
  )
  return config, sources, straight, full, again


def test_resume_is_exact(resumed_run):
  _, _, _, full, again = resumed_run
  assert int(full.step) == int(again.step) == 4
  for a, b in zip(jax.tree.leaves(full), jax.tree.leaves(again)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_outputs_written(resumed_run):
  config, _, workdir, _, _ = resumed_run
  lines = [
      json.loads(line)
      for line in (workdir / "metrics.jsonl").read_text().splitlines()
  ]
  assert [line["step"] for line in lines if "train/loss" in line] == [2, 4]
  assert list((workdir / "tensorboard").iterdir())
  name = f"{config.eval.split}_{config.model.name}"
  summary = json.loads((workdir / "eval" / f"{name}_metrics.json").read_text())
  ssim = summary["model"]["volume"]["ssim"]
  assert ssim["ci_low"] <= ssim["mean"] <= ssim["ci_high"]
  assert ssim["n"] == config.eval.batch_size * config.eval.num_batches
  assert (workdir / "eval" / f"{name}.png").stat().st_size > 0


def test_evaluate_on_kspace_records_and_bad_kspace(resumed_run):
  config, sources, workdir, _, _ = resumed_run
  num_coils = config.forward.num_coils
  rng = np.random.default_rng(0)
  size = config.data.image_size

  def kspace_record(coils, volume):
    kspace = rng.normal(size=(coils, size, size)) + 1j
    return {"kspace": kspace.astype(np.complex64), "volume_id": volume}

  test = [kspace_record(num_coils, f"vol{i // 3}") for i in range(6)]
  summary = train.evaluate(config, workdir, sources={"test": test})
  # Two volumes of three slices, scored per volume and per slice.
  assert summary["model"]["volume"]["nmse"]["n"] == 2
  assert summary["model"]["slice"]["nmse"]["n"] == 6
  with pytest.raises(ValueError, match="trained with 4"):
    train.evaluate(
        config,
        workdir,
        sources={"test": [kspace_record(num_coils + 1, "v") for _ in range(4)]},
    )
  bad = [kspace_record(num_coils, "v") for _ in range(4)]
  bad[2]["kspace"][0, 3, 3] = np.nan
  with pytest.raises(ValueError, match="NaN"):
    train.evaluate(config, workdir, sources={"test": bad})


def test_reconstruct_rejects_bad_kspace():
  config = _config()
  model = get_model(config.model, 3)
  reconstruct = evaluation.get_reconstruct_fn(model, num_coils=4)
  kspace = np.ones((2, 4, 32, 32), np.complex64)
  mask = np.ones((2, 32, 32), np.float32)
  with pytest.raises(ValueError, match="3 coils but the model was trained"):
    reconstruct(None, kspace[:, :3], mask)
  with pytest.raises(ValueError, match="mask shape"):
    reconstruct(None, kspace, mask[:, :16])
  kspace[1, 2, 0, 0] = np.inf
  with pytest.raises(ValueError, match="NaN/inf"):
    reconstruct(None, kspace, mask)
  with pytest.raises(ValueError, match="NaN/inf"):
    input_pipeline.model_inputs(
        {
            "magnitude": np.full((4, 8, 8), np.nan, np.float32),
            "phase": np.zeros((4, 8, 8), np.float32),
        },
        config,
    )


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
  config = _config(
      num_steps=5, checkpoint_every=1, log_every=1, final_eval=False
  )
  config.data.shuffle = False
  records = input_pipeline.fake_records(12, config.data.image_size, seed=1)
  for record in records[8:]:  # the third batch overflows float32 -> inf
    record["magnitude"] = record["magnitude"] * np.float32(1e30)
  with pytest.raises(
      metric_writers.NonFiniteLossError,
      match="step 3.*last good checkpoint \\(step 2\\)",
  ):
    train.train_and_evaluate(config, tmp_path, sources={"train": records})
  manager = checkpoints.create_manager(tmp_path / "checkpoints", 3, False)
  assert sorted(manager.all_steps()) == [1, 2]
  manager.close()
  with pytest.raises(checkpoints.CheckpointError, match="No checkpoint"):
    train.evaluate(config, tmp_path / "elsewhere")


@pytest.mark.parametrize(
    "variant",
    [
        "tiny",
        "synthetic128_unet",
        "synthetic128_varnet",
        "fastmri_knee_varnet",
        "paper",
    ],
)
def test_config_variants(variant):
  config = recon_config.get_config(variant)
  assert config.model.name in ("unet", "varnet")
  assert len(config.forward.center_fractions) == len(
      config.forward.accelerations
  )
  if variant == "paper":
    assert (
        config.forward.num_coils,
        config.model.num_cascades,
        config.model.chans,
        config.train.loss,
        config.optim.lr,
        config.forward.mask_type,
    ) == (1, 12, 18, "ssim", 3e-4, "equispaced")
  with pytest.raises(ValueError, match="Unknown variant"):
    recon_config.get_config("nope")


def test_simulate_draws_fresh_masks_coils_and_uses_phase_field():
  config = recon_config.get_config("tiny")
  config.data.phase_field = "synthesized_phase"
  records = input_pipeline.fake_records(4, config.data.image_size, seed=3)
  batch = {k: np.stack([r[k] for r in records]) for k in records[0]}
  batch["synthesized_phase"] = batch.pop("phase")
  inputs = input_pipeline.model_inputs(batch, config)
  np.testing.assert_array_equal(inputs["phase"], batch["synthesized_phase"])
  out = jax.jit(simulate.get_simulate_fn(config))(jax.random.key(0), inputs)
  size, num_coils = config.data.image_size, config.forward.num_coils
  assert out["masked_kspace"].shape == (4, num_coils, size, size)
  mask = np.asarray(out["mask"])
  assert len({m.tobytes() for m in mask}) > 1  # a mask per example
  kspace = np.asarray(out["masked_kspace"])
  assert np.all(kspace[np.broadcast_to(mask[:, None] == 0, kspace.shape)] == 0)
  # Noiseless, unit-RSS coils: the RSS target is the magnitude, and the
  # complex image carries the given phase.
  np.testing.assert_allclose(out["target"], inputs["magnitude"], atol=1e-4)
  np.testing.assert_allclose(
      np.abs(out["image"]), inputs["magnitude"], atol=1e-5
  )
  inside = inputs["magnitude"] > 0
  np.testing.assert_allclose(
      np.angle(np.asarray(out["image"]) * np.exp(-1j * inputs["phase"]))[
          inside
      ],
      0,
      atol=1e-4,
  )
  with pytest.raises(ValueError, match="records\\['phase'\\]"):
    input_pipeline.model_inputs(
        {"magnitude": batch["magnitude"]}, recon_config.get_config("tiny")
    )
  zero = recon_config.get_config("tiny")
  zero.data.phase_source = "zero"
  out = jax.jit(simulate.get_simulate_fn(zero))(
      jax.random.key(1), {"magnitude": inputs["magnitude"]}
  )
  np.testing.assert_allclose(
      np.angle(np.asarray(out["image"]))[inside], 0, atol=1e-6
  )
  # Any other name comes from score_phase.phase_sources (imported lazily).
  uniform = recon_config.get_config("tiny")
  uniform.data.phase_source = "uniform"
  out = jax.jit(simulate.get_simulate_fn(uniform))(
      jax.random.key(2), {"magnitude": inputs["magnitude"]}
  )
  phase = np.angle(np.asarray(out["image"]))[inside]
  assert np.all(np.isfinite(phase)) and phase.std() > 1.0


def test_model_inputs_pick_images_for_training_and_kspace_for_eval():
  config = recon_config.get_config("tiny")
  records = {
      "magnitude": np.ones((4, 8, 8), np.float32),
      "phase": np.zeros((4, 8, 8), np.float32),
      "kspace": np.ones((4, 4, 8, 8), np.complex64),
      "volume_id": np.array(["a", "a", "b", "b"]),
  }
  assert set(input_pipeline.model_inputs(records, config)) == {
      "magnitude",
      "phase",
  }
  assert set(
      input_pipeline.model_inputs(records, config, prefer_kspace=True)
  ) == {"kspace"}
  complex_records = {"image": np.full((4, 8, 8), 1j, np.complex64)}
  inputs = input_pipeline.model_inputs(complex_records, config)
  np.testing.assert_allclose(inputs["magnitude"], 1.0)
  np.testing.assert_allclose(inputs["phase"], np.pi / 2)
  with pytest.raises(ValueError, match="coil maps but forward.num_coils"):
    input_pipeline.model_inputs(
        dict(records, sens=np.ones((4, 3, 8, 8), np.complex64)), config
    )
