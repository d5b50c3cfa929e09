"""Phase sources bound to the records they phase: ground truth and oracle.

Both are `PhaseFn`s, `phase_fn(key, magnitude) -> phase`, made for one
batch of records (they need to know *which* images they phase, not only
their magnitude):

  ground_truth  the records' own phase (the same for every key).
  oracle        the same anatomy scanned again with a seed drawn from
                `key`, `generate_example(..., acquisition_seed=s,
                redraw=...)`; synthetic data only (it needs each record's
                split and index). redraw="acquisition" (oracle-B, a full
                rescan: B0 strength and direction, sequence, echo time, fat
                shift, background phase, blur, noise) is what a perfect
                sampler of p(phase | anatomy) gives; redraw="hidden"
                (oracle-A: only the background phase and an axial slice's
                B0 azimuth, so the magnitude is nearly the record's) is what
                a perfect sampler told the scan parameters gives if it also
                knew each tissue's drawn susceptibility and the noise;
                redraw="unrevealed" redraws those too.

They are called eagerly (host-side), e.g. by the experiment's
pre-synthesis stage, not inside a jitted step.
"""

from collections.abc import Sequence

import jax
import numpy as np

from kspace import datasets
from kspace.common import phase as phase_lib


def _check_batch(magnitude, count: int, name: str) -> None:
  if np.ndim(magnitude) != 3 or np.shape(magnitude)[0] != count:
    raise ValueError(
        f"The {name} phase_fn was made for {count} records; got magnitude"
        f" of shape {np.shape(magnitude)}."
    )


def ground_truth(records: Sequence[dict]) -> phase_lib.PhaseFn:
  """The records' own `phase` (or the angle of their complex `image`)."""
  truth = np.stack(
      [r["phase"] if "phase" in r else np.angle(r["image"]) for r in records]
  ).astype(np.float32)

  def phase_fn(key: jax.Array, magnitude: jax.Array) -> jax.Array:
    del key  # The truth is one phase.
    _check_batch(magnitude, len(truth), "ground_truth")
    return phase_lib.wrap_phase(truth)

  return phase_fn


def oracle(
    records: Sequence[dict],
    *,
    split: str,
    dataset_seed: int,
    params: datasets.SyntheticParams = datasets.SyntheticParams(),
    redraw: str = "acquisition",
) -> phase_lib.PhaseFn:
  """A rescan of each record's anatomy with an acquisition drawn from `key`.

  Args:
    records: `synthetic_mri` records (they carry their `index`).
    split: the split they come from ("train" | "validation" | "test").
    dataset_seed: the synthetic dataset's seed.
    params: the dataset's `SyntheticParams`.
    redraw: "acquisition" for oracle-B (a full rescan: every scan
      parameter, the background phase and the noise redrawn) or "hidden"
      for oracle-A (only what the magnitude does not reveal: the background
      phase and an axial slice's B0 azimuth; field strength, sequence, echo
      time, tilt, fat shift, blur and noise are the record's) or
      "unrevealed" (oracle-A with each tissue class's susceptibility and
      the noise's quadrature part redrawn), see `generate_example`.

  Raises:
    ValueError: records without an `index` (not synthetic data), or an
      unknown `redraw`.
  """
  if redraw not in datasets.REDRAWS:
    raise ValueError(
        f"redraw must be one of {datasets.REDRAWS}, got {redraw!r}."
    )
  if any("index" not in r for r in records):
    raise ValueError(
        "The oracle arm needs synthetic_mri records (with `index`): it"
        " rescans their anatomy. Drop `oracle` from the arms for this data."
    )
  indices = [int(r["index"]) for r in records]
  shape = np.shape(records[0]["magnitude"])

  def phase_fn(key: jax.Array, magnitude: jax.Array) -> jax.Array:
    _check_batch(magnitude, len(indices), "oracle")
    seeds = np.asarray(
        jax.random.randint(key, (len(indices),), 0, np.iinfo(np.int32).max)
    )
    phases = [
        datasets.generate_example(
            datasets.example_rng(dataset_seed, split, index),
            shape,
            params=params,
            acquisition_seed=int(seed),
            redraw=redraw,
        )["phase"]
        for index, seed in zip(indices, seeds)
    ]
    return phase_lib.wrap_phase(np.stack(phases))

  return phase_fn
