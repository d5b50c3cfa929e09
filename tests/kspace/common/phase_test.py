"""kspace.common.phase.wrap_phase: the one wrap to (-pi, pi]."""

import math

import jax.numpy as jnp
import numpy as np

from kspace.common import phase


def test_wrap_phase_interval_and_float32():
  angles = np.array(
      [-math.pi, math.pi, 3 * math.pi, -3 * math.pi, 0.0, 7.0, -7.0, 123.4]
  )
  wrapped = np.asarray(phase.wrap_phase(angles))
  assert wrapped.dtype == np.float32
  assert np.all(wrapped > -math.pi) and np.all(wrapped <= math.pi)
  np.testing.assert_allclose(
      np.exp(1j * wrapped), np.exp(1j * angles), atol=1e-5
  )
  # -pi and its odd multiples all map to +pi, never to -pi.
  np.testing.assert_allclose(wrapped[:4], math.pi, atol=1e-5)


def test_wrap_phase_keeps_angles_inside_the_interval():
  inside = np.linspace(-math.pi, math.pi, 101, dtype=np.float32)[1:]
  np.testing.assert_array_equal(
      np.asarray(phase.wrap_phase(jnp.asarray(inside))), inside
  )
