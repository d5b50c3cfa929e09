"""Magnitude / phase batches for the phase model, from the data layer.

Records come from `kspace.datasets` (dicts with `magnitude` (H,W) float32,
max ~1, and `phase` (H,W) float32 in (-pi, pi]); any random-access sequence
of such dicts works (tests use lists). Their host checks are
`score_phase.batch_checks`, which samplers and loaders use without the
data layer.
"""

from collections.abc import Iterator, Sequence
import ml_collections
import numpy as np

from kspace import datasets


def get_source(data_config: ml_collections.ConfigDict, split: str):
  """The random-access source of `split` for a `configs.base` data block."""
  return datasets.data_source(datasets.build_from_config(data_config), split)


def train_batches(
    source: Sequence[dict],
    batch_size: int,
    *,
    seed: int,
    start_step: int,
) -> Iterator[dict[str, np.ndarray]]:
  """Shuffled, endless, restartable batches (this process's share)."""
  return datasets.batches(
      source, batch_size, seed=seed, shuffle=True, start_step=start_step
  )


def eval_records(
    source: Sequence[dict], batch_size: int, num_examples: int
) -> Iterator[list[dict]]:
  """The first `num_examples` records (0: all) in order, whole batches."""
  count = len(source) if num_examples <= 0 else min(num_examples, len(source))
  count -= count % batch_size
  if count == 0:
    raise ValueError(
        f"Need at least one eval batch of {batch_size} images; the source has"
        f" {len(source)} (num_examples={num_examples})."
    )
  for start in range(0, count, batch_size):
    yield [source[i] for i in range(start, start + batch_size)]


def eval_batches(
    source: Sequence[dict], batch_size: int, num_examples: int
) -> Iterator[dict[str, np.ndarray]]:
  """`eval_records` as stacked magnitude and phase arrays."""
  for records in eval_records(source, batch_size, num_examples):
    yield {
        key: np.stack([r[key] for r in records])
        for key in ("magnitude", "phase")
    }
