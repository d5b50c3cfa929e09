"""Host-side checks of what a phase model is given: magnitude batches (and
with them the shared `kspace.common.normalize`: every magnitude a phase
model sees goes through `prepare_magnitude`) and training batches.

Imports no data layer, so a sampler or a loader (`score_phase.loading`)
runs where only JAX and the model code are installed (the GPU benchmark).
"""

from typing import Any

import numpy as np

from kspace.common import normalize
from score_phase import scan_params


def check_magnitude(
    magnitude: Any, image_size: int | None = None
) -> np.ndarray:
  """Validates a (B, H, W) magnitude batch; returns it as float32.

  Raises:
    ValueError: wrong rank, wrong size for the model, or NaN / inf / negative
      values (the message says what to fix).
  """
  magnitude = np.asarray(magnitude)
  if magnitude.ndim == 4 and magnitude.shape[-1] == 1:
    raise ValueError(
        f"magnitude has a channel axis {magnitude.shape}; pass (batch, H, W)"
        " single-channel magnitudes (squeeze the last axis)."
    )
  if magnitude.ndim != 3:
    raise ValueError(
        f"magnitude must be (batch, H, W), got shape {magnitude.shape}."
    )
  if image_size is not None and magnitude.shape[1:] != (image_size,) * 2:
    raise ValueError(
        f"magnitude images are {magnitude.shape[1:]}, but the model was"
        f" trained on {image_size}x{image_size}; crop or resize them (or"
        " use a checkpoint trained at that size)."
    )
  if not np.all(np.isfinite(magnitude)):
    raise ValueError(
        f"magnitude contains {np.sum(~np.isfinite(magnitude))} NaN/inf"
        " values; clean the input images."
    )
  if np.any(magnitude < 0):
    raise ValueError("magnitude must be >= 0 (got negative values).")
  return magnitude.astype(np.float32)


def prepare_magnitude(
    magnitude: Any, image_size: int | None = None
) -> np.ndarray:
  """`check_magnitude`, then the shared `kspace.common.normalize` per image: what
  every phase model (training, sampling, the recon arms' phases) sees."""
  return normalize.normalize_magnitude(check_magnitude(magnitude, image_size))


def check_batch(
    batch: dict, image_size: int, scan: bool = False
) -> dict[str, np.ndarray]:
  """Validates a training batch; returns {magnitude (normalised), phase},
  with `scan` also the scan condition (`scan_params.encode`)."""
  for key in ("magnitude", "phase"):
    if key not in batch:
      raise ValueError(f"Batch lacks {key!r}; it has {sorted(batch)}.")
  magnitude = prepare_magnitude(batch["magnitude"], image_size)
  phase = np.asarray(batch["phase"], np.float32)
  if phase.shape != magnitude.shape:
    raise ValueError(
        f"phase shape {phase.shape} != magnitude shape {magnitude.shape}."
    )
  if not np.all(np.isfinite(phase)):
    raise ValueError("phase contains NaN/inf values; clean the input.")
  checked = {"magnitude": magnitude, "phase": phase}
  if scan:
    checked.update(scan_params.encode(batch))
  return checked
