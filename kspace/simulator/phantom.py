"""Procedural tissue-class anatomy: the simulator's cross-sections.

A cross-section is painted from back to front with smooth random blobs
(ellipses whose boundary radius is perturbed by a few angular harmonics):
concentric level sets of one blob give rings such as subcutaneous fat, skull
and cortex. Three anatomies are drawn, each varying per example in size,
shape, position and the presence of structures:

  * "brain": axial head (scalp fat, skull with diploe marrow, CSF, cortex,
    folded white matter, ventricles, deep gray nuclei, veins, sinus air);
  * "knee": axial knee (subcutaneous fat, muscle bellies, femur and patella
    with cortical bone and fatty marrow, cartilage, joint fluid, popliteal
    vessels);
  * "body": axial abdomen (subcutaneous fat, muscle wall, visceral fat,
    liver, spleen, kidneys, vertebra, paraspinal muscles, aorta/IVC, bowel
    with gas).

Coordinates are normalised: the shorter image side spans [-1, 1), y grows
downwards (anterior is at the top), x to the right. The geometry constants
inside the anatomy functions are anatomical proportions in these units; each
is commented where it is drawn.

Per-class physical properties (signal, susceptibility, fat fraction, texture)
live in `TISSUES` and are sampled once per example by
`sample_class_properties`.
"""

import dataclasses
from collections.abc import Callable

import numpy as np

# Tissue classes (the `labels` feature).
BACKGROUND, FAT, MUSCLE, PARENCHYMA, GRAY, FLUID, VESSEL, BONE, MARROW = range(
    9
)
LABEL_NAMES = (
    "background",  # air outside the body and air pockets (sinus, bowel gas)
    "fat",  # subcutaneous and visceral fat
    "muscle",
    "parenchyma",  # white-matter / liver-like water tissue
    "gray",  # gray-matter / kidney / spleen / cartilage-like water tissue
    "fluid",  # CSF, joint fluid, urine, bile
    "vessel",  # venous blood
    "bone",  # cortical bone: short T2*, almost no signal
    "marrow",  # fatty trabecular bone marrow
)
NUM_CLASSES = len(LABEL_NAMES)


@dataclasses.dataclass(frozen=True)
class Tissue:
  """Physical properties of one tissue class.

  Each (low, high) range is sampled uniformly once per example, so contrast
  and susceptibility vary between examples but are constant within a class.

  Attributes:
    signal: mean magnitude before normalisation (arbitrary units, ~[0, 1]).
    susceptibility_ppm: volume susceptibility relative to water, in ppm.
    fat_fraction: fraction of the signal from fat protons (chemical shift).
    texture: relative standard deviation of the multiplicative texture.
    susceptibility_texture_ppm: standard deviation of a smooth spatial
      susceptibility variation inside the class (e.g. iron in gray matter).
  """

  signal: tuple[float, float]
  susceptibility_ppm: tuple[float, float]
  fat_fraction: tuple[float, float]
  texture: float
  susceptibility_texture_ppm: float = 0.0


# Susceptibilities relative to water (chi_water = -9.05 ppm, SI volume
# susceptibility): air +0.36 ppm absolute, so +9.41 relative; fat ~+0.6..0.8;
# cortical bone ~-2; venous blood (deoxyhaemoglobin) ~+0.2..0.45; gray matter
# slightly paramagnetic (iron), white matter slightly diamagnetic (myelin).
# Signals describe a generic weighting whose contrast varies per example
# (fluid from T1-dark to T2-bright, vessels from flow void to bright).
TISSUES: tuple[Tissue, ...] = (
    # BACKGROUND: air
    Tissue(
        signal=(0.0, 0.0),
        susceptibility_ppm=(9.41, 9.41),
        fat_fraction=(0.0, 0.0),
        texture=0.0,
    ),
    # FAT
    Tissue(
        signal=(0.7, 1.0),
        susceptibility_ppm=(0.6, 0.8),
        fat_fraction=(0.9, 1.0),
        texture=0.05,
    ),
    # MUSCLE
    Tissue(
        signal=(0.25, 0.45),
        susceptibility_ppm=(-0.05, 0.05),
        fat_fraction=(0.0, 0.03),
        texture=0.08,
    ),
    # PARENCHYMA
    Tissue(
        signal=(0.4, 0.7),
        susceptibility_ppm=(-0.05, 0.02),
        fat_fraction=(0.0, 0.05),
        texture=0.06,
        susceptibility_texture_ppm=0.01,
    ),
    # GRAY
    Tissue(
        signal=(0.35, 0.65),
        susceptibility_ppm=(0.0, 0.1),
        fat_fraction=(0.0, 0.0),
        texture=0.08,
        susceptibility_texture_ppm=0.02,
    ),
    # FLUID
    Tissue(
        signal=(0.1, 1.0),
        susceptibility_ppm=(-0.02, 0.02),
        fat_fraction=(0.0, 0.0),
        texture=0.02,
    ),
    # VESSEL
    Tissue(
        signal=(0.05, 0.9),
        susceptibility_ppm=(0.2, 0.45),
        fat_fraction=(0.0, 0.0),
        texture=0.03,
    ),
    # BONE: cortical
    Tissue(
        signal=(0.0, 0.06),
        susceptibility_ppm=(-2.5, -1.5),
        fat_fraction=(0.0, 0.0),
        texture=0.2,
    ),
    # MARROW
    Tissue(
        signal=(0.6, 0.9),
        susceptibility_ppm=(0.2, 0.6),
        fat_fraction=(0.5, 0.9),
        texture=0.1,
        susceptibility_texture_ppm=0.05,
    ),
)


