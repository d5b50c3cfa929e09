"""Data for reconstruction training: sources, batches, host-side checks.

Records are dicts of numpy arrays. Image records carry `magnitude` (H, W)
float32 and a phase (`phase`, or the key `data.phase_field` names), or a
complex `image` (H, W); optional `sens` (C, H, W) complex coil maps and a
volume id. K-space records (fastMRI val) carry `kspace` (C, H, W) complex.

Sources come from `kspace.datasets` (TFDS builders); `data.name = "fake"` is a
small in-memory procedural set for tests and smoke runs. Batches come from
`kspace.datasets.batches` (restartable at a step).

Training and evaluation read different phases: a net trains on the phase
its arm provides (`data.phase_field` of the records, or an injected phase
function), but is always evaluated on the records' own ground truth (their
`phase` or complex `image`, or measured `kspace`).
"""

from collections.abc import Mapping, Sequence

import ml_collections
import numpy as np

from kspace import coils
from kspace import datasets
from kspace import fft
from kspace.common import normalize

# The records' own (ground-truth) phase field.
GROUND_TRUTH_FIELD = "phase"

FAKE = "fake"
SPLITS = ("train", "validation", "test")


def fake_records(num: int, image_size: int, seed: int) -> list[dict]:
  """Procedural magnitude/phase records: random ellipses, smooth phase.

  Args:
    num: number of records.
    image_size: square size (pixels).
    seed: numpy Generator seed.

  Returns:
    list of dicts with `magnitude`, `phase` (H, W) float32 in [0, 1] and
    (-pi, pi], and `labels` (H, W) uint8.
  """
  rng = np.random.default_rng(seed)
  grid = (np.arange(image_size) - image_size / 2) / (image_size / 2)
  y, x = np.meshgrid(grid, grid, indexing="ij")
  records = []
  for _ in range(num):
    magnitude = np.zeros((image_size, image_size), np.float32)
    labels = np.zeros((image_size, image_size), np.uint8)
    for label in range(1, 5):
      cy, cx = rng.uniform(-0.4, 0.4, 2)
      ry, rx = rng.uniform(0.15, 0.6, 2)
      inside = ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 < 1
      magnitude[inside] = rng.uniform(0.2, 1.0)
      labels[inside] = label
    coeffs = rng.normal(size=4)
    phase = (
        coeffs[0]
        + coeffs[1] * x
        + coeffs[2] * y
        + coeffs[3] * x * y
        + 0.5 * labels
    )
    records.append({
        "magnitude": magnitude,
        "phase": np.angle(np.exp(1j * phase)).astype(np.float32),
        "labels": labels,
    })
  return records


def get_source(config: ml_collections.ConfigDict, split: str) -> Sequence:
  """A random-access source (len, [i] -> record dict) for `split`."""
  data = config.data
  if split not in SPLITS:
    raise ValueError(f"Unknown split {split!r}; use one of {SPLITS}.")
  if data.name == FAKE:
    sizes = dict(zip(SPLITS, (data.num_train, data.num_val, data.num_test)))
    return fake_records(
        sizes[split], data.image_size, data.seed + SPLITS.index(split)
    )
  return datasets.data_source(datasets.build_from_config(data), split)


class Sources(dict):
  """{split: records}, filled from the configured dataset on first use."""

  def __init__(self, config, given):
    super().__init__(given or {})
    self._config = config

  def __missing__(self, split):
    self[split] = get_source(self._config, split)
    return self[split]


def _complex_to_polar(batch: dict) -> dict:
  """Splits complex `image` records into magnitude and (true) phase."""
  if "image" in batch and "magnitude" not in batch:
    image = np.asarray(batch["image"])
    batch["magnitude"] = np.abs(image).astype(np.float32)
    batch.setdefault(GROUND_TRUTH_FIELD, np.angle(image).astype(np.float32))
  return batch


