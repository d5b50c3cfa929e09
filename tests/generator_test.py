"""Tests of kspace.simulator.generator: `generate_example` and its stages."""

import dataclasses

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
  # Without fat's displacement every pixel holds its own fat and water.
  params = generator.SyntheticParams(fat_shift_px=(0.0, 0.0))
  anatomy_rng, tissue_rng, scan_rng, hidden_rng, noise_rng = (
      np.random.default_rng(7).spawn(5)
  )
  _, labels = generator.draw_labels(anatomy_rng, shape, "knee", params)
  tissue = generator.tissue_maps(tissue_rng, labels, params)
  acquisition = generator.draw_acquisition(
      scan_rng, hidden_rng, noise_rng, shape, "coronal", params
  )
  resonance = generator.off_resonance(tissue, acquisition, params)
  image = generator.ideal_image(labels, tissue, acquisition, resonance)
  assert image.shape == shape and image.dtype == np.complex128
  air = labels == phantom.BACKGROUND
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
      _circular_diff(np.angle(image[signal]), expected[signal]), 0, atol=1e-9
  )
  acquired = generator.acquire(image, acquisition)
  assert np.abs(acquired).max() == pytest.approx(1.0)


def _disc_scan(fat_fraction, fat_shift_px, shape=(32, 32)):
  """The ideal image of one disc of pure fat or water, all phases 0."""
  y, x = np.mgrid[: shape[0], : shape[1]]
  disc = (y - 15.5) ** 2 + (x - 14.0) ** 2 < 6**2
  labels = np.where(disc, phantom.FAT, phantom.BACKGROUND).astype(np.uint8)
  zeros = np.zeros(shape)
  tissue = generator.TissueMaps(
      signal=disc * 1.0,
      susceptibility_ppm=zeros,
      fat_fraction=disc * fat_fraction,
      air_ppm=0.0,
  )
  acquisition = generator.Acquisition(
      field_strength_t=3.0,
      sequence=generator.SPIN_ECHO,
      echo_time_ms=30.0,
      accrual_time_ms=0.0,
      b0_direction=physics.b0_direction(np.pi / 2, 0.0),
      fat_shift_px=fat_shift_px,
      background_phase=zeros,
      blur_sigma_px=0.0,
      noise_level=0.01,
      noise=zeros + 0j,
  )
  resonance = generator.OffResonance(zeros, 0.0, 0.0)
  image = generator.ideal_image(labels, tissue, acquisition, resonance)
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


def _b0_draws(orientation, count=400):
  rng = np.random.default_rng(0)
  return np.stack([
      generator.draw_b0_direction(
          rng, rng, orientation, generator.DEFAULT_PARAMS
      )
      for _ in range(count)
  ])


def test_axial_b0_is_near_the_slice_normal_at_any_azimuth():
  b0 = _b0_draws("axial")
  np.testing.assert_allclose(np.linalg.norm(b0, axis=1), 1, atol=1e-12)
  # Tilt |N(0, 10 deg)|: beyond 30 deg with probability 0.3%.
  assert np.mean(np.abs(b0[:, 2]) > np.cos(np.radians(30))) > 0.98
  tilt = np.degrees(np.arccos(np.abs(b0[:, 2])))
  assert np.median(tilt) == pytest.approx(0.674 * 10, abs=1.0)
  # The in-plane azimuth is uniform: no preferred in-plane axis.
  azimuth = np.arctan2(b0[:, 1], b0[:, 0])
  assert abs(np.mean(np.exp(2j * azimuth))) < 0.15


@pytest.mark.parametrize("orientation", ["coronal", "sagittal"])
def test_coronal_b0_lies_in_the_plane_along_the_rows(orientation):
  b0 = _b0_draws(orientation)
  assert np.mean(np.abs(b0[:, 1]) > np.cos(np.radians(30))) > 0.98
  assert np.mean(np.abs(b0[:, 2]) < np.sin(np.radians(30))) > 0.98
  # In-plane jitter of 5 deg off the rows.
  jitter = np.degrees(np.arctan2(np.abs(b0[:, 0]), np.abs(b0[:, 1])))
  assert np.median(jitter) == pytest.approx(0.674 * 5, abs=0.7)


