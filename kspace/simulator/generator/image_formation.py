"""Stages 4-6: the complex image one scan of the subject forms.

4. `off_resonance`: the field map (2-D dipole kernel, `physics`) and fat's
   chemical-shift phase theta_fat = 2 pi (-3.4 ppm) f0 t over the accrual
   time t (`OffResonance`);
5. `ideal_image`: in tissue, carrier = signal * exp(i (background + field
   phase)); water (1 - f) * carrier stays in place, fat f * exp(i
   theta_fat) * carrier is displaced along x by the fat shift (a Fourier
   shift, so it may land in air, as the chemical-shift artifact does);
6. `acquire`: slight blur (finite resolution / partial volume), complex
   Gaussian noise, scaled to max magnitude 1. Background pixels carry only
   noise, so their phase is uniform on the circle. The noise is drawn in
   the frame of the blurred image's phase (circularly symmetric, so its
   distribution is unchanged), which makes the magnitude independent of a
   change of phase that blur and fat shift do not mix.
"""

from typing import NamedTuple

import numpy as np

from kspace.simulator import physics
from kspace.simulator.generator import scan_draws
from kspace.simulator.generator import subject
from kspace.simulator.generator import synthetic_params
from kspace.simulator.phantom import tissues


class OffResonance(NamedTuple):
  """The tissue-dependent phase of one scan.

  Attributes:
    field_ppm: (H, W) float64 field perturbation from the susceptibility.
    phase_per_ppm: radians accrued per ppm at this B0 and accrual time.
    fat_phase: fat's chemical-shift phase relative to water, radians.
  """

  field_ppm: np.ndarray
  phase_per_ppm: float
  fat_phase: float


def off_resonance(
    tissue: subject.TissueMaps,
    acquisition: scan_draws.Acquisition,
    params: synthetic_params.SyntheticParams,
) -> OffResonance:
  """Stage 4: the susceptibility field and the chemical shift of this scan.

  Args:
    tissue: the tissue maps.
    acquisition: B0, its direction and the accrual time.
    params: `field_pad_factor` and `fat_shift_ppm`.

  Returns:
    OffResonance with the float64 (H, W) field map.
  """
  field = physics.field_map(
      tissue.susceptibility_ppm,
      acquisition.b0_direction,
      params.field_pad_factor,
      reference_ppm=tissue.air_ppm,
  )
  radians_per_ppm = physics.phase_per_ppm(
      acquisition.field_strength_t, acquisition.accrual_time_ms
  )
  return OffResonance(
      field, radians_per_ppm, radians_per_ppm * params.fat_shift_ppm
  )


def ideal_image(
    labels: np.ndarray,
    tissue: subject.TissueMaps,
    acquisition: scan_draws.Acquisition,
    resonance: OffResonance,
) -> np.ndarray:
  """Stage 5: the noiseless complex image at infinite resolution.

  Water stays in place; fat, with its chemical-shift phase and the field and
  background phase of where it is, appears displaced along the readout
  (x) by `acquisition.fat_shift_px`. Tissue is masked before the shift, so
  displaced fat may land in air.

  Args:
    labels: (H, W) uint8; background pixels get no signal.
    tissue: the tissue maps.
    acquisition: its background phase and fat shift.
    resonance: field, phase per ppm and fat phase.

  Returns:
    complex128 (H, W).
  """
  carrier = np.where(
      labels != tissues.BACKGROUND,
      tissue.signal
      * np.exp(
          1j
          * (
              acquisition.background_phase
              + resonance.phase_per_ppm * resonance.field_ppm
          )
      ),
      0,
  )
  water = (1 - tissue.fat_fraction) * carrier
  fat = tissue.fat_fraction * np.exp(1j * resonance.fat_phase) * carrier
  return water + physics.fourier_shift(fat, acquisition.fat_shift_px, axis=1)


def acquire(
    image: np.ndarray, acquisition: scan_draws.Acquisition
) -> np.ndarray:
  """Stage 6: point spread, complex noise, scaled to max magnitude 1.

  The noise is added in the frame of the blurred image's phase: |image| + n
  rotated by angle(image). Circularly symmetric noise rotated by any phase
  is the same distribution, and the magnitude then does not depend on the
  image's phase, so an oracle-A rescan (same noise, new hidden phase) keeps
  the magnitude except where blur and fat shift mix phases.

  Args:
    image: complex (H, W) noiseless image.
    acquisition: blur width, noise level and noise.

  Returns:
    complex128 (H, W) with max |image| = 1.
  """
  image = physics.gaussian_blur(image, acquisition.blur_sigma_px)
  peak = max(np.abs(image).max(), np.finfo(np.float32).tiny)
  noise_std = acquisition.noise_level * peak / np.sqrt(2)
  image = (np.abs(image) + noise_std * acquisition.noise) * np.exp(
      1j * np.angle(image)
  )
  return image / np.abs(image).max()
