"""The "brain" anatomy: an axial head cross-section (`draw_brain`).

Scalp fat, skull with diploe marrow, CSF, cortex, folded white matter,
ventricles, deep gray nuclei, veins and sinus air; size, shape, position and
the presence of structures vary per example.
"""

import numpy as np

from kspace.simulator.phantom import blobs
from kspace.simulator.phantom import tissues


def draw_brain(
    rng: np.random.Generator, y: np.ndarray, x: np.ndarray
) -> np.ndarray:
  """Axial head: scalp fat, skull, CSF, cortex, white matter, deep nuclei.

  Args:
    rng: numpy Generator.
    y, x: normalised coordinates (H, W).

  Returns:
    uint8 labels (H, W).
  """
  labels = np.zeros(y.shape, np.uint8)
  head = blobs.random_blob(
      rng,
      center=tuple(rng.uniform(-0.03, 0.03, 2)),
      radii=(rng.uniform(0.78, 0.9), rng.uniform(0.62, 0.76)),
      angle=rng.uniform(-0.1, 0.1),
      wobble=0.03,
  )
  level = head.level(y, x)
  # Layer thicknesses as fractions of the head radius, outside in: scalp
  # (skin + subcutaneous fat), outer table, diploe (marrow), inner table, CSF.
  layers = (
      (tissues.FAT, 0.0),
      (tissues.BONE, rng.uniform(0.05, 0.08)),
      (tissues.MARROW, rng.uniform(0.012, 0.025)),
      (tissues.BONE, rng.uniform(0.012, 0.03)),
      (tissues.FLUID, rng.uniform(0.01, 0.02)),
      (tissues.GRAY, rng.uniform(0.01, 0.03)),
  )
  edge = 1.0
  for label, thickness in layers:
    edge -= thickness
    blobs.paint(labels, level < edge, label)
  brain = head.scaled(edge)
  # White matter: a wobblier blob inside the cortex, like gyral folding.
  white = blobs.random_blob(
      rng,
      center=brain.center,
      radii=tuple(r * rng.uniform(0.72, 0.84) for r in brain.radii),
      angle=brain.angle,
      wobble=0.08,
      num_harmonics=7,
  )
  blobs.paint(labels, white.level(y, x) < 1, tissues.PARENCHYMA)
  cy, cx = brain.center
  for side in (-1, 1):
    # Lateral ventricles (CSF) and the deep gray nuclei lateral to them.
    ventricle = blobs.random_blob(
        rng,
        center=(
            cy + rng.uniform(-0.12, 0.05),
            cx + side * rng.uniform(0.04, 0.1),
        ),
        radii=(rng.uniform(0.12, 0.25), rng.uniform(0.025, 0.07)),
        angle=side * rng.uniform(0.0, 0.3),
        wobble=0.1,
    )
    blobs.paint(labels, ventricle.level(y, x) < 1, tissues.FLUID)
    nucleus = blobs.random_blob(
        rng,
        center=(
            cy + rng.uniform(-0.05, 0.1),
            cx + side * rng.uniform(0.18, 0.28),
        ),
        radii=(rng.uniform(0.06, 0.12), rng.uniform(0.035, 0.07)),
        wobble=0.1,
    )
    blobs.paint(labels, nucleus.level(y, x) < 1, tissues.GRAY)
  # Cortical veins and the superior sagittal sinus (posterior midline).
  for _ in range(rng.integers(2, 7)):
    blobs.paint(
        labels,
        blobs.disc(
            y, x, brain.point_inside(rng, 0.85), rng.uniform(0.012, 0.03)
        ),
        tissues.VESSEL,
    )
  sinus = (cy + brain.radii[0] * rng.uniform(0.9, 0.96), cx)
  blobs.paint(
      labels,
      blobs.disc(y, x, sinus, rng.uniform(0.02, 0.035)),
      tissues.VESSEL,
  )
  if rng.uniform() < 0.3:
    # Frontal sinus air next to the anterior skull: a strong field source.
    air = (cy - head.radii[0] * rng.uniform(0.86, 0.93), cx)
    blobs.paint(
        labels,
        blobs.disc(y, x, air, rng.uniform(0.03, 0.06)),
        tissues.BACKGROUND,
    )
  return labels
