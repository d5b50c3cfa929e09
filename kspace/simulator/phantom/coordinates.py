"""The phantom's normalised coordinates (`normalized_grid`).

The shorter image side spans [-1, 1), y grows downwards (anterior is at the
top), x to the right. The geometry constants inside the anatomy drawings
(`brain`, `knee`, `body`) are anatomical proportions in these units.
"""

import numpy as np


def normalized_grid(
    shape: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
  """Pixel-center coordinates, the shorter side spanning [-1, 1).

  Args:
    shape: (H, W).

  Returns:
    (y, x) float64 arrays of shape (H, W).
  """
  height, width = shape
  half = min(height, width) / 2
  y = (np.arange(height) - height / 2 + 0.5) / half
  x = (np.arange(width) - width / 2 + 0.5) / half
  return np.meshgrid(y, x, indexing="ij")
