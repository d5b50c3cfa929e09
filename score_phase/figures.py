"""Sample figures: magnitude, true phase, sampled phases, circular std."""

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np


def sample_figure(
    magnitude: np.ndarray,
    phase: np.ndarray,
    samples: np.ndarray,
    spread: np.ndarray,
) -> np.ndarray:
  """Renders a grid, one row per example, as an (H, W, 3) uint8 image.

  Args:
    magnitude: (B, H, W); phase: (B, H, W) ground truth;
    samples: (K, B, H, W) sampled phases; spread: (B, H, W) circular std.

  Returns:
    RGB uint8 image of the figure.
  """
  num_samples, batch = samples.shape[:2]
  columns = 3 + num_samples
  figure, axes = plt.subplots(
      batch, columns, figsize=(1.6 * columns, 1.6 * batch), squeeze=False
  )
  titles = (
      ["magnitude", "true phase"]
      + [f"sample {k + 1}" for k in range(num_samples)]
      + ["circ. std"]
  )
  for row in range(batch):
    panels = (
        [magnitude[row], phase[row]]
        + [samples[k, row] for k in range(num_samples)]
        + [spread[row]]
    )
    for column, panel in enumerate(panels):
      axis = axes[row, column]
      if column == 0:
        axis.imshow(panel, cmap="gray", vmin=0, vmax=max(panel.max(), 1e-6))
      elif column == columns - 1:
        axis.imshow(panel, cmap="magma", vmin=0, vmax=2.0)
      else:
        axis.imshow(panel, cmap="twilight", vmin=-np.pi, vmax=np.pi)
      axis.set_xticks([])
      axis.set_yticks([])
      if row == 0:
        axis.set_title(titles[column], fontsize=7)
  figure.tight_layout()
  buffer = io.BytesIO()
  figure.savefig(buffer, format="png", dpi=100)
  plt.close(figure)
  buffer.seek(0)
  return plt.imread(buffer, format="png")[..., :3]


def save_png(image: np.ndarray, path: str) -> None:
  """Writes an (H, W, 3) float [0, 1] image to `path`."""
  plt.imsave(path, np.clip(image, 0.0, 1.0))
