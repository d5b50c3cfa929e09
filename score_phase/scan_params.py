"""Scan parameters as an optional condition of the phase model.

What a header may say about how the phase was made, each field optional:

  phase_scale   log(2 pi gamma_bar B0 TE), radians per ppm of off-resonance
                (`kspace.simulator.physics.phase_per_ppm`); needs B0 and TE.
  b0_direction  the unit B0 vector in image axes (x columns, y rows, slice
                normal).
  sequence      gradient echo or spin echo (one-hot); unknown is absent.

`encode` turns record fields (field_strength_t, echo_time_ms,
b0_direction, sequence; NaN / -1 / a missing key mean unknown) into
`values` (B, NUM_VALUES) and `present` (B, len(FIELDS)) bits. The network
replaces an absent field by a learned null embedding; training drops each
field (`drop`) so that a magnitude-only registry (nothing present) samples
from the null-conditioned model.
"""

from collections.abc import Mapping

import jax
import numpy as np

from kspace.simulator import generator
from kspace.simulator import physics

FIELDS = ("phase_scale", "b0_direction", "sequence")
# Columns of each field in `values`.
SLICES = {
    "phase_scale": slice(0, 1),
    "b0_direction": slice(1, 4),
    "sequence": slice(4, 6),
}
NUM_VALUES = 6
SEQUENCES = (generator.GRADIENT_ECHO, generator.SPIN_ECHO)
# The record fields `encode` reads.
RECORD_KEYS = ("field_strength_t", "echo_time_ms", "b0_direction", "sequence")


def _column(batch: Mapping, key: str, count: int, width: int) -> np.ndarray:
  if key not in batch:
    return np.full((count, width), np.nan)
  return np.asarray(batch[key], np.float64).reshape(count, width)


def encode(batch: Mapping) -> dict[str, np.ndarray]:
  """Scan fields of a batch of records -> the network's scan condition.

  Args:
    batch: stacked records with `magnitude` (B, H, W) and any of
      field_strength_t (B,) tesla, echo_time_ms (B,), b0_direction (B, 3),
      sequence (B,) int (`generator.GRADIENT_ECHO` / `SPIN_ECHO`, -1 unknown).

  Returns:
    {"scan_values": (B, NUM_VALUES) float32, 0 where absent;
     "scan_present": (B, len(FIELDS)) bool}.
  """
  count = np.shape(batch["magnitude"])[0]
  values = np.zeros((count, NUM_VALUES), np.float64)
  present = np.zeros((count, len(FIELDS)), bool)
  field = _column(batch, "field_strength_t", count, 1)[:, 0]
  echo = _column(batch, "echo_time_ms", count, 1)[:, 0]
  known = np.isfinite(field) & np.isfinite(echo) & (field > 0) & (echo > 0)
  scale = physics.phase_per_ppm(
      np.where(known, field, 1.0), np.where(known, echo, 1.0)
  )
  values[:, SLICES["phase_scale"]] = np.where(known, np.log(scale), 0.0)[
      :, None
  ]
  present[:, 0] = known
  b0 = _column(batch, "b0_direction", count, 3)
  norm = np.linalg.norm(np.nan_to_num(b0), axis=1)
  known = np.all(np.isfinite(b0), axis=1) & (norm > 0.5)
  values[:, SLICES["b0_direction"]] = np.where(
      known[:, None], b0 / np.where(known, norm, 1.0)[:, None], 0.0
  )
  present[:, 1] = known
  sequence = _column(batch, "sequence", count, 1)[:, 0]
  one_hot = np.stack([sequence == s for s in SEQUENCES], axis=1)
  values[:, SLICES["sequence"]] = one_hot
  present[:, 2] = np.any(one_hot, axis=1)
  return {
      "scan_values": values.astype(np.float32),
      "scan_present": present,
  }


def encode_records(records) -> dict[str, np.ndarray]:
  """`encode` of a list of records (each with `magnitude` and any of
  `RECORD_KEYS`, the keys of the first record deciding)."""
  return encode({
      key: np.stack([r[key] for r in records])
      for key in RECORD_KEYS + ("magnitude",)
      if key in records[0]
  })


def absent(count: int) -> dict[str, np.ndarray]:
  """The condition of `count` images with no scan parameters."""
  return {
      "scan_values": np.zeros((count, NUM_VALUES), np.float32),
      "scan_present": np.zeros((count, len(FIELDS)), bool),
  }


def drop(
    rng: jax.Array, present: jax.Array, field_rate: float, all_rate: float
) -> jax.Array:
  """Training's condition dropout: each field absent with probability
  `field_rate`, and every field of an image with `all_rate`.

  Args:
    rng: PRNG key.
    present: (B, F) bool.
    field_rate, all_rate: probabilities in [0, 1].

  Returns:
    (B, F) bool, a subset of `present`.
  """
  field_rng, all_rng = jax.random.split(rng)
  keep_field = jax.random.uniform(field_rng, present.shape) >= field_rate
  keep_all = jax.random.uniform(all_rng, present.shape[:1]) >= all_rate
  return present & keep_field & keep_all[:, None]
