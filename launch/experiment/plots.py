"""The experiment report's figures: phase samples per source, test
reconstructions per arm, and the pre-flight k-space spectra."""

import matplotlib.pyplot as plt
import numpy as np
from etils import epath

from runtime import atomic


def phase_figure(stores: dict, count: int) -> plt.Figure:
  """Rows: images; columns: magnitude, true phase, one sample per source."""
  arms = list(stores)
  first = stores[arms[0]]
  count = min(count, len(first))
  columns = ["magnitude", "true phase"] + arms
  fig, axes = plt.subplots(
      count,
      len(columns),
      figsize=(2.2 * len(columns), 2.3 * count),
      squeeze=False,
  )
  for row in range(count):
    record = first[row]
    panels = [(record["magnitude"], "gray", None)]
    truth = record.get("true_phase")
    panels.append((
        truth if truth is not None else np.zeros_like(record["magnitude"]),
        "twilight",
        (-np.pi, np.pi),
    ))
    panels += [
        (stores[a][row]["phases"][0], "twilight", (-np.pi, np.pi)) for a in arms
    ]
    for ax, title, (image, cmap, limits) in zip(axes[row], columns, panels):
      ax.imshow(
          image,
          cmap=cmap,
          interpolation="nearest",
          vmin=None if limits is None else limits[0],
          vmax=None if limits is None else limits[1],
      )
      ax.set_title(title, fontsize=8)
      ax.axis("off")
  fig.suptitle("Phase of the same recon_train images, one sample per source")
  fig.tight_layout()
  return fig


def recon_figure(arms: dict, r_key: str) -> plt.Figure:
  """Rows: arms (+ target); columns: test slices, recon and |error| x5."""
  names = list(arms)
  figure = arms[names[0]]["figure"]
  count = figure["target"].shape[0]
  fig, axes = plt.subplots(
      len(names) + 1,
      2 * count,
      figsize=(2.0 * 2 * count, 2.1 * (len(names) + 1)),
      squeeze=False,
  )
  for col in range(count):
    target = figure["target"][col]
    vmax = float(target.max())
    axes[0, 2 * col].imshow(target, cmap="gray", vmin=0, vmax=vmax)
    axes[0, 2 * col].set_title(f"target {col}", fontsize=8)
    axes[0, 2 * col + 1].imshow(
        figure["zero_filled"][col], cmap="gray", vmin=0, vmax=vmax
    )
    axes[0, 2 * col + 1].set_title("zero-filled", fontsize=8)
    for row, arm in enumerate(names, start=1):
      pred = arms[arm]["figure"]["pred"][col]
      axes[row, 2 * col].imshow(pred, cmap="gray", vmin=0, vmax=vmax)
      axes[row, 2 * col].set_title(arm, fontsize=8)
      axes[row, 2 * col + 1].imshow(
          np.abs(pred - target), cmap="magma", vmin=0, vmax=vmax / 5
      )
      axes[row, 2 * col + 1].set_title("|error| x5", fontsize=8)
  for ax in axes.flat:
    ax.axis("off")
  fig.suptitle(f"Test reconstructions at {r_key} (first seed of each arm)")
  fig.tight_layout()
  return fig


def spectrum_figure(spectra: dict) -> plt.Figure:
  """Each arm's mean radial k-space power (`tables.preflight`), and its
  ratio to the truth's."""
  fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
  truth = np.asarray(spectra["truth"])
  radius = np.arange(truth.size)
  for name, values in spectra.items():
    values = np.asarray(values)
    style = {"color": "black", "lw": 2} if name == "truth" else {}
    left.semilogy(radius, values, label=name, **style)
    right.semilogy(radius, values / np.maximum(truth, 1e-30), **style)
  left.set(
      xlabel="k-space radius (samples)",
      ylabel="share of energy",
      title="Radial power of the training k-space",
  )
  right.set(xlabel="k-space radius (samples)", title="Ratio to the truth's")
  right.axhline(1.0, color="gray", lw=0.5)
  left.legend(fontsize=7)
  fig.tight_layout()
  return fig


def save(fig: plt.Figure, path: epath.Path) -> None:
  path.parent.mkdir(parents=True, exist_ok=True)
  with atomic.replacing(path) as tmp:
    fig.savefig(str(tmp), dpi=90)
  plt.close(fig)
