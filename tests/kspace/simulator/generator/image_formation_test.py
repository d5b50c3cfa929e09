"""Tests of kspace.simulator.generator.image_formation: stages 4-6."""

import numpy as np
import pytest

from kspace.simulator import physics
from kspace.simulator import sequences
from kspace.simulator.generator import image_formation
from kspace.simulator.generator import scan_draws
from kspace.simulator.generator import subject
from kspace.simulator.generator import synthetic_params
from kspace.simulator.phantom import tissues
from tests.helpers import example_analysis


def test_ideal_image_is_background_plus_field_plus_chemical_shift():
  """The noiseless stage, exactly: no signal in air, the modelled phase."""
  shape = (40, 48)
  # Without fat's displacement every pixel holds its own fat and water.
  params = synthetic_params.SyntheticParams(fat_shift_px=(0.0, 0.0))
  anatomy_rng, tissue_rng, scan_rng, hidden_rng, noise_rng = (
      np.random.default_rng(7).spawn(5)
  )
  _, labels = subject.draw_labels(anatomy_rng, shape, "knee", params)
  tissue = subject.tissue_maps(tissue_rng, labels, params)
  acquisition = scan_draws.draw_acquisition(
      scan_rng, hidden_rng, noise_rng, shape, "coronal", params
  )
  resonance = image_formation.off_resonance(tissue, acquisition, params)
  image = image_formation.ideal_image(labels, tissue, acquisition, resonance)
  assert image.shape == shape and image.dtype == np.complex128
  air = labels == tissues.BACKGROUND
  np.testing.assert_allclose(image[air], 0, atol=1e-12)
  expected = (
      acquisition.background_phase
      + resonance.phase_per_ppm * resonance.field_ppm
      + np.angle(
          physics.fat_water_signal(tissue.fat_fraction, resonance.fat_phase)
      )
  )
  signal = ~air & (np.abs(image) > 1e-6)
  assert signal.sum() > 100
  np.testing.assert_allclose(
      example_analysis.circular_diff(np.angle(image[signal]), expected[signal]),
      0,
      atol=1e-9,
  )
  acquired = image_formation.acquire(image, acquisition)
  assert np.abs(acquired).max() == pytest.approx(1.0)


def _disc_scan(fat_fraction, fat_shift_px, shape=(32, 32)):
  """The ideal image of one disc of pure fat or water, all phases 0."""
  y, x = np.mgrid[: shape[0], : shape[1]]
  disc = (y - 15.5) ** 2 + (x - 14.0) ** 2 < 6**2
  labels = np.where(disc, tissues.FAT, tissues.BACKGROUND).astype(np.uint8)
  zeros = np.zeros(shape)
  tissue = subject.TissueMaps(
      signal=disc * 1.0,
      susceptibility_ppm=zeros,
      fat_fraction=disc * fat_fraction,
      air_ppm=0.0,
  )
  acquisition = scan_draws.Acquisition(
      field_strength_t=3.0,
      sequence=sequences.SPIN_ECHO,
      echo_time_ms=30.0,
      accrual_time_ms=0.0,
      b0_direction=physics.b0_direction(np.pi / 2, 0.0),
      fat_shift_px=fat_shift_px,
      background_phase=zeros,
      blur_sigma_px=0.0,
      noise_level=0.01,
      noise=zeros + 0j,
  )
  resonance = image_formation.OffResonance(zeros, 0.0, 0.0)
  image = image_formation.ideal_image(labels, tissue, acquisition, resonance)
  return image, y, x


@pytest.mark.parametrize("shift", [0.7, -1.3])
def test_fat_is_displaced_along_the_readout_only(shift):
  fat, y, x = _disc_scan(1.0, shift)
  # The signal's centroid (its first moment; the magnitude's would be biased
  # by the rectified ringing of a sub-pixel shift).
  total = fat.sum()
  assert np.real((fat * x).sum() / total) - 14.0 == pytest.approx(
      shift, abs=0.02
  )
  assert np.real((fat * y).sum() / total) - 15.5 == pytest.approx(0, abs=1e-9)
  # Water stays where it is; displaced fat leaves its disc (chemical-shift
  # artifact: it lands in air on one side, uncovers the disc on the other).
  water, _, _ = _disc_scan(0.0, shift)
  unshifted, _, _ = _disc_scan(1.0, 0.0)
  np.testing.assert_allclose(water, unshifted, atol=1e-12)
  outside = np.abs(unshifted) < 0.5
  assert np.abs(fat[outside]).max() > 0.3
