"""Tests of kspace.simulator.generator.example_pipeline: `generate_example`."""

import dataclasses

import numpy as np
import pytest

from kspace.simulator import physics
from kspace.simulator import sequences
from kspace.simulator.generator import example_pipeline
from kspace.simulator.generator import synthetic_params
from kspace.simulator.phantom import cross_sections
from kspace.simulator.phantom import tissues
from tests.helpers import example_analysis

PI32 = np.float32(np.pi)


@pytest.mark.parametrize("anatomy", sorted(cross_sections.ANATOMIES))
@pytest.mark.parametrize("shape", [(32, 32), (24, 40)])
def test_example_ranges_shapes_dtypes(anatomy, shape):
  example = example_pipeline.generate_example(11, shape, anatomy=anatomy)
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


def test_phase_is_background_plus_field_plus_chemical_shift():
  example = example_pipeline.generate_example(
      7, 64, anatomy="body", return_components=True
  )
  np.testing.assert_allclose(
      example["field_ppm"],
      physics.field_map(
          example["susceptibility_ppm"].astype(np.float64),
          example["b0_direction"].astype(np.float64),
          synthetic_params.DEFAULT_PARAMS.field_pad_factor,
          reference_ppm=tissues.TISSUES[0].susceptibility_ppm[0],
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
  for label in range(1, tissues.NUM_CLASSES):
    interior |= example_analysis.interior(example["labels"], label, width=2)
  residual = example_analysis.circular_diff(example["phase"], model)[
      bright & interior
  ]
  assert residual.size > 100
  assert np.median(np.abs(residual)) < 0.1
  # The field depends on the anatomy: it varies across tissue classes.
  field = example["field_ppm"]
  assert np.ptp(field[example["labels"] > 0]) > 0.1


def _fat_water_offset(params, seeds, distance=3):
  """Circular mean phase of fat minus nearby muscle/parenchyma pixels."""
  total = 0j
  for seed in seeds:
    example = example_pipeline.generate_example(
        seed, 64, anatomy="body", params=params
    )
    labels, phase = example["labels"], example["phase"].astype(np.float64)
    fat = example_analysis.interior(labels, tissues.FAT)
    water = example_analysis.interior(
        labels, tissues.MUSCLE
    ) | example_analysis.interior(labels, tissues.PARENCHYMA)
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
  params = synthetic_params.SyntheticParams(
      field_strengths_t=(3.0,),
      echo_time_ms=(echo_ms, echo_ms),
      spin_echo_probability=0.0,
      fat_shift_px=(0.0, 0.0),
  )
  offset, weight = _fat_water_offset(params, range(4))
  assert weight > 20
  assert offset == pytest.approx(-1.2, abs=0.35)
  no_shift = dataclasses.replace(params, fat_shift_ppm=0.0)
  offset_without, _ = _fat_water_offset(no_shift, range(4))
  assert abs(offset_without) < 0.3


def test_background_phase_is_noise_and_tissue_phase_is_smooth():
  for seed in range(3):
    example = example_pipeline.generate_example(seed, 64)
    labels, phase = example["labels"], example["phase"]
    far_background = example_analysis.interior(
        labels, tissues.BACKGROUND, width=3
    )
    circular_variance = 1 - abs(np.mean(np.exp(1j * phase[far_background])))
    assert circular_variance > 0.9
    step = np.abs(example_analysis.circular_diff(phase[:, 1:], phase[:, :-1]))
    background_pairs = far_background[:, 1:] & far_background[:, :-1]
    tissue = (labels > 0) & (example["magnitude"] > 0.2)
    tissue_pairs = tissue[:, 1:] & tissue[:, :-1]
    assert np.median(step[background_pairs]) > 1.0
    assert np.median(step[tissue_pairs]) < 0.3


def test_examples_follow_their_anatomy_slice_orientation():
  params = synthetic_params.DEFAULT_PARAMS
  assert params.orientation("brain") == params.orientation("body") == "axial"
  assert params.orientation("knee") == "coronal"
  for seed in range(3):
    for anatomy in ("brain", "body"):
      b0 = example_pipeline.generate_example(seed, 16, anatomy=anatomy)[
          "b0_direction"
      ]
      assert abs(b0[2]) > np.cos(np.radians(35))
    b0 = example_pipeline.generate_example(seed, 16, anatomy="knee")[
        "b0_direction"
    ]
    assert abs(b0[1]) > np.cos(np.radians(35))
  # The table is a parameter: an axial knee.
  axial_knee = synthetic_params.SyntheticParams(
      slice_orientations={"brain": "axial", "knee": "axial", "body": "axial"}
  )
  b0 = example_pipeline.generate_example(
      0, 16, anatomy="knee", params=axial_knee
  )
  assert abs(b0["b0_direction"][2]) > np.cos(np.radians(35))


def _circular_spread(angles):
  """Circular standard deviation sqrt(-2 ln R) of radians."""
  resultant = abs(np.mean(np.exp(1j * angles)))
  return np.sqrt(-2 * np.log(max(resultant, 1e-12)))


def _water_away_from_fat(example):
  """Bright tissue pixels at least 2 (x) / 1 (y) pixels from any fat."""
  fatty = example["fat_fraction"] > 0.1
  near = fatty.copy()
  for shift, axis in ((1, 1), (-1, 1), (2, 1), (-2, 1), (1, 0), (-1, 0)):
    near |= np.roll(fatty, shift, axis=axis)
  return (example["labels"] > 0) & (example["magnitude"] > 0.2) & ~near


@pytest.mark.parametrize("anatomy", ["body", "knee"])
def test_spin_echo_refocuses_the_tissue_dependent_phase(anatomy):
  gre = synthetic_params.SyntheticParams(spin_echo_probability=0.0)
  se = synthetic_params.SyntheticParams(spin_echo_probability=1.0)
  field_spread = {"gre": [], "se": []}
  water_spread = {"gre": [], "se": []}
  for seed in range(4):
    for name, params in (("gre", gre), ("se", se)):
      example = example_pipeline.generate_example(
          seed, 32, anatomy=anatomy, params=params, return_components=True
      )
      tissue = (example["labels"] > 0) & (example["magnitude"] > 0.2)
      field_phase = example["phase_per_ppm"] * example["field_ppm"][tissue]
      field_spread[name].append(np.std(field_phase))
      # The observed phase of water without its smooth background.
      water = _water_away_from_fat(example)
      water_spread[name].append(
          _circular_spread(
              example["phase"][water] - example["background_phase"][water]
          )
      )
      if name == "gre":
        assert example["sequence"] == sequences.GRADIENT_ECHO
        assert 1.0 <= example["echo_time_ms"] <= 10.0
        assert example["accrual_time_ms"] == example["echo_time_ms"]
      else:
        assert example["sequence"] == sequences.SPIN_ECHO
        assert 15.0 <= example["echo_time_ms"] <= 100.0
        assert 0.0 <= example["accrual_time_ms"] <= 0.5
  # The same scan stream draws the same B0, so only the accrual differs.
  assert np.all(np.array(field_spread["se"]) < field_spread["gre"])
  assert sum(field_spread["se"]) < 0.1 * sum(field_spread["gre"])
  assert np.mean(water_spread["se"]) < 0.1
  if anatomy == "knee":
    # Coronal: the in-plane dipole field shapes a gradient echo's water phase
    # (measured mean spread 0.27 rad vs 0.06 for the spin echo).
    assert np.mean(water_spread["se"]) < 0.4 * np.mean(water_spread["gre"])
  else:
    # Axial: B0 along the normal, water's field is nearly uniform chi / 3.
    assert np.mean(water_spread["se"]) < np.mean(water_spread["gre"])


def test_bad_arguments_raise():
  with pytest.raises(ValueError, match="image_size"):
    example_pipeline.generate_example(0, 4)
  with pytest.raises(ValueError, match="image_size"):
    example_pipeline.image_shape((8, 8, 8))
  assert example_pipeline.image_shape(np.int64(9)) == (9, 9)
  with pytest.raises(ValueError, match="anatomy"):
    example_pipeline.generate_example(0, 32, anatomy="elbow")
  with pytest.raises(ValueError, match="num_coils"):
    example_pipeline.generate_example(0, 32, num_coils=-1)
