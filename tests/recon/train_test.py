"""recon.train end to end: overfitting, exact resume, outputs, NaN stop,
evaluation of checkpoints (k-space records, phase-independence), the in-step
simulation and the config variants.

One tiny U-Net config is shared by every run of this module, so its train
step compiles once (`train.get_train_step` and `train_loop.compiled_step` are
cached by config).
"""

import json
import types

import jax
import numpy as np
import pytest

from configs import recon as recon_config
from kspace import coils
from recon import evaluation
from recon import input_pipeline
from recon import simulate
from recon import state as state_lib
from recon import train
from runtime import checkpoints
from runtime import metric_writers
from runtime import parallel
from runtime import train_loop
from score_phase.sources import baselines

# Training metrics the loop logs (`train/<name>`), averaged between logs.
TRAIN_KEYS = {"train/loss", "train/grad_norm", "train/lr"}


def _config(**train_overrides):
  """The module's one training config: tiny U-Net, 4 steps, L1 loss.

  L1 and a high learning rate make the loss halve within 30 steps on a
  4-image set (the overfit test); every other run shares this step.
  """
  config = recon_config.get_config("tiny,model=unet")
  config.loss.name = "l1"
  config.optim.lr = 3e-3
  config.train.num_steps = 4
  config.train.checkpoint_every = 2
  config.train.eval_every = 0
  config.train.update(train_overrides)
  return config


def _sources(config):
  return {
      split: input_pipeline.get_source(config, split)
      for split in input_pipeline.SPLITS
  }


def _stack(records):
  return {key: np.stack([r[key] for r in records]) for key in records[0]}


def _logs(workdir):
  return [
      json.loads(line)
      for line in (workdir / "metrics.jsonl").read_text().splitlines()
  ]


def _as_json(summary):
  """Exact, NaN-safe comparison form of a summary (float repr round-trips)."""
  return json.dumps(summary, sort_keys=True)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """4 steps straight (validating every 2) vs 2 steps + resume to 4."""
  config = _config(eval_every=2)
  sources = _sources(config)
  straight = tmp_path_factory.mktemp("straight")
  full = train.train_and_evaluate(config, straight, sources=sources)
  resumed = tmp_path_factory.mktemp("resumed")
  half = _config(num_steps=2)
  half.eval.after_training = False
  train.train_and_evaluate(half, resumed, sources=sources)
  rest = _config()
  rest.eval.after_training = False
  again = train.train_and_evaluate(rest, resumed, sources=sources)
  return types.SimpleNamespace(
      config=config,
      sources=sources,
      straight=straight,
      resumed=resumed,
      full=full,
      again=again,
  )


def test_loss_decreases_on_a_tiny_overfit_set(count_traces):
  config = _config()
  mesh = parallel.create_mesh()
  state = train_loop.compiled_init(state_lib.get_init_fn(config), mesh)(
      jax.random.key(0)
  )
  step = train_loop.compiled_step(train.get_train_step(config, None), mesh)
  records = input_pipeline.fake_records(4, config.data.image_size, seed=0)
  batch = parallel.shard_batch(
      input_pipeline.image_inputs(_stack(records), config, "phase"), mesh
  )
  base_key = jax.random.key(1)
  history = []
  with count_traces("train_step") as traces:
    for i in range(30):
      state, metrics = step(state, batch, jax.random.fold_in(base_key, i))
      history.append(float(metrics["loss"]))
  assert traces() <= 1  # 0 when an earlier test compiled the same step
  assert int(state.step) == 30
  assert np.all(np.isfinite(history))
  assert np.mean(history[-5:]) < 0.5 * np.mean(history[:3]), history


