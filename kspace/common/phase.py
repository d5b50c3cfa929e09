"""Phase maps: the one `PhaseFn` type and the one `wrap_phase`.

Every phase source of the project (zero, smooth baselines, the GAN, the
SBDM, the oracle, ground truth) is a `PhaseFn`:

  phase_fn(key, magnitude) -> phase

with `key` one PRNG key for the whole batch, `magnitude` (B, H, W) float32
and `phase` (B, H, W) float32 wrapped to (-pi, pi] by `wrap_phase`.
"""

from collections.abc import Callable
import math

import jax
import jax.numpy as jnp

PhaseFn = Callable[[jax.Array, jax.Array], jax.Array]


@jax.jit
def wrap_phase(phase: jax.Array) -> jax.Array:
  """Wraps angles (radians) to (-pi, pi] as float32, same shape.

  `jnp.angle` / `np.angle` return [-pi, pi]; pi - mod(pi - phi, 2 pi) sends
  -pi to +pi so every angle has exactly one representative. Angles already
  in (-pi, pi] are returned unchanged (the formula would move some by an
  ulp).

  Args:
    phase: real array (numpy or jax), radians.

  Returns:
    float32 jax array in (-pi, pi].
  """
  phase = jnp.asarray(phase, jnp.float32)
  pi = jnp.float32(math.pi)
  wrapped = pi - jnp.mod(pi - phase, 2 * pi)
  # Float rounding can give mod == 2 pi exactly, i.e. -pi; fold it back.
  wrapped = jnp.where(wrapped <= -pi, wrapped + 2 * pi, wrapped)
  return jnp.where((phase > -pi) & (phase <= pi), phase, wrapped)
