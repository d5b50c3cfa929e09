"""Tests of the synthetic_mri generator, its physics and its TFDS builder."""

import os
import time

import numpy as np
import pytest

from kspace import datasets
from kspace.datasets import phantom
from kspace.datasets import phase_model
from kspace.datasets import synthetic_mri

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
  first = datasets.generate_example(datasets.example_rng(3, "train", 5), 32)
  # Generating other examples in between must not matter.
  for index in range(3):
    datasets.generate_example(datasets.example_rng(3, "train", index), 32)
  again = datasets.generate_example(datasets.example_rng(3, "train", 5), 32)
  for key in ("magnitude", "phase", "labels"):
    np.testing.assert_array_equal(first[key], again[key])
  for other in (("train", 6), ("validation", 5), ("test", 5)):
    different = datasets.generate_example(datasets.example_rng(3, *other), 32)
    assert not np.allclose(different["magnitude"], first["magnitude"])
  other_seed = datasets.generate_example(
      datasets.example_rng(4, "train", 5), 32
  )
  assert not np.allclose(other_seed["phase"], first["phase"])


def test_acquisition_seed_rescans_the_same_anatomy():
  rng = lambda: datasets.example_rng(3, "validation", 2)
  original = datasets.generate_example(rng(), 32, return_components=True)
  rescans = [
      datasets.generate_example(
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
    datasets.generate_example(rng(), 32, acquisition_seed=-1)


@pytest.mark.parametrize("anatomy", sorted(phantom.ANATOMIES))
@pytest.mark.parametrize("shape", [(32, 32), (24, 40)])
def test_example_ranges_shapes_dtypes(anatomy, shape):
  example = datasets.generate_example(11, shape, anatomy=anatomy)
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
  assert labels.max() < phantom.NUM_CLASSES
  # A cross-section: background around tissue, several tissue classes.
  assert labels[0, 0] == phantom.BACKGROUND
  assert len(np.unique(labels)) >= 4
  assert example["anatomy"] == anatomy
  np.testing.assert_allclose(np.linalg.norm(example["b0_direction"]), 1, 1e-6)


def test_wrap_phase_uses_atan2_semantics():
  values = np.array([-np.pi, np.pi, 3 * np.pi, -3 * np.pi, 2.0, -2.0, 7.0])
  wrapped = phase_model.wrap_phase(values)
  assert wrapped.dtype == np.float32
  assert np.all(wrapped > -PI32) and np.all(wrapped <= PI32)
  np.testing.assert_allclose(np.cos(wrapped), np.cos(values), atol=1e-6)
  np.testing.assert_allclose(np.sin(wrapped), np.sin(values), atol=1e-6)
  # Values in the second and third quadrants keep them (arctan would fold
  # them into (-pi/2, pi/2)).
  assert wrapped[4] == pytest.approx(2.0) and wrapped[5] == pytest.approx(-2.0)


def test_dipole_kernel_values():
  shape = (16, 16)
  normal = phase_model.dipole_kernel(
      shape, phase_model.b0_direction(np.pi / 2, 0)
  )
  assert normal[0, 0] == 0
  np.testing.assert_allclose(normal.ravel()[1:], 1 / 3, atol=1e-12)
  along_x = phase_model.dipole_kernel(shape, phase_model.b0_direction(0, 0))
  assert along_x[0, 3] == pytest.approx(1 / 3 - 1)  # k parallel to B0
  assert along_x[3, 0] == pytest.approx(1 / 3)  # k perpendicular to B0
  tilted = phase_model.dipole_kernel(shape, phase_model.b0_direction(0.6, 0))
  assert tilted[0, 3] == pytest.approx(1 / 3 - np.cos(0.6) ** 2)


def test_field_with_b0_normal_to_slice_is_chi_over_three():
  rng = np.random.default_rng(0)
  chi = rng.normal(size=(24, 20))
  field = phase_model.field_map(chi, phase_model.b0_direction(np.pi / 2, 0.3))
  offset = field - chi / 3
  np.testing.assert_allclose(offset, offset.mean(), atol=1e-9)


def test_field_of_cylinder_perpendicular_to_b0():
  # Infinite cylinder perpendicular to B0: uniform field inside, outside
  # delta_chi a^2 / (2 r^2) cos(2 phi), positive along B0.
  y, x = phantom.normalized_grid((96, 96))
  radius = 0.25
  chi = np.where(y**2 + x**2 < radius**2, 1.0, 0.0)
  field = phase_model.field_map(chi, phase_model.b0_direction(0.0, 0.0), 4)
  inside = y**2 + x**2 < (0.7 * radius) ** 2
  along_b0 = field[48, 48 + int(1.5 * radius * 48)]
  across_b0 = field[48 + int(1.5 * radius * 48), 48]
  outside_contrast = along_b0 - across_b0
  assert outside_contrast > 0
  assert outside_contrast == pytest.approx(1 / 1.5**2, rel=0.15)
  assert field[inside].std() < 0.05 * outside_contrast


def test_phase_is_background_plus_field_plus_chemical_shift():
  example = datasets.generate_example(
      7, 64, anatomy="body", return_components=True
  )
  np.testing.assert_allclose(
      example["field_ppm"],
      phase_model.field_map(
          example["susceptibility_ppm"].astype(np.float64),
          example["b0_direction"].astype(np.float64),
          synthetic_mri.DEFAULT_PARAMS.field_pad_factor,
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
    example = datasets.generate_example(seed, 64, anatomy="body", params=params)
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
  echo_ms = 1.2 / phase_model.phase_per_ppm(3.0, 1.0) / 3.4
  params = synthetic_mri.SyntheticParams(
      field_strengths_t=(3.0,), echo_time_ms=(echo_ms, echo_ms)
  )
  offset, weight = _fat_water_offset(params, range(4))
  assert weight > 20
  assert offset == pytest.approx(-1.2, abs=0.35)
  no_shift = synthetic_mri.SyntheticParams(
      field_strengths_t=(3.0,),
      echo_time_ms=(echo_ms, echo_ms),
      fat_shift_ppm=0.0,
  )
  offset_without, _ = _fat_water_offset(no_shift, range(4))
  assert abs(offset_without) < 0.3


def test_background_phase_is_noise_and_tissue_phase_is_smooth():
  for seed in range(3):
    example = datasets.generate_example(seed, 64)
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
  plain = datasets.generate_example(5, 32)
  with_coils = datasets.generate_example(5, 32, num_coils=4)
  np.testing.assert_array_equal(plain["phase"], with_coils["phase"])
  np.testing.assert_array_equal(plain["magnitude"], with_coils["magnitude"])
  sens = with_coils["sens"]
  assert sens.shape == (4, 32, 32) and sens.dtype == np.complex64
  np.testing.assert_allclose(np.sum(np.abs(sens) ** 2, axis=0), 1, atol=1e-5)
  other = datasets.generate_example(6, 32, num_coils=4)["sens"]
  assert not np.allclose(other, sens, atol=1e-3)


def test_generation_is_fast():
  start = time.perf_counter()
  for index in range(10):
    datasets.generate_example(datasets.example_rng(0, "train", index), 128)
  # ~20 ms each on one core; a generous bound for shared CI machines.
  assert time.perf_counter() - start < 5.0


def test_bad_arguments_raise():
  with pytest.raises(ValueError, match="image_size"):
    datasets.generate_example(0, 4)
  with pytest.raises(ValueError, match="anatomy"):
    datasets.generate_example(0, 32, anatomy="elbow")
  with pytest.raises(ValueError, match="noise_std"):
    synthetic_mri.SyntheticParams(noise_std=(0.0, 0.01))
  with pytest.raises(ValueError, match="split"):
    datasets.example_rng(0, "dev", 0)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
  data_dir = str(tmp_path_factory.mktemp("tfds"))
  config = dict(
      image_size=32, num_train=6, num_val=3, num_test=2, num_coils=2, seed=9
  )
  return data_dir, config, datasets.build("synthetic_mri", data_dir, **config)


def test_builder_stores_exactly_the_generator_output(built):
  _, config, builder = built
  sizes = {"train": 6, "validation": 3, "test": 2}
  for split, size in sizes.items():
    source = datasets.data_source(builder, split)
    assert len(source) == size
    indices = set()
    for i in range(size):
      record = source[i]
      indices.add(int(record["index"]))
      expected = datasets.generate_example(
          datasets.example_rng(config["seed"], split, int(record["index"])),
          config["image_size"],
          num_coils=config["num_coils"],
      )
      for key in ("magnitude", "phase", "labels", "sens", "b0_direction"):
        assert record[key].dtype == expected[key].dtype
        np.testing.assert_array_equal(record[key], expected[key])
      assert record["anatomy"] == expected["anatomy"]
    assert indices == set(range(size))


def test_splits_are_different_images(built):
  _, _, builder = built
  images = {
      split: np.stack([
          r["magnitude"]
          for r in datasets.data_source(builder, split).__getitems__(range(n))
      ])
      for split, n in (("train", 6), ("validation", 3), ("test", 2))
  }
  for a, b in (
      ("train", "validation"),
      ("train", "test"),
      ("validation", "test"),
  ):
    distances = np.abs(images[a][:, None] - images[b][None]).max(axis=(2, 3))
    assert distances.min() > 0.05


def test_configs_do_not_collide_on_disk(built):
  data_dir, config, builder = built
  smaller = datasets.build(
      "synthetic_mri", data_dir, **{**config, "image_size": 24}
  )
  assert smaller.info.full_name != builder.info.full_name
  assert datasets.data_source(smaller, "train")[0]["magnitude"].shape == (
      24,
      24,
  )
  assert datasets.data_source(builder, "train")[0]["magnitude"].shape == (
      32,
      32,
  )
  reseeded = datasets.build("synthetic_mri", data_dir, **{**config, "seed": 10})
  assert reseeded.info.full_name != builder.info.full_name
  # The same config is reused, not regenerated.
  info_file = os.path.join(builder.data_dir, "dataset_info.json")
  mtime = os.stat(info_file).st_mtime_ns
  again = datasets.build("synthetic_mri", data_dir, **config)
  assert again.data_dir == builder.data_dir
  assert os.stat(info_file).st_mtime_ns == mtime


def test_failed_generation_leaves_nothing_complete_and_retry_works(
    tmp_path, monkeypatch
):
  data_dir = str(tmp_path)
  config = dict(image_size=16, num_train=4, num_val=2, num_test=0, seed=1)
  original = synthetic_mri.generate_example
  calls = []

  def failing(*args, **kwargs):
    calls.append(1)
    if len(calls) == 3:
      raise RuntimeError("simulated crash mid-generation")
    return original(*args, **kwargs)

  monkeypatch.setattr(synthetic_mri, "generate_example", failing)
  with pytest.raises(RuntimeError, match="simulated crash"):
    datasets.build("synthetic_mri", data_dir, **config)
  leftovers = [
      os.path.join(root, name)
      for root, _, names in os.walk(data_dir)
      for name in names
      if name == "dataset_info.json" or "array_record" in name
  ]
  assert not leftovers
  monkeypatch.setattr(synthetic_mri, "generate_example", original)
  builder = datasets.build("synthetic_mri", data_dir, **config)
  source = datasets.data_source(builder, "train")
  assert len(source) == 4
  assert "test" not in builder.info.splits  # num_test=0 omits the split
  record = source[0]
  expected = original(
      datasets.example_rng(1, "train", int(record["index"])), 16
  )
  np.testing.assert_array_equal(record["phase"], expected["phase"])


def test_build_rejects_bad_config(tmp_path):
  with pytest.raises(ValueError, match="num_train"):
    datasets.build("synthetic_mri", str(tmp_path), num_train=0)
  with pytest.raises(ValueError, match="Bad config"):
    datasets.build("synthetic_mri", str(tmp_path), image_sise=32)
  with pytest.raises(ValueError, match="Unknown dataset"):
    datasets.build("imagenet", str(tmp_path))
