"""Tests of kspace.simulator.generator.subject: labels and tissue maps."""

import numpy as np

from kspace.simulator.generator import subject
from kspace.simulator.generator import synthetic_params
from kspace.simulator.phantom import tissues

PARAMS = synthetic_params.DEFAULT_PARAMS


def _labels(anatomy, shape=(32, 32)):
  return subject.draw_labels(np.random.default_rng(1), shape, anatomy, PARAMS)


def test_labels_are_of_a_drawn_or_given_anatomy():
  brain_only = synthetic_params.SyntheticParams(
      anatomies=("brain",), slice_orientations={"brain": "axial"}
  )
  drawn, labels = subject.draw_labels(
      np.random.default_rng(0), (24, 32), None, brain_only
  )
  assert drawn == "brain"
  assert labels.shape == (24, 32) and labels.dtype == np.uint8
  given, _ = _labels("knee", (24, 32))
  assert given == "knee"


def test_tissue_maps_follow_the_labels():
  _, labels = _labels("body")
  maps = subject.tissue_maps(np.random.default_rng(2), labels, PARAMS)
  air = labels == tissues.BACKGROUND
  np.testing.assert_array_equal(maps.signal[air], 0)
  assert maps.signal[~air].max() > 0
  air_range = tissues.TISSUES[tissues.BACKGROUND].susceptibility_ppm
  assert maps.air_ppm == air_range[0] == air_range[1]
  np.testing.assert_array_equal(maps.susceptibility_ppm[air], maps.air_ppm)
  assert 0 <= maps.fat_fraction.min() and maps.fat_fraction.max() <= 1
  assert maps.fat_fraction[labels == tissues.FAT].min() >= 0.9


def test_susceptibility_rng_redraws_only_the_susceptibility():
  _, labels = _labels("brain")
  own = subject.tissue_maps(np.random.default_rng(2), labels, PARAMS)
  other = subject.tissue_maps(
      np.random.default_rng(2), labels, PARAMS, np.random.default_rng(3)
  )
  np.testing.assert_array_equal(other.signal, own.signal)
  np.testing.assert_array_equal(other.fat_fraction, own.fat_fraction)
  assert not np.allclose(other.susceptibility_ppm, own.susceptibility_ppm)
