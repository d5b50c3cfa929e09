"""PNG / TIFF / JPEG files (.png, .tif, .tiff, .jpg, .jpeg), read with Pillow.

Colour is converted to grayscale ("L"), 16-bit and float modes keep their
values; multi-page TIFFs give one slice per page (`read_image`).
"""

import numpy as np
from PIL import Image
from PIL import ImageSequence

from kspace.datasets import errors


def read_image(path: str) -> np.ndarray:
  """The grayscale frames (pages) of a PNG/TIFF/JPEG file.

  Args:
    path: the file.

  Returns:
    float64 (N, H, W).

  Raises:
    DatasetError: unreadable, or pages of different sizes.
  """
  try:
    with Image.open(path) as image:
      frames = []
      for frame in ImageSequence.Iterator(image):
        if frame.mode not in ("L", "I", "F") and not frame.mode.startswith(
            "I;16"
        ):
          frame = frame.convert("L")
        frames.append(np.asarray(frame, np.float64))
  except (OSError, ValueError, Image.DecompressionBombError) as e:
    raise errors.file_error(
        path,
        f"is not a readable image ({e}).",
        "re-export it or remove it from the folder.",
        reason="unreadable",
    ) from e
  if len({f.shape for f in frames}) != 1:
    raise errors.file_error(
        path,
        "has pages of different sizes.",
        "save one image per file.",
        reason="dimensions",
    )
  return np.stack(frames)