def test_examples_follow_their_anatomy_slice_orientation():
  params = generator.DEFAULT_PARAMS
  assert params.orientation("brain") == params.orientation("body") == "axial"
  assert params.orientation("knee") == "coronal"
  for seed in range(3):
    for anatomy in ("brain", "body"):
      b0 = generator.generate_example(seed, 16, anatomy=anatomy)["b0_direction"]
      assert abs(b0[2]) > np.cos(np.radians(35))
    b0 = generator.generate_example(seed, 16, anatomy="knee")["b0_direction"]
    assert abs(b0[1]) > np.cos(np.radians(35))
  # The table is a parameter: an axial knee.
  axial_knee = generator.SyntheticParams(
      slice_orientations={"brain": "axial", "knee": "axial", "body": "axial"}
  )
  b0 = generator.generate_example(0, 16, anatomy="knee", params=axial_knee)
  assert abs(b0["b0_direction"][2]) > np.cos(np.radians(35))


def test_slice_orientations_are_normalised_and_validated():
  as_dict = generator.SyntheticParams(
      slice_orientations={"knee": "coronal", "body": "axial", "brain": "axial"}
  )
  assert as_dict == generator.DEFAULT_PARAMS
  assert hash(as_dict) == hash(generator.DEFAULT_PARAMS)
  with pytest.raises(ValueError, match="slice_orientations values"):
    generator.SyntheticParams(
        slice_orientations={
            "knee": "oblique",
            "body": "axial",
            "brain": "axial",
        }
    )
  with pytest.raises(ValueError, match="every anatomy"):
    generator.SyntheticParams(slice_orientations={"brain": "axial"})
  brain_only = generator.SyntheticParams(
      anatomies=("brain",), slice_orientations={"brain": "axial"}
  )
  with pytest.raises(ValueError, match="No slice orientation"):
    generator.generate_example(0, 16, anatomy="knee", params=brain_only)


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
  gre = generator.SyntheticParams(spin_echo_probability=0.0)
  se = generator.SyntheticParams(spin_echo_probability=1.0)
  field_spread = {"gre": [], "se": []}
  water_spread = {"gre": [], "se": []}
  for seed in range(4):
    for name, params in (("gre", gre), ("se", se)):
      example = generator.generate_example(
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
        assert example["sequence"] == generator.GRADIENT_ECHO
        assert 1.0 <= example["echo_time_ms"] <= 10.0
        assert example["accrual_time_ms"] == example["echo_time_ms"]
      else:
        assert example["sequence"] == generator.SPIN_ECHO
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


def test_sequences_are_drawn_with_their_probability():
  rng = np.random.default_rng(0)
  draws = [
      generator.draw_sequence(rng, generator.DEFAULT_PARAMS) for _ in range(400)
  ]
  sequence = np.array([d[0] for d in draws])
  assert np.mean(sequence == generator.SPIN_ECHO) == pytest.approx(
      0.5, abs=0.08
  )


def _rescans(anatomy, redraw, params=generator.DEFAULT_PARAMS, seeds=range(3)):
  """(original, rescan) pairs of 32 x 32 examples with their components."""
  pairs = []
  for seed in seeds:
    rng = lambda: generator.example_rng(2, "train", seed)
    kwargs = dict(anatomy=anatomy, params=params, return_components=True)
    pairs.append((
        generator.generate_example(rng(), 32, **kwargs),
        generator.generate_example(
            rng(), 32, acquisition_seed=seed + 10, redraw=redraw, **kwargs
        ),
    ))
  return pairs


@pytest.mark.parametrize("anatomy", sorted(phantom.ANATOMIES))
def test_oracle_a_rescan_keeps_the_scan_and_the_magnitude(anatomy):
  for original, rescan in _rescans(anatomy, "hidden"):
    for key in (
        "labels",
        "susceptibility_ppm",
        "field_strength_t",
        "sequence",
        "echo_time_ms",
        "accrual_time_ms",
        "phase_per_ppm",
        "fat_shift_px",
    ):
      np.testing.assert_array_equal(rescan[key], original[key], err_msg=key)
    # The tilt is kept; an axial slice's azimuth is redrawn.
    b0, b0_original = rescan["b0_direction"], original["b0_direction"]
    assert b0[2] == pytest.approx(b0_original[2], abs=1e-6)
    if anatomy == "knee":  # coronal: B0 is the original's
      np.testing.assert_allclose(b0, b0_original, atol=1e-6)
    else:
      assert not np.allclose(b0, b0_original, atol=1e-3)
    # New hidden phase.
    assert not np.allclose(
        rescan["background_phase"], original["background_phase"]
    )
    tissue = (original["labels"] > 0) & (original["magnitude"] > 0.2)
    change = _circular_diff(rescan["phase"], original["phase"])[tissue]
    assert np.median(np.abs(change)) > 0.1
    # The magnitude is the original's up to the partial-volume mixing of the
    # new phase by blur and fat shift. Measured on 180 rescans at 32 x 32:
    # mean |difference| <= 0.018, 95th percentile <= 0.099 (full rescans:
    # 0.076 and 0.64 median, 0.18 and 0.64 max).
    difference = np.abs(rescan["magnitude"] - original["magnitude"])
    assert difference.mean() < 0.03
    assert np.percentile(difference, 95) < 0.15


def test_oracle_a_magnitude_is_exact_without_partial_volume_mixing():
  # Without blur and fat displacement no pixel mixes phases, and the noise
  # is drawn in the image's phase frame: the magnitude is the same bits.
  params = generator.SyntheticParams(
      blur_sigma_px=(0.0, 0.0), fat_shift_px=(0.0, 0.0)
  )
  for anatomy in sorted(phantom.ANATOMIES):
    for original, rescan in _rescans(anatomy, "hidden", params, range(2)):
      np.testing.assert_array_equal(rescan["magnitude"], original["magnitude"])
      assert not np.allclose(rescan["phase"], original["phase"])


@pytest.mark.parametrize("anatomy", sorted(phantom.ANATOMIES))
def test_unrevealed_rescan_adds_susceptibility_and_quadrature_noise(anatomy):
  hidden = [rescan for _, rescan in _rescans(anatomy, "hidden")]
  for (original, rescan), oracle_a in zip(
      _rescans(anatomy, "unrevealed"), hidden
  ):
    # Oracle-A's redraw, from the same seed, plus the unrevealed parts.
    np.testing.assert_array_equal(
        rescan["background_phase"], oracle_a["background_phase"]
    )
    np.testing.assert_array_equal(
        rescan["b0_direction"], oracle_a["b0_direction"]
    )
    for key in ("labels", "fat_fraction", "echo_time_ms", "fat_shift_px"):
      np.testing.assert_array_equal(rescan[key], original[key], err_msg=key)
    # Each class's susceptibility is redrawn; air's is fixed.
    labels = original["labels"]
    air = labels == phantom.BACKGROUND
    moved = rescan["susceptibility_ppm"] != original["susceptibility_ppm"]
    assert not moved[air].any() and moved[~air].mean() > 0.5
    assert not np.array_equal(rescan["phase"], oracle_a["phase"])
    # The magnitude stays close (quadrature noise moves it to second order).
    difference = np.abs(rescan["magnitude"] - original["magnitude"])
    assert difference.mean() < 0.03
    assert np.percentile(difference, 95) < 0.15


def test_oracle_b_rescan_redraws_the_scan():
  pairs = [
      pair
      for anatomy in sorted(phantom.ANATOMIES)
      for pair in _rescans(anatomy, "acquisition")
  ]
  for original, rescan in pairs:
    np.testing.assert_array_equal(rescan["labels"], original["labels"])
    assert rescan["echo_time_ms"] != original["echo_time_ms"]
    assert rescan["fat_shift_px"] != original["fat_shift_px"]
    assert not np.allclose(rescan["b0_direction"], original["b0_direction"])
    assert np.abs(rescan["magnitude"] - original["magnitude"]).mean() > 0.01
  for key in ("field_strength_t", "sequence"):
    assert any(rescan[key] != original[key] for original, rescan in pairs), key


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
  with pytest.raises(ValueError, match="redraw must be one of"):
    generator.generate_example(0, 16, acquisition_seed=1, redraw="noise")
  with pytest.raises(ValueError, match="needs an acquisition_seed"):
    generator.generate_example(0, 16, redraw="hidden")
  with pytest.raises(ValueError, match="spin_echo_probability"):
    generator.SyntheticParams(spin_echo_probability=1.5)
  with pytest.raises(ValueError, match="fat_shift_px"):
    generator.SyntheticParams(fat_shift_px=(-1.0, 1.0))
  with pytest.raises(ValueError, match="oblique_tilt_std"):
    generator.SyntheticParams(oblique_tilt_std=-0.1)
