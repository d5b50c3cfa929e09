"""Stage 7 and its extras: the features an example stores.

7. `to_record`: magnitude, and phase = angle(image) wrapped to (-pi, pi]
   (atan2 semantics, `kspace.common.phase.wrap_phase`), and the scan
   parameters a DICOM header would hold;
* `coil_maps`: randomly rotated birdcage coil maps (the coil stream, so
  adding them leaves magnitude and phase unchanged);
* `components`: the phase components behind an example, for analysis and
  tests.
"""

import numpy as np

from kspace import coils
from kspace.common import phase
from kspace.simulator import physics
from kspace.simulator.generator import image_formation
from kspace.simulator.generator import scan_draws
from kspace.simulator.generator import subject


def to_record(
    anatomy: str,
    labels: np.ndarray,
    image: np.ndarray,
    acquisition: scan_draws.Acquisition,
) -> dict[str, np.ndarray | str]:
  """Stage 7: the example's features.

  Args:
    anatomy: its name.
    labels: (H, W) uint8.
    image: complex (H, W), max magnitude 1.
    acquisition: the scan parameters that are stored.

  Returns:
    dict with magnitude (H, W) float32 in [0, 1], phase (H, W) float32 in
    (-pi, pi], labels, anatomy, field_strength_t and echo_time_ms (nominal)
    float32 scalars, sequence int32 scalar (`sequences.GRADIENT_ECHO` |
    `sequences.SPIN_ECHO`), b0_direction (3,) float32.
  """
  return {
      "magnitude": np.abs(image).astype(np.float32),
      "phase": np.asarray(phase.wrap_phase(np.angle(image))),
      "labels": labels,
      "anatomy": anatomy,
      "field_strength_t": np.float32(acquisition.field_strength_t),
      "sequence": np.int32(acquisition.sequence),
      "echo_time_ms": np.float32(acquisition.echo_time_ms),
      "b0_direction": acquisition.b0_direction.astype(np.float32),
  }


def components(
    tissue: subject.TissueMaps,
    acquisition: scan_draws.Acquisition,
    resonance: image_formation.OffResonance,
) -> dict[str, np.ndarray]:
  """The phase components behind an example, for analysis and tests.

  Args:
    tissue: its tissue maps.
    acquisition: its acquisition.
    resonance: its off-resonance.

  Returns:
    dict of float32 (H, W) maps susceptibility_ppm, field_ppm,
    background_phase (unwrapped radians), fat_fraction,
    chemical_shift_phase (radians, the angle of (1 - f) + f exp(i
    theta_fat) before fat's displacement), and the float32 scalars
    phase_per_ppm, accrual_time_ms and fat_shift_px.
  """
  fat_water = physics.fat_water_signal(tissue.fat_fraction, resonance.fat_phase)
  return {
      "susceptibility_ppm": tissue.susceptibility_ppm.astype(np.float32),
      "field_ppm": resonance.field_ppm.astype(np.float32),
      "background_phase": acquisition.background_phase.astype(np.float32),
      "fat_fraction": tissue.fat_fraction.astype(np.float32),
      "chemical_shift_phase": np.angle(fat_water).astype(np.float32),
      "phase_per_ppm": np.float32(resonance.phase_per_ppm),
      "accrual_time_ms": np.float32(acquisition.accrual_time_ms),
      "fat_shift_px": np.float32(acquisition.fat_shift_px),
  }


def coil_maps(
    rng: np.random.Generator,
    shape: tuple[int, int],
    num_coils: int,
    coil_radius: float,
) -> np.ndarray:
  """Birdcage coil maps with a random rotation.

  Args:
    rng: the coil stream.
    shape: (H, W).
    num_coils: C >= 1.
    coil_radius: coil distance from the center (half-FOV units).

  Returns:
    complex64 (C, H, W), unit root-sum-of-squares.
  """
  rotation = rng.uniform(0, 2 * np.pi)
  return np.asarray(
      coils.birdcage_maps(shape, num_coils, coil_radius, rotation),
      np.complex64,
  )
