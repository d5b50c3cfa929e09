"""The "knee" anatomy: an axial knee cross-section (`draw_knee`).

Subcutaneous fat, muscle bellies, femur and patella with cortical bone and
fatty marrow, cartilage, joint fluid and the popliteal vessels; size, shape,
position and the presence of structures vary per example.
"""

import numpy as np

from kspace.simulator.phantom import blobs
from kspace.simulator.phantom import tissues


def draw_knee(
    rng: np.random.Generator, y: np.ndarray, x: np.ndarray
) -> np.ndarray:
  """Axial knee: fat, muscles, femur and patella, cartilage, fluid, vessels.

  Args:
    rng: numpy Generator.
    y, x: normalised coordinates (H, W).

  Returns:
    uint8 labels (H, W).
  """
  labels = np.zeros(y.shape, np.uint8)
  limb = blobs.random_blob(
      rng,
      center=tuple(rng.uniform(-0.04, 0.04, 2)),
      radii=(rng.uniform(0.66, 0.82), rng.uniform(0.68, 0.86)),
      angle=rng.uniform(-0.3, 0.3),
      wobble=0.05,
  )
  blobs.paint(labels, limb.level(y, x) < 1, tissues.FAT)
  cy, cx = limb.center
  # Muscle bellies, mostly posterior (hamstrings, gastrocnemius heads).
  for _ in range(rng.integers(2, 5)):
    theta = rng.uniform(0.15 * np.pi, 0.85 * np.pi)  # y down: posterior half
    dist = rng.uniform(0.35, 0.55)
    muscle = blobs.random_blob(
        rng,
        center=(
            cy + dist * limb.radii[0] * np.sin(theta),
            cx + dist * limb.radii[1] * np.cos(theta),
        ),
        radii=(rng.uniform(0.12, 0.22), rng.uniform(0.12, 0.25)),
        angle=rng.uniform(0, np.pi),
        wobble=0.1,
    )
    blobs.paint(labels, muscle.level(y, x) < 1, tissues.MUSCLE)
  # Femur (condyles): cortex ring around fatty marrow, cartilage cap.
  femur = blobs.random_blob(
      rng,
      center=(cy + rng.uniform(-0.12, 0.02), cx + rng.uniform(-0.05, 0.05)),
      radii=(rng.uniform(0.26, 0.36), rng.uniform(0.34, 0.46)),
      angle=rng.uniform(-0.2, 0.2),
      wobble=0.06,
  )
  femur_level = femur.level(y, x)
  cartilage = rng.uniform(1.04, 1.09)  # cartilage thickness: 4-9% of radius
  blobs.paint(labels, femur_level < cartilage, tissues.GRAY)
  blobs.paint(labels, femur_level < 1, tissues.BONE)
  blobs.paint(labels, femur_level < 1 - rng.uniform(0.06, 0.12), tissues.MARROW)
  if rng.uniform() < 0.7:
    # Patella anterior to the femur, joint fluid in between.
    top = femur.center[0] - femur.radii[0]
    patella = blobs.random_blob(
        rng,
        center=(top - rng.uniform(0.12, 0.18), femur.center[1]),
        radii=(rng.uniform(0.06, 0.09), rng.uniform(0.14, 0.2)),
        angle=rng.uniform(-0.2, 0.2),
        wobble=0.05,
    )
    fluid = (top - rng.uniform(0.02, 0.05), femur.center[1])
    blobs.paint(
        labels,
        blobs.disc(y, x, fluid, rng.uniform(0.04, 0.08)),
        tissues.FLUID,
    )
    patella_level = patella.level(y, x)
    blobs.paint(labels, patella_level < 1.12, tissues.GRAY)
    blobs.paint(labels, patella_level < 1, tissues.BONE)
    blobs.paint(labels, patella_level < 0.8, tissues.MARROW)
  # Popliteal artery and vein, posterior to the femur.
  bottom = femur.center[0] + femur.radii[0]
  for offset in (-1, 1):
    center = (
        bottom + rng.uniform(0.12, 0.2),
        femur.center[1] + offset * rng.uniform(0.02, 0.06),
    )
    blobs.paint(
        labels,
        blobs.disc(y, x, center, rng.uniform(0.025, 0.045)),
        tissues.VESSEL,
    )
  return labels
