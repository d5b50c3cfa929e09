"""Coil sensitivities: simulation, estimation from the ACS region, combining.

Conventions: coil images and maps have the coil axis third from last,
(..., C, H, W), complex64. Simulated maps are normalised so that
sum_c |S_c|^2 = 1 at every pixel, which makes the sensitivity-weighted combine
sum_c conj(S_c) x_c the exact inverse of x -> S x.
"""

import jax
import jax.numpy as jnp
import numpy as np

from kspace import fft

COIL_AXIS = -3


def birdcage_maps(
    shape: tuple[int, int],
    num_coils: int,
    coil_radius: float = 1.5,
    rotation: float | jax.Array = 0.0,
) -> jax.Array:
  """Birdcage-style complex coil sensitivities.

  Coil c sits on a circle of radius `coil_radius` (in units of the half field
  of view) at angle 2 pi c / num_coils + rotation. Its magnitude falls off as
  1 / distance and its phase winds with the angle around the coil, as for a
  loop coil; the maps are then normalised to unit root-sum-of-squares.
  `num_coils == 1` gives the single-coil case, a map of ones.

  Args:
    shape: (H, W) image size.
    num_coils: number of coils, >= 1.
    coil_radius: coil distance from the image center, in half-FOV units; must
      exceed sqrt(2) so every coil lies outside the image.
    rotation: angle (radians) that rotates the whole array, e.g. drawn per
      example for variety.

  Returns:
    complex64 maps of shape (num_coils, H, W), sum_c |S_c|^2 = 1.
  """
  if num_coils < 1:
    raise ValueError(f"num_coils must be >= 1, got {num_coils}.")
  if coil_radius <= 2**0.5:
    raise ValueError(
        f"coil_radius={coil_radius} puts coils inside the image; use > 1.415."
    )
  height, width = shape
  if num_coils == 1:
    return jnp.ones((1, height, width), jnp.complex64)
  y = (jnp.arange(height) - height / 2) / (height / 2)
  x = (jnp.arange(width) - width / 2) / (width / 2)
  angles = 2 * jnp.pi * jnp.arange(num_coils) / num_coils + rotation
  dx = x[None, None, :] - coil_radius * jnp.cos(angles)[:, None, None]
  dy = y[None, :, None] - coil_radius * jnp.sin(angles)[:, None, None]
  distance = jnp.sqrt(dx**2 + dy**2)
  phase = jnp.arctan2(dx, -dy) - angles[:, None, None]
  maps = jnp.exp(1j * phase) / distance
  return (maps / rss(maps)[None]).astype(jnp.complex64)


def rss(coil_images: jax.Array, axis: int = COIL_AXIS) -> jax.Array:
  """Root-sum-of-squares coil combination (float32, coil axis removed)."""
  return jnp.sqrt(jnp.sum(jnp.abs(coil_images) ** 2, axis=axis))


def sens_combine(
    coil_images: jax.Array, sens: jax.Array, axis: int = COIL_AXIS
) -> jax.Array:
  """Sensitivity-weighted combination sum_c conj(S_c) x_c (complex image).

  With maps normalised to unit RSS this is the least-squares coil combine.
  """
  return jnp.sum(jnp.conj(sens) * coil_images, axis=axis)


def acs_coil_images(
    kspace: jax.Array, num_low_frequencies: int | jax.Array
) -> jax.Array:
  """Low-resolution coil images from the fully sampled center (ACS) columns.

  fastMRI's `batched_mask_center` then `ifft2c`: keeps the
  `num_low_frequencies` central phase-encode columns, placed at
  (W - num_low_frequencies + 1) // 2 as `masks.num_low_frequencies` /
  fastMRI's center lines are, zeroes the rest and inverse transforms. The
  width may differ per example (e.g. `masks.num_low_frequencies_from_mask`),
  so the ACS is selected with a column mask rather than a static slice.

  Args:
    kspace: (..., C, H, W) complex k-space (undersampled is fine: only the
      center columns are used).
    num_low_frequencies: number of fully sampled center columns: a static
      int, or an integer array broadcasting against the leading (...) axes.

  Returns:
    complex64 coil images of shape (..., C, H, W).
  """
  num_cols = kspace.shape[-1]
  if isinstance(num_low_frequencies, (int, np.integer)) and not (
      0 < num_low_frequencies <= num_cols
  ):
    raise ValueError(
        f"num_low_frequencies must be in [1, {num_cols}], got"
        f" {num_low_frequencies}."
    )
  num_low = jnp.asarray(num_low_frequencies)[..., None, None, None]
  pad = (num_cols - num_low + 1) // 2
  cols = jnp.arange(num_cols)
  acs = (cols >= pad) & (cols < pad + num_low)
  return fft.ifft2c(jnp.where(acs, kspace, 0)).astype(jnp.complex64)


def estimate_sensitivities(
    kspace: jax.Array, num_low_frequencies: int, eps: float = 1e-6
) -> jax.Array:
  """Sensitivity maps from the fully sampled center (ACS) columns.

  The non-learned estimate: the low-resolution ACS coil images
  (`acs_coil_images`) divided by their root-sum-of-squares, as for maps of
  fully sampled data. (fastMRI's learned VarNet estimate instead refines the
  ACS images with a U-Net before that division; see
  `recon.models.varnet.SensitivityModel`.)

  Args:
    kspace: (..., C, H, W) complex k-space (undersampled is fine: only the
      center columns are used).
    num_low_frequencies: number of fully sampled center columns (static).
    eps: keeps the division finite where all coils vanish.

  Returns:
    complex64 maps of shape (..., C, H, W) with unit RSS where there is signal.
  """
  low_res = acs_coil_images(kspace, num_low_frequencies)
  return (low_res / (rss(low_res)[..., None, :, :] + eps)).astype(jnp.complex64)
