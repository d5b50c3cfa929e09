"""launch.report's two-way bootstrap: intervals widen with seed-to-seed and
volume-to-volume spread, and cover the mean."""

import numpy as np

from launch import report


def test_two_way_bootstrap_sees_both_seed_and_volume_spread():
  rng = np.random.default_rng(0)
  constant = np.full((3, 50), 2.0)
  stats = report.two_way_bootstrap(constant, 0.95, 500)
  assert stats == {"mean": 2.0, "ci_low": 2.0, "ci_high": 2.0}
  volumes = np.broadcast_to(rng.normal(size=50), (3, 50))
  seeds = volumes + rng.normal(scale=3.0, size=(3, 1))
  narrow = report.two_way_bootstrap(volumes, 0.95, 2000)
  wide = report.two_way_bootstrap(seeds, 0.95, 2000)
  assert narrow["ci_low"] < narrow["mean"] < narrow["ci_high"]
  assert wide["ci_low"] < wide["mean"] < wide["ci_high"]
  # A seed effect the volumes do not show widens the interval.
  width = lambda s: s["ci_high"] - s["ci_low"]
  assert width(wide) > 3 * width(narrow)
