"""Phase and label analysis of generated examples, shared by the generator's
tests."""

import numpy as np


def circular_diff(a, b):
  """a - b wrapped to (-pi, pi], in float64."""
  return np.angle(np.exp(1j * (np.asarray(a, np.float64) - b)))


def interior(labels, label, width=1):
  """Pixels of `label` whose 4-neighbours up to `width` share the label."""
  inside = labels == label
  for shift in range(1, width + 1):
    for axis in (0, 1):
      for sign in (-1, 1):
        inside &= np.roll(labels, sign * shift, axis=axis) == label
  return inside
