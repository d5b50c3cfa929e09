"""Pre-synthesized phases: K phases per image, written once as array_record.

  phase_store.write(directory, chunks, metadata)    # atomic, resumable
  source = phase_store.read(directory, count=N, shape=(K, H, W))
  for batch in datasets.batches(source, 8, seed=0, start_step=0): ...

A store is a folder holding `records-00000.array_record`, ... (one file per
chunk, one record per image: numpy arrays serialised with `np.save`, no
pickle) and `metadata.json` (what made it: arm, phase-model checkpoint,
seed, K, count, shapes). It is written under a temporary name and renamed
when complete, so a store that exists is whole, and a rerun with the same
key finds and reuses it. Each chunk file is itself written under a
temporary name, so an interrupted write resumes at the first missing
chunk (an SBDM's pre-synthesis takes hours on a CPU).
"""

import io
import json
import shutil
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from array_record.python import array_record_data_source
from array_record.python import array_record_module
from etils import epath

RECORDS = "records-{:05d}.array_record"
METADATA = "metadata.json"
# Written first into an unfinished store: the metadata its chunks belong to.
PENDING = "pending.json"


class StoreError(ValueError):
  """A pre-synthesized store that does not match what it is used for."""


def _encode(record: dict[str, np.ndarray]) -> bytes:
  buffer = io.BytesIO()
  np.savez(buffer, **{key: np.asarray(value) for key, value in record.items()})
  return buffer.getvalue()


def _decode(data: bytes) -> dict[str, np.ndarray]:
  with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
    return {key: arrays[key] for key in arrays.files}


class StoreSource(Sequence):
  """Random-access records of a store (len, [i], getitems) + `metadata`."""

  def __init__(self, directory: epath.Path, metadata: dict[str, Any]):
    # Sorted chunk files, in chunk order ("records.array_record" is the
    # single file of a store from before chunking).
    files = sorted(str(f) for f in directory.glob("records*.array_record"))
    self._source = array_record_data_source.ArrayRecordDataSource(files)
    self.metadata = metadata
    self.name = str(directory)

  def __len__(self) -> int:
    return len(self._source)

  def __getitem__(self, index: int) -> dict[str, np.ndarray]:
    return _decode(self._source[int(index)])

  def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
    return [_decode(r) for r in self._source.__getitems__(list(indices))]

  def __repr__(self) -> str:
    return f"StoreSource({self.name}, {len(self)} records)"


def exists(directory: str | epath.Path) -> bool:
  """Whether a complete store is at `directory`."""
  return (epath.Path(directory) / METADATA).exists()


def write(
    directory: str | epath.Path,
    chunks: Sequence[Callable[[], Iterable[dict[str, np.ndarray]]]],
    metadata: dict[str, Any],
) -> int:
  """Writes the records of `chunks` and `metadata` as a store, atomically.

  Chunk i is written once, to its own file; when an earlier call with the
  same `metadata` was interrupted, the chunks it finished are kept and
  their functions are not called again.

  Args:
    directory: the store's folder; must not hold a complete store yet.
    chunks: functions, each returning one chunk's records (dicts of numpy
      arrays, the same keys and shapes each), in store order.
    metadata: JSON-serialisable description; `count` is added.

  Returns:
    The number of records written.
  """
  directory = epath.Path(directory)
  if exists(directory):
    raise StoreError(f"{directory} already holds a store; read it instead.")
  tmp = directory.with_name(directory.name + ".tmp")
  pending = json.dumps(metadata, indent=2, sort_keys=True)
  if tmp.exists() and (
      not (tmp / PENDING).exists() or (tmp / PENDING).read_text() != pending
  ):
    shutil.rmtree(tmp)  # left by an interrupted write of something else
  tmp.mkdir(parents=True, exist_ok=True)
  (tmp / PENDING).write_text(pending)
  for i, make_records in enumerate(chunks):
    path = tmp / RECORDS.format(i)
    if path.exists():
      continue
    partial = path.with_name(path.name + ".partial")
    writer = array_record_module.ArrayRecordWriter(str(partial), "group_size:1")
    try:
      for record in make_records():
        writer.write(_encode(record))
    finally:
      writer.close()
    partial.rename(path)
  count = len(StoreSource(tmp, metadata))
  (tmp / PENDING).unlink()
  (tmp / METADATA).write_text(json.dumps(dict(metadata, count=count), indent=2))
  if directory.exists():  # an empty or partial folder of our own name
    shutil.rmtree(directory)
  tmp.rename(directory)
  return count


def read(
    directory: str | epath.Path,
    count: int | None = None,
    shapes: dict[str, tuple[int, ...]] | None = None,
) -> StoreSource:
  """Opens a store, checking it fits the data it stands for.

  Args:
    directory: the store's folder.
    count: the number of records expected (the magnitudes it was made
      for), or None.
    shapes: {key: shape} every record must have, or None.

  Raises:
    StoreError: missing, or count / shapes differ (the message says to
      delete the folder so it is made again).
  """
  directory = epath.Path(directory)
  if not exists(directory):
    raise StoreError(f"No pre-synthesized phases at {directory}.")
  metadata = json.loads((directory / METADATA).read_text())
  source = StoreSource(directory, metadata)
  fix = f"delete {directory} so that it is made again."
  if count is not None and len(source) != count:
    raise StoreError(
        f"{directory} holds {len(source)} records but there are {count}"
        f" magnitudes; {fix}"
    )
  if shapes and len(source):
    first = source[0]
    for key, shape in shapes.items():
      got = None if key not in first else tuple(first[key].shape)
      if got != tuple(shape):
        raise StoreError(
            f"{directory}: `{key}` has shape {got}, expected {tuple(shape)};"
            f" {fix}"
        )
  return source
