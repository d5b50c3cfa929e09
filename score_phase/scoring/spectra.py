"""The k-space a phase source makes: its radial power spectrum and the share
of its energy at high spatial frequency.

A recon net learns from the k-space of magnitude x exp(i phase). Phase that
is too rough spreads energy outward (aliasing the net must learn to undo
that real data does not have); phase that is too smooth keeps it central.
`high_frequency_fraction` is the share of a slice's k-space energy outside
the central block (a quarter of each side: 16 x 16 at 64 x 64);
`radial_power_spectrum` the energy per radial band, each normalised to the
slice's total. Pure jnp; images (B, H, W) complex.
"""

import jax
import jax.numpy as jnp

from kspace import fft

# Side of the central k-space block, as a fraction of each side.
CENTER_FRACTION = 0.25


def power(images: jax.Array) -> jax.Array:
  """(B, H, W) k-space power of each image, normalised to sum 1."""
  energy = jnp.abs(fft.fft2c(images.astype(jnp.complex64))) ** 2
  return energy / jnp.maximum(
      jnp.sum(energy, axis=(-2, -1), keepdims=True), 1e-30
  )


def high_frequency_fraction(
    images: jax.Array, center_fraction: float = CENTER_FRACTION
) -> jax.Array:
  """(B,) share of each image's k-space energy outside the central
  `center_fraction` block of each side."""
  height, width = images.shape[-2:]
  rows = max(1, round(height * center_fraction))
  cols = max(1, round(width * center_fraction))
  top, left = (height - rows) // 2, (width - cols) // 2
  central = power(images)[..., top : top + rows, left : left + cols]
  return 1.0 - jnp.sum(central, axis=(-2, -1))


def radial_power_spectrum(images: jax.Array, num_bins: int = 0) -> jax.Array:
  """(B, num_bins) share of each image's k-space energy per radial band
  (band b: radius in [b, b + 1) in units of the k-space sample spacing
  along the shorter side; num_bins 0: half the shorter side)."""
  height, width = images.shape[-2:]
  num_bins = num_bins or min(height, width) // 2
  ky = (jnp.arange(height) - height // 2) * (min(height, width) / height)
  kx = (jnp.arange(width) - width // 2) * (min(height, width) / width)
  radius = jnp.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2)
  bands = jnp.minimum(radius.astype(jnp.int32), num_bins - 1)
  one_hot = jax.nn.one_hot(bands, num_bins, dtype=jnp.float32)
  return jnp.einsum("bhw,hwn->bn", power(images), one_hot)
