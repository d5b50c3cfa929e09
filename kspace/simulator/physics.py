"""Acquisition physics of the simulator: field, chemical shift, receiver.

The sources of the synthetic image's phase (the dipole field of the tissue
susceptibility, fat's chemical shift, a smooth background phase) and the
receiver's effects on the signal (receive bias, point spread, fat's spatial
displacement along the readout). Every function
is pure: a random draw takes its numpy Generator as an argument. Phase is
returned unwrapped; `kspace.common.phase.wrap_phase` wraps it.

Units: susceptibility and field in ppm (of B0), phase in radians. The phase
accrued by an off-resonance of f ppm after time TE is
2 pi * gamma_bar * B0 * TE * f * 1e-6 (`phase_per_ppm`).

2-D field model. The slice is treated as the cross-section of an object that
is infinitely extended along the slice normal, so only in-plane k-vectors
occur (kz = 0) and the dipole kernel is D(k) = 1/3 - (k . b)^2 / |k|^2 with
b the unit B0 direction. When b is normal to the slice, D = 1/3 everywhere
(the field is chi / 3 up to a constant); when b lies in the plane, the full
in-plane dipole pattern appears. D(0) is set to 0: the mean field is absorbed
by the scanner's frequency adjustment.

Slice orientation decides where B0 points (`slice_b0_direction`): an axial
slice has B0 near its normal (only a small oblique tilt puts a weak dipole
pattern in the plane); coronal and sagittal slices contain the head-foot
axis, their image rows (y), so B0 lies in the plane along y and the full
in-plane dipole pattern appears.
"""

import numpy as np

# gamma / (2 pi) of 1H, MHz per tesla (CODATA).
GYROMAGNETIC_RATIO_MHZ_PER_T = 42.577478
# Main (methylene) fat resonance relative to water, ppm; single-peak model.
FAT_SHIFT_PPM = -3.4

# Slice orientations (`slice_b0_direction`).
AXIAL, CORONAL, SAGITTAL = "axial", "coronal", "sagittal"
ORIENTATIONS = (AXIAL, CORONAL, SAGITTAL)


def phase_per_ppm(field_strength_t: float, echo_time_ms: float) -> float:
  """Radians accrued per ppm of off-resonance after `echo_time_ms`.

  Args:
    field_strength_t: B0 in tesla.
    echo_time_ms: off-resonance accrual time in milliseconds.

  Returns:
    float radians per ppm.
  """
  larmor_hz = GYROMAGNETIC_RATIO_MHZ_PER_T * 1e6 * field_strength_t
  return 2 * np.pi * larmor_hz * 1e-6 * echo_time_ms * 1e-3


def b0_direction(elevation: float, azimuth: float) -> np.ndarray:
  """Unit B0 vector (bx, by, bz): x columns, y rows, z the slice normal.

  Args:
    elevation: angle between B0 and the slice plane (radians); pi/2 puts B0
      along the slice normal (e.g. an axial slice).
    azimuth: in-plane direction of B0's projection, from +x towards +y.

  Returns:
    float64 array of shape (3,).
  """
  return np.array([
      np.cos(elevation) * np.cos(azimuth),
      np.cos(elevation) * np.sin(azimuth),
      np.sin(elevation),
  ])


def slice_b0_direction(
    orientation: str, tilt: float, in_plane_angle: float
) -> np.ndarray:
  """Unit B0 vector of an (obliquely tilted) axial, coronal or sagittal slice.

  Args:
    orientation: "axial" | "coronal" | "sagittal" (`ORIENTATIONS`).
    tilt: oblique tilt of the slice, radians: for an axial slice, the angle
      between B0 and the slice normal; for coronal and sagittal slices (B0
      along the image rows, y), the angle between B0 and the plane.
    in_plane_angle: axial: azimuth of B0's small in-plane projection (from
      +x towards +y); coronal and sagittal: in-plane deviation of B0 from +y
      towards -x.

  Returns:
    float64 array of shape (3,), see `b0_direction`.
  """
  if orientation == AXIAL:
    return b0_direction(np.pi / 2 - tilt, in_plane_angle)
  if orientation in (CORONAL, SAGITTAL):
    return b0_direction(tilt, np.pi / 2 + in_plane_angle)
  raise ValueError(
      f"Unknown slice orientation {orientation!r}; use one of {ORIENTATIONS}."
  )


