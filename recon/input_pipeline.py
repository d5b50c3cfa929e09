"""Data for reconstruction training: sources, batches, host-side checks.

Records are dicts of numpy arrays. Image records carry `magnitude` (H, W)
float32 and a phase (`phase`, or the key `data.phase_field` names), or a
complex `image` (H, W); optional `sens` (C, H, W) complex coil maps and a
volume id. K-space records (fastMRI val) carry `kspace` (C, H, W) complex.

Sources come from `kspace.datasets` (TFDS builders); `data.name = "fake"` is a
small in-memory procedural set for tests and smoke runs. Batching uses
`kspace.datasets.batches` (restartable at a step) where available.
"""

from collections.abc import Iterator, Mapping, Sequence

import ml_collections
import numpy as np

from configs import base

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
  from kspace import datasets  # pylint: disable=g-import-not-at-top

  if not hasattr(datasets, "data_source"):
    raise ImportError(
        f"data.name={data.name!r} needs kspace.datasets, which is not"
        f" available in this checkout; use data.name={FAKE!r} or pass"
        " `sources`."
    )
  # Only the shared data fields go to the builders; ours stay here.
  shared = ml_collections.ConfigDict(
      {key: data[key] for key in base.get_data_config()}
  )
  return datasets.data_source(datasets.build_from_config(shared), split)


def batches(
    source: Sequence,
    batch_size: int,
    *,
    seed: int,
    shuffle: bool,
    start_step: int = 0,
    num_epochs: int | None = None,
    drop_remainder: bool = True,
) -> Iterator[dict[str, np.ndarray]]:
  """Per-process batches of stacked records, restartable: step s is the same
  batch whatever `start_step` the iteration began at.

  Uses `kspace.datasets.batches` when that module provides it; otherwise an
  equivalent in-process loop (numpy Generator permutation per epoch seeded by
  (seed, epoch), sharded by process).
  """
  try:
    from kspace import datasets  # pylint: disable=g-import-not-at-top

    shared_batches = datasets.batches
  except (ImportError, AttributeError):
    shared_batches = None
  if shared_batches is not None:
    yield from shared_batches(
        source,
        batch_size,
        seed=seed,
        shuffle=shuffle,
        start_step=start_step,
        num_epochs=num_epochs,
        drop_remainder=drop_remainder,
    )
    return
  import jax  # pylint: disable=g-import-not-at-top

  count = len(source)
  global_size = batch_size * jax.process_count()
  per_epoch = (
      count // global_size if drop_remainder else -(-count // global_size)
  )
  if per_epoch == 0:
    raise ValueError(
        f"{count} records cannot fill one batch of {global_size}; lower the"
        " batch size or add data."
    )
  offset = jax.process_index() * batch_size
  step = start_step
  while num_epochs is None or step < num_epochs * per_epoch:
    epoch, position = divmod(step, per_epoch)
    order = (
        np.random.default_rng((seed, epoch)).permutation(count)
        if shuffle
        else np.arange(count)
    )
    indices = order[position * global_size : (position + 1) * global_size]
    indices = indices[offset : offset + batch_size]
    records = [source[int(i)] for i in indices]
    yield {
        key: np.stack([np.asarray(r[key]) for r in records])
        for key in records[0]
    }
    step += 1


def model_inputs(
    batch: Mapping[str, np.ndarray],
    config: ml_collections.ConfigDict,
    prefer_kspace: bool = False,
) -> dict[str, np.ndarray]:
  """Selects and checks what the jitted step needs from a record batch.

  Complex `image` records are split into magnitude and phase. Only
  `magnitude`, the phase field (as `phase`), `sens`, or else `kspace`, are
  kept, so strings and labels never reach the device.

  Args:
    batch: stacked records.
    config: the recon config.
    prefer_kspace: use the records' measured `kspace` when they have one
      (evaluation on ground-truth k-space); training uses the images.

  Raises:
    ValueError: missing fields, inconsistent shapes, NaN/inf values.
  """
  batch = dict(batch)
  data = config.data
  if "image" in batch and "magnitude" not in batch:
    image = np.asarray(batch["image"])
    batch["magnitude"] = np.abs(image).astype(np.float32)
    batch.setdefault(data.phase_field, np.angle(image).astype(np.float32))
  if "kspace" in batch and (prefer_kspace or "magnitude" not in batch):
    out = {"kspace": np.asarray(batch["kspace"], np.complex64)}
    check_finite(out["kspace"], "kspace")
    return out
  if "magnitude" not in batch:
    raise ValueError(
        "Records need `magnitude` (or complex `image`, or `kspace`); got"
        f" {sorted(batch)}."
    )
  out = {"magnitude": np.asarray(batch["magnitude"], np.float32)}
  if data.phase_source == "ground_truth":
    if data.phase_field not in batch:
      raise ValueError(
          "data.phase_source='ground_truth' needs"
          f" records[{data.phase_field!r}] but the records have"
          f" {sorted(batch)}; set data.phase_field or another"
          " data.phase_source."
      )
    out["phase"] = np.asarray(batch[data.phase_field], np.float32)
    if out["phase"].shape != out["magnitude"].shape:
      raise ValueError(
          f"phase shape {out['phase'].shape} does not match magnitude shape"
          f" {out['magnitude'].shape}."
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
  return out


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
