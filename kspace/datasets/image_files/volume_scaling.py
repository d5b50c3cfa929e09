"""How the read slices of a volume become stored magnitudes.

`normalize_volume_clipped` divides a whole volume by its
`percentile`-th percentile (robust to a few hot pixels; one scale per volume
keeps the relative intensities of its slices) and clips to [0, 1];
`square_resize` then center-crops each slice to a square (its shorter side)
and resizes it (Pillow's antialiased bicubic filter, clipped to [0, 1]
again).
"""

import numpy as np
from PIL import Image

from kspace.datasets import files


# Per volume, not per image (kspace.common.normalize): slices keep their ratios.
def normalize_volume_clipped(
    slices: np.ndarray, percentile: float
) -> np.ndarray:
  """Divides by the `percentile`-th percentile (the max if that is 0), clips.

  Not `kspace.common.normalize.normalize_magnitude`, which divides each
  image by its own percentile without clipping (float32, what the models
  see, applied on top of this): one scale for the whole volume keeps the
  relative intensities of its slices, and the clip stores the registry's
  magnitudes in [0, 1].

  Args:
    slices: (N, H, W) non-negative values, not all zero.
    percentile: in (0, 100].

  Returns:
    float64 (N, H, W) in [0, 1].
  """
  scale = np.percentile(slices, percentile)
  if scale <= 0:
    scale = slices.max()
  return np.clip(slices / scale, 0, 1)


def square_resize(image: np.ndarray, size: int) -> np.ndarray:
  """Center-crops (H, W) to a square of its shorter side, resizes to size.

  Args:
    image: (H, W) float.
    size: output side.

  Returns:
    float32 (size, size), clipped to [0, 1] (bicubic overshoots).
  """
  side = min(image.shape)
  square = files.center_crop_or_pad(image, (side, side)).astype(np.float32)
  if side != size:
    resized = Image.fromarray(square).resize(
        (size, size), Image.Resampling.BICUBIC
    )
    square = np.asarray(resized, np.float32)
  return np.clip(square, 0, 1).astype(np.float32)
