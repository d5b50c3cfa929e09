"""The experiment's data pieces: the shared magnitude normalisation, the
disjoint roles, the pre-synthesized phase store and the record-bound phase
sources (ground truth, oracle)."""

import jax
import numpy as np
import pytest

from kspace import datasets
from kspace.common import normalize
from launch.experiment import phase_store
from launch.experiment import roles as roles_lib
from recon import input_pipeline
from score_phase import batch_checks as phase_batch_checks
from score_phase.sources import records as record_sources


def test_normalisation_is_per_image_scale_free_and_idempotent():
  rng = np.random.default_rng(0)
  image = rng.uniform(0, 1, (16, 16)).astype(np.float32)
  scanner_units = image * np.array([1e-4, 1.0, 3e3])[:, None, None]
  out = normalize.normalize_magnitude(scanner_units)
  np.testing.assert_allclose(out[0], out[1], rtol=1e-5)
  np.testing.assert_allclose(out[2], out[1], rtol=1e-5)
  np.testing.assert_allclose(
      np.percentile(out, normalize.PERCENTILE, axis=(1, 2)), 1.0, rtol=1e-5
  )
  np.testing.assert_allclose(normalize.normalize_magnitude(out), out, rtol=1e-6)
  # An all-zero image stays zero; a mostly empty one falls back to its max.
  sparse = np.zeros((2, 16, 16), np.float32)
  sparse[1, 3, 4] = 5.0
  np.testing.assert_array_equal(
      normalize.normalize_magnitude(sparse),
      sparse / np.array([1, 5])[:, None, None],
  )


def test_every_consumer_sees_the_same_normalised_magnitude():
  rng = np.random.default_rng(1)
  magnitude = rng.uniform(0, 1, (2, 8, 8)).astype(np.float32) * 1e-4
  phase = rng.uniform(-np.pi, np.pi, (2, 8, 8)).astype(np.float32)
  expected = normalize.normalize_magnitude(magnitude)
  phase_batch = phase_batch_checks.check_batch(
      {"magnitude": magnitude, "phase": phase}, 8
  )
  np.testing.assert_array_equal(phase_batch["magnitude"], expected)
  config = _recon_config()
  recon_batch = input_pipeline.image_inputs(
      {"magnitude": magnitude, "phase": phase}, config, "phase"
  )
  np.testing.assert_array_equal(recon_batch["magnitude"], expected)
  np.testing.assert_array_equal(recon_batch["phase"], phase)
  # Measured k-space is scaled by its fully sampled RSS image's scale.
  kspace = (rng.normal(size=(2, 4, 8, 8)) + 1j).astype(np.complex64) * 1e-4
  scaled = input_pipeline.eval_inputs({"kspace": kspace}, _recon_config(4))
  ratio = scaled["kspace"] / kspace
  np.testing.assert_allclose(ratio.real.std(axis=(1, 2, 3)), 0, atol=1e-2)
  assert np.all(ratio.real > 1e2)


def _recon_config(num_coils=8):
  from configs import recon as recon_config

  config = recon_config.get_config("tiny")
  config.forward.num_coils = num_coils
  return config


def test_recon_inputs_accept_k_phases_per_image_and_reject_others():
  config = _recon_config()
  magnitude = np.ones((2, 8, 8), np.float32)
  phases = np.zeros((2, 3, 8, 8), np.float32)
  out = input_pipeline.image_inputs(
      {"magnitude": magnitude, "phases": phases}, config, "phases"
  )
  assert out["phase"].shape == (2, 3, 8, 8)
  with pytest.raises(ValueError, match=r"\(B, K, H, W\)"):
    input_pipeline.image_inputs(
        {"magnitude": magnitude, "phases": phases[:, :, :4]}, config, "phases"
    )


def test_simulation_draws_one_of_k_phases_per_example():
  from recon import simulate

  config = _recon_config(num_coils=1)
  magnitude = np.ones((4, 8, 8), np.float32)
  candidates = np.array([0.3, -1.1, 2.0], np.float32)
  phases = np.broadcast_to(candidates[None, :, None, None], (4, 3, 8, 8))
  simulate_fn = simulate.get_simulate_fn(config)
  drawn = set()
  for seed in range(6):
    out = simulate_fn(
        jax.random.key(seed), {"magnitude": magnitude, "phase": phases}
    )
    angle = np.angle(np.asarray(out["image"]))[:, 4, 4]
    for value in angle:
      assert np.min(np.abs(candidates - value)) < 1e-4
      drawn.add(int(np.argmin(np.abs(candidates - value))))
  assert drawn == {0, 1, 2}


class _Records(list):
  """A list of records that counts reads."""


def _volume_records(volumes):
  return [{"volume_id": v, "magnitude": np.zeros((2, 2))} for v in volumes]


