"""Stage 3 (`draw_acquisition`): the draws of one scan of the slice.

  - B0 strength;
  - B0 direction (`draw_b0_direction`) from the anatomy's slice orientation
    (`SyntheticParams.slice_orientations`): axial puts B0 within a small
    random oblique tilt of the slice normal, at a random in-plane azimuth;
    coronal and sagittal put it in the plane along the image rows (y,
    head-foot), with the same tilt out of the plane and a small in-plane
    jitter;
  - the sequence (`draw_sequence`): a gradient echo, whose off-resonance
    phase accrues over the whole echo time, or a spin echo, which refocuses
    off-resonance at the echo, leaving only a short residual accrual time
    (echo shift), so its phase is mostly the smooth background; the record
    stores the nominal echo time;
  - fat's displacement along the readout (image columns, x), a random
    sub-pixel shift whose sign is the readout polarity;
  - a smooth background phase (random constant, low-order polynomial, broad
    Gaussians: transmit and coil-combination phase);
  - blur width and complex noise.

The scan stream draws what shapes the magnitude (B0 strength, tilt, a
coronal slice's in-plane jitter, sequence, echo and accrual times, fat
shift), the hidden stream what the magnitude does not reveal (the
background phase and an axial slice's B0 azimuth), the noise stream blur
and noise (`rescans` says which a rescan redraws).
"""

from typing import NamedTuple

import numpy as np

from kspace.simulator import physics
from kspace.simulator import sequences
from kspace.simulator.generator import synthetic_params
from kspace.simulator.phantom import coordinates


class Acquisition(NamedTuple):
  """Everything one scan adds that the anatomy does not determine.

  Attributes:
    field_strength_t: B0 in tesla.
    sequence: sequences.GRADIENT_ECHO or sequences.SPIN_ECHO.
    echo_time_ms: nominal echo time (what a DICOM header says), ms.
    accrual_time_ms: off-resonance accrual time, ms: the echo time of a
      gradient echo, the residual echo shift of a spin echo.
    b0_direction: (3,) float64 unit B0 vector (x, y, slice normal).
    fat_shift_px: fat's displacement along x (columns), signed pixels.
    background_phase: (H, W) float64 smooth phase, radians, not wrapped.
    blur_sigma_px: point-spread width, pixels.
    noise_level: complex noise std relative to the blurred image's peak.
    noise: (H, W) complex128 with standard normal real and imaginary parts.
  """

  field_strength_t: float
  sequence: int
  echo_time_ms: float
  accrual_time_ms: float
  b0_direction: np.ndarray
  fat_shift_px: float
  background_phase: np.ndarray
  blur_sigma_px: float
  noise_level: float
  noise: np.ndarray


def draw_sequence(
    rng: np.random.Generator, params: synthetic_params.SyntheticParams
) -> tuple[int, float, float]:
  """The sequence family, its nominal echo time and its accrual time.

  Args:
    rng: the scan stream.
    params: `spin_echo_probability` and the echo-time ranges.

  Returns:
    (sequences.GRADIENT_ECHO or sequences.SPIN_ECHO, echo time ms,
    off-resonance accrual time ms). A gradient echo accrues over its echo
    time; a spin echo refocuses off-resonance at the echo and accrues only
    over its echo shift.
  """
  if rng.uniform() < params.spin_echo_probability:
    echo_time = float(rng.uniform(*params.spin_echo_time_ms))
    return (
        sequences.SPIN_ECHO,
        echo_time,
        float(rng.uniform(*params.spin_echo_shift_ms)),
    )
  echo_time = float(rng.uniform(*params.echo_time_ms))
  return sequences.GRADIENT_ECHO, echo_time, echo_time


