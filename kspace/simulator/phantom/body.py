"""The "body" anatomy: an axial abdomen cross-section (`draw_body`).

Subcutaneous fat, muscle wall, visceral fat, liver, spleen, kidneys,
vertebra, paraspinal muscles, aorta / IVC and bowel with gas; size, shape,
position and the presence of structures vary per example.
"""

import numpy as np

from kspace.simulator.phantom import blobs
from kspace.simulator.phantom import tissues


def draw_body(
    rng: np.random.Generator, y: np.ndarray, x: np.ndarray
) -> np.ndarray:
  """Axial abdomen: fat, muscle wall, organs, vertebra, vessels, bowel gas.

  Args:
    rng: numpy Generator.
    y, x: normalised coordinates (H, W).

  Returns:
    uint8 labels (H, W).
  """
  labels = np.zeros(y.shape, np.uint8)
  body = blobs.random_blob(
      rng,
      center=(rng.uniform(-0.04, 0.04), rng.uniform(-0.03, 0.03)),
      radii=(rng.uniform(0.5, 0.68), rng.uniform(0.82, 0.94)),
      angle=rng.uniform(-0.05, 0.05),
      wobble=0.03,
  )
  level = body.level(y, x)
  subcutaneous = 1 - rng.uniform(0.06, 0.16)  # fat ring thickness
  wall = subcutaneous - rng.uniform(0.04, 0.08)  # abdominal muscle wall
  blobs.paint(labels, level < 1, tissues.FAT)
  blobs.paint(labels, level < subcutaneous, tissues.MUSCLE)
  # Visceral fat fills the cavity.
  blobs.paint(labels, level < wall, tissues.FAT)
  cavity = body.scaled(wall)
  cy, cx = cavity.center
  ry, rx = cavity.radii
  # Liver on the patient's right (image left), spleen opposite, posterior.
  liver = blobs.random_blob(
      rng,
      center=(
          cy + rng.uniform(-0.2, 0.0) * ry,
          cx - rng.uniform(0.35, 0.5) * rx,
      ),
      radii=(rng.uniform(0.55, 0.8) * ry, rng.uniform(0.35, 0.5) * rx),
      angle=rng.uniform(-0.3, 0.3),
      wobble=0.08,
  )
  blobs.paint(labels, liver.level(y, x) < 1, tissues.PARENCHYMA)
  spleen = blobs.random_blob(
      rng,
      center=(
          cy + rng.uniform(0.0, 0.3) * ry,
          cx + rng.uniform(0.5, 0.65) * rx,
      ),
      radii=(rng.uniform(0.25, 0.4) * ry, rng.uniform(0.12, 0.2) * rx),
      angle=rng.uniform(-0.5, 0.5),
      wobble=0.08,
  )
  blobs.paint(labels, spleen.level(y, x) < 1, tissues.GRAY)
  # Bowel loops with fluid or gas content.
  for _ in range(rng.integers(2, 6)):
    loop = blobs.random_blob(
        rng,
        center=cavity.scaled(1.0).point_inside(rng, 0.6),
        radii=(rng.uniform(0.06, 0.14), rng.uniform(0.06, 0.14)),
        wobble=0.1,
    )
    loop_level = loop.level(y, x)
    blobs.paint(labels, loop_level < 1, tissues.MUSCLE)  # the bowel wall
    # Fluid, or a gas pocket.
    content = tissues.FLUID if rng.uniform() < 0.6 else tissues.BACKGROUND
    blobs.paint(labels, loop_level < rng.uniform(0.5, 0.8), content)
  # Vertebra (cortex + marrow) with the spinal canal behind it.
  spine = (cy + ry * rng.uniform(0.5, 0.65), cx + rng.uniform(-0.02, 0.02))
  vertebra = blobs.random_blob(
      rng,
      spine,
      (rng.uniform(0.1, 0.13), rng.uniform(0.11, 0.15)),
      wobble=0.04,
  )
  vertebra_level = vertebra.level(y, x)
  blobs.paint(labels, vertebra_level < 1, tissues.BONE)
  blobs.paint(labels, vertebra_level < rng.uniform(0.8, 0.9), tissues.MARROW)
  canal = (spine[0] + vertebra.radii[0] * rng.uniform(1.35, 1.6), spine[1])
  blobs.paint(
      labels,
      blobs.disc(y, x, canal, rng.uniform(0.04, 0.055)),
      tissues.FLUID,
  )
  # Kidneys and paraspinal muscles on either side.
  for side in (-1, 1):
    kidney = blobs.random_blob(
        rng,
        center=(
            spine[0] - rng.uniform(0.0, 0.08),
            spine[1] + side * rng.uniform(0.28, 0.4),
        ),
        radii=(rng.uniform(0.1, 0.15), rng.uniform(0.06, 0.09)),
        angle=side * rng.uniform(0.2, 0.6),
        wobble=0.05,
    )
    kidney_level = kidney.level(y, x)
    blobs.paint(labels, kidney_level < 1, tissues.GRAY)
    # The renal pelvis.
    blobs.paint(labels, kidney_level < rng.uniform(0.3, 0.5), tissues.FLUID)
    paraspinal = blobs.random_blob(
        rng,
        center=(
            canal[0] + rng.uniform(-0.02, 0.04),
            canal[1] + side * rng.uniform(0.11, 0.16),
        ),
        radii=(rng.uniform(0.07, 0.1), rng.uniform(0.07, 0.1)),
        wobble=0.05,
    )
    blobs.paint(labels, paraspinal.level(y, x) < 1, tissues.MUSCLE)
  # Aorta (left of the spine, anterior) and the flatter IVC on the right.
  aorta = (
      spine[0] - vertebra.radii[0] - rng.uniform(0.04, 0.07),
      spine[1] + rng.uniform(0.04, 0.08),
  )
  blobs.paint(
      labels,
      blobs.disc(y, x, aorta, rng.uniform(0.04, 0.06)),
      tissues.VESSEL,
  )
  ivc = blobs.random_blob(
      rng,
      center=(
          aorta[0] - rng.uniform(0.0, 0.04),
          spine[1] - rng.uniform(0.1, 0.16),
      ),
      radii=(rng.uniform(0.03, 0.05), rng.uniform(0.05, 0.08)),
  )
  blobs.paint(labels, ivc.level(y, x) < 1, tissues.VESSEL)
  return labels