def test_resume_is_exact(trained):
  full, again = trained.full, trained.again
  assert int(full.step) == int(again.step) == 4
  for a, b in zip(jax.tree.leaves(full), jax.tree.leaves(again)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  # The second call resumed from the step-2 checkpoint rather than training
  # 4 steps from scratch (which would end in the same state): it logged only
  # step 4, after the first call's step 2.
  resumed_logs = [log for log in _logs(trained.resumed) if "train/loss" in log]
  straight_logs = [
      log for log in _logs(trained.straight) if "train/loss" in log
  ]
  assert [log["step"] for log in resumed_logs] == [2, 4]
  # Same batches and keys at the same steps: the logged averages agree too.
  for resumed, straight in zip(resumed_logs, straight_logs):
    for key in TRAIN_KEYS:
      assert resumed[key] == straight[key], (key, resumed, straight)


def test_outputs_written(trained):
  config, workdir = trained.config, trained.straight
  logs = _logs(workdir)
  train_logs = [log for log in logs if "train/loss" in log]
  assert [log["step"] for log in train_logs] == [2, 4]
  for log in train_logs:
    assert set(log) == TRAIN_KEYS | {"step", "train/steps_per_second"}
    assert log["train/grad_norm"] > 0 and log["train/steps_per_second"] > 0
    np.testing.assert_allclose(log["train/lr"], config.optim.lr, rtol=1e-6)
  val_logs = [log for log in logs if "val/nmse" in log]
  assert [log["step"] for log in val_logs] == [2, 4]
  # The last validation scored the final parameters on data.val_split.
  _, val_summary = evaluation.score(
      config,
      trained.full.params,
      trained.sources[config.data.val_split],
      config.eval.val_batches,
  )
  for name in evaluation.METRICS:
    assert (
        val_logs[-1][f"val/{name}"]
        == val_summary["model"]["slice"][name]["mean"]
    )
  assert any(
      path.stat().st_size > 0
      for path in (workdir / "tensorboard").iterdir()
      if path.name.startswith("events")
  )
  # The final report scored the final parameters on eval.split
  # (eval.num_batches batches).
  name = f"{config.eval.split}_{config.model.name}"
  written = json.loads((workdir / "eval" / f"{name}_metrics.json").read_text())
  _, summary = evaluation.score(
      config,
      trained.full.params,
      trained.sources[config.eval.split],
      config.eval.num_batches,
  )
  assert _as_json(written) == _as_json(summary)
  assert (
      written["model"]["slice"]["ssim"]["n"]
      == config.eval.batch_size * config.eval.num_batches
  )
  assert (workdir / "eval" / f"{name}.png").stat().st_size > 0


def test_evaluate_on_kspace_records_and_bad_kspace(trained):
  config, workdir = trained.config, trained.resumed
  num_coils = config.forward.num_coils
  rng = np.random.default_rng(0)
  size = config.data.image_size

  def kspace_record(coils, volume):
    kspace = rng.normal(size=(coils, size, size)) + 1j
    return {"kspace": kspace.astype(np.complex64), "volume_id": volume}

  test = [kspace_record(num_coils, f"vol{i // 3}") for i in range(6)]
  summary = evaluation.evaluate(config, workdir, sources={"test": test})
  # Two volumes of three slices, scored per volume and per slice.
  assert summary["model"]["volume"]["nmse"]["n"] == 2
  assert summary["model"]["slice"]["nmse"]["n"] == 6
  with pytest.raises(ValueError, match=f"trained with {num_coils}"):
    evaluation.evaluate(
        config,
        workdir,
        sources={"test": [kspace_record(num_coils + 1, "v") for _ in range(4)]},
    )
  bad = [kspace_record(num_coils, "v") for _ in range(4)]
  bad[2]["kspace"][0, 3, 3] = np.nan
  with pytest.raises(ValueError, match="NaN"):
    evaluation.evaluate(config, workdir, sources={"test": bad})


def test_evaluation_ignores_the_training_phase_settings(trained):
  """A checkpoint scores the same under any data.phase_source/phase_field:
  every arm is evaluated on the test records' own ground-truth phase."""
  config, workdir = trained.config, trained.resumed
  size = config.data.image_size
  records = input_pipeline.fake_records(8, size, seed=7)
  # A second phase under another key, far from the true one.
  other = jax.device_get(
      baselines.get_baseline("smooth_polynomial")(
          jax.random.key(3), _stack(records)["magnitude"]
      )
  )
  for record, phase in zip(records, other):
    record["other_phase"] = np.asarray(phase)
  sources = {"test": records}
  reference = evaluation.evaluate(config, workdir, sources=sources)
  for phase_source, phase_field in (
      ("zero", "phase"),
      ("smooth_polynomial", "phase"),
      (train.GROUND_TRUTH, "other_phase"),
  ):
    variant = config.copy_and_resolve_references()
    variant.data.phase_source = phase_source
    variant.data.phase_field = phase_field
    summary = evaluation.evaluate(variant, workdir, sources=sources)
    assert _as_json(summary) == _as_json(reference), (phase_source, phase_field)

  # Not vacuous: scoring the same parameters with `other_phase` as the test
  # phase changes the zero-filled inputs and every score.
  params = trained.again.params
  true_outputs, true_summary = evaluation.score(
      config, params, records, config.eval.num_batches
  )
  assert _as_json(true_summary) == _as_json(reference)
  swapped = [dict(r, phase=r["other_phase"]) for r in records]
  other_outputs, other_summary = evaluation.score(
      config, params, swapped, config.eval.num_batches
  )
  # The RSS target ignores the phase (up to FFT rounding); the aliasing of
  # the undersampled image does not.
  np.testing.assert_allclose(
      other_outputs["target"], true_outputs["target"], atol=1e-6
  )
  zero_filled_change = np.abs(
      other_outputs["zero_filled"] - true_outputs["zero_filled"]
  ).max()
  assert zero_filled_change > 0.05 * true_outputs["target"].max()
  for model in ("model", "zero_filled"):
    for name in evaluation.METRICS:
      assert (
          other_summary[model]["slice"][name]["mean"]
          != reference[model]["slice"][name]["mean"]
      ), (model, name)


def test_phase_source_and_phase_fn_must_agree(tmp_path):
  config = _config()
  config.data.phase_source = "zero"
  with pytest.raises(ValueError, match="phase_fn is missing"):
    train.train_and_evaluate(config, tmp_path)
  with pytest.raises(ValueError, match="phase_fn is given"):
    train.train_and_evaluate(
        _config(), tmp_path, phase_fn=baselines.get_baseline("zero")
    )
  assert not (tmp_path / "checkpoints").exists()


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
  config = _config(checkpoint_every=1, log_every=1)
  config.eval.after_training = False
  config.data.shuffle = False
  records = input_pipeline.fake_records(12, config.data.image_size, seed=1)
  shape = (config.data.image_size,) * 2
  sens = np.asarray(coils.birdcage_maps(shape, config.forward.num_coils))
  for index, record in enumerate(records):
    # The third batch's coil images overflow float32 in the FFT -> inf (the
    # magnitude is normalised on the way in, so its scale cannot do it).
    record["sens"] = sens * np.float32(1e38 if index >= 8 else 1.0)
  with pytest.raises(
      metric_writers.NonFiniteLossError,
      match="step 3.*last good checkpoint \\(step 2\\)",
  ):
    train.train_and_evaluate(config, tmp_path, sources={"train": records})
  manager = checkpoints.create_manager(tmp_path / "checkpoints", 3, False)
  assert sorted(manager.all_steps()) == [1, 2]
  manager.close()
  # The bad step was not logged either.
  assert [log["step"] for log in _logs(tmp_path)] == [1, 2]
  with pytest.raises(checkpoints.CheckpointError, match="No checkpoint"):
    evaluation.evaluate(config, tmp_path / "elsewhere")


def test_simulate_draws_fresh_masks_and_coils_and_uses_the_phase_given():
  config = recon_config.get_config("tiny")
  size, num_coils = config.data.image_size, config.forward.num_coils
  batch = _stack(input_pipeline.fake_records(4, size, seed=3))
  batch = {"magnitude": batch["magnitude"], "phase": batch["phase"]}
  magnitude, phase = batch["magnitude"], batch["phase"]
  inside = magnitude > 0
  simulate_fn = jax.jit(simulate.get_simulate_fn(config))
  out = jax.device_get(simulate_fn(jax.random.key(0), batch))
  assert out["masked_kspace"].shape == (4, num_coils, size, size)
  mask, kspace = out["mask"], out["masked_kspace"]
  assert len({m.tobytes() for m in mask}) == 4  # a mask per example
  assert np.all(kspace[np.broadcast_to(mask[:, None] == 0, kspace.shape)] == 0)
  # Noiseless, unit-RSS coils: the RSS target is the magnitude, and the
  # complex image carries the batch's phase.
  np.testing.assert_allclose(out["target"], magnitude, atol=1e-4)
  np.testing.assert_allclose(np.abs(out["image"]), magnitude, atol=1e-5)
  np.testing.assert_allclose(
      np.angle(out["image"] * np.exp(-1j * phase))[inside], 0, atol=1e-4
  )
  # Another key (the loop folds in the step) draws other masks.
  again = jax.device_get(simulate_fn(jax.random.key(1), batch))
  assert any(not np.array_equal(a, b) for a, b in zip(mask, again["mask"]))
  # A coil rotation per example: four copies of one image differ on the
  # k-space lines every mask samples (the fully sampled center).
  copies = {
      name: np.repeat(value[:1], 4, axis=0) for name, value in batch.items()
  }
  out = jax.device_get(simulate_fn(jax.random.key(0), copies))
  common = np.all(out["mask"] > 0, axis=0)
  assert common.any()
  lines = out["masked_kspace"][:, :, common]
  for other in lines[1:]:
    assert np.abs(other - lines[0]).max() > 0.1 * np.abs(lines[0]).max()
  # An injected phase function replaces the records' phase.
  zero_fn = jax.jit(
      simulate.get_simulate_fn(config, baselines.get_baseline("zero"))
  )
  out = jax.device_get(zero_fn(jax.random.key(1), batch))
  assert np.abs(phase[inside]).max() > 1.0
  np.testing.assert_allclose(np.angle(out["image"])[inside], 0, atol=1e-6)


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
def test_config_variants_build(variant):
  """Every variant builds its network, optimizer and forward model (traced
  abstractly, no compile)."""
  config = recon_config.get_config(variant)
  _check_builds(config)
  if variant.endswith(("_unet", "_varnet")):
    assert config.model.name == variant.rsplit("_", 1)[1]
  if variant == "paper":
    assert (
        config.forward.num_coils,
        config.model.num_cascades,
        config.model.chans,
        config.loss.name,
        config.optim.lr,
        config.forward.mask_type,
    ) == (1, 12, 18, "ssim", 3e-4, "equispaced")


def test_config_sweep_and_bad_variant():
  for overrides in recon_config.sweep():
    config = recon_config.get_config("tiny")
    for path, value in overrides.items():
      *parents, leaf = path.split(".")
      node = config
      for name in parents:
        node = node[name]
      assert leaf in node, path  # a sweep never invents a field
      node[leaf] = value
    _check_builds(config)
  with pytest.raises(ValueError, match="Unknown variant"):
    recon_config.get_config("nope")


def _check_builds(config):
  """Abstract init and simulation of `config` at its image and coil sizes."""
  size, num_coils = config.data.image_size, config.forward.num_coils
  state = jax.eval_shape(state_lib.get_init_fn(config), jax.random.key(0))
  assert jax.tree.leaves(state.params)
  image = jax.ShapeDtypeStruct((2, size, size), np.float32)
  out = jax.eval_shape(
      simulate.get_simulate_fn(config),
      jax.random.key(0),
      {"magnitude": image, "phase": image},
  )
  assert out["masked_kspace"].shape == (2, num_coils, size, size)
  assert out["target"].shape == (2, size, size)
  # The network maps the simulated input to an image of the target's shape.
  model = state_lib.get_model(config)
  pred = jax.eval_shape(
      lambda params, kspace, mask: model.apply(
          {"params": params}, kspace, mask
      ),
      state.params,
      out["masked_kspace"],
      out["mask"],
  )
  assert (pred.shape, pred.dtype) == (out["target"].shape, np.float32)
