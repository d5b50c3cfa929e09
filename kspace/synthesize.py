"""Turns magnitude + phase (+ coil maps) into k-space training examples."""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from kspace import coils
from kspace import fft
from kspace import operators


def synthesize(
    magnitude: jax.Array,
    phase: jax.Array,
    mask: jax.Array,
    sens: jax.Array | None = None,
    key: jax.Array | None = None,
    snr_db: float | None = None,
) -> dict[str, jax.Array]:
  """One k-space example from a magnitude image and a phase map.

  The complex image m exp(i phi) is multiplied by the coil maps and Fourier
  transformed; noise (if `snr_db` is given) is added to the fully sampled
  k-space, as in an acquisition, and the mask then selects the acquired lines.
  Pure and unbatched: vmap it, or use `synthesize_batch`.

  Args:
    magnitude: (H, W) float, >= 0.
    phase: (H, W) float, radians.
    mask: (H, W) float sampling mask.
    sens: (C, H, W) complex coil maps; None means single coil.
    key: PRNG key, required when `snr_db` is given.
    snr_db: k-space SNR in dB, or None for noiseless data.

  Returns:
    dict with
      image: (H, W) complex64, the ground-truth complex image;
      kspace: (C, H, W) complex64, fully sampled;
      masked_kspace: (C, H, W) complex64, undersampled (zeros elsewhere);
      mask: (H, W) float32;
      sens: (C, H, W) complex64;
      target: (H, W) float32, RSS of the fully sampled coil images
        (fastMRI's reconstruction target).
  """
  magnitude = jnp.asarray(magnitude, jnp.float32)
  image = (magnitude * jnp.exp(1j * jnp.asarray(phase, jnp.float32))).astype(
      jnp.complex64
  )
  if sens is None:
    sens = jnp.ones((1,) + magnitude.shape, jnp.complex64)
  kspace = operators.forward(image, sens, jnp.ones((), jnp.float32))
  if snr_db is not None:
    if key is None:
      raise ValueError("synthesize needs a PRNG `key` when snr_db is given.")
    kspace = operators.add_noise(key, kspace, snr_db)
  mask = jnp.asarray(mask, jnp.float32)
  return {
      "image": image,
      "kspace": kspace,
      "masked_kspace": (mask * kspace).astype(jnp.complex64),
      "mask": mask,
      "sens": jnp.asarray(sens, jnp.complex64),
      "target": coils.rss(fft.ifft2c(kspace)),
  }


@functools.partial(jax.jit, static_argnames=("snr_db",))
def _synthesize_batch(magnitude, phase, mask, sens, key, snr_db):
  keys = None if key is None else jax.random.split(key, magnitude.shape[0])
  return jax.vmap(functools.partial(synthesize, snr_db=snr_db))(
      magnitude, phase, mask, sens, keys
  )


def synthesize_batch(
    magnitude, phase, mask, sens=None, key=None, snr_db: float | None = None
) -> dict[str, jax.Array]:
  """`synthesize` over a leading batch axis, jit-compiled, inputs validated.

  Args:
    magnitude: (B, H, W) float.
    phase: (B, H, W) float.
    mask: (B, H, W) float.
    sens: (B, C, H, W) complex, or None for single coil.
    key: PRNG key (split per example), required when `snr_db` is given.
    snr_db: k-space SNR in dB, or None.

  Returns:
    The dict of `synthesize` with a leading batch axis on every entry.
  """
  magnitude, phase, mask = (np.asarray(a) for a in (magnitude, phase, mask))
  if magnitude.ndim != 3:
    raise ValueError(
        f"magnitude must be (batch, H, W), got shape {magnitude.shape}."
    )
  for name, array in (("phase", phase), ("mask", mask)):
    if array.shape != magnitude.shape:
      raise ValueError(
          f"{name} shape {array.shape} does not match magnitude shape"
          f" {magnitude.shape}."
      )
  if sens is not None and (
      np.ndim(sens) != 4
      or np.shape(sens)[:1] + np.shape(sens)[2:] != magnitude.shape
  ):
    raise ValueError(
        f"sens must be (batch, coils, H, W) = (B, C) + {magnitude.shape[1:]},"
        f" got {np.shape(sens)}."
    )
  for name, array in (("magnitude", magnitude), ("phase", phase)):
    if not np.all(np.isfinite(array)):
      raise ValueError(f"{name} contains NaN or inf values; clean the input.")
  if snr_db is not None and key is None:
    raise ValueError(
        "synthesize_batch needs a PRNG `key` when snr_db is given."
    )
  return _synthesize_batch(magnitude, phase, mask, sens, key, snr_db)
