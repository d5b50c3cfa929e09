"""Smooth random blobs, the shapes every anatomy is painted from.

A `Blob` is an ellipse whose boundary radius is perturbed by a few angular
harmonics; concentric level sets of one blob give rings such as
subcutaneous fat, skull and cortex. `random_blob` draws the harmonics;
`paint` and `disc` are the drawing primitives of the anatomies (painted
from back to front).
"""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Blob:
  """An ellipse whose boundary radius is modulated by angular harmonics.

  The boundary at polar angle theta (in the ellipse's own frame) lies at
  normalised radius 1 + sum_k a_k cos(k theta + p_k), k = 2, 3, ...

  Attributes:
    center: (y, x) in normalised coordinates.
    radii: (ry, rx) semi-axes.
    angle: rotation of the ellipse (radians).
    amplitudes: harmonic amplitudes a_k for k = 2, 3, ...
    phases: harmonic phases p_k.
  """

  center: tuple[float, float]
  radii: tuple[float, float]
  angle: float = 0.0
  amplitudes: tuple[float, ...] = ()
  phases: tuple[float, ...] = ()

  def level(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Normalised radius / boundary radius: < 1 inside, level sets are rings.

    Args:
      y, x: coordinate arrays of the same shape.

    Returns:
      float64 array of that shape.
    """
    dy = y - self.center[0]
    dx = x - self.center[1]
    cos, sin = np.cos(self.angle), np.sin(self.angle)
    u = (cos * dx + sin * dy) / self.radii[1]
    v = (cos * dy - sin * dx) / self.radii[0]
    radius = np.hypot(u, v)
    if not self.amplitudes:
      return radius
    # cos(k theta + p) = Re(e^{i p} w^k) with w = e^{i theta}: powers of w
    # are much cheaper than arctan2 and a cosine per harmonic.
    unit = (u + 1j * v) / np.maximum(radius, np.finfo(np.float64).tiny)
    power = unit
    boundary = np.ones_like(radius)
    for amp, phase in zip(self.amplitudes, self.phases):
      power = power * unit
      boundary += amp * (power * np.exp(1j * phase)).real
    return radius / boundary

  def scaled(self, factor: float) -> "Blob":
    """The same shape with both radii multiplied by `factor`."""
    return dataclasses.replace(
        self, radii=(self.radii[0] * factor, self.radii[1] * factor)
    )

  def point_inside(
      self, rng: np.random.Generator, max_level: float = 1.0
  ) -> tuple[float, float]:
    """A random (y, x) with ellipse level below `max_level` (harmonics ignored,
    so keep `max_level` below 1 minus the wobble to stay inside)."""
    radius = max_level * np.sqrt(rng.uniform())
    theta = rng.uniform(0, 2 * np.pi)
    u = radius * np.cos(theta) * self.radii[1]
    v = radius * np.sin(theta) * self.radii[0]
    cos, sin = np.cos(self.angle), np.sin(self.angle)
    return (
        self.center[0] + sin * u + cos * v,
        self.center[1] + cos * u - sin * v,
    )


def random_blob(
    rng: np.random.Generator,
    center: tuple[float, float],
    radii: tuple[float, float],
    angle: float = 0.0,
    wobble: float = 0.0,
    num_harmonics: int = 3,
) -> Blob:
  """A Blob with random harmonics: amplitude of harmonic k ~ U(0, wobble)/k.

  Args:
    rng: numpy Generator.
    center: (y, x).
    radii: (ry, rx).
    angle: rotation (radians).
    wobble: relative boundary perturbation (0 gives an exact ellipse).
    num_harmonics: how many harmonics (k = 2 .. num_harmonics + 1).

  Returns:
    A Blob.
  """
  if wobble <= 0:
    return Blob(center, radii, angle)
  orders = np.arange(2, num_harmonics + 2)
  amplitudes = rng.uniform(0, wobble, num_harmonics) / (orders - 1)
  phases = rng.uniform(0, 2 * np.pi, num_harmonics)
  return Blob(center, radii, angle, tuple(amplitudes), tuple(phases))


def paint(labels: np.ndarray, inside: np.ndarray, label: int) -> None:
  """Sets `labels` to `label` where `inside` (drawing from back to front)."""
  labels[inside] = label


def disc(
    y: np.ndarray, x: np.ndarray, center: tuple[float, float], radius: float
) -> np.ndarray:
  """Where (y, x) lies within `radius` of `center`: a boolean mask."""
  return (y - center[0]) ** 2 + (x - center[1]) ** 2 < radius**2