def dipole_kernel(shape: tuple[int, int], b0: np.ndarray) -> np.ndarray:
  """2-D dipole kernel D(k) = 1/3 - (k . b)^2 / |k|^2 with D(0) = 0.

  Args:
    shape: (H, W) of the (padded) grid.
    b0: unit B0 direction (bx, by, bz), see `b0_direction`.

  Returns:
    float64 array of shape (H, W) in numpy FFT order (DC at [0, 0]).
  """
  ky = np.fft.fftfreq(shape[0])[:, None]
  kx = np.fft.fftfreq(shape[1])[None, :]
  k_squared = kx**2 + ky**2
  k_dot_b = kx * b0[0] + ky * b0[1]
  # The DC entry is 0/0; it is overwritten below.
  with np.errstate(invalid="ignore", divide="ignore"):
    kernel = 1 / 3 - k_dot_b**2 / k_squared
  kernel[0, 0] = 0.0
  return kernel


def field_map(
    susceptibility_ppm: np.ndarray,
    b0: np.ndarray,
    pad_factor: int = 2,
    reference_ppm: float = 0.0,
) -> np.ndarray:
  """Field perturbation (ppm) from a susceptibility map via the dipole kernel.

  The map is zero-padded so that the periodic FFT convolution does not wrap
  fields around the image. Padding assumes the susceptibility equals
  `reference_ppm` outside the image (use the air value when the field of
  view ends in air), so `reference_ppm` is subtracted before padding.

  Args:
    susceptibility_ppm: (H, W) real susceptibility map.
    b0: unit B0 direction (3,).
    pad_factor: padded grid size as a multiple of (H, W), >= 1.
    reference_ppm: susceptibility assumed outside the image.

  Returns:
    float64 field map (H, W) in ppm; a constant offset is arbitrary (DC 0 in
    the padded domain).
  """
  if pad_factor < 1:
    raise ValueError(f"pad_factor must be >= 1, got {pad_factor}.")
  height, width = susceptibility_ppm.shape
  padded_shape = (pad_factor * height, pad_factor * width)
  top, left = (padded_shape[0] - height) // 2, (padded_shape[1] - width) // 2
  padded = np.zeros(padded_shape)
  padded[top : top + height, left : left + width] = (
      susceptibility_ppm - reference_ppm
  )
  field = np.fft.ifft2(np.fft.fft2(padded) * dipole_kernel(padded_shape, b0))
  return field.real[top : top + height, left : left + width]


def fat_water_signal(fat_fraction: np.ndarray, fat_phase: float) -> np.ndarray:
  """Relative complex signal of a voxel with fat and water: (1-f) + f e^{i th}.

  Its angle is the chemical-shift phase, and its magnitude models fat-water
  cancellation (e.g. dark fatty marrow at opposed-phase echo times).

  Args:
    fat_fraction: (H, W) fraction of the signal from fat, in [0, 1].
    fat_phase: fat's phase relative to water (radians).

  Returns:
    complex128 array (H, W).
  """
  return (1 - fat_fraction) + fat_fraction * np.exp(1j * fat_phase)


