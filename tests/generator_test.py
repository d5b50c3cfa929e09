"""Tests of kspace.simulator.generator: `generate_example` and its stages."""

import numpy as np
import pytest

from kspace import datasets
from kspace.simulator import generator
from kspace.simulator import phantom
from kspace.simulator import physics

PI32 = np.float32(np.pi)


def _circular_diff(a, b):
  return np.angle(np.exp(1j * (np.asarray(a, np.float64) - b)))


def _interior(labels, label, width=1):
  """Pixels of `label` whose 4-neighbours up to `width` share the label."""
  inside = labels == label
  for shift in range(1, width + 1):
    for axis in (0, 1):
      for sign in (-1, 1):
        inside &= np.roll(labels, sign * shift, axis=axis) == label
  return inside


def test_example_is_a_pure_function_of_seed_split_index():
  first = generator.generate_example(generator.example_rng(3, "train", 5), 32)
  # Generating other examples in between must not matter.
  for index in range(3):
    generator.generate_example(generator.example_rng(3, "train", index), 32)
  again = generator.generate_example(generator.example_rng(3, "train", 5), 32)
  for key in ("magnitude", "phase", "labels"):
    np.testing.assert_array_equal(first[key], again[key])
  for other in (("train", 6), ("validation", 5), ("test", 5)):
    different = generator.generate_example(generator.example_rng(3, *other), 32)
    assert not np.allclose(different["magnitude"], first["magnitude"])
  other_seed = generator.generate_example(
      generator.example_rng(4, "train", 5), 32
  )
  assert not np.allclose(other_seed["phase"], first["phase"])


def test_datasets_reexports_the_generator():
  assert datasets.generate_example is generator.generate_example
  assert datasets.example_rng is generator.example_rng
  assert datasets.SyntheticParams is generator.SyntheticParams


def test_acquisition_seed_rescans_the_same_anatomy():
  rng = lambda: generator.example_rng(3, "validation", 2)
  original = generator.generate_example(rng(), 32, return_components=True)
  rescans = [
      generator.generate_example(
          rng(), 32, return_components=True, acquisition_seed=seed
      )
      for seed in (0, 1, 0)
  ]
  for rescan in rescans:
    np.testing.assert_array_equal(rescan["labels"], original["labels"])
    np.testing.assert_array_equal(
        rescan["susceptibility_ppm"], original["susceptibility_ppm"]
    )
  # A new acquisition: new background phase and scan parameters.
  for rescan in rescans[:2]:
    assert not np.allclose(
        rescan["background_phase"], original["background_phase"]
    )
  assert not np.allclose(rescans[0]["phase"], rescans[1]["phase"])
  np.testing.assert_array_equal(rescans[0]["phase"], rescans[2]["phase"])
  with pytest.raises(ValueError, match="acquisition_seed must be >= 0"):
    generator.generate_example(rng(), 32, acquisition_seed=-1)


@pytest.mark.parametrize("anatomy", sorted(phantom.ANATOMIES))
@pytest.mark.parametrize("shape", [(32, 32), (24, 40)])
def test_example_ranges_shapes_dtypes(anatomy, shape):
  example = generator.generate_example(11, shape, anatomy=anatomy)
  magnitude, phase, labels = (
      example["magnitude"],
      example["phase"],
      example["labels"],
  )
  assert magnitude.shape == phase.shape == labels.shape == shape
  assert magnitude.dtype == phase.dtype == np.float32
  assert labels.dtype == np.uint8
  assert magnitude.min() >= 0 and magnitude.max() == pytest.approx(1.0)
  assert phase.min() > -PI32 and phase.max() <= PI32
  assert example["anatomy"] == anatomy
  np.testing.assert_allclose(np.linalg.norm(example["b0_direction"]), 1, 1e-6)


def test_ideal_image_is_background_plus_field_plus_chemical_shift():
  """The noiseless stage, exactly: no signal in air, the modelled phase."""
  shape = (40, 48)
  params = generator.DEFAULT_PARAMS
  anatomy_rng, tissue_rng, scan_rng, noise_rng = np.random.default_rng(7).spawn(
      4
  )
  _, labels = generator.draw_labels(anatomy_rng, shape, "knee", params)
  tissue = generator.tissue_maps(tissue_rng, labels, params)
  acquisition = generator.draw_acquisition(scan_rng, noise_rng, shape, params)
  resonance = generator.off_resonance(tissue, acquisition, params)
  image = generator.ideal_image(labels, tissue, acquisition, resonance)
  assert image.shape == shape and image.dtype == np.complex128
  air = labels == phantom.BACKGROUND
  assert not image[air].any()
  expected = (
      acquisition.background_phase
      + resonance.phase_per_ppm * resonance.field_ppm
      + np.angle(resonance.fat_water)
  )
  signal = ~air & (np.abs(image) > 1e-6)
  assert signal.sum() > 100
  np.testing.assert_allclose(
      _circular_diff(np.angle(image[signal]), expected[signal]), 0, atol=1e-9
  )
  acquired = generator.acquire(image, acquisition)
  assert np.abs(acquired).max() == pytest.approx(1.0)


