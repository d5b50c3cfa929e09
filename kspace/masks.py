"""Undersampling masks as pure functions of a PRNG key and a shape.

Cartesian 1-D masks follow fastMRI's `subsample.py` semantics: phase-encode
lines are columns (the last axis); `center_fraction` of them around DC are
always sampled, `num_low_frequencies = round(num_cols * center_fraction)`
(Python rounding, as fastMRI), placed at `(num_cols - num_low + 1) // 2`.

  * "random": the remaining columns are kept with probability
    (num_cols / acceleration - num_low) / (num_cols - num_low), so the expected
    acceleration is `acceleration` (fastMRI RandomMaskFunc).
  * "equispaced": every `acceleration`-th column from a random offset in
    [0, acceleration), plus the center (fastMRI EquiSpacedMaskFunc).
  * "equispaced_fraction": the spacing is adjusted so the total, center
    included, is num_cols / acceleration (fastMRI EquispacedMaskFractionFunc).

The 2-D variable-density mask samples k-space points independently with a
polynomially decaying density and a fully sampled central box.

Every mask is returned at full size, float32 of shape (H, W), with 1 where a
sample is acquired, so the operators broadcast it the same way for 1-D and 2-D
patterns.
"""

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from kspace.common import config_errors

MaskFn = Callable[[jax.Array, tuple[int, int], float, float], jax.Array]


def num_low_frequencies(num_cols: int, center_fraction: float) -> int:
  """Fully sampled center lines, computed as fastMRI does."""
  return round(num_cols * center_fraction)