def test_roles_are_disjoint_volume_ranges():
  splits = {
      "train": _volume_records(["a", "a", "b", "c", "c", "c", "d"]),
      "validation": _volume_records(["e", "f"]),
  }
  got = roles_lib.assign(
      splits.__getitem__,
      {
          "phase_train": ("train", 0.0, 0.5),
          "recon_train": ("train", 0.5, 1.0),
          "val": ("validation", 0.0, 1.0),
      },
      "volume_id",
  )
  assert list(got["phase_train"].indices) == [0, 1, 2]  # volumes a, b
  assert list(got["recon_train"].indices) == [3, 4, 5, 6]  # volumes c, d
  assert {r["volume_id"] for r in got["val"]} == {"e", "f"}
  with pytest.raises(ValueError, match="overlap"):
    roles_lib.assign(
        splits.__getitem__,
        {"phase_train": ("train", 0.0, 0.6), "recon_train": ("train", 0.5, 1)},
        "volume_id",
    )
  with pytest.raises(ValueError, match="Unknown data roles"):
    roles_lib.assign(
        splits.__getitem__, {"trian": ("train", 0, 1)}, "volume_id"
    )
  with pytest.raises(ValueError, match="no volume"):
    roles_lib.assign(splits.__getitem__, {"val": ("validation", 0, 0.3)}, "v")


def test_synthetic_roles_share_no_image_or_anatomy_seed(tmp_path):
  builder = datasets.build(
      "synthetic_mri",
      str(tmp_path),
      image_size=16,
      num_train=6,
      num_val=2,
      num_test=2,
      seed=3,
  )
  got = roles_lib.assign(
      lambda split: datasets.data_source(builder, split),
      {
          "phase_train": ("train", 0.0, 0.5),
          "recon_train": ("train", 0.5, 1.0),
          "val": ("validation", 0.0, 1.0),
          "test": ("test", 0.0, 1.0),
      },
      "volume_id",
  )
  seeds = [
      (subset.split, int(record["index"]))
      for subset in got.values()
      for record in subset
  ]
  assert len(seeds) == 10 and len(set(seeds)) == 10
  # Every image differs from every other (no record is served twice).
  images = [r["magnitude"].tobytes() for s in got.values() for r in s]
  assert len(set(images)) == 10


def test_phase_store_round_trip_atomic_resumable_and_checked(tmp_path):
  directory = tmp_path / "store"
  records = [
      {
          "magnitude": np.full((4, 4), i, np.float32),
          "phases": np.full((2, 4, 4), -i, np.float32),
      }
      for i in range(5)
  ]
  calls = []

  def chunk(start, stop, fail=False):
    def make():
      calls.append(start)
      if fail:
        raise RuntimeError("killed")
      return records[start:stop]

    return make

  def write(metadata, fail_at=None):
    calls.clear()
    bounds = [(0, 2), (2, 4), (4, 5)]
    chunks = [chunk(a, b, fail=a == fail_at) for a, b in bounds]
    return phase_store.write(directory, chunks, metadata)

  # Killed in the last chunk: no store, but the finished chunks are kept
  # and a rerun starts at the first missing one.
  for _ in range(2):
    with pytest.raises(RuntimeError):
      write({"arm": "zero"}, fail_at=4)
    assert not phase_store.exists(directory)
  assert calls == [4]
  # Another store's leftovers are not reused.
  with pytest.raises(RuntimeError):
    write({"arm": "other"}, fail_at=0)
  assert write({"arm": "zero"}) == 5
  assert calls == [0, 2, 4]
  source = phase_store.read(directory, count=5, shapes={"phases": (2, 4, 4)})
  assert source.metadata == {"arm": "zero", "count": 5}
  np.testing.assert_array_equal(source[3]["phases"], records[3]["phases"])
  batch = next(datasets.batches(source, 2, seed=0, shuffle=False, start_step=0))
  assert batch["phases"].shape == (2, 2, 4, 4)
  with pytest.raises(phase_store.StoreError, match="6 magnitudes"):
    phase_store.read(directory, count=6)
  with pytest.raises(phase_store.StoreError, match=r"\(3, 4, 4\)"):
    phase_store.read(directory, shapes={"phases": (3, 4, 4)})
  with pytest.raises(phase_store.StoreError, match="already"):
    write({})


def test_record_sources_ground_truth_and_oracle():
  records = [
      dict(
          datasets.generate_example(datasets.example_rng(0, "train", i), 16),
          index=i,
      )
      for i in range(3)
  ]
  magnitude = np.stack([r["magnitude"] for r in records])
  truth = record_sources.ground_truth(records)
  np.testing.assert_array_equal(
      truth(jax.random.key(0), magnitude),
      np.stack([r["phase"] for r in records]),
  )
  oracle = record_sources.oracle(records, split="train", dataset_seed=0)
  first = np.asarray(oracle(jax.random.key(0), magnitude))
  again = np.asarray(oracle(jax.random.key(0), magnitude))
  other = np.asarray(oracle(jax.random.key(1), magnitude))
  np.testing.assert_array_equal(first, again)
  assert not np.allclose(first, other)
  # A rescan: the same anatomy (labels) under a new acquisition.
  rescan = datasets.generate_example(
      datasets.example_rng(0, "train", 1), 16, acquisition_seed=7
  )
  np.testing.assert_array_equal(rescan["labels"], records[1]["labels"])
  with pytest.raises(ValueError, match="made for 3 records"):
    oracle(jax.random.key(0), magnitude[:2])
  with pytest.raises(ValueError, match="synthetic_mri"):
    record_sources.oracle(
        [{"magnitude": magnitude[0]}], split="train", dataset_seed=0
    )
