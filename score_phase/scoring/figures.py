"""Sample figures: magnitude, true phase, sampled phases, circular std;
and the truth beside every source's samples."""

import io
from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np


def _render(panels: list[list[tuple[np.ndarray, str]]], titles: list[str]):
  """A grid of (image, kind) panels, kind gray | phase | spread, as RGB."""
  rows, columns = len(panels), len(titles)
  figure, axes = plt.subplots(
      rows, columns, figsize=(1.6 * columns, 1.6 * rows), squeeze=False
  )
  for row, row_panels in enumerate(panels):
    for column, (panel, kind) in enumerate(row_panels):
      axis = axes[row, column]
      if kind == "gray":
        axis.imshow(panel, cmap="gray", vmin=0, vmax=max(panel.max(), 1e-6))
      elif kind == "spread":
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
  titles = (
      ["magnitude", "true phase"]
      + [f"sample {k + 1}" for k in range(num_samples)]
      + ["circ. std"]
  )
  panels = [
      [(magnitude[row], "gray"), (phase[row], "phase")]
      + [(samples[k, row], "phase") for k in range(num_samples)]
      + [(spread[row], "spread")]
      for row in range(batch)
  ]
  return _render(panels, titles)


def comparison_figure(
    magnitude: np.ndarray,
    phase: np.ndarray,
    sources: Mapping[str, np.ndarray],
) -> np.ndarray:
  """Truth and each source's samples side by side, one row per example.

  Args:
    magnitude: (B, H, W); phase: (B, H, W) ground truth;
    sources: name -> (k, B, H, W) phases to show (k may differ per source).

  Returns:
    RGB image of the figure.
  """
  titles = ["magnitude", "true phase"]
  for name, phases in sources.items():
    titles += [
        name if len(phases) == 1 else f"{name} {k + 1}"
        for k in range(len(phases))
    ]
  panels = [
      [(magnitude[row], "gray"), (phase[row], "phase")]
      + [
          (phases[k, row], "phase")
          for phases in sources.values()
          for k in range(len(phases))
      ]
      for row in range(magnitude.shape[0])
  ]
  return _render(panels, titles)


def save_png(image: np.ndarray, path: str) -> None:
  """Writes an (H, W, 3) float [0, 1] image to `path`."""
  plt.imsave(path, np.clip(image, 0.0, 1.0))
