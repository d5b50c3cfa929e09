"""Tests of kspace.simulator.generator.example_seeds: `example_rng`."""

import numpy as np
import pytest

from kspace.simulator.generator import example_pipeline
from kspace.simulator.generator import example_seeds


def test_example_is_a_pure_function_of_seed_split_index():
  first = example_pipeline.generate_example(
      example_seeds.example_rng(3, "train", 5), 32
  )
  # Generating other examples in between must not matter.
  for index in range(3):
    example_pipeline.generate_example(
        example_seeds.example_rng(3, "train", index), 32
    )
  again = example_pipeline.generate_example(
      example_seeds.example_rng(3, "train", 5), 32
  )
  for key in ("magnitude", "phase", "labels"):
    np.testing.assert_array_equal(first[key], again[key])
  for other in (("train", 6), ("validation", 5), ("test", 5)):
    different = example_pipeline.generate_example(
        example_seeds.example_rng(3, *other), 32
    )
    assert not np.allclose(different["magnitude"], first["magnitude"])
  other_seed = example_pipeline.generate_example(
      example_seeds.example_rng(4, "train", 5), 32
  )
  assert not np.allclose(other_seed["phase"], first["phase"])


def test_bad_seeds_raise():
  with pytest.raises(ValueError, match="split"):
    example_seeds.example_rng(0, "dev", 0)
  with pytest.raises(ValueError, match="must be >= 0"):
    example_seeds.example_rng(-1, "train", 0)
  with pytest.raises(ValueError, match="must be >= 0"):
    example_seeds.example_rng(0, "train", -1)