def fourier_shift(
    image: np.ndarray, shift_px: float, axis: int = -1
) -> np.ndarray:
  """Periodic sub-pixel shift along `axis` by a linear phase in k-space.

  Positive shifts move content towards higher indices, as `np.roll` does;
  an integer shift equals `np.roll(image, shift_px, axis)` up to rounding.
  A band-limited (sinc) interpolation: a sharp edge shifted by a fraction of
  a pixel rings, as a readout-displaced signal does in a real image.

  Args:
    image: real or complex array.
    shift_px: shift in pixels (any real number).
    axis: the axis to shift along.

  Returns:
    complex128 array of the shape of `image`.
  """
  size = image.shape[axis]
  ramp = np.exp(-2j * np.pi * np.fft.fftfreq(size) * shift_px)
  ramp = np.expand_dims(ramp, tuple(range(1, image.ndim - axis % image.ndim)))
  return np.fft.ifft(np.fft.fft(image, axis=axis) * ramp, axis=axis)


def background_phase(
    rng: np.random.Generator,
    y: np.ndarray,
    x: np.ndarray,
    linear_std: float,
    quadratic_std: float,
    num_gaussians: tuple[int, int],
    gaussian_amplitude: float,
    gaussian_width: tuple[float, float],
) -> np.ndarray:
  """Smooth B0/receiver phase: random constant, low-order polynomial, bumps.

  Args:
    rng: numpy Generator.
    y, x: normalised coordinates (H, W), see
      `phantom.coordinates.normalized_grid`.
    linear_std: std of the linear coefficients (radians at |coord| = 1).
    quadratic_std: std of the quadratic coefficients (y^2, xy, x^2).
    num_gaussians: inclusive (low, high) number of broad Gaussian bumps.
    gaussian_amplitude: bump amplitudes are uniform in [-a, a] radians.
    gaussian_width: (low, high) bump standard deviation, normalised units.

  Returns:
    float64 phase (H, W), radians, not wrapped.
  """
  phase = np.full(y.shape, rng.uniform(-np.pi, np.pi))
  linear = rng.normal(0, linear_std, 2)
  quadratic = rng.normal(0, quadratic_std, 3)
  phase += linear[0] * y + linear[1] * x
  phase += quadratic[0] * y**2 + quadratic[1] * x * y + quadratic[2] * x**2
  for _ in range(rng.integers(num_gaussians[0], num_gaussians[1] + 1)):
    cy, cx = rng.uniform(-1, 1, 2)
    width = rng.uniform(*gaussian_width)
    amplitude = rng.uniform(-gaussian_amplitude, gaussian_amplitude)
    phase += amplitude * np.exp(
        -((y - cy) ** 2 + (x - cx) ** 2) / (2 * width**2)
    )
  return phase


def receive_bias(
    rng: np.random.Generator, y: np.ndarray, x: np.ndarray, std: float
) -> np.ndarray:
  """Smooth multiplicative receive-bias field: exp(random quadratic).

  Args:
    rng: numpy Generator (draws 5 normal coefficients).
    y, x: normalised coordinates (H, W), see
      `phantom.coordinates.normalized_grid`.
    std: std of the coefficients of y, x, y^2, xy, x^2 in the log bias.

  Returns:
    float64 positive gain (H, W).
  """
  coeffs = rng.normal(0, std, 5)
  log_bias = (
      coeffs[0] * y
      + coeffs[1] * x
      + coeffs[2] * y**2
      + coeffs[3] * x * y
      + coeffs[4] * x**2
  )
  return np.exp(log_bias)


def gaussian_blur(image: np.ndarray, sigma_px: float) -> np.ndarray:
  """Gaussian point spread (finite resolution, partial volume), periodic.

  Multiplies the image's (unshifted) FFT by exp(-2 pi^2 sigma^2 |k|^2).

  Args:
    image: (H, W) real or complex.
    sigma_px: Gaussian standard deviation in pixels (0: no blur).

  Returns:
    complex128 (H, W).
  """
  ky = np.fft.fftfreq(image.shape[0])[:, None]
  kx = np.fft.fftfreq(image.shape[1])[None, :]
  gain = np.exp(-2 * (np.pi * sigma_px) ** 2 * (ky**2 + kx**2))
  return np.fft.ifft2(np.fft.fft2(image) * gain)