def num_low_frequencies_from_mask(mask: jax.Array) -> jax.Array:
  """Fully sampled center lines found from a mask, as fastMRI's VarNet does.

  fastMRI's `SensitivityModel.get_pad_and_num_low_freqs` (when no count is
  given): the runs of sampled columns going left and right from column
  W // 2, twice the shorter one (a symmetric center), at least 1. Used where
  only the mask, not the center fraction it was drawn with, is known; a
  sampled column next to the center lines extends the run, as in fastMRI.

  Two details differ from a literal port. The row read is the center one:
  for 1-D masks every row is the same (fastMRI reads row 0), and for 2-D
  masks it is the row through DC. A fully sampled half counts as a run of
  its length, where fastMRI's `argmin` returns 0 and so a single line.

  Args:
    mask: (..., H, W) sampling mask, nonzero where sampled.

  Returns:
    int32 array of shape (...): the center width, placed at
    (W - width + 1) // 2 as `num_low_frequencies` lines are.
  """
  lines = mask[..., mask.shape[-2] // 2, :] > 0
  center = lines.shape[-1] // 2

  def run(x):  # length of the leading run of sampled lines
    return jnp.cumprod(x, axis=-1).sum(axis=-1)

  left = run(lines[..., :center][..., ::-1].astype(jnp.int32))
  right = run(lines[..., center:].astype(jnp.int32))
  return jnp.maximum(2 * jnp.minimum(left, right), 1).astype(jnp.int32)


def _validate(
    shape: Sequence[int], center_fraction: float, acceleration: float
) -> tuple[int, int]:
  if len(shape) != 2 or min(shape) < 1:
    raise ValueError(
        f"Mask shape must be (H, W) with positive sizes, got {shape}."
    )
  if not 0.0 < center_fraction < 1.0:
    raise ValueError(
        f"center_fraction must be in (0, 1), got {center_fraction}."
    )
  if acceleration < 1.0:
    raise ValueError(f"acceleration must be >= 1, got {acceleration}.")
  num_low = num_low_frequencies(shape[1], center_fraction)
  if num_low * acceleration > shape[1]:
    raise ValueError(
        f"center_fraction={center_fraction} keeps {num_low} of {shape[1]}"
        f" lines, more than acceleration={acceleration} allows; lower one of"
        " them."
    )
  return int(shape[0]), int(shape[1])


def _center_lines(num_cols: int, num_low: int) -> jax.Array:
  pad = (num_cols - num_low + 1) // 2
  cols = jnp.arange(num_cols)
  return (cols >= pad) & (cols < pad + num_low)


def _to_full(lines: jax.Array, num_rows: int) -> jax.Array:
  return jnp.broadcast_to(lines.astype(jnp.float32), (num_rows, lines.shape[0]))


def random_mask(
    key: jax.Array,
    shape: tuple[int, int],
    center_fraction: float,
    acceleration: float,
) -> jax.Array:
  """fastMRI RandomMaskFunc: random columns plus a fully sampled center.

  Args:
    key: PRNG key.
    shape: (H, W) of the k-space; columns (W) are the phase-encode lines.
    center_fraction: fraction of columns fully sampled around DC.
    acceleration: expected undersampling factor.

  Returns:
    float32 mask of shape (H, W).
  """
  num_rows, num_cols = _validate(shape, center_fraction, acceleration)
  num_low = num_low_frequencies(num_cols, center_fraction)
  prob = (num_cols / acceleration - num_low) / max(num_cols - num_low, 1)
  lines = jax.random.uniform(key, (num_cols,)) < prob
  return _to_full(lines | _center_lines(num_cols, num_low), num_rows)


def equispaced_mask(
    key: jax.Array,
    shape: tuple[int, int],
    center_fraction: float,
    acceleration: float,
) -> jax.Array:
  """fastMRI EquiSpacedMaskFunc: every `acceleration`-th column plus center.

  Args:
    key: PRNG key (draws the offset in [0, acceleration)).
    shape: (H, W).
    center_fraction: fraction of columns fully sampled around DC.
    acceleration: integer spacing of the sampled columns.

  Returns:
    float32 mask of shape (H, W).
  """
  num_rows, num_cols = _validate(shape, center_fraction, acceleration)
  if acceleration != int(acceleration):
    raise ValueError(
        f"equispaced masks need an integer acceleration, got {acceleration};"
        " use 'equispaced_fraction' for fractional spacing."
    )
  step = int(acceleration)
  num_low = num_low_frequencies(num_cols, center_fraction)
  offset = jax.random.randint(key, (), 0, round(acceleration))
  cols = jnp.arange(num_cols)
  lines = (cols >= offset) & ((cols - offset) % step == 0)
  return _to_full(lines | _center_lines(num_cols, num_low), num_rows)


def equispaced_fraction_mask(
    key: jax.Array,
    shape: tuple[int, int],
    center_fraction: float,
    acceleration: float,
) -> jax.Array:
  """fastMRI EquispacedMaskFractionFunc: spacing chosen so that the total
  number of sampled columns, center included, is num_cols / acceleration.

  The spacing is fastMRI's adjusted_accel = acceleration (num_low - num_cols)
  / (num_low acceleration - num_cols), and the offset is drawn from
  range(round(adjusted_accel)) as fastMRI does: the offset must cover a whole
  (wider than `acceleration`) spacing, or the last columns of each period
  would never be sampled.

  Args:
    key: PRNG key (draws the offset in [0, round(adjusted_accel))).
    shape: (H, W).
    center_fraction: fraction of columns fully sampled around DC.
    acceleration: target undersampling factor.

  Returns:
    float32 mask of shape (H, W).
  """
  num_rows, num_cols = _validate(shape, center_fraction, acceleration)
  num_low = num_low_frequencies(num_cols, center_fraction)
  spacing = (acceleration * (num_low - num_cols)) / (
      num_low * acceleration - num_cols
  )
  offset = jax.random.randint(key, (), 0, round(spacing))
  # np.arange(offset, num_cols - 1, spacing) with a static maximum length.
  max_samples = int(np.ceil((num_cols - 1) / spacing))
  positions = offset + spacing * jnp.arange(max_samples)
  valid = positions < num_cols - 1
  cols = jnp.round(positions).astype(jnp.int32)
  lines = jnp.zeros((num_cols,), bool).at[cols].max(valid, mode="drop")
  return _to_full(lines | _center_lines(num_cols, num_low), num_rows)


def variable_density_mask(
    key: jax.Array,
    shape: tuple[int, int],
    center_fraction: float,
    acceleration: float,
    decay_power: float = 2.0,
    bisection_steps: int = 60,
) -> jax.Array:
  """2-D variable-density random mask with a fully sampled central box.

  Each k-space point is sampled independently with probability
  min(1, s * (1 - r / sqrt(2)) ** decay_power), r the radius normalised to 1 at
  the edge midpoints; the scale s is solved by bisection so that the expected
  number of samples is H * W / acceleration.

  Args:
    key: PRNG key.
    shape: (H, W).
    center_fraction: side of the fully sampled central box, as a fraction of
      each dimension.
    acceleration: expected undersampling factor.
    decay_power: how fast the sampling density falls off with radius.
    bisection_steps: iterations solving for the density scale.

  Returns:
    float32 mask of shape (H, W).
  """
  num_rows, num_cols = _validate(shape, center_fraction, acceleration)
  center = (
      _center_lines(num_rows, num_low_frequencies(num_rows, center_fraction))[
          :, None
      ]
      & _center_lines(num_cols, num_low_frequencies(num_cols, center_fraction))[
          None, :
      ]
  )
  ky = (jnp.arange(num_rows) - num_rows // 2) / (num_rows / 2)
  kx = (jnp.arange(num_cols) - num_cols // 2) / (num_cols / 2)
  radius = jnp.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2)
  density = jnp.clip(1.0 - radius / jnp.sqrt(2.0), 0.0, 1.0) ** decay_power
  target = num_rows * num_cols / acceleration - center.sum()

  def expected(scale):
    return jnp.where(center, 0.0, jnp.minimum(1.0, scale * density)).sum()

  def bisect(_, bounds):
    low, high = bounds
    mid = jnp.sqrt(low * high)  # geometric: the bracket spans decades
    too_many = expected(mid) > target
    return jnp.where(too_many, low, mid), jnp.where(too_many, mid, high)

  # Without clipping, scale = target / sum(density) gives at most `target`
  # samples; 1 / (smallest density) samples everything.
  free = jnp.where(center, 0.0, density)
  low = target / free.sum()
  high = 1.0 / jnp.where(free > 0, free, jnp.inf).min()
  _, scale = jax.lax.fori_loop(0, bisection_steps, bisect, (low, high))
  prob = jnp.where(center, 1.0, jnp.minimum(1.0, scale * density))
  return (jax.random.uniform(key, shape) < prob).astype(jnp.float32)


MASK_FNS: dict[str, MaskFn] = {
    "random": random_mask,
    "equispaced": equispaced_mask,
    "equispaced_fraction": equispaced_fraction_mask,
    "variable_density": variable_density_mask,
}


def get_mask_fn(name: str) -> MaskFn:
  """The mask function registered under `name` (see MASK_FNS)."""
  config_errors.check_choice("mask type", name, MASK_FNS)
  return MASK_FNS[name]


def sample_mask(
    key: jax.Array,
    shape: tuple[int, int],
    mask_type: str,
    center_fractions: Sequence[float],
    accelerations: Sequence[float],
) -> jax.Array:
  """Draws one of the (center_fraction, acceleration) pairs, then its mask.

  As fastMRI's MaskFunc, the i-th center fraction goes with the i-th
  acceleration; the pair is chosen uniformly at random. Jittable: the choice
  is a `lax.switch` over the statically known pairs.

  Args:
    key: PRNG key.
    shape: (H, W).
    mask_type: a key of MASK_FNS.
    center_fractions: candidate center fractions.
    accelerations: candidate accelerations, same length.

  Returns:
    float32 mask of shape (H, W).
  """
  if len(center_fractions) != len(accelerations) or not center_fractions:
    raise ValueError(
        "center_fractions and accelerations must be non-empty and of equal"
        f" length, got {center_fractions} and {accelerations}."
    )
  mask_fn = get_mask_fn(mask_type)
  shape = tuple(int(s) for s in shape)
  branches = [
      (lambda k, cf=cf, acc=acc: mask_fn(k, shape, cf, acc))
      for cf, acc in zip(center_fractions, accelerations)
  ]
  choice_key, mask_key = jax.random.split(key)
  choice = jax.random.randint(choice_key, (), 0, len(branches))
  return jax.lax.switch(choice, branches, mask_key)
