"""A synthetic conditional with a known answer, for the proper-score tests:
smooth phase fields whose truth and samples share the conditional mean mu,
so a sampler of spread SPREAD is calibrated."""

import functools
import math

import jax
import jax.numpy as jnp

SIZE = 32  # > the largest offset, 16
SPREAD = 1.5  # radians, std of the phase the magnitude does not reveal


def smooth_fields(key, shape, length=4.0):
  """Independent smooth Gaussian fields (..., SIZE, SIZE), unit std each."""
  noise = jax.random.normal(key, shape + (SIZE, SIZE))
  frequencies = jnp.fft.fftfreq(SIZE)
  radius2 = frequencies[:, None] ** 2 + frequencies[None, :] ** 2
  kernel = jnp.exp(-2 * (math.pi * length) ** 2 * radius2)
  fields = jnp.real(jnp.fft.ifft2(jnp.fft.fft2(noise) * kernel))
  fields = fields - jnp.mean(fields, axis=(-2, -1), keepdims=True)
  return fields / jnp.std(fields, axis=(-2, -1), keepdims=True)


@functools.partial(jax.jit, static_argnums=(1, 2))
def problem(seed, num_images, num_samples, sample_spread):
  """(samples (K,B,H,W), truth, magnitude, mu) of the synthetic conditional.

  Calibrated when sample_spread == SPREAD; same fields otherwise, scaled.
  """
  keys = jax.random.split(jax.random.key(seed), 4)
  mu = 2.0 * smooth_fields(keys[0], (num_images,), length=6.0)
  magnitude = jax.random.uniform(keys[1], (num_images, SIZE, SIZE), minval=0.2)
  truth = mu + SPREAD * smooth_fields(keys[2], (num_images,))
  noise = smooth_fields(keys[3], (num_samples, num_images))
  return mu + sample_spread * noise, truth, magnitude, mu
