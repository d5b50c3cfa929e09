"""Tests of data_source / batches: determinism, restart, sharding, epochs."""

import itertools

import numpy as np
import pytest

from kspace import datasets


class ListSource:
  """An in-memory random-access source of records i -> {"id": i, ...}."""

  def __init__(self, size):
    self.size = size

  def __len__(self):
    return self.size

  def __getitem__(self, index):
    return {"id": np.int64(index), "image": np.full((2, 3), index, np.float32)}


def _ids(batches):
  return [batch["id"].tolist() for batch in batches]


def _take(iterator, count):
  return list(itertools.islice(iterator, count))


def test_batches_are_deterministic_and_seeded():
  source = ListSource(20)
  first = _ids(_take(datasets.batches(source, 4, seed=1), 12))
  again = _ids(_take(datasets.batches(source, 4, seed=1), 12))
  other = _ids(_take(datasets.batches(source, 4, seed=2), 12))
  assert first == again
  assert first != other
  batch = next(datasets.batches(source, 4, seed=1))
  assert (
      batch["image"].shape == (4, 2, 3) and batch["image"].dtype == np.float32
  )
  np.testing.assert_array_equal(batch["image"][:, 0, 0], batch["id"])


def test_each_epoch_is_a_new_permutation():
  source = ListSource(12)
  steps = _ids(datasets.batches(source, 4, seed=0, num_epochs=3))
  assert len(steps) == 9
  epochs = [sum(steps[3 * e : 3 * e + 3], []) for e in range(3)]
  for epoch in epochs:
    assert sorted(epoch) == list(range(12))
  assert epochs[0] != epochs[1] != epochs[2]


@pytest.mark.parametrize("start_step", [0, 1, 4, 7])
def test_restart_from_step_yields_the_same_batches(start_step):
  source = ListSource(10)
  full = _ids(datasets.batches(source, 3, seed=5, num_epochs=3))
  resumed = _ids(
      datasets.batches(source, 3, seed=5, num_epochs=3, start_step=start_step)
  )
  assert resumed == full[start_step:]
  # Infinite iteration resumes the same way, across epoch boundaries.
  infinite = _ids(_take(datasets.batches(source, 3, seed=5), 12))
  resumed_infinite = _ids(
      _take(
          datasets.batches(source, 3, seed=5, start_step=start_step),
          12 - start_step,
      )
  )
  assert resumed_infinite == infinite[start_step:]


def test_processes_split_each_global_batch():
  source = ListSource(23)
  single = _ids(
      datasets.batches(
          source, 6, seed=3, num_epochs=2, process_index=0, process_count=1
      )
  )
  shards = [
      _ids(
          datasets.batches(
              source, 2, seed=3, num_epochs=2, process_index=p, process_count=3
          )
      )
      for p in range(3)
  ]
  assert all(len(shard) == len(single) == 6 for shard in shards)
  for step, global_batch in enumerate(single):
    parts = [shard[step] for shard in shards]
    assert sum(parts, []) == global_batch  # disjoint, same global order


def test_keep_remainder_and_no_shuffle():
  source = ListSource(7)
  steps = _ids(
      datasets.batches(
          source, 3, seed=0, shuffle=False, num_epochs=1, drop_remainder=False
      )
  )
  assert steps == [[0, 1, 2], [3, 4, 5], [6]]
  # With 2 processes the partial batch is split as evenly as possible.
  parts = [
      _ids(
          datasets.batches(
              source,
              2,
              seed=0,
              shuffle=False,
              num_epochs=1,
              drop_remainder=False,
              process_index=p,
              process_count=2,
          )
      )
      for p in range(2)
  ]
  assert parts[0] == [[0, 1], [4, 5]] and parts[1] == [[2, 3], [6]]
  empty = _ids(
      datasets.batches(
          ListSource(5),
          2,
          seed=0,
          shuffle=False,
          num_epochs=1,
          drop_remainder=False,
          process_index=1,
          process_count=2,
      )
  )
  assert empty == [[2, 3], []]


def test_bad_arguments_raise():
  with pytest.raises(ValueError, match="cannot fill one global batch"):
    next(datasets.batches(ListSource(3), 4, seed=0))
  with pytest.raises(ValueError, match="process_index"):
    next(
        datasets.batches(
            ListSource(8), 2, seed=0, process_index=2, process_count=2
        )
    )
  with pytest.raises(ValueError, match="batch_size"):
    next(datasets.batches(ListSource(8), 0, seed=0))


class CoilSource(ListSource):
  """Records whose `sens` has 2 coils for even ids and 3 for odd ones, as
  fastMRI brain files differ in coil count."""

  def __getitem__(self, index):
    return {"id": np.int64(index), "sens": np.ones((2 + index % 2, 4, 4))}


def test_records_of_different_shapes_fail_with_the_fix():
  batches = datasets.batches(CoilSource(4), 2, seed=0, shuffle=False)
  with pytest.raises(ValueError, match=r"'sens'.*\(2, 4, 4\).*batch_size 1"):
    next(batches)
  one = next(datasets.batches(CoilSource(4), 1, seed=0, shuffle=False))
  assert one["sens"].shape == (1, 2, 4, 4)


@pytest.fixture(scope="module")
def builder(tmp_path_factory):
  data_dir = str(tmp_path_factory.mktemp("tfds"))
  return datasets.build(
      "synthetic_mri",
      data_dir,
      image_size=16,
      num_train=10,
      num_val=4,
      num_test=0,
      seed=2,
  )


def test_tfds_source_batches(builder):
  source = datasets.data_source(builder, "train")
  assert len(source) == 10
  batches = list(datasets.batches(source, 4, seed=0, num_epochs=1))
  assert len(batches) == 2
  batch = batches[0]
  assert batch["magnitude"].shape == (4, 16, 16)
  assert batch["magnitude"].dtype == batch["phase"].dtype == np.float32
  assert batch["labels"].dtype == np.uint8
  assert batch["echo_time_ms"].dtype == np.float32
  assert batch["anatomy"].shape == (4,) and batch["anatomy"].dtype.kind == "U"
  ids = np.concatenate([b["index"] for b in batches])
  assert len(set(ids.tolist())) == 8
  resumed = next(datasets.batches(source, 4, seed=0, start_step=1))
  np.testing.assert_array_equal(resumed["phase"], batches[1]["phase"])


def test_data_source_split_names(builder):
  assert len(datasets.data_source(builder, "val")) == 4
  assert len(datasets.data_source(builder, "validation")) == 4
  assert len(datasets.data_source(builder, "train[:3]")) == 3
  with pytest.raises(ValueError, match="no split 'test'.*available"):
    datasets.data_source(builder, "test")
