"""Tests of kspace.simulator.generator.example_features: what is stored."""

import numpy as np

from kspace.simulator.generator import example_pipeline


def test_coil_maps_are_extra_and_rotate_per_example():
  plain = example_pipeline.generate_example(5, 32)
  # 2 coils at 32 x 32, as the builder tests: one compilation of the maps.
  with_coils = example_pipeline.generate_example(5, 32, num_coils=2)
  np.testing.assert_array_equal(plain["phase"], with_coils["phase"])
  np.testing.assert_array_equal(plain["magnitude"], with_coils["magnitude"])
  sens = with_coils["sens"]
  assert sens.shape == (2, 32, 32) and sens.dtype == np.complex64
  np.testing.assert_allclose(np.sum(np.abs(sens) ** 2, axis=0), 1, atol=1e-5)
  other = example_pipeline.generate_example(6, 32, num_coils=2)["sens"]
  assert not np.allclose(other, sens, atol=1e-3)


def test_record_and_components_have_their_dtypes():
  example = example_pipeline.generate_example(
      3, (16, 24), return_components=True
  )
  assert example["sequence"].dtype == np.int32
  for key in ("field_strength_t", "echo_time_ms", "phase_per_ppm"):
    assert example[key].dtype == np.float32 and example[key].shape == ()
  assert example["b0_direction"].dtype == np.float32
  for key in ("susceptibility_ppm", "field_ppm", "chemical_shift_phase"):
    assert example[key].shape == (16, 24) and example[key].dtype == np.float32
  plain = example_pipeline.generate_example(3, (16, 24))
  assert "field_ppm" not in plain and "sens" not in plain