def image_inputs(
    batch: Mapping[str, np.ndarray],
    config: ml_collections.ConfigDict,
    phase_field: str | None,
) -> dict[str, np.ndarray]:
  """Selects and checks what the jitted step needs from a record batch.

  Only `magnitude` (normalised per image by `kspace.common.normalize`), the phase
  field (as `phase`) and `sens` are kept, so strings and labels never reach
  the device.

  Args:
    batch: stacked records (magnitude + phase fields, or complex `image`).
    config: the recon config (for the coil count).
    phase_field: the record key whose phase the step uses, or None when
      the phase is made in the step (an injected phase function).

  Raises:
    ValueError: missing fields, inconsistent shapes, NaN/inf values.
  """
  batch = _complex_to_polar(dict(batch))
  if "magnitude" not in batch:
    raise ValueError(
        "Records need `magnitude` (or complex `image`, or `kspace`); got"
        f" {sorted(batch)}."
    )
  out = {"magnitude": np.asarray(batch["magnitude"], np.float32)}
  if phase_field is not None:
    if phase_field not in batch:
      raise ValueError(
          f"The records have no phase field {phase_field!r} (they have"
          f" {sorted(batch)}); set data.phase_field, or train with a phase"
          " source (data.phase_source)."
      )
    out["phase"] = np.asarray(batch[phase_field], np.float32)
    shape, image_shape = out["phase"].shape, out["magnitude"].shape
    # (B, H, W), or (B, K, H, W): K pre-synthesized phases per image, of
    # which the step draws one per example.
    if shape != image_shape and (
        len(shape) != 4 or shape[:1] + shape[2:] != image_shape
    ):
      raise ValueError(
          f"phase shape {shape} does not match magnitude shape"
          f" {image_shape}: expected (B, H, W) or (B, K, H, W)."
      )
  if "sens" in batch:
    out["sens"] = np.asarray(batch["sens"], np.complex64)
    if out["sens"].shape[-2:] != out["magnitude"].shape[-2:]:
      raise ValueError(
          f"coil maps {out['sens'].shape} do not match images"
          f" {out['magnitude'].shape}."
      )
    if out["sens"].shape[1] != config.forward.num_coils:
      raise ValueError(
          f"The records carry {out['sens'].shape[1]} coil maps but"
          f" forward.num_coils is {config.forward.num_coils}; set it to the"
          " dataset's coil count."
      )
  for name, array in out.items():
    check_finite(array, name)
  out["magnitude"] = normalize.normalize_magnitude(out["magnitude"])
  return out


def eval_inputs(
    batch: Mapping[str, np.ndarray], config: ml_collections.ConfigDict
) -> dict[str, np.ndarray]:
  """The ground truth of test records, whatever the net trained on.

  Measured `kspace` (plus `mask` if the records carry one) when present,
  else the records' own complex image (magnitude and true `phase`) and coil
  maps. Never a synthesized phase: every arm is scored on the same truth.
  """
  if "kspace" in batch:
    out = {"kspace": np.asarray(batch["kspace"], np.complex64)}
    validate_kspace(out["kspace"], batch.get("mask"), config.forward.num_coils)
    if "mask" in batch:
      out["mask"] = np.asarray(batch["mask"], np.float32)
    # The shared normalisation, by the fully sampled RSS image's scale.
    target = coils.rss(fft.ifft2c(out["kspace"]))
    scale = normalize.robust_scale(np.asarray(target))
    out["kspace"] = (out["kspace"] / scale[:, None, None, None]).astype(
        np.complex64
    )
    return out
  return image_inputs(batch, config, GROUND_TRUTH_FIELD)


def check_finite(array: np.ndarray, name: str) -> None:
  """Raises ValueError if `array` holds NaN or inf (host-side, before jit)."""
  if not np.all(np.isfinite(array)):
    bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
    raise ValueError(
        f"Input `{name}` contains {bad} NaN/inf values (shape"
        f" {np.shape(array)}); clean or drop these records."
    )


def validate_kspace(
    kspace: np.ndarray, mask: np.ndarray | None, num_coils: int
) -> None:
  """Checks k-space given to a trained model.

  Args:
    kspace: (B, C, H, W) complex k-space.
    mask: (B, H, W) sampling mask, or None when masks are drawn here.
    num_coils: coils the checkpoint was trained with.

  Raises:
    ValueError: wrong rank or coil count, mask/k-space shape mismatch,
      NaN/inf values.
  """
  kspace = np.asarray(kspace)
  if kspace.ndim != 4:
    raise ValueError(
        f"k-space must be (batch, coils, H, W), got shape {kspace.shape}."
    )
  if kspace.shape[1] != num_coils:
    raise ValueError(
        f"k-space has {kspace.shape[1]} coils but the model was trained with"
        f" {num_coils} (forward.num_coils); use matching data or a checkpoint"
        " trained for this coil count."
    )
  if mask is not None and np.shape(mask) != kspace.shape[:1] + kspace.shape[2:]:
    raise ValueError(
        f"mask shape {np.shape(mask)} does not match k-space shape"
        f" {kspace.shape}: expected (batch, H, W) ="
        f" {kspace.shape[:1] + kspace.shape[2:]}."
    )
  check_finite(kspace, "kspace")
