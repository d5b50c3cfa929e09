"""Scan parameters as an optional condition of the phase model.

What a header may say about how the phase was made, each field optional,
each encoded as what it does to the phase:

  field_strength  log(B0 / 1.5 T); needs B0.
  accrual         the off-resonance accrual the header implies: radians
                  per ppm (`kspace.simulator.physics.phase_per_ppm`, / 10)
                  and fat's expected phase (cos, sin of
                  physics.FAT_SHIFT_PPM radians-per-ppm), which wraps many
                  times over the echo times, so the network gets it wrapped.
                  A gradient echo accrues over its echo time; a spin echo
                  refocuses at the echo, so its stated accrual is 0 whatever
                  its (nominal) echo time: the residual echo shift is not in
                  a header. Needs B0, TE and the sequence.
  b0_direction    the unit B0 vector in image axes (x columns, y rows,
                  slice normal).
  sequence        gradient echo or spin echo (one-hot); unknown is absent.

`encode` turns record fields (field_strength_t, echo_time_ms,
b0_direction, sequence; NaN / -1 / a missing key mean unknown) into
`values` (B, NUM_VALUES) and `present` (B, len(FIELDS)) bits. The network
replaces an absent field by a learned null embedding; training drops each
field alone and all of them together (`drop`) so that a magnitude-only
registry (nothing present) samples from the null-conditioned model.
"""

from collections.abc import Mapping

import jax
import numpy as np

from kspace.simulator import physics
from kspace.simulator import sequences

FIELDS = ("field_strength", "accrual", "b0_direction", "sequence")
# Columns of each field in `values`.
SLICES = {
    "field_strength": slice(0, 1),
    "accrual": slice(1, 4),
    "b0_direction": slice(4, 7),
    "sequence": slice(7, 9),
}
NUM_VALUES = 9
SEQUENCES = (sequences.GRADIENT_ECHO, sequences.SPIN_ECHO)
# The record fields `encode` reads.
RECORD_KEYS = ("field_strength_t", "echo_time_ms", "b0_direction", "sequence")
# B0 of log(B0 / REFERENCE): the commoner clinical field is 0.
REFERENCE_FIELD_T = 1.5
# radians per ppm / this: about 1 at 3 T and a 10 ms gradient echo (8 rad).
PHASE_PER_PPM_UNIT = 10.0


def _column(batch: Mapping, key: str, count: int, width: int) -> np.ndarray:
  if key not in batch:
    return np.full((count, width), np.nan)
  return np.asarray(batch[key], np.float64).reshape(count, width)


def accrual_time_ms(echo_time_ms: np.ndarray, sequence: np.ndarray):
  """The off-resonance accrual time a header states: a gradient echo's
  echo time, 0 for a spin echo (refocused at the echo), NaN if unknown."""
  return np.where(
      sequence == sequences.GRADIENT_ECHO,
      echo_time_ms,
      np.where(sequence == sequences.SPIN_ECHO, 0.0, np.nan),
  )


def encode(batch: Mapping) -> dict[str, np.ndarray]:
  """Scan fields of a batch of records -> the network's scan condition.

  Args:
    batch: stacked records with `magnitude` (B, H, W) and any of
      field_strength_t (B,) tesla, echo_time_ms (B,), b0_direction (B, 3),
      sequence (B,) int (`sequences.GRADIENT_ECHO` / `SPIN_ECHO`, -1
      unknown).

  Returns:
    {"scan_values": (B, NUM_VALUES) float32, 0 where absent;
     "scan_present": (B, len(FIELDS)) bool}.
  """
  count = np.shape(batch["magnitude"])[0]
  values = np.zeros((count, NUM_VALUES), np.float64)
  present = np.zeros((count, len(FIELDS)), bool)

  def put(field, known, columns):
    index = FIELDS.index(field)
    present[:, index] = known
    values[:, SLICES[field]] = np.where(known[:, None], columns, 0.0)

  field = _column(batch, "field_strength_t", count, 1)[:, 0]
  field_known = np.isfinite(field) & (field > 0)
  safe_field = np.where(field_known, field, REFERENCE_FIELD_T)
  put(
      "field_strength",
      field_known,
      np.log(safe_field / REFERENCE_FIELD_T)[:, None],
  )
  sequence = _column(batch, "sequence", count, 1)[:, 0]
  echo = _column(batch, "echo_time_ms", count, 1)[:, 0]
  accrual = accrual_time_ms(np.where(echo > 0, echo, np.nan), sequence)
  accrual_known = field_known & np.isfinite(accrual)
  per_ppm = physics.phase_per_ppm(
      safe_field, np.where(accrual_known, accrual, 0.0)
  )
  fat_phase = physics.FAT_SHIFT_PPM * per_ppm
  put(
      "accrual",
      accrual_known,
      np.stack(
          [per_ppm / PHASE_PER_PPM_UNIT, np.cos(fat_phase), np.sin(fat_phase)],
          axis=1,
      ),
  )
  b0 = _column(batch, "b0_direction", count, 3)
  norm = np.linalg.norm(np.nan_to_num(b0), axis=1)
  b0_known = np.all(np.isfinite(b0), axis=1) & (norm > 0.5)
  put(
      "b0_direction",
      b0_known,
      np.nan_to_num(b0) / np.where(b0_known, norm, 1.0)[:, None],
  )
  one_hot = np.stack([sequence == s for s in SEQUENCES], axis=1)
  put("sequence", np.any(one_hot, axis=1), one_hot)
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
