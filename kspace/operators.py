"""The multi-coil MRI forward model y = M F (S x) + noise, and its adjoint.

Single-example operators act on x (H, W), sens (C, H, W), mask (H, W); the
per-coil transform is vmapped over coils, and the `*_batch` versions are
vmapped over a leading batch axis and jit-compiled. Single-coil data is the
C = 1 case with sens = ones.
"""

import jax
import jax.numpy as jnp

from kspace import fft


def _coil_forward(x, coil_sens, mask):
  return mask * fft.fft2c(coil_sens * x)


def _coil_adjoint(y, coil_sens, mask):
  return jnp.conj(coil_sens) * fft.ifft2c(mask * y)


def forward(x: jax.Array, sens: jax.Array, mask: jax.Array) -> jax.Array:
  """A x = M F (S x).

  Args:
    x: complex image, (H, W).
    sens: coil sensitivities, (C, H, W).
    mask: sampling mask broadcastable to (H, W), 1 where sampled.

  Returns:
    complex64 multi-coil k-space, (C, H, W); zero where not sampled.
  """
  return jax.vmap(_coil_forward, in_axes=(None, 0, None))(x, sens, mask)


def adjoint(y: jax.Array, sens: jax.Array, mask: jax.Array) -> jax.Array:
  """A^H y = sum_c conj(S_c) F^H (M y_c).

  Args:
    y: multi-coil k-space, (C, H, W).
    sens: coil sensitivities, (C, H, W).
    mask: sampling mask broadcastable to (H, W).

  Returns:
    complex64 image, (H, W).
  """
  return jax.vmap(_coil_adjoint, in_axes=(0, 0, None))(y, sens, mask).sum(0)


forward_batch = jax.jit(jax.vmap(forward))
adjoint_batch = jax.jit(jax.vmap(adjoint))


def add_noise(
    key: jax.Array,
    kspace: jax.Array,
    snr_db: float | jax.Array,
    mask: jax.Array | None = None,
) -> jax.Array:
  """Adds circular complex Gaussian noise at a given SNR.

  SNR is the mean signal power over acquired samples divided by the noise
  variance E|n|^2, in decibels. Unacquired samples (mask == 0) stay zero.

  Args:
    key: PRNG key.
    kspace: complex k-space of any shape, e.g. (C, H, W).
    snr_db: signal-to-noise ratio in dB.
    mask: optional sampling mask broadcastable to `kspace`.

  Returns:
    complex64 noisy k-space of the same shape.
  """
  kspace = jnp.asarray(kspace, jnp.complex64)
  sampled = (
      jnp.ones(kspace.shape, bool)
      if mask is None
      else jnp.broadcast_to(mask > 0, kspace.shape)
  )
  power = jnp.sum(jnp.where(sampled, jnp.abs(kspace) ** 2, 0)) / jnp.maximum(
      sampled.sum(), 1
  )
  sigma = jnp.sqrt(power / 10.0 ** (jnp.asarray(snr_db) / 10.0))
  real_key, imag_key = jax.random.split(key)
  noise = (
      jax.random.normal(real_key, kspace.shape)
      + 1j * jax.random.normal(imag_key, kspace.shape)
  ) * (sigma / jnp.sqrt(2.0))
  return jnp.where(sampled, kspace + noise, 0).astype(jnp.complex64)
