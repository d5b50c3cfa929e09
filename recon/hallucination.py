"""Hallucinated features: small structures a reconstruction adds or removes.

Definition (the experiment report quotes it):

  1. residual r = |recon| - |target| (magnitude images, per slice);
  2. blob response b = max over sigma in {1, 2} px of |sigma^2 LoG_sigma(r)|
     (the scale-normalised Laplacian of Gaussian: a small bright or dark
     spot the target does not have gives a peak near its own scale, while
     broad intensity errors and noise-like residue give little);
  3. counting region: inside tissue (label != air) and at least 2 px from
     every boundary between tissue labels, so edges that are merely
     blurred or shifted do not count;
  4. a hallucination is a connected component (8-neighbour) of
     {b > threshold} in that region with area >= 4 px. The threshold is
     fixed once per acceleration on `val`: the 99.9th percentile of b in
     the counting region of the ground-truth arm's reconstructions, so a
     net trained on real k-space makes ~0.1% of region pixels exceed it;
  5. each component is "near air/bone/fat" if it touches a pixel within
     `near_distance` px of those labels (where phase is most structured:
     susceptibility edges, chemical shift), "elsewhere" otherwise.

Without tissue labels (measured data) the region is the target above 10% of
its robust scale, eroded by 2 px, and every component counts as elsewhere.
Host-side numpy / scipy.ndimage.
"""

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

SIGMAS = (1.0, 2.0)
MIN_AREA = 4
BOUNDARY_MARGIN = 2
PERCENTILE = 99.9
# Of the target's 99.5th percentile, for data without labels.
TISSUE_LEVEL = 0.1


def blob_response(residual: np.ndarray) -> np.ndarray:
  """(H, W) max over `SIGMAS` of |sigma^2 LoG_sigma(residual)|."""
  residual = np.asarray(residual, np.float64)
  return np.max(
      [
          np.abs(s**2 * ndimage.gaussian_laplace(residual, s, mode="nearest"))
          for s in SIGMAS
      ],
      axis=0,
  )


def counting_region(
    target: np.ndarray, labels: np.ndarray | None, air_label: int = 0
) -> np.ndarray:
  """(H, W) bool: tissue at least `BOUNDARY_MARGIN` px from label edges."""
  if labels is None:
    tissue = target > TISSUE_LEVEL * np.percentile(target, 99.5)
    return ndimage.binary_erosion(tissue, iterations=BOUNDARY_MARGIN)
  labels = np.asarray(labels)
  edges = np.zeros(labels.shape, bool)
  edges[:-1] |= labels[:-1] != labels[1:]
  edges[1:] |= labels[:-1] != labels[1:]
  edges[:, :-1] |= labels[:, :-1] != labels[:, 1:]
  edges[:, 1:] |= labels[:, :-1] != labels[:, 1:]
  far = ndimage.distance_transform_edt(~edges) >= BOUNDARY_MARGIN
  return (labels != air_label) & far


def near_mask(
    labels: np.ndarray | None, near_labels: Sequence[int], distance: int
) -> np.ndarray | None:
  """(H, W) bool: within `distance` px of any of `near_labels`."""
  if labels is None or not near_labels:
    return None
  hits = np.isin(labels, near_labels)
  return ndimage.distance_transform_edt(~hits) <= distance


def count(
    response: np.ndarray,
    region: np.ndarray,
    threshold: float,
    near: np.ndarray | None,
) -> tuple[int, int]:
  """(near, elsewhere) components of {response > threshold} in region."""
  components, num = ndimage.label(
      (response > threshold) & region, structure=np.ones((3, 3))
  )
  if num == 0:
    return 0, 0
  index = np.arange(1, num + 1)
  areas = ndimage.sum_labels(np.ones_like(response), components, index)
  keep = areas >= MIN_AREA
  if near is None:
    return 0, int(keep.sum())
  touches = ndimage.maximum(near.astype(float), components, index) > 0
  return int((keep & touches).sum()), int((keep & ~touches).sum())


def region_responses(
    pred: np.ndarray, target: np.ndarray, labels: np.ndarray | None
) -> np.ndarray:
  """Blob responses in the counting regions of a stack, flattened.

  Args:
    pred, target: (N, H, W) magnitudes.
    labels: (N, H, W) tissue labels, or None.
  """
  values = [
      blob_response(p - t)[
          counting_region(t, None if labels is None else labels[i])
      ]
      for i, (p, t) in enumerate(zip(pred, target))
  ]
  return np.concatenate(values) if values else np.zeros(0)


def threshold(responses: np.ndarray) -> float:
  """The `PERCENTILE`-th percentile of the ground-truth arm's responses."""
  if responses.size == 0:
    raise ValueError("No counting-region pixels to fix the threshold on.")
  return float(np.percentile(responses, PERCENTILE))


def count_stack(
    pred: np.ndarray,
    target: np.ndarray,
    labels: np.ndarray | None,
    threshold_value: float,
    near_labels: Sequence[int] = (),
    near_distance: int = 3,
) -> dict[str, np.ndarray]:
  """Per-slice hallucination counts of a stack.

  Returns:
    {"near": (N,), "elsewhere": (N,), "total": (N,)} int counts; "near"
    is near air/bone/fat (`near_labels`).
  """
  near_counts, other_counts = [], []
  for i, (p, t) in enumerate(zip(pred, target)):
    slice_labels = None if labels is None else labels[i]
    near, other = count(
        blob_response(p - t),
        counting_region(t, slice_labels),
        threshold_value,
        near_mask(slice_labels, near_labels, near_distance),
    )
    near_counts.append(near)
    other_counts.append(other)
  near_counts, other_counts = np.array(near_counts), np.array(other_counts)
  return {
      "near": near_counts,
      "elsewhere": other_counts,
      "total": near_counts + other_counts,
  }
