"""Phase maps for magnitude images: a registry of `phase_fn(key, magnitude)`.

Every source is a pure, jittable function

  phase_fn(key, magnitude) -> phase

with `magnitude` (B, H, W) float and `phase` (B, H, W) float32 wrapped to
(-pi, pi]; `key` is one PRNG key for the batch (split per example inside).
Get one with `get_baseline(name, **kwargs)`;
`score_phase.sources.lookup.get_phase_fn` looks up every source, learned ones
included.

The registered names are the naive baselines of the literature, all
independent of the anatomy (they only read the magnitude's shape):

  zero               phi = 0.
  uniform            i.i.d. uniform phase per pixel.
  gaussian           i.i.d. Gaussian phase per pixel (`std` radians).
  smooth_kspace_box  angle of the inverse FFT of random complex Gaussian
                     coefficients in a small centered k-space box.
  smooth_polynomial  a random low-order 2-D polynomial (in normalised
                     coordinates), wrapped.

The learned, anatomy-dependent sources (the SBDM) are loaded by
`score_phase.sources.lookup`, which also looks up every source by name.
"""

from collections.abc import Callable
import math

import jax
import jax.numpy as jnp

from kspace import fft
from kspace.common import phase as phase_lib
from kspace.common import catalog

PHASE_SOURCES: catalog.Catalog[Callable[..., phase_lib.PhaseFn]] = (
    catalog.Catalog("phase source")
)

# Defaults of the baselines' keyword arguments (the values used in the
# literature's code for the naive baselines; override them through the
# experiment config's `phase_kwargs`).
DEFAULT_GAUSSIAN_STD = 1.0  # radians
DEFAULT_KSPACE_BOX_SIZE = 5  # pixels per side of the centered k-space box
DEFAULT_POLYNOMIAL_ORDER = 2  # highest total degree of the polynomial
DEFAULT_POLYNOMIAL_SCALE = math.pi  # std of each coefficient, radians


def _check_magnitude(magnitude: jax.Array) -> jax.Array:
  if magnitude.ndim != 3:
    raise ValueError(
        "phase_fn expects magnitude of shape (batch, H, W), got"
        f" {magnitude.shape}."
    )
  return jnp.asarray(magnitude, jnp.float32)


def _per_example(sample_one: Callable[[jax.Array, tuple[int, int]], jax.Array]):
  """Lifts `sample_one(key, (H, W)) -> (H, W)` to a batched `phase_fn`."""

  def phase_fn(key: jax.Array, magnitude: jax.Array) -> jax.Array:
    magnitude = _check_magnitude(magnitude)
    keys = jax.random.split(key, magnitude.shape[0])
    phase = jax.vmap(lambda k: sample_one(k, magnitude.shape[1:]))(keys)
    return phase_lib.wrap_phase(phase)

  return phase_fn


@PHASE_SOURCES.register("zero")
def zero_phase() -> phase_lib.PhaseFn:
  """Zero phase: a real, non-negative image."""

  def phase_fn(key: jax.Array, magnitude: jax.Array) -> jax.Array:
    del key
    return jnp.zeros_like(_check_magnitude(magnitude))

  return phase_fn


@PHASE_SOURCES.register("uniform")
def uniform_phase() -> phase_lib.PhaseFn:
  """I.i.d. uniform phase on (-pi, pi] per pixel."""
  return _per_example(
      lambda key, shape: jax.random.uniform(
          key, shape, jnp.float32, -math.pi, math.pi
      )
  )


@PHASE_SOURCES.register("gaussian")
def gaussian_phase(std: float = DEFAULT_GAUSSIAN_STD) -> phase_lib.PhaseFn:
  """I.i.d. zero-mean Gaussian phase with standard deviation `std` radians."""
  if std < 0:
    raise ValueError(f"gaussian phase needs std >= 0, got {std}.")
  return _per_example(
      lambda key, shape: std * jax.random.normal(key, shape, jnp.float32)
  )


@PHASE_SOURCES.register("smooth_kspace_box")
def smooth_kspace_box_phase(
    box_size: int = DEFAULT_KSPACE_BOX_SIZE,
) -> phase_lib.PhaseFn:
  """Angle of ifft2c of random complex coefficients in a centered k-space box.

  Args:
    box_size: side (pixels) of the square of non-zero coefficients around DC;
      larger boxes give faster-varying phase.
  """
  box_size = int(box_size)
  if box_size < 1:
    raise ValueError(f"smooth_kspace_box needs box_size >= 1, got {box_size}.")

  def sample_one(key, shape):
    height, width = shape
    if box_size > min(height, width):
      raise ValueError(
          f"box_size {box_size} exceeds the image size {(height, width)}."
      )
    real_key, imag_key = jax.random.split(key)
    box = jax.random.normal(real_key, (box_size, box_size)) + 1j * (
        jax.random.normal(imag_key, (box_size, box_size))
    )
    top = height // 2 - box_size // 2
    left = width // 2 - box_size // 2
    kspace = jnp.zeros(shape, jnp.complex64)
    kspace = jax.lax.dynamic_update_slice(
        kspace, box.astype(jnp.complex64), (top, left)
    )
    return jnp.angle(fft.ifft2c(kspace))

  return _per_example(sample_one)


@PHASE_SOURCES.register("smooth_polynomial")
def smooth_polynomial_phase(
    order: int = DEFAULT_POLYNOMIAL_ORDER,
    scale: float = DEFAULT_POLYNOMIAL_SCALE,
) -> phase_lib.PhaseFn:
  """A random 2-D polynomial sum_{i+j<=order} c_ij x^i y^j, wrapped.

  Coordinates x, y span [-1, 1] over the image; c_ij ~ N(0, scale^2).

  Args:
    order: highest total degree (0 gives a random constant phase).
    scale: standard deviation of each coefficient, radians.
  """
  order = int(order)
  if order < 0:
    raise ValueError(f"smooth_polynomial needs order >= 0, got {order}.")
  exponents = [(i, j) for i in range(order + 1) for j in range(order + 1 - i)]

  def sample_one(key, shape):
    height, width = shape
    y = jnp.linspace(-1.0, 1.0, height, dtype=jnp.float32)[:, None]
    x = jnp.linspace(-1.0, 1.0, width, dtype=jnp.float32)[None, :]
    coefficients = scale * jax.random.normal(key, (len(exponents),))
    terms = [c * x**i * y**j for c, (i, j) in zip(coefficients, exponents)]
    return jnp.broadcast_to(sum(terms), shape)

  return _per_example(sample_one)


def get_baseline(name: str, **kwargs) -> phase_lib.PhaseFn:
  """A jittable baseline `phase_fn(key, magnitude (B,H,W)) -> (B,H,W)`.

  Args:
    name: a registered source (see `PHASE_SOURCES.names()`); learned
      sources (the SBDM) are loaded by `score_phase.sources.lookup`.
    **kwargs: the source's keyword arguments (e.g. std=0.5 for "gaussian").

  Returns:
    The phase function, values in (-pi, pi].
  """
  factory = PHASE_SOURCES.get(name)
  try:
    return factory(**kwargs)
  except TypeError as error:
    raise ValueError(
        f"Bad keyword arguments {kwargs} for phase source {name!r}: {error}"
    ) from error