def test_phase_is_background_plus_field_plus_chemical_shift():
  example = generator.generate_example(
      7, 64, anatomy="body", return_components=True
  )
  np.testing.assert_allclose(
      example["field_ppm"],
      physics.field_map(
          example["susceptibility_ppm"].astype(np.float64),
          example["b0_direction"].astype(np.float64),
          generator.DEFAULT_PARAMS.field_pad_factor,
          reference_ppm=phantom.TISSUES[0].susceptibility_ppm[0],
      ),
      atol=1e-4,
  )
  model = (
      example["background_phase"]
      + example["phase_per_ppm"] * example["field_ppm"]
      + example["chemical_shift_phase"]
  )
  bright = example["magnitude"] > 0.2
  interior = np.zeros_like(bright)
  for label in range(1, phantom.NUM_CLASSES):
    interior |= _interior(example["labels"], label, width=2)
  residual = _circular_diff(example["phase"], model)[bright & interior]
  assert residual.size > 100
  assert np.median(np.abs(residual)) < 0.1
  # The field depends on the anatomy: it varies across tissue classes.
  field = example["field_ppm"]
  assert np.ptp(field[example["labels"] > 0]) > 0.1


def _fat_water_offset(params, seeds, distance=3):
  """Circular mean phase of fat minus nearby muscle/parenchyma pixels."""
  total = 0j
  for seed in seeds:
    example = generator.generate_example(
        seed, 64, anatomy="body", params=params
    )
    labels, phase = example["labels"], example["phase"].astype(np.float64)
    fat = _interior(labels, phantom.FAT)
    water = _interior(labels, phantom.MUSCLE) | _interior(
        labels, phantom.PARENCHYMA
    )
    for axis in (0, 1):
      for sign in (-1, 1):
        near_water = np.roll(water, sign * distance, axis=axis)
        near_phase = np.roll(phase, sign * distance, axis=axis)
        pairs = fat & near_water
        total += np.sum(np.exp(1j * (phase[pairs] - near_phase[pairs])))
  return np.angle(total), abs(total)


def test_fat_has_chemical_shift_offset_relative_to_neighbouring_water():
  # 3 T and TE chosen so fat precesses 1.2 rad behind water; the short TE
  # keeps field differences small next to it.
  echo_ms = 1.2 / physics.phase_per_ppm(3.0, 1.0) / 3.4
  params = generator.SyntheticParams(
      field_strengths_t=(3.0,), echo_time_ms=(echo_ms, echo_ms)
  )
  offset, weight = _fat_water_offset(params, range(4))
  assert weight > 20
  assert offset == pytest.approx(-1.2, abs=0.35)
  no_shift = generator.SyntheticParams(
      field_strengths_t=(3.0,),
      echo_time_ms=(echo_ms, echo_ms),
      fat_shift_ppm=0.0,
  )
  offset_without, _ = _fat_water_offset(no_shift, range(4))
  assert abs(offset_without) < 0.3


def test_background_phase_is_noise_and_tissue_phase_is_smooth():
  for seed in range(3):
    example = generator.generate_example(seed, 64)
    labels, phase = example["labels"], example["phase"]
    far_background = _interior(labels, phantom.BACKGROUND, width=3)
    circular_variance = 1 - abs(np.mean(np.exp(1j * phase[far_background])))
    assert circular_variance > 0.9
    step = np.abs(_circular_diff(phase[:, 1:], phase[:, :-1]))
    background_pairs = far_background[:, 1:] & far_background[:, :-1]
    tissue = (labels > 0) & (example["magnitude"] > 0.2)
    tissue_pairs = tissue[:, 1:] & tissue[:, :-1]
    assert np.median(step[background_pairs]) > 1.0
    assert np.median(step[tissue_pairs]) < 0.3


def test_coil_maps_are_extra_and_rotate_per_example():
  plain = generator.generate_example(5, 32)
  # 2 coils at 32 x 32, as the builder tests: one compilation of the maps.
  with_coils = generator.generate_example(5, 32, num_coils=2)
  np.testing.assert_array_equal(plain["phase"], with_coils["phase"])
  np.testing.assert_array_equal(plain["magnitude"], with_coils["magnitude"])
  sens = with_coils["sens"]
  assert sens.shape == (2, 32, 32) and sens.dtype == np.complex64
  np.testing.assert_allclose(np.sum(np.abs(sens) ** 2, axis=0), 1, atol=1e-5)
  other = generator.generate_example(6, 32, num_coils=2)["sens"]
  assert not np.allclose(other, sens, atol=1e-3)


def test_bad_arguments_raise():
  with pytest.raises(ValueError, match="image_size"):
    generator.generate_example(0, 4)
  with pytest.raises(ValueError, match="anatomy"):
    generator.generate_example(0, 32, anatomy="elbow")
  with pytest.raises(ValueError, match="num_coils"):
    generator.generate_example(0, 32, num_coils=-1)
  with pytest.raises(ValueError, match="noise_std"):
    generator.SyntheticParams(noise_std=(0.0, 0.01))
  with pytest.raises(ValueError, match="anatomies"):
    generator.SyntheticParams(anatomies=("elbow",))
  with pytest.raises(ValueError, match="split"):
    generator.example_rng(0, "dev", 0)
