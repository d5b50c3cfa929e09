"""Shared runtime: sharding, checkpoints with fallback, metric writers."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kspace.common import config_errors
from runtime import atomic
from runtime import checkpoints
from runtime import metric_writers
from runtime import parallel


def test_mesh_spans_the_forced_devices_and_shards_the_batch():
  mesh = parallel.create_mesh()
  assert mesh.devices.size == jax.device_count() == 4
  batch = {"x": np.arange(8 * 3, dtype=np.float32).reshape(8, 3)}
  sharded = parallel.shard_batch(batch, mesh)
  assert len(sharded["x"].addressable_shards) == 4
  assert sharded["x"].addressable_shards[0].data.shape == (2, 3)
  np.testing.assert_array_equal(sharded["x"], batch["x"])
  params = parallel.replicate({"w": jnp.ones(3)}, mesh)
  assert params["w"].sharding.is_fully_replicated


def test_batch_size_must_split_over_devices():
  assert parallel.check_batch_size(8) == 8
  with pytest.raises(config_errors.ConfigError, match="not divisible.*Fix"):
    parallel.check_batch_size(6)


def _state(value):
  return {
      "step": jnp.asarray(value, jnp.int32),
      "params": {"w": jnp.full((3,), value, jnp.float32)},
      "rng": jax.random.key(value),
  }


def test_checkpoint_roundtrip_and_fallback_to_previous_step(tmp_path):
  manager = checkpoints.create_manager(tmp_path, max_to_keep=3)
  for step in (1, 2):
    checkpoints.save(manager, step, _state(step), {"data_step": step})
  manager.wait_until_finished()
  step, state, meta = checkpoints.restore_latest(manager, _state(0))
  assert step == 2 and meta == {"data_step": 2}
  np.testing.assert_array_equal(state["params"]["w"], 2.0)
  assert (
      jax.random.key_data(state["rng"]).tolist()
      == jax.random.key_data(jax.random.key(2)).tolist()
  )
  # Corrupt the newest step: restore falls back to step 1.
  for path in (tmp_path / "2").rglob("*"):
    if path.is_file():
      path.write_bytes(b"garbage")
  manager.close()
  manager = checkpoints.create_manager(tmp_path, max_to_keep=3)
  step, state, _ = checkpoints.restore_latest(manager, _state(0))
  assert step == 1
  np.testing.assert_array_equal(state["params"]["w"], 1.0)
  manager.close()


def test_incompatible_checkpoint_raises_a_clear_error(tmp_path):
  manager = checkpoints.create_manager(tmp_path, max_to_keep=2)
  checkpoints.save(manager, 5, _state(5))
  manager.wait_until_finished()
  other_layout = {
      "step": jnp.zeros((), jnp.int32),
      "params": {"w": jnp.zeros((7,), jnp.float32)},
      "rng": jax.random.key(0),
  }
  with pytest.raises(checkpoints.CheckpointError, match="matches the current"):
    checkpoints.restore_latest(manager, other_layout)
  # The message names the array and both shapes, checked before reading.
  with pytest.raises(
      checkpoints.CheckpointError,
      match=r"params/w: checkpoint \(3,\), config \(7,\)",
  ):
    checkpoints.restore_latest(manager, other_layout)
  manager.close()


def test_empty_directory_restores_nothing(tmp_path):
  manager = checkpoints.create_manager(tmp_path / "ckpt", max_to_keep=2)
  assert checkpoints.restore_latest(manager, _state(0)) is None
  manager.close()
  with pytest.raises(ValueError, match="at least 2"):
    checkpoints.create_manager(tmp_path / "x", max_to_keep=1)


def test_metric_writer_writes_jsonl_and_tensorboard(tmp_path):
  writer = metric_writers.MetricWriter(tmp_path, enabled=True)
  writer.write_scalars(1, {"loss": 0.5})
  writer.write_scalars(2, {"loss": np.float32(0.25), "lr": 1e-3})
  writer.write_image(2, "sample", np.zeros((4, 4, 3), np.uint8))
  writer.close()
  lines = [
      json.loads(l)
      for l in (tmp_path / "metrics.jsonl").read_text().splitlines()
  ]
  assert lines == [
      {"step": 1, "loss": 0.5},
      {"step": 2, "loss": 0.25, "lr": 1e-3},
  ]
  assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))


def test_check_finite_names_the_step_and_checkpoint():
  metric_writers.check_finite({"loss": 1.0}, step=3, last_checkpoint_step=2)
  with pytest.raises(
      metric_writers.NonFiniteLossError, match=r"step 7.*step 5\) is kept"
  ):
    metric_writers.check_finite(
        {"loss": float("nan")}, step=7, last_checkpoint_step=5
    )


def test_resumed_writer_drops_what_an_interrupted_run_logged_after_the_checkpoint(
    tmp_path,
):
  writer = metric_writers.MetricWriter(tmp_path, enabled=True)
  for step in range(1, 6):
    writer.write_scalars(step, {"train/loss": step})
  writer.close()
  with (tmp_path / "metrics.jsonl").open("a") as f:
    f.write('{"step": 6, "train/lo')  # killed in the middle of a line
  # Killed after step 5 with the last checkpoint at step 4: resume there.
  writer = metric_writers.MetricWriter(tmp_path, enabled=True, resume_step=4)
  for step in (5, 6):
    writer.write_scalars(step, {"train/loss": 10 * step})
  writer.close()
  lines = [
      json.loads(l)
      for l in (tmp_path / "metrics.jsonl").read_text().splitlines()
  ]
  assert [l["step"] for l in lines] == [1, 2, 3, 4, 5, 6]
  assert lines[4]["train/loss"] == 50


def test_pad_to_multiple_repeats_the_last_row():
  batch = {"x": np.arange(5, dtype=np.float32), "y": np.ones((5, 2))}
  padded, count = parallel.pad_to_multiple(batch, 4)
  assert count == 5
  np.testing.assert_array_equal(padded["x"], [0, 1, 2, 3, 4, 4, 4, 4])
  assert padded["y"].shape == (8, 2)
  same, count = parallel.pad_to_multiple(batch, 5)
  assert same is batch and count == 5


def test_replacing_renames_on_success_and_leaves_the_old_file_on_failure(
    tmp_path,
):
  path = tmp_path / "report.json"
  with atomic.replacing(path) as tmp:
    assert tmp.suffix == ".json" and tmp != path
    tmp.write_text("new")
  assert path.read_text() == "new"
  with pytest.raises(RuntimeError):
    with atomic.replacing(path) as tmp:
      tmp.write_text("half")
      raise RuntimeError("crash while writing")
  assert path.read_text() == "new"
  assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
