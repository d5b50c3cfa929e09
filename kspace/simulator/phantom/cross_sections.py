"""One random cross-section of a named anatomy (`draw_anatomy`).

`ANATOMIES` maps each name to its drawing (`brain`, `knee`, `body`);
`draw_anatomy` also scales, rotates, shifts and mirrors the whole anatomy at
random, so position and size vary beyond the per-structure variation.
"""

from collections.abc import Callable

import numpy as np

from kspace.simulator.phantom import body
from kspace.simulator.phantom import brain
from kspace.simulator.phantom import coordinates
from kspace.simulator.phantom import knee

ANATOMIES: dict[str, Callable[..., np.ndarray]] = {
    "brain": brain.draw_brain,
    "knee": knee.draw_knee,
    "body": body.draw_body,
}


def draw_anatomy(
    rng: np.random.Generator,
    shape: tuple[int, int],
    anatomy: str,
    scale_range: tuple[float, float],
    max_rotation: float,
    max_shift: float,
) -> np.ndarray:
  """Tissue labels of one random cross-section.

  The whole anatomy is also randomly scaled, rotated, shifted and mirrored
  left-right, so position and size vary beyond the per-structure variation.

  Args:
    rng: numpy Generator.
    shape: (H, W) image size.
    anatomy: one of `ANATOMIES`.
    scale_range: (low, high) of the global size factor.
    max_rotation: largest global in-plane rotation (radians).
    max_shift: largest global shift (normalised units).

  Returns:
    uint8 labels of shape (H, W), values in [0, NUM_CLASSES).
  """
  if anatomy not in ANATOMIES:
    raise ValueError(
        f"Unknown anatomy {anatomy!r}; use one of {sorted(ANATOMIES)}."
    )
  y, x = coordinates.normalized_grid(shape)
  scale = rng.uniform(*scale_range)
  rotation = rng.uniform(-max_rotation, max_rotation)
  shift_y, shift_x = rng.uniform(-max_shift, max_shift, 2)
  mirror = -1.0 if rng.uniform() < 0.5 else 1.0
  cos, sin = np.cos(rotation), np.sin(rotation)
  # Inverse transform of the coordinates: the drawing is scaled by `scale`.
  y0, x0 = (y - shift_y) / scale, mirror * (x - shift_x) / scale
  y_canonical = cos * y0 - sin * x0
  x_canonical = sin * y0 + cos * x0
  return ANATOMIES[anatomy](rng, y_canonical, x_canonical)
