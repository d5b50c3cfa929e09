"""Random-access sources and deterministic, restartable, sharded batches.

`batches` is a pure function of (source length, seed, step, process): global
step s belongs to epoch e = s // steps_per_epoch, whose order is a
permutation drawn from `np.random.default_rng([seed, e])`. Each step takes
the next `batch_size * process_count` indices of that order (the global
batch) and process p keeps its `batch_size` slice. So

  * every process runs the same number of steps, and within an epoch each
    example goes to exactly one process;
  * starting at `start_step = k` yields exactly the batches an uninterrupted
    run yields from its step k on (store the step in the checkpoint);
  * the order changes every epoch and depends only on `seed`.

Records are read and stacked by grain (`MapDataset` over the step indices,
prefetched by a few threads), in step order.
"""

import functools
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import grain
import jax
import numpy as np
import tensorflow_datasets as tfds

# Accepted split spellings -> TFDS split names.
SPLIT_ALIASES = {
    "val": "validation",
    "valid": "validation",
    "eval": "validation",
}


class DataSource:
  """A TFDS data source whose records are dicts of numpy arrays / str.

  TFDS returns text features as bytes and scalars as Python numbers; here
  text becomes str and every numeric value a numpy array of the feature's
  dtype (so a float32 scalar stays float32 when batched).

  Args:
    source: a TFDS `ArrayRecordDataSource` (len, __getitem__).
    features: the builder's `info.features` (a FeaturesDict).
    name: for messages.
  """

  def __init__(self, source: Any, features: Any, name: str):
    self._source = source
    self._dtypes = {
        key: (
            None
            if isinstance(feature, tfds.features.Text)
            else np.dtype(feature.np_dtype)
        )
        for key, feature in features.items()
    }
    self.name = name

  def __len__(self) -> int:
    return len(self._source)

  def __getitem__(self, index: int) -> dict[str, Any]:
    return self._decode(self._source[int(index)])

  def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
    records = self._source.__getitems__([int(i) for i in indices])
    return [self._decode(r) for r in records]

  def _decode(self, record: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in record.items():
      dtype = self._dtypes.get(key)
      if isinstance(value, bytes):
        out[key] = value.decode()
      elif dtype is None:
        out[key] = value
      else:
        out[key] = np.asarray(value, dtype)
    return out

  def __repr__(self) -> str:
    return f"DataSource({self.name}, {len(self)} records)"


def data_source(builder: Any, split: str) -> DataSource:
  """The random-access source of a prepared builder's `split`.

  Args:
    builder: a prepared TFDS builder (see `build`).
    split: "train" | "validation" (alias "val") | "test", or a TFDS slice
      such as "train[:10]".

  Returns:
    A DataSource: len() and [i] -> dict of numpy arrays (text as str).

  Raises:
    ValueError: unknown split (the message lists the available ones).
  """
  base = split.split("[")[0]
  name = SPLIT_ALIASES.get(base, base)
  available = list(builder.info.splits.keys())
  if name not in available:
    raise ValueError(
        f"{builder.info.full_name} has no split {split!r}; available:"
        f" {available}. (Splits with 0 examples are not written.)"
    )
  full = name + split[len(base) :]
  return DataSource(
      builder.as_data_source(split=full),
      builder.info.features,
      f"{builder.info.full_name}/{full}",
  )


def steps_per_epoch(
    num_records: int, global_batch_size: int, drop_remainder: bool
) -> int:
  """Steps in one pass over `num_records` with the global batch size."""
  if drop_remainder:
    return num_records // global_batch_size
  return -(-num_records // global_batch_size)


def batch_indices(
    step: int,
    num_records: int,
    batch_size: int,
    *,
    seed: int,
    shuffle: bool,
    drop_remainder: bool,
    process_index: int,
    process_count: int,
    epoch_order=None,
) -> np.ndarray:
  """Record indices of this process's batch at global `step`.

  Args:
    step: global step (>= 0).
    num_records: source length.
    batch_size: per-process batch size.
    seed: shuffle seed.
    shuffle: permute each epoch (else the natural order).
    drop_remainder: whether the last partial global batch is dropped; if
      kept, it is split as evenly as possible, so a process can get fewer
      (even zero) records at that step.
    process_index, process_count: this process and how many there are.
    epoch_order: optional callable epoch -> order (a cache of
      `_epoch_order`).

  Returns:
    int64 array of record indices (length batch_size except as above).
  """
  global_size = batch_size * process_count
  per_epoch = steps_per_epoch(num_records, global_size, drop_remainder)
  epoch, position = divmod(step, per_epoch)
  if epoch_order is None:
    order = _epoch_order(num_records, seed, shuffle, epoch)
  else:
    order = epoch_order(epoch)
  global_batch = order[position * global_size : (position + 1) * global_size]
  if len(global_batch) == global_size:
    start = process_index * batch_size
    return global_batch[start : start + batch_size]
  return np.array_split(global_batch, process_count)[process_index]


def _epoch_order(
    num_records: int, seed: int, shuffle: bool, epoch: int
) -> np.ndarray:
  if not shuffle:
    return np.arange(num_records)
  return np.random.default_rng([seed, epoch]).permutation(num_records)


def _stack(records: list[dict[str, Any]], template: dict[str, Any]):
  if not records:
    return {
        key: np.zeros((0,) + np.shape(value), np.asarray(value).dtype)
        for key, value in template.items()
    }
  return {
      key: _stack_field(key, [r[key] for r in records]) for key in records[0]
  }


def _stack_field(key: str, values: list) -> np.ndarray:
  shapes = sorted({np.shape(v) for v in values})
  if len(shapes) > 1:
    # fastMRI brain files have 4 to 20 coils: their `kspace` / `sens` do
    # not stack into one batch.
    raise ValueError(
        f"Cannot batch field {key!r}: its records have shapes {shapes} (e.g."
        " fastMRI files with different coil counts). Fix: batch_size 1, or a"
        " dataset whose records share one shape (one coil count)."
    )
  return np.stack(values)


def _read(source: Any, indices: np.ndarray) -> list[dict[str, Any]]:
  if hasattr(source, "__getitems__"):
    return list(source.__getitems__([int(i) for i in indices]))
  return [source[int(i)] for i in indices]


def batches(
    source: Any,
    batch_size: int,
    *,
    seed: int,
    shuffle: bool = True,
    start_step: int = 0,
    num_epochs: int | None = None,
    drop_remainder: bool = True,
    process_index: int | None = None,
    process_count: int | None = None,
    num_threads: int = 2,
) -> Iterator[dict[str, np.ndarray]]:
  """Deterministic batches of stacked records, restartable at a step.

  See the module docstring for the order.

  Args:
    source: random-access source (len, [i] -> dict of arrays), e.g.
      `data_source(builder, "train")`.
    batch_size: per-process batch size.
    seed: shuffle seed (>= 0).
    shuffle: permute each epoch.
    start_step: first global step to yield (resume from a checkpoint).
    num_epochs: stop after this many epochs; None repeats forever.
    drop_remainder: drop the last partial global batch of each epoch.
    process_index: this process (default `jax.process_index()`).
    process_count: number of processes (default `jax.process_count()`).
    num_threads: grain reader threads (prefetch).

  Returns:
    An iterator of dicts key -> array with a leading batch axis,
    (batch_size, ...), dtypes as in the source (text as numpy str arrays).

  Raises:
    ValueError: bad arguments or a source too small for one global batch.
  """
  process_index = (
      jax.process_index() if process_index is None else process_index
  )
  process_count = (
      jax.process_count() if process_count is None else process_count
  )
  num_records = len(source)
  if batch_size < 1 or seed < 0 or start_step < 0 or num_threads < 1:
    raise ValueError(
        "Need batch_size >= 1, seed >= 0, start_step >= 0, num_threads >= 1;"
        f" got {batch_size}, {seed}, {start_step}, {num_threads}."
    )
  if not 0 <= process_index < process_count:
    raise ValueError(
        f"process_index {process_index} not in [0, {process_count})."
    )
  if num_epochs is not None and num_epochs < 0:
    raise ValueError(f"num_epochs must be >= 0 or None, got {num_epochs}.")
  global_size = batch_size * process_count
  per_epoch = steps_per_epoch(num_records, global_size, drop_remainder)
  if per_epoch == 0:
    raise ValueError(
        f"{num_records} records cannot fill one global batch of {global_size}"
        f" ({batch_size} x {process_count} processes); lower batch_size, set"
        " drop_remainder=False or add data."
    )
  stop = sys.maxsize if num_epochs is None else num_epochs * per_epoch
  # Arguments are checked above, at the call; the generator below only runs
  # on the first next().
  return _iterate(
      source,
      batch_size,
      range(start_step, stop),
      seed=seed,
      shuffle=shuffle,
      drop_remainder=drop_remainder,
      process_index=process_index,
      process_count=process_count,
      num_threads=num_threads,
  )


def _iterate(
    source: Any,
    batch_size: int,
    steps: range,
    *,
    seed: int,
    shuffle: bool,
    drop_remainder: bool,
    process_index: int,
    process_count: int,
    num_threads: int,
) -> Iterator[dict[str, np.ndarray]]:
  if not steps:
    return
  num_records = len(source)
  epoch_order = functools.lru_cache(maxsize=4)(
      functools.partial(_epoch_order, num_records, seed, shuffle)
  )
  template = source[0]

  def load(step: int) -> dict[str, np.ndarray]:
    indices = batch_indices(
        step,
        num_records,
        batch_size,
        seed=seed,
        shuffle=shuffle,
        drop_remainder=drop_remainder,
        process_index=process_index,
        process_count=process_count,
        epoch_order=epoch_order,
    )
    return _stack(_read(source, indices), template)

  dataset = grain.MapDataset.range(steps.start, steps.stop).map(load)
  read_options = grain.ReadOptions(
      num_threads=num_threads, prefetch_buffer_size=2 * num_threads
  )
  yield from dataset.to_iter_dataset(read_options)
