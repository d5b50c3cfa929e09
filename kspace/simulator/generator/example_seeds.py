"""`example_rng`: the random Generator of each example of a dataset.

`example_rng(seed, split, index)` seeds example `index` of `split` (its key
in `SPLIT_KEYS`) of the dataset `seed`, so an example never depends on which
others were generated or in what order.
"""

import numpy as np

# Split name -> the integer that enters every example's seed.
SPLIT_KEYS = {"train": 0, "validation": 1, "test": 2}


def example_rng(seed: int, split: str, index: int) -> np.random.Generator:
  """The Generator of example `index` of `split` in the dataset `seed`.

  Args:
    seed: dataset seed, >= 0.
    split: "train" | "validation" | "test" (`SPLIT_KEYS`).
    index: example index within the split, >= 0.

  Returns:
    A numpy Generator seeded by (seed, split key, index).
  """
  if split not in SPLIT_KEYS:
    raise ValueError(f"Unknown split {split!r}; use one of {list(SPLIT_KEYS)}.")
  if seed < 0 or index < 0:
    raise ValueError(f"seed and index must be >= 0, got {seed}, {index}.")
  return np.random.default_rng([seed, SPLIT_KEYS[split], index])
