"""runtime.stats: every interval of the project, one `Interval` type."""

import numpy as np
import pytest
import scipy.stats

from runtime import stats


def test_student_t_matches_scipy():
  values = np.random.default_rng(0).normal(size=11)
  got = stats.student_t(values, 0.95)
  low, high = scipy.stats.t.interval(
      0.95, len(values) - 1, loc=values.mean(), scale=scipy.stats.sem(values)
  )
  np.testing.assert_allclose([got.low, got.high], [low, high], rtol=1e-10)
  assert got.mean == pytest.approx(values.mean())
  assert stats.student_t_half_width(values, 0.95) == pytest.approx(
      (high - low) / 2
  )
  single = stats.student_t([1.0], 0.95)
  assert single.mean == 1.0 and np.isnan(single.low) and np.isnan(single.high)


def test_bootstrap_leaves_nans_out_and_covers_the_mean():
  rng = np.random.default_rng(0)
  values = np.concatenate([rng.normal(3.0, 1.0, 300), [np.nan]])
  interval = stats.bootstrap(values, 0.95, seed=0)
  assert interval.mean == pytest.approx(np.nanmean(values))
  # The standard error is 1 / sqrt(300) ~ 0.058: a 95% interval ~0.23 wide.
  assert interval.low < interval.mean < interval.high
  assert 0.15 < interval.high - interval.low < 0.3
  one = stats.bootstrap(np.array([2.0, np.nan]), 0.95, seed=0)
  assert one.mean == 2.0 and np.isnan(one.low)


def test_ratio_bootstrap_is_the_ratio_of_sums():
  rng = np.random.default_rng(0)
  numerator = rng.uniform(1.0, 2.0, 100)
  denominator = rng.uniform(1.0, 2.0, 100)
  interval = stats.ratio_bootstrap(numerator, denominator, 0.95, seed=0)
  assert interval.mean == pytest.approx(numerator.sum() / denominator.sum())
  assert interval.low < interval.mean < interval.high


def test_paired_bootstrap_finds_a_clear_difference():
  rng = np.random.default_rng(0)
  b = rng.normal(1.0, 0.3, 200)  # images differ a lot, shared by a and b
  a = b - 0.2 + rng.normal(0.0, 0.05, 200)
  interval = stats.paired_bootstrap(a, b)
  assert interval.low < -0.2 < interval.high
  assert interval.high < 0
  assert interval.mean == pytest.approx(np.mean(a - b))
  # Pairing cancels the image-to-image spread (0.3) that a and b share: the
  # width follows the difference's noise (0.05, ~0.014 wide) instead of
  # ~0.12 for two independent means.
  assert interval.high - interval.low < 0.03
  with pytest.raises(ValueError, match="B >= 2"):
    stats.paired_bootstrap(a[:1], b[:1])


def test_paired_bootstrap_coverage():
  rng = np.random.default_rng(1)
  covered = 0
  trials = 200
  for trial in range(trials):
    b = rng.normal(0.0, 1.0, 40)
    a = b + rng.normal(-0.1, 0.5, 40)
    interval = stats.paired_bootstrap(
        a, b, level=0.9, num_resamples=1000, seed=trial
    )
    covered += interval.low < -0.1 < interval.high
  # Percentile intervals run a little short at 40 images.
  assert 0.82 < covered / trials < 0.96


def test_two_way_bootstrap_sees_both_seed_and_volume_spread():
  rng = np.random.default_rng(0)
  constant = np.full((3, 50), 2.0)
  assert stats.two_way_bootstrap(constant, 0.95, 500).as_dict() == {
      "mean": 2.0,
      "ci_low": 2.0,
      "ci_high": 2.0,
  }
  volumes = np.broadcast_to(rng.normal(size=50), (3, 50))
  seeds = volumes + rng.normal(scale=3.0, size=(3, 1))
  narrow = stats.two_way_bootstrap(volumes, 0.95, 2000)
  wide = stats.two_way_bootstrap(seeds, 0.95, 2000)
  assert narrow.low < narrow.mean < narrow.high
  assert wide.low < wide.mean < wide.high
  # A seed effect the volumes do not show widens the interval.
  width = lambda s: s.high - s.low
  assert width(wide) > 3 * width(narrow)


def test_levels_outside_0_1_are_refused():
  with pytest.raises(ValueError, match="level"):
    stats.paired_bootstrap(np.ones(4), np.zeros(4), level=95)
  with pytest.raises(ValueError, match="level"):
    stats.two_way_bootstrap(np.ones((2, 3)), 1.5, 10)


def test_interval_dict_forms():
  interval = stats.Interval(1.0, 0.5, 1.5)
  assert interval.as_dict() == {"mean": 1.0, "ci_low": 0.5, "ci_high": 1.5}
  assert interval.as_difference_dict() == {
      "mean_difference": 1.0,
      "low": 0.5,
      "high": 1.5,
  }
