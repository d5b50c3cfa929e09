"""Prepares a dataset and draws an overview figure of a few examples."""

import logging

import jax
import matplotlib
import matplotlib.pyplot as plt
import ml_collections
import numpy as np
from etils import epath

from kspace import coils
from kspace import datasets
from kspace import fft
from kspace import masks
from kspace import synthesize
from kspace.datasets import magnitude_registry
from runtime import atomic

matplotlib.use("Agg")


def build_dataset(data_config: ml_collections.ConfigDict):
  """Builds (or reuses) the TFDS dataset described by `config.data`."""
  return datasets.build_from_config(data_config)


def _columns(example: dict, num_coils: int) -> list[str]:
  """The panels a record can fill: the k-space panels need its phase."""
  columns = ["magnitude"]
  if "phase" in example:
    columns.append("phase (rad)")
  if "labels" in example:
    columns.append("tissue labels")
  if "phase" in example:
    columns += [
        f"log |k-space| ({num_coils} coils, RSS)",
        "4x random mask, zero-filled",
    ]
  return columns


def plot_examples(
    examples: list[dict[str, np.ndarray]], num_coils: int, seed: int
) -> plt.Figure:
  """One row per example of what the dataset has: magnitude; with a phase,
  the phase, multi-coil k-space (log RSS over coils) and the 4x
  zero-filled RSS image; tissue labels where present. A magnitude-only
  registry shows its magnitudes.

  Args:
    examples: records with `magnitude` (H, W) float32 and optionally
      `phase` and `labels` (H, W).
    num_coils: coils simulated (birdcage maps) for the k-space columns.
    seed: seeds the masks and coil rotations.

  Returns:
    The matplotlib figure.
  """
  columns = _columns(examples[0], num_coils)
  fig, axes = plt.subplots(
      len(examples),
      len(columns),
      figsize=(3.2 * len(columns), 3.2 * len(examples)),
      squeeze=False,
  )
  key = jax.random.key(seed)
  for row, example in zip(axes, examples):
    key, mask_key, coil_key = jax.random.split(key, 3)
    panels = {"magnitude": (example["magnitude"], "gray", None)}
    if "labels" in example:
      panels["tissue labels"] = (example["labels"], "tab10", None)
    if "phase" in example:
      shape = example["magnitude"].shape
      sens = coils.birdcage_maps(
          shape, num_coils, rotation=jax.random.uniform(coil_key) * 2 * np.pi
      )
      mask = masks.random_mask(mask_key, shape, 0.08, 4)
      out = synthesize.synthesize(
          example["magnitude"], example["phase"], mask, sens
      )
      kspace_rss = np.asarray(coils.rss(out["kspace"]))
      zero_filled = np.asarray(coils.rss(fft.ifft2c(out["masked_kspace"])))
      panels[columns[1]] = (example["phase"], "twilight", (-np.pi, np.pi))
      panels[columns[-2]] = (
          np.log1p(kspace_rss / kspace_rss.max() * 1e4),
          "viridis",
          None,
      )
      panels[columns[-1]] = (zero_filled, "gray", None)
    for ax, title in zip(row, columns):
      image, cmap, limits = panels[title]
      shown = ax.imshow(
          image,
          cmap=cmap,
          vmin=None if limits is None else limits[0],
          vmax=None if limits is None else limits[1],
          interpolation="nearest",
      )
      ax.set_title(title, fontsize=9)
      ax.axis("off")
      if cmap == "twilight":
        fig.colorbar(shown, ax=ax, fraction=0.046)
  fig.tight_layout()
  return fig


def save_figure(fig: plt.Figure, path: epath.Path) -> None:
  """Writes a PNG atomically (temporary name, then rename)."""
  path.parent.mkdir(parents=True, exist_ok=True)
  with atomic.replacing(path) as tmp:
    fig.savefig(tmp, dpi=100)
  plt.close(fig)


def prepare_data(config: ml_collections.ConfigDict, workdir: str) -> epath.Path:
  """Builds the configured dataset and writes `<workdir>/data_examples.png`.

  Returns:
    The path of the figure.
  """
  builder = build_dataset(config.data)
  source = datasets.data_source(builder, "train")
  count = min(config.num_figure_examples, len(source))
  examples = [source[i] for i in range(count)]
  path = epath.Path(workdir) / "data_examples.png"
  save_figure(
      plot_examples(examples, config.figure_num_coils, config.seed), path
  )
  logging.info(
      "Dataset %s ready in %s; figure written to %s",
      config.data.name,
      config.data.data_dir,
      path,
  )
  describe(builder)
  print(f"Figure: {path}")
  return path


def describe(builder) -> None:
  """Prints the dataset's splits (and a registry's manifest table)."""
  print(
      f"Dataset {builder.info.full_name}: "
      + ", ".join(
          f"{split} {info.num_examples}"
          for split, info in builder.info.splits.items()
      )
  )
  if builder.name == magnitude_registry.NAME:
    print(
        magnitude_registry.format_manifest(
            magnitude_registry.read_manifest(builder)
        )
    )
