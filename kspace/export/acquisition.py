"""One volume's fully sampled k-space from magnitude and phase.

The forward model of training (`kspace.synthesize`: coil maps, centered
orthonormal FFT, optional noise at an SNR), with a birdcage array
(`kspace.coils.birdcage_maps`) at one rotation for the whole volume.

The maps' common phase is set so that the phase a reader extracts is the
phase the export drew. A receive map's absolute phase is not observable:
what a scanner records is phi_object + theta_c per coil, and our fastMRI
reader (`kspace.datasets.fastmri_files.coil_combine`, hence every phase
model trained on fastMRI) measures phase relative to the strongest coil's
map, phi_object + theta_ref. So per slice the maps are multiplied by
exp(-i theta_ref) of the coil with the most signal energy, which makes the
reader's phase the drawn phase (exactly for single-coil; to the accuracy of
its ACS map estimate for multi-coil).
"""

import numpy as np

from kspace import coils
from kspace import synthesize


def coil_maps(
    shape: tuple[int, int],
    num_coils: int,
    rotation: float,
    coil_radius: float,
) -> np.ndarray:
  """(C, H, W) complex64 birdcage maps at `rotation` radians (unit RSS)."""
  return np.asarray(
      coils.birdcage_maps(shape, num_coils, coil_radius, rotation), np.complex64
  )


def reference_aligned(maps: np.ndarray, magnitude: np.ndarray) -> np.ndarray:
  """Per slice, `maps` times exp(-i angle) of the map of the coil whose
  image holds the most energy (the reader's reference coil).

  Args:
    maps: (C, H, W) complex coil maps.
    magnitude: (S, H, W) magnitudes of the slices.

  Returns:
    (S, C, H, W) complex64 maps, |maps| unchanged.
  """
  energy = np.einsum("chw,shw->sc", np.abs(maps) ** 2, magnitude**2)
  reference = maps[np.argmax(energy, axis=1)]  # (S, H, W)
  rotation = np.exp(-1j * np.angle(reference))
  return (maps[None] * rotation[:, None]).astype(np.complex64)


def acquire(
    magnitude: np.ndarray,
    phase: np.ndarray,
    maps: np.ndarray,
    noise_key=None,
    snr_db: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
  """Fully sampled k-space and its RSS image for the slices of a volume.

  Args:
    magnitude: (S, H, W) float, >= 0 (kept at its scale).
    phase: (S, H, W) float radians.
    maps: (C, H, W) complex coil maps (C = 1: single coil).
    noise_key: PRNG key of the noise (split per slice); needed with snr_db.
    snr_db: k-space SNR in dB per slice (`kspace.operators.add_noise`), or
      None for noiseless data.

  Returns:
    (kspace (S, C, H, W) complex64, rss (S, H, W) float32): the RSS of the
    (noisy) fully sampled coil images, fastMRI's reconstruction target.
  """
  magnitude = np.asarray(magnitude, np.float32)
  sens = reference_aligned(maps, magnitude)
  out = synthesize.synthesize_batch(
      magnitude,
      np.asarray(phase, np.float32),
      np.ones_like(magnitude),
      sens,
      key=noise_key,
      snr_db=snr_db,
  )
  return np.asarray(out["kspace"]), np.asarray(out["target"], np.float32)
