"""The one magnitude normalisation, shared by every data source and model.

Magnitudes arrive in very different units: the synthetic set has max 1 per
image, a registry is scaled per file, fastMRI's are scanner units (~1e-4).
A phase model conditioned on ~0 magnitudes sees no anatomy, and its
magnitude weighting turns uniform. So every consumer (phase model
training and sampling, every recon arm's training and evaluation) divides
each image by its own robust scale, the `PERCENTILE`-th percentile of its
magnitude, before any model sees it. A percentile rather than the max, so
a few hot pixels or a bright fat rim do not squash the rest; no clipping,
so the k-space made from it keeps every value.

The map is idempotent (the percentile is scale-equivariant), so a batch
normalised twice on its way through two pipelines is unchanged.
"""

import numpy as np

# Of all pixels of an image: well inside the object for any anatomy that
# covers more than ~1% of the field of view.
PERCENTILE = 99.5


def robust_scale(
    magnitude: np.ndarray, percentile: float = PERCENTILE
) -> np.ndarray:
  """The `percentile`-th percentile of each image's magnitude.

  Args:
    magnitude: (..., H, W) non-negative values.
    percentile: in (0, 100].

  Returns:
    (...) float64 scales; the image's max where the percentile is 0 (a
    mostly empty image), and 1 for an all-zero image (left as is).
  """
  magnitude = np.asarray(magnitude, np.float64)
  if not 0 < percentile <= 100:
    raise ValueError(f"percentile must be in (0, 100], got {percentile}.")
  scale = np.percentile(magnitude, percentile, axis=(-2, -1))
  peak = magnitude.max(axis=(-2, -1))
  scale = np.where(scale > 0, scale, peak)
  return np.where(scale > 0, scale, 1.0)


def normalize_magnitude(
    magnitude: np.ndarray, percentile: float = PERCENTILE
) -> np.ndarray:
  """(..., H, W) magnitudes divided per image by `robust_scale`, float32."""
  scale = robust_scale(magnitude, percentile)[..., None, None]
  return (np.asarray(magnitude) / scale).astype(np.float32)


def normalize_complex(image: np.ndarray) -> np.ndarray:
  """(..., H, W) complex images scaled so their magnitude is normalised."""
  scale = robust_scale(np.abs(image))[..., None, None]
  return (np.asarray(image) / scale).astype(np.complex64)
