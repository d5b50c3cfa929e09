"""Tissue classes: the `labels` values and each class's physical properties.

Per-class properties (signal, susceptibility, fat fraction, texture) live
in `TISSUES`, one `Tissue` per label in label order, and are sampled once
per example by `sample_class_properties`.
"""

import dataclasses

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
