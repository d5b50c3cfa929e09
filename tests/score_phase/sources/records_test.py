"""Tests of score_phase.sources.records' oracle: oracle-A and oracle-B."""

import jax
import numpy as np
import pytest

from kspace import datasets
from score_phase.sources import lookup
from score_phase.sources import records as record_sources

SIZE = 16


def _records(count=3):
  return [
      dict(
          datasets.generate_example(datasets.example_rng(0, "train", i), SIZE),
          index=i,
      )
      for i in range(count)
  ]


@pytest.mark.parametrize("redraw", ["acquisition", "hidden", "unrevealed"])
def test_oracle_rescans_with_the_redraw_it_is_given(redraw):
  records = _records()
  magnitude = np.stack([r["magnitude"] for r in records])
  oracle = lookup.get_phase_fn(
      "oracle", records=records, split="train", dataset_seed=0, redraw=redraw
  )
  key = jax.random.key(3)
  phases = np.asarray(oracle(key, magnitude))
  seeds = np.asarray(
      jax.random.randint(key, (len(records),), 0, np.iinfo(np.int32).max)
  )
  for record, phase, seed in zip(records, phases, seeds):
    rescan = datasets.generate_example(
        datasets.example_rng(0, "train", int(record["index"])),
        SIZE,
        acquisition_seed=int(seed),
        redraw=redraw,
    )
    np.testing.assert_array_equal(phase, rescan["phase"])
    assert not np.allclose(phase, record["phase"])
    # Oracle-A keeps the record's scan parameters; oracle-B redraws them.
    same_scan = rescan["echo_time_ms"] == record["echo_time_ms"]
    assert same_scan == (redraw != "acquisition")


def test_oracle_rejects_an_unknown_redraw():
  with pytest.raises(ValueError, match="redraw must be one of"):
    record_sources.oracle(
        _records(1), split="train", dataset_seed=0, redraw="magnitude"
    )
