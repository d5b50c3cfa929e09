"""Tests of kspace.datasets.fastmri_slices' ACS columns (the combine and
crops are tested on files in fastmri_test)."""

import numpy as np
import pytest

from kspace import datasets
from kspace.datasets import fastmri_slices


def test_center_run_length_counts_the_run_through_the_center():
  assert fastmri_slices.center_run_length([0, 1, 0, 1, 1, 1, 0, 1]) == 3
  assert fastmri_slices.center_run_length(np.ones((1, 6))) == 6
  assert fastmri_slices.center_run_length([1, 1, 0, 0, 1]) == 0


def _acs(width, padding, mask=None, acs_fraction=0.0):
  return fastmri_slices.acs_columns("v.h5", width, padding, mask, acs_fraction)


def test_acs_columns_stay_inside_the_acquired_columns():
  # Fully sampled: round(0.9 * 20) = 18 center columns, cut to the 16
  # acquired ones ((20 - n + 1) // 2 is where they start); 6 fit as they are.
  assert _acs(20, (2, 18), acs_fraction=0.9) == 16
  assert _acs(20, (2, 18), acs_fraction=0.3) == 6
  assert _acs(20, (0, 20), acs_fraction=0.9) == 18
  assert _acs(20, (4, 20), acs_fraction=0.9) == 13  # a short left side
  # A test mask claiming a zero-filled column: fastMRI zeroes the mask
  # outside [padding_left, padding_right) first.
  mask = np.zeros(12)
  mask[2:8] = 1
  assert _acs(12, (0, 12), mask) == 6
  assert _acs(12, (3, 12), mask) == 5
  with pytest.raises(datasets.DatasetError, match="v.h5.*center columns"):
    _acs(12, (0, 12), np.zeros(12))
