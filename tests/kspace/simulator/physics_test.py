"""Tests of kspace.simulator.physics: dipole field, phase, receiver effects."""

import numpy as np
import pytest

from kspace.simulator.phantom import coordinates
from kspace.simulator import physics


def test_phase_per_ppm_is_gamma_b0_te():
  # 3 T, 10 ms: 2 pi * 127.73 MHz * 1e-6 * 10 ms = 8.026 rad per ppm.
  expected = 2 * np.pi * 42.577478 * 3.0 * 10e-3
  assert physics.phase_per_ppm(3.0, 10.0) == pytest.approx(expected)


def test_dipole_kernel_values():
  shape = (16, 16)
  normal = physics.dipole_kernel(shape, physics.b0_direction(np.pi / 2, 0))
  assert normal[0, 0] == 0
  np.testing.assert_allclose(normal.ravel()[1:], 1 / 3, atol=1e-12)
  along_x = physics.dipole_kernel(shape, physics.b0_direction(0, 0))
  assert along_x[0, 3] == pytest.approx(1 / 3 - 1)  # k parallel to B0
  assert along_x[3, 0] == pytest.approx(1 / 3)  # k perpendicular to B0
  tilted = physics.dipole_kernel(shape, physics.b0_direction(0.6, 0))
  assert tilted[0, 3] == pytest.approx(1 / 3 - np.cos(0.6) ** 2)


def test_field_with_b0_normal_to_slice_is_chi_over_three():
  rng = np.random.default_rng(0)
  chi = rng.normal(size=(24, 20))
  field = physics.field_map(chi, physics.b0_direction(np.pi / 2, 0.3))
  offset = field - chi / 3
  np.testing.assert_allclose(offset, offset.mean(), atol=1e-9)


def test_field_of_cylinder_perpendicular_to_b0():
  # Infinite cylinder perpendicular to B0: uniform field inside, outside
  # delta_chi a^2 / (2 r^2) cos(2 phi), positive along B0.
  y, x = coordinates.normalized_grid((96, 96))
  radius = 0.25
  chi = np.where(y**2 + x**2 < radius**2, 1.0, 0.0)
  field = physics.field_map(chi, physics.b0_direction(0.0, 0.0), 4)
  inside = y**2 + x**2 < (0.7 * radius) ** 2
  along_b0 = field[48, 48 + int(1.5 * radius * 48)]
  across_b0 = field[48 + int(1.5 * radius * 48), 48]
  outside_contrast = along_b0 - across_b0
  assert outside_contrast > 0
  assert outside_contrast == pytest.approx(1 / 1.5**2, rel=0.15)
  assert field[inside].std() < 0.05 * outside_contrast


def test_fat_water_signal_angle_is_the_chemical_shift():
  fraction = np.array([[0.0, 1.0, 0.5]])
  signal = physics.fat_water_signal(fraction, 1.2)
  np.testing.assert_allclose(np.angle(signal), [[0.0, 1.2, 0.6]], atol=1e-12)
  assert abs(signal[0, 2]) == pytest.approx(np.cos(0.6))


def test_gaussian_blur_keeps_the_mean_and_smooths():
  image = np.random.default_rng(0).normal(size=(20, 24)) + 0j
  np.testing.assert_allclose(physics.gaussian_blur(image, 0.0), image)
  blurred = physics.gaussian_blur(image, 1.5)
  assert blurred.mean() == pytest.approx(image.mean())
  assert blurred.std() < 0.5 * image.std()


def test_receive_bias_is_a_positive_smooth_gain():
  y, x = coordinates.normalized_grid((32, 32))
  bias = physics.receive_bias(np.random.default_rng(0), y, x, 0.15)
  assert bias.shape == (32, 32) and np.all(bias > 0)
  assert np.all(physics.receive_bias(np.random.default_rng(0), y, x, 0) == 1)


@pytest.mark.parametrize("shape", [(5, 7), (6, 8), (3, 4, 9)])
@pytest.mark.parametrize("axis", [0, -1, 1])
@pytest.mark.parametrize("shift", [-3, 0, 2, 11])
def test_fourier_shift_by_whole_pixels_is_a_roll(shape, axis, shift):
  image = np.random.default_rng(0).normal(size=shape) + 1j * np.arange(
      np.prod(shape)
  ).reshape(shape)
  np.testing.assert_allclose(
      physics.fourier_shift(image, shift, axis),
      np.roll(image, shift, axis),
      atol=1e-9,
  )


def test_fourier_shift_moves_a_smooth_profile_by_a_fraction():
  # A band-limited-enough Gaussian moves to its analytic shifted position.
  x = np.arange(33)
  for shift in (0.3, -1.7):
    moved = physics.fourier_shift(np.exp(-((x - 16.0) ** 2) / 8), shift)
    np.testing.assert_allclose(
        moved, np.exp(-((x - 16.0 - shift) ** 2) / 8), atol=1e-6
    )
  rng = np.random.default_rng(1)
  image = rng.normal(size=(6, 10)) + 1j * rng.normal(size=(6, 10))
  back = physics.fourier_shift(physics.fourier_shift(image, 0.4), -0.4)
  np.testing.assert_allclose(back, image, atol=1e-12)


def test_slice_b0_direction_per_orientation():
  tilt = np.radians(12)
  axial = physics.slice_b0_direction("axial", tilt, 0.7)
  np.testing.assert_allclose(axial, physics.b0_direction(np.pi / 2 - tilt, 0.7))
  assert axial[2] == pytest.approx(np.cos(tilt))
  for orientation in ("coronal", "sagittal"):
    b0 = physics.slice_b0_direction(orientation, tilt, 0.0)
    np.testing.assert_allclose(b0, [0, np.cos(tilt), np.sin(tilt)], atol=1e-12)
    jittered = physics.slice_b0_direction(orientation, 0.0, 0.1)
    np.testing.assert_allclose(
        jittered, [-np.sin(0.1), np.cos(0.1), 0], atol=1e-12
    )
  with pytest.raises(ValueError, match="orientation"):
    physics.slice_b0_direction("oblique", tilt, 0.0)
