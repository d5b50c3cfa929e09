"""Phase <-> network representation, and where the phase matters.

Phase lives on the circle, so the network sees the unit phasor
x = (cos phi, sin phi) as 2 channels (NHWC): +pi and -pi are the same point,
there is no wrap discontinuity to learn, and a sample's phase is
atan2(x_sin, x_cos) whatever the length of x. The loss is weighted per pixel
by the magnitude so that background (where phase is noise and physically
irrelevant, since m exp(i phi) ~ 0) does not dominate it.
"""

import jax
import jax.numpy as jnp

from kspace.common import phase as phase_lib


def phase_to_phasor(phase: jax.Array) -> jax.Array:
  """(B,H,W) radians -> (B,H,W,2) float32 unit phasor (cos, sin)."""
  phase = jnp.asarray(phase, jnp.float32)
  return jnp.stack([jnp.cos(phase), jnp.sin(phase)], axis=-1)


def phasor_to_phase(x: jax.Array) -> jax.Array:
  """(B,H,W,2) -> (B,H,W) float32 phase atan2(sin, cos) in (-pi, pi]."""
  return phase_lib.wrap_phase(jnp.arctan2(x[..., 1], x[..., 0]))


def pixel_weights(
    magnitude: jax.Array, threshold: float, background_weight: float
) -> jax.Array:
  """Loss weights w = max(background_weight, min(1, m / threshold)).

  Pixels brighter than `threshold` (fraction of the image maximum ~1) get
  weight 1, background gets `background_weight` > 0 (so the model still learns
  that the phase there is uncertain) and weights are normalised to mean 1 per
  image.

  Args:
    magnitude: (B,H,W) float.
    threshold: magnitude at which a pixel counts fully.
    background_weight: floor of the weight.

  Returns:
    (B,H,W) float32 weights with per-image mean 1.
  """
  weights = jnp.clip(
      jnp.asarray(magnitude, jnp.float32) / threshold, background_weight, 1.0
  )
  return weights / jnp.mean(weights, axis=(1, 2), keepdims=True)
