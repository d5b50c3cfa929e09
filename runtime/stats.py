"""Intervals of a mean, all of one type (`Interval`), on host (numpy).

Used by recon evaluation (`student_t` over slices or volumes), phase
scoring (`bootstrap`, `ratio_bootstrap` and `paired_bootstrap` over images)
and the experiment report (`two_way_bootstrap` over seeds x volumes):

  student_t          mean of values, two-sided Student-t interval
  bootstrap          mean of values, percentile bootstrap (NaNs left out)
  ratio_bootstrap    sum(numerator) / sum(denominator), bootstrap of images
  paired_bootstrap   mean(a - b) of two methods on the same images
  two_way_bootstrap  mean of a (seeds, volumes) table, both resampled

`bootstrap_interval` is the percentile bootstrap of any statistic that the
image-resampling ones share.
"""

import math
from typing import NamedTuple

import jax
import numpy as np
import scipy.stats


class Interval(NamedTuple):
  """A mean (or a difference, or a ratio) and its interval."""

  mean: float
  low: float
  high: float

  def as_dict(self) -> dict[str, float]:
    """{mean, ci_low, ci_high}: how reports and metrics files store one."""
    return {"mean": self.mean, "ci_low": self.low, "ci_high": self.high}

  def as_difference_dict(self) -> dict[str, float]:
    """{mean_difference, low, high}: how phase scores store a paired one."""
    return {"mean_difference": self.mean, "low": self.low, "high": self.high}


def _check_level(level: float) -> None:
  if not 0 < level < 1:
    raise ValueError(f"level must be in (0, 1), got {level}.")


def student_t_half_width(values, level: float) -> float:
  """Half-width of the Student-t interval of the mean (NaN for < 2 values)."""
  values = np.asarray(values, np.float64)
  if values.size < 2:
    return math.nan
  sem = values.std(ddof=1) / math.sqrt(values.size)
  return float(scipy.stats.t.ppf(0.5 + level / 2, values.size - 1) * sem)


def student_t(values, level: float) -> Interval:
  """Mean and two-sided Student-t interval of the mean of 1-D `values`
  (mean NaN when empty, interval NaN for fewer than two values)."""
  values = np.asarray(values, np.float64)
  mean = float(values.mean()) if values.size else math.nan
  half = student_t_half_width(values, level)
  return Interval(mean, mean - half, mean + half)


def bootstrap_interval(
    statistic,
    columns: tuple[np.ndarray, ...],
    level: float = 0.95,
    num_resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
  """Percentile bootstrap interval of a statistic over images (on host).

  Every resample draws the same images for all columns, so paired columns
  stay paired.

  Args:
    statistic: (R, B) arrays, one per column -> (R,) values.
    columns: (B,) per-image arrays of the same images.
    level: coverage of the interval, in (0, 1).
    num_resamples: R, bootstrap resamples of the B images.
    seed: numpy seed of the resampling.

  Returns:
    (low, high) Python floats.
  """
  _check_level(level)
  count = columns[0].size
  rng = np.random.default_rng(seed)
  indices = rng.integers(0, count, (num_resamples, count))
  values = statistic(*(column[indices] for column in columns))
  tail = 50 * (1 - level)
  low, high = np.percentile(values, [tail, 100 - tail])
  return float(low), float(high)


def bootstrap(values: np.ndarray, level: float, seed: int) -> Interval:
  """Mean and percentile bootstrap interval over images, NaNs left out
  (the interval is NaN for fewer than two finite values)."""
  values = values[np.isfinite(values)]
  if values.size < 2:
    mean = float(values[0]) if values.size else math.nan
    return Interval(mean, math.nan, math.nan)
  low, high = bootstrap_interval(
      lambda v: np.mean(v, axis=1), (values,), level, seed=seed
  )
  return Interval(float(np.mean(values)), low, high)


def _ratio_of_sums(numerator, denominator):
  return np.sum(numerator, axis=-1) / np.maximum(
      np.sum(denominator, axis=-1), 1e-12
  )


def ratio_bootstrap(
    numerator: np.ndarray, denominator: np.ndarray, level: float, seed: int
) -> Interval:
  """sum(numerator) / sum(denominator) and its bootstrap over images."""
  low, high = bootstrap_interval(
      _ratio_of_sums, (numerator, denominator), level, seed=seed
  )
  return Interval(float(_ratio_of_sums(numerator, denominator)), low, high)


def paired_bootstrap(
    a: np.ndarray | jax.Array,
    b: np.ndarray | jax.Array,
    level: float = 0.95,
    num_resamples: int = 2000,
    seed: int = 0,
) -> Interval:
  """Percentile bootstrap interval of mean(a - b), resampling images.

  Both methods are scored on the same images, so resampling the pairs keeps
  the between-image variation, which both share, out of the interval.

  Args:
    a, b: (B,) per-image scores of two methods on the same images (e.g.
      `energy_scores(...)["total"]`); numpy or jax.
    level: coverage of the interval, in (0, 1).
    num_resamples: bootstrap resamples of the B images.
    seed: numpy seed of the resampling.

  Returns:
    Interval of mean(a - b). For lower-is-better scores, high < 0 means a
    is better at that level.
  """
  difference = np.asarray(a, np.float64) - np.asarray(b, np.float64)
  if difference.ndim != 1 or difference.size < 2:
    raise ValueError(f"Need (B,) scores with B >= 2, got {difference.shape}.")
  low, high = bootstrap_interval(
      lambda d: np.mean(d, axis=1), (difference,), level, num_resamples, seed
  )
  return Interval(float(np.mean(difference)), low, high)


def two_way_bootstrap(
    values: np.ndarray, level: float, num_resamples: int, seed: int = 0
) -> Interval:
  """Mean of a (seeds, volumes) table and its two-way bootstrap interval.

  Each resample draws seeds and volumes with replacement, independently;
  the mean of the resampled grid is (c_s^T X c_v) / (S V) with c the draw
  counts.
  """
  _check_level(level)
  values = np.asarray(values, np.float64)
  num_seeds, num_volumes = values.shape
  rng = np.random.default_rng(seed)
  seed_counts = rng.multinomial(
      num_seeds, np.full(num_seeds, 1 / num_seeds), num_resamples
  )
  volume_counts = rng.multinomial(
      num_volumes, np.full(num_volumes, 1 / num_volumes), num_resamples
  )
  means = np.einsum("bs,sv,bv->b", seed_counts, values, volume_counts) / (
      num_seeds * num_volumes
  )
  tail = 50 * (1 - level)
  low, high = np.percentile(means, [tail, 100 - tail])
  return Interval(float(values.mean()), float(low), float(high))