def draw_b0_direction(
    scan_rng: np.random.Generator,
    hidden_rng: np.random.Generator,
    orientation: str,
    params: synthetic_params.SyntheticParams,
) -> np.ndarray:
  """B0's direction for a slice of `orientation` (`physics.slice_b0_direction`).

  The oblique tilt comes from the scan stream (a protocol fixes it). An
  axial slice's in-plane azimuth comes from the hidden stream: the tilt
  keeps B0's in-plane part weak (sin(tilt)^2 of the dipole pattern), so the
  azimuth leaves the magnitude as it is. A coronal or sagittal slice's
  in-plane jitter comes from the scan stream: B0 in the plane gives the full
  dipole pattern, and rotating it by even a few degrees moves the steep
  field next to air and bone enough that a gradient echo's intravoxel
  dephasing (through the blur) changes the magnitude visibly (measured: up
  to 0.5 of the peak at a pixel, 99th percentile 0.18, at 64 x 64, against
  0.05 and 0.03 with the jitter kept), so the magnitude does reveal it.

  Args:
    scan_rng: the scan stream (tilt; coronal / sagittal in-plane jitter).
    hidden_rng: the hidden stream (axial azimuth).
    orientation: "axial" | "coronal" | "sagittal".
    params: `oblique_tilt_std`, `in_plane_jitter_std`.

  Returns:
    float64 unit vector (3,).
  """
  tilt = abs(scan_rng.normal(0, params.oblique_tilt_std))
  if orientation == physics.AXIAL:
    in_plane_angle = hidden_rng.uniform(0, 2 * np.pi)
  else:
    in_plane_angle = scan_rng.normal(0, params.in_plane_jitter_std)
  return physics.slice_b0_direction(orientation, tilt, in_plane_angle)


def draw_acquisition(
    scan_rng: np.random.Generator,
    hidden_rng: np.random.Generator,
    noise_rng: np.random.Generator,
    shape: tuple[int, int],
    orientation: str,
    params: synthetic_params.SyntheticParams,
    quadrature_rng: np.random.Generator | None = None,
    unstated_rng: np.random.Generator | None = None,
) -> Acquisition:
  """Stage 3: the scan parameters, background phase, blur and noise.

  Three streams, so that a rescan (`acquisition_seed`) can redraw all of
  them (oracle-B) or only the hidden one (oracle-A) without touching the
  anatomy.

  Args:
    scan_rng: draws B0 strength, tilt (and a coronal slice's in-plane
      jitter), the sequence and its times, and the fat shift: what shapes
      the magnitude.
    hidden_rng: draws an axial slice's B0 azimuth and the background phase:
      what the magnitude does not reveal.
    noise_rng: draws the blur width, the noise level and the noise.
    shape: (H, W).
    orientation: the slice orientation, "axial" | "coronal" | "sagittal".
    params: the distributions.
    quadrature_rng: if given, draws the noise's imaginary part instead of
      `noise_rng` (a rescan's, `rescans.REDRAW_UNREVEALED`):
      `image_formation.acquire` adds it in the image's phase frame, so it
      moves the phase, not (to first order) the magnitude.
    unstated_rng: if given (`rescans.REDRAW_UNREVEALED`), redraws after
      the scan stream's own draws (which are kept, so the rest of the scan
      is the same) what a header does not state: a spin echo's residual
      accrual time. (Fat's readout shift is not stated either, but the
      magnitude shows it: redrawn, it moved the 32 x 32 magnitude by 0.17
      on average.)

  Returns:
    An Acquisition.
  """
  field_strength = float(scan_rng.choice(params.field_strengths_t))
  sequence, echo_time, accrual_time = draw_sequence(scan_rng, params)
  b0 = draw_b0_direction(scan_rng, hidden_rng, orientation, params)
  polarity = 1.0 if scan_rng.uniform() < 0.5 else -1.0
  fat_shift = polarity * scan_rng.uniform(*params.fat_shift_px)
  if unstated_rng is not None and sequence == sequences.SPIN_ECHO:
    accrual_time = float(unstated_rng.uniform(*params.spin_echo_shift_ms))
  y, x = coordinates.normalized_grid(shape)
  background = physics.background_phase(
      hidden_rng,
      y,
      x,
      params.linear_phase_std,
      params.quadratic_phase_std,
      params.num_gaussians,
      params.gaussian_amplitude,
      params.gaussian_width,
  )
  blur_sigma = noise_rng.uniform(*params.blur_sigma_px)
  noise_level = noise_rng.uniform(*params.noise_std)
  real = noise_rng.standard_normal(shape)
  imag = (quadrature_rng or noise_rng).standard_normal(shape)
  return Acquisition(
      field_strength_t=field_strength,
      sequence=sequence,
      echo_time_ms=echo_time,
      accrual_time_ms=accrual_time,
      b0_direction=b0,
      fat_shift_px=float(fat_shift),
      background_phase=background,
      blur_sigma_px=blur_sigma,
      noise_level=noise_level,
      noise=real + 1j * imag,
  )