def sample_class_properties(
    rng: np.random.Generator, tissues: tuple[Tissue, ...] = TISSUES
) -> dict[str, np.ndarray]:
  """Draws one value per class for each property range in `tissues`.

  Args:
    rng: numpy Generator.
    tissues: one `Tissue` per label, in label order.

  Returns:
    dict of float64 arrays of shape (num_classes,): `signal`,
    `susceptibility_ppm`, `fat_fraction`, `texture`,
    `susceptibility_texture_ppm`.
  """
  if len(tissues) != NUM_CLASSES:
    raise ValueError(
        f"Need one Tissue per label ({NUM_CLASSES}), got {len(tissues)}."
    )
  ranges = {
      name: np.array([getattr(t, name) for t in tissues])
      for name in ("signal", "susceptibility_ppm", "fat_fraction")
  }
  props = {
      name: rng.uniform(low_high[:, 0], low_high[:, 1])
      for name, low_high in ranges.items()
  }
  props["texture"] = np.array([t.texture for t in tissues])
  props["susceptibility_texture_ppm"] = np.array(
      [t.susceptibility_texture_ppm for t in tissues]
  )
  return props


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


def _paint(labels: np.ndarray, inside: np.ndarray, label: int) -> None:
  labels[inside] = label


def _disc(
    y: np.ndarray, x: np.ndarray, center: tuple[float, float], radius: float
) -> np.ndarray:
  return (y - center[0]) ** 2 + (x - center[1]) ** 2 < radius**2


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
  head = random_blob(
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
      (FAT, 0.0),
      (BONE, rng.uniform(0.05, 0.08)),
      (MARROW, rng.uniform(0.012, 0.025)),
      (BONE, rng.uniform(0.012, 0.03)),
      (FLUID, rng.uniform(0.01, 0.02)),
      (GRAY, rng.uniform(0.01, 0.03)),
  )
  edge = 1.0
  for label, thickness in layers:
    edge -= thickness
    _paint(labels, level < edge, label)
  brain = head.scaled(edge)
  # White matter: a wobblier blob inside the cortex, like gyral folding.
  white = random_blob(
      rng,
      center=brain.center,
      radii=tuple(r * rng.uniform(0.72, 0.84) for r in brain.radii),
      angle=brain.angle,
      wobble=0.08,
      num_harmonics=7,
  )
  _paint(labels, white.level(y, x) < 1, PARENCHYMA)
  cy, cx = brain.center
  for side in (-1, 1):
    # Lateral ventricles (CSF) and the deep gray nuclei lateral to them.
    ventricle = random_blob(
        rng,
        center=(
            cy + rng.uniform(-0.12, 0.05),
            cx + side * rng.uniform(0.04, 0.1),
        ),
        radii=(rng.uniform(0.12, 0.25), rng.uniform(0.025, 0.07)),
        angle=side * rng.uniform(0.0, 0.3),
        wobble=0.1,
    )
    _paint(labels, ventricle.level(y, x) < 1, FLUID)
    nucleus = random_blob(
        rng,
        center=(
            cy + rng.uniform(-0.05, 0.1),
            cx + side * rng.uniform(0.18, 0.28),
        ),
        radii=(rng.uniform(0.06, 0.12), rng.uniform(0.035, 0.07)),
        wobble=0.1,
    )
    _paint(labels, nucleus.level(y, x) < 1, GRAY)
  # Cortical veins and the superior sagittal sinus (posterior midline).
  for _ in range(rng.integers(2, 7)):
    _paint(
        labels,
        _disc(y, x, brain.point_inside(rng, 0.85), rng.uniform(0.012, 0.03)),
        VESSEL,
    )
  sinus = (cy + brain.radii[0] * rng.uniform(0.9, 0.96), cx)
  _paint(labels, _disc(y, x, sinus, rng.uniform(0.02, 0.035)), VESSEL)
  if rng.uniform() < 0.3:
    # Frontal sinus air next to the anterior skull: a strong field source.
    air = (cy - head.radii[0] * rng.uniform(0.86, 0.93), cx)
    _paint(labels, _disc(y, x, air, rng.uniform(0.03, 0.06)), BACKGROUND)
  return labels


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
  limb = random_blob(
      rng,
      center=tuple(rng.uniform(-0.04, 0.04, 2)),
      radii=(rng.uniform(0.66, 0.82), rng.uniform(0.68, 0.86)),
      angle=rng.uniform(-0.3, 0.3),
      wobble=0.05,
  )
  _paint(labels, limb.level(y, x) < 1, FAT)
  cy, cx = limb.center
  # Muscle bellies, mostly posterior (hamstrings, gastrocnemius heads).
  for _ in range(rng.integers(2, 5)):
    theta = rng.uniform(0.15 * np.pi, 0.85 * np.pi)  # y down: posterior half
    dist = rng.uniform(0.35, 0.55)
    muscle = random_blob(
        rng,
        center=(
            cy + dist * limb.radii[0] * np.sin(theta),
            cx + dist * limb.radii[1] * np.cos(theta),
        ),
        radii=(rng.uniform(0.12, 0.22), rng.uniform(0.12, 0.25)),
        angle=rng.uniform(0, np.pi),
        wobble=0.1,
    )
    _paint(labels, muscle.level(y, x) < 1, MUSCLE)
  # Femur (condyles): cortex ring around fatty marrow, cartilage cap.
  femur = random_blob(
      rng,
      center=(cy + rng.uniform(-0.12, 0.02), cx + rng.uniform(-0.05, 0.05)),
      radii=(rng.uniform(0.26, 0.36), rng.uniform(0.34, 0.46)),
      angle=rng.uniform(-0.2, 0.2),
      wobble=0.06,
  )
  femur_level = femur.level(y, x)
  cartilage = rng.uniform(1.04, 1.09)  # cartilage thickness: 4-9% of radius
  _paint(labels, femur_level < cartilage, GRAY)
  _paint(labels, femur_level < 1, BONE)
  _paint(labels, femur_level < 1 - rng.uniform(0.06, 0.12), MARROW)
  if rng.uniform() < 0.7:
    # Patella anterior to the femur, joint fluid in between.
    top = femur.center[0] - femur.radii[0]
    patella = random_blob(
        rng,
        center=(top - rng.uniform(0.12, 0.18), femur.center[1]),
        radii=(rng.uniform(0.06, 0.09), rng.uniform(0.14, 0.2)),
        angle=rng.uniform(-0.2, 0.2),
        wobble=0.05,
    )
    fluid = (top - rng.uniform(0.02, 0.05), femur.center[1])
    _paint(labels, _disc(y, x, fluid, rng.uniform(0.04, 0.08)), FLUID)
    patella_level = patella.level(y, x)
    _paint(labels, patella_level < 1.12, GRAY)
    _paint(labels, patella_level < 1, BONE)
    _paint(labels, patella_level < 0.8, MARROW)
  # Popliteal artery and vein, posterior to the femur.
  bottom = femur.center[0] + femur.radii[0]
  for offset in (-1, 1):
    center = (
        bottom + rng.uniform(0.12, 0.2),
        femur.center[1] + offset * rng.uniform(0.02, 0.06),
    )
    _paint(labels, _disc(y, x, center, rng.uniform(0.025, 0.045)), VESSEL)
  return labels


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
  body = random_blob(
      rng,
      center=(rng.uniform(-0.04, 0.04), rng.uniform(-0.03, 0.03)),
      radii=(rng.uniform(0.5, 0.68), rng.uniform(0.82, 0.94)),
      angle=rng.uniform(-0.05, 0.05),
      wobble=0.03,
  )
  level = body.level(y, x)
  subcutaneous = 1 - rng.uniform(0.06, 0.16)  # fat ring thickness
  wall = subcutaneous - rng.uniform(0.04, 0.08)  # abdominal muscle wall
  _paint(labels, level < 1, FAT)
  _paint(labels, level < subcutaneous, MUSCLE)
  _paint(labels, level < wall, FAT)  # visceral fat fills the cavity
  cavity = body.scaled(wall)
  cy, cx = cavity.center
  ry, rx = cavity.radii
  # Liver on the patient's right (image left), spleen opposite, posterior.
  liver = random_blob(
      rng,
      center=(
          cy + rng.uniform(-0.2, 0.0) * ry,
          cx - rng.uniform(0.35, 0.5) * rx,
      ),
      radii=(rng.uniform(0.55, 0.8) * ry, rng.uniform(0.35, 0.5) * rx),
      angle=rng.uniform(-0.3, 0.3),
      wobble=0.08,
  )
  _paint(labels, liver.level(y, x) < 1, PARENCHYMA)
  spleen = random_blob(
      rng,
      center=(
          cy + rng.uniform(0.0, 0.3) * ry,
          cx + rng.uniform(0.5, 0.65) * rx,
      ),
      radii=(rng.uniform(0.25, 0.4) * ry, rng.uniform(0.12, 0.2) * rx),
      angle=rng.uniform(-0.5, 0.5),
      wobble=0.08,
  )
  _paint(labels, spleen.level(y, x) < 1, GRAY)
  # Bowel loops with fluid or gas content.
  for _ in range(rng.integers(2, 6)):
    loop = random_blob(
        rng,
        center=cavity.scaled(1.0).point_inside(rng, 0.6),
        radii=(rng.uniform(0.06, 0.14), rng.uniform(0.06, 0.14)),
        wobble=0.1,
    )
    loop_level = loop.level(y, x)
    _paint(labels, loop_level < 1, MUSCLE)  # the bowel wall
    content = FLUID if rng.uniform() < 0.6 else BACKGROUND  # gas pocket
    _paint(labels, loop_level < rng.uniform(0.5, 0.8), content)
  # Vertebra (cortex + marrow) with the spinal canal behind it.
  spine = (cy + ry * rng.uniform(0.5, 0.65), cx + rng.uniform(-0.02, 0.02))
  vertebra = random_blob(
      rng,
      spine,
      (rng.uniform(0.1, 0.13), rng.uniform(0.11, 0.15)),
      wobble=0.04,
  )
  vertebra_level = vertebra.level(y, x)
  _paint(labels, vertebra_level < 1, BONE)
  _paint(labels, vertebra_level < rng.uniform(0.8, 0.9), MARROW)
  canal = (spine[0] + vertebra.radii[0] * rng.uniform(1.35, 1.6), spine[1])
  _paint(labels, _disc(y, x, canal, rng.uniform(0.04, 0.055)), FLUID)
  # Kidneys and paraspinal muscles on either side.
  for side in (-1, 1):
    kidney = random_blob(
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
    _paint(labels, kidney_level < 1, GRAY)
    _paint(labels, kidney_level < rng.uniform(0.3, 0.5), FLUID)  # pelvis
    paraspinal = random_blob(
        rng,
        center=(
            canal[0] + rng.uniform(-0.02, 0.04),
            canal[1] + side * rng.uniform(0.11, 0.16),
        ),
        radii=(rng.uniform(0.07, 0.1), rng.uniform(0.07, 0.1)),
        wobble=0.05,
    )
    _paint(labels, paraspinal.level(y, x) < 1, MUSCLE)
  # Aorta (left of the spine, anterior) and the flatter IVC on the right.
  aorta = (
      spine[0] - vertebra.radii[0] - rng.uniform(0.04, 0.07),
      spine[1] + rng.uniform(0.04, 0.08),
  )
  _paint(labels, _disc(y, x, aorta, rng.uniform(0.04, 0.06)), VESSEL)
  ivc = random_blob(
      rng,
      center=(
          aorta[0] - rng.uniform(0.0, 0.04),
          spine[1] - rng.uniform(0.1, 0.16),
      ),
      radii=(rng.uniform(0.03, 0.05), rng.uniform(0.05, 0.08)),
  )
  _paint(labels, ivc.level(y, x) < 1, VESSEL)
  return labels


ANATOMIES: dict[str, Callable[..., np.ndarray]] = {
    "brain": draw_brain,
    "knee": draw_knee,
    "body": draw_body,
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
  y, x = normalized_grid(shape)
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


def smooth_noise(
    rng: np.random.Generator, shape: tuple[int, int], sigma_px: float
) -> np.ndarray:
  """Gaussian-filtered white noise, rescaled to zero mean and unit std.

  Filtered in the Fourier domain (periodic), which is fine for texture.

  Args:
    rng: numpy Generator.
    shape: (H, W).
    sigma_px: Gaussian filter width in pixels.

  Returns:
    float64 array of shape (H, W).
  """
  white = rng.standard_normal(shape)
  ky = np.fft.fftfreq(shape[0])[:, None]
  kx = np.fft.rfftfreq(shape[1])[None, :]
  gain = np.exp(-2 * (np.pi * sigma_px) ** 2 * (ky**2 + kx**2))
  field = np.fft.irfft2(np.fft.rfft2(white) * gain, s=shape)
  field -= field.mean()
  return field / max(field.std(), np.finfo(np.float64).tiny)
