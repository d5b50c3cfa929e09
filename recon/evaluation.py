"""Evaluation on ground-truth data (mode eval_recon, and the validation
during training): per-slice/per-volume metrics, figures.

Test records carry either a ground-truth complex image (magnitude + phase,
the synthetic `test` split: k-space is simulated with the true phase and
coil maps) or measured k-space (fastMRI val: masks are drawn here, or taken
from a `mask` field). Masks, coil rotations and noise come from keys fixed by
`eval.seed` and the batch index, so every model sees the same inputs.
"""

import json
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import matplotlib
import matplotlib.pyplot as plt
import ml_collections
import numpy as np
from etils import epath

from kspace import datasets
from recon import input_pipeline
from recon import metrics
from recon import simulate
from recon import state as state_lib
from recon.models import unet
from runtime import atomic
from runtime import metric_writers
from runtime import parallel
from runtime import stats
from runtime import train_loop

matplotlib.use("Agg")

METRICS = ("nmse", "psnr", "ssim")


def make_eval_step(model, config: ml_collections.ConfigDict) -> Callable:
  """`eval_step(params, batch, key) -> dict` of (B, H, W) float32 arrays.

  The dict holds `pred` (the model's reconstruction), `zero_filled` (RSS of
  the zero-filled coil images) and `target`; `batch` is
  `input_pipeline.eval_inputs`: the ground-truth image fields (simulated
  with the configured masks, coils and noise, and the records' own phase)
  or measured `kspace`. No phase source enters here.
  """
  simulate_fn = simulate.get_simulate_fn(config, phase_fn=None)
  undersample_fn = simulate.get_undersample_fn(config)

  def eval_step(params, batch, key):
    if "kspace" in batch:
      inputs = undersample_fn(key, batch["kspace"])
      if "mask" in batch:
        mask = batch["mask"].astype(jnp.float32)
        inputs = dict(
            inputs,
            mask=mask,
            masked_kspace=(mask[:, None] * batch["kspace"]).astype(
                jnp.complex64
            ),
        )
    else:
      inputs = simulate_fn(key, batch)
    pred = model.apply(
        {"params": params}, inputs["masked_kspace"], inputs["mask"]
    )
    return {
        "pred": pred,
        "target": inputs["target"],
        "zero_filled": unet.zero_filled_rss(inputs["masked_kspace"]),
    }

  return eval_step


def get_reconstruct_fn(model, num_coils: int) -> Callable:
  """A checked `reconstruct(params, masked_kspace, mask) -> (B, H, W)`.

  Validates on the host (coil count of the checkpoint, mask/k-space shapes,
  NaN/inf) before calling the jitted model, so bad input fails with a clear
  message instead of a NaN image or an XLA shape error.
  """
  apply_fn = jax.jit(
      lambda params, kspace, mask: model.apply({"params": params}, kspace, mask)
  )

  def reconstruct(params, masked_kspace, mask):
    input_pipeline.validate_kspace(masked_kspace, mask, num_coils)
    return apply_fn(
        params,
        jnp.asarray(masked_kspace, jnp.complex64),
        jnp.asarray(mask, jnp.float32),
    )

  return reconstruct


def run(
    config: ml_collections.ConfigDict,
    params,
    eval_step_fn: Callable,
    source: Sequence,
    mesh: jax.sharding.Mesh,
    num_batches: int | None,
    batch_size: int,
) -> dict[str, np.ndarray]:
  """Reconstructs (part of) a split.

  Args:
    config: the recon config.
    params: replicated model parameters.
    eval_step_fn: jitted `get_eval_step(...)` function.
    source: random-access records.
    mesh: the data mesh.
    num_batches: batches to run; None = all records.
    batch_size: global batch size (a multiple of the device count).

  Returns:
    dict of stacked numpy arrays in record order: pred, target, zero_filled
    (N, H, W), volume (N,) ids, and labels (N, H, W) and sequence (N,) when
    the records carry tissue labels and sequence families.
  """
  parallel.check_batch_size(batch_size)
  # Every process reads whole batches (an evaluation split is small) and
  # runs its share; the outputs are gathered back to every process.
  iterator = datasets.batches(
      source,
      batch_size,
      seed=config.eval.seed,
      shuffle=False,
      num_epochs=1,
      drop_remainder=False,
      process_index=0,
      process_count=1,
  )
  base_key = jax.random.key(config.eval.seed)
  outputs = {"pred": [], "target": [], "zero_filled": [], "volume": []}
  for index, records in enumerate(iterator):
    if num_batches is not None and index >= num_batches:
      break
    inputs, count = parallel.pad_to_multiple(
        input_pipeline.eval_inputs(records, config), batch_size
    )
    args = (
        params,
        parallel.shard_global_batch(inputs, mesh),
        jax.random.fold_in(base_key, index),
    )
    if index == 0:
      parallel.compile_together(eval_step_fn, *args)
    out = parallel.gather(eval_step_fn(*args))
    for name in ("pred", "target", "zero_filled"):
      outputs[name].append(np.asarray(out[name])[:count])
    if "labels" in records:  # tissue labels, for the hallucination counts
      outputs.setdefault("labels", []).append(np.asarray(records["labels"]))
    if "sequence" in records:  # the sequence family, to split tables by
      outputs.setdefault("sequence", []).append(np.asarray(records["sequence"]))
    field = config.data.volume_field
    if field in records:
      outputs["volume"].append(np.asarray(records[field]).astype(str))
    else:  # no volumes: every slice is its own volume
      start = index * batch_size
      outputs["volume"].append(np.arange(start, start + count).astype(str))
  if not outputs["pred"]:
    raise ValueError("The evaluation split is empty.")
  return {name: np.concatenate(values) for name, values in outputs.items()}


def slice_and_volume_metrics(
    outputs: dict[str, np.ndarray], recon_name: str = "pred"
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
  """Per-slice and per-volume NMSE/PSNR/SSIM of `outputs[recon_name]`.

  Returns:
    ({metric: (N,)}, {metric: (V,)}), volumes in order of first appearance.
  """
  volumes = outputs["volume"]
  names, first = np.unique(volumes, return_index=True)
  per_slice = jax.device_get(
      metrics.slice_metrics(outputs["target"], outputs[recon_name])
  )
  per_slice = {name: np.asarray(per_slice[name]) for name in METRICS}
  if len(names) == len(volumes):  # every slice is its own volume
    return per_slice, per_slice
  per_volume = {name: [] for name in METRICS}
  for volume in names[np.argsort(first)]:
    rows = volumes == volume
    scores = jax.device_get(
        metrics.volume_metrics(
            outputs["target"][rows], outputs[recon_name][rows]
        )
    )
    for name in METRICS:
      per_volume[name].append(scores[name])
  return per_slice, {
      name: np.asarray(values) for name, values in per_volume.items()
  }


def mean_and_ci(values, level: float) -> dict[str, float]:
  """A metric's mean and Student-t interval as the eval report stores it:
  {mean, ci_low, ci_high, half_width, n} (the interval NaN for fewer than
  two values)."""
  interval = stats.student_t(values, level)
  return {
      **interval.as_dict(),
      "half_width": (interval.high - interval.low) / 2,
      "n": float(len(values)),
  }


def summarize(outputs: dict[str, np.ndarray], level: float) -> dict:
  """Per-slice and per-volume NMSE/PSNR/SSIM of the model and of the
  zero-filled input, each with mean and `level` confidence interval.

  Returns:
    {"model"|"zero_filled": {"slice"|"volume": {metric: mean_and_ci}}}.
  """
  summary = {}
  for recon_name in ("pred", "zero_filled"):
    per_slice, per_volume = slice_and_volume_metrics(outputs, recon_name)
    summary["model" if recon_name == "pred" else "zero_filled"] = {
        "slice": {
            name: mean_and_ci(per_slice[name], level) for name in METRICS
        },
        "volume": {
            name: mean_and_ci(per_volume[name], level) for name in METRICS
        },
    }
  return summary


def plot_examples(
    outputs: dict[str, np.ndarray], num_examples: int, title: str
) -> plt.Figure:
  """Rows of zero-filled input, reconstruction, target and |error| map."""
  count = min(num_examples, outputs["pred"].shape[0])
  columns = ("zero-filled", "reconstruction", "target", "|error| (x5)")
  fig, axes = plt.subplots(
      count, len(columns), figsize=(3 * len(columns), 3 * count), squeeze=False
  )
  for row in range(count):
    target = outputs["target"][row]
    vmax = float(target.max())
    error = np.abs(outputs["pred"][row] - target)
    images = (outputs["zero_filled"][row], outputs["pred"][row], target, error)
    limits = ((0, vmax), (0, vmax), (0, vmax), (0, vmax / 5))
    for ax, name, image, (low, high) in zip(axes[row], columns, images, limits):
      ax.imshow(
          image, cmap="gray", vmin=low, vmax=high, interpolation="nearest"
      )
      ax.set_title(name, fontsize=9)
      ax.axis("off")
  fig.suptitle(title)
  fig.tight_layout()
  return fig


def write_report(
    summary: dict,
    outputs: dict[str, np.ndarray],
    directory: epath.Path,
    name: str,
    num_figure_examples: int,
) -> None:
  """Writes `<name>_metrics.json` and the `<name>.png` figure (process 0)."""
  if jax.process_index() != 0:
    return
  directory.mkdir(parents=True, exist_ok=True)
  # A crash never leaves a half-written file; the metrics JSON, written
  # last, marks a complete report.
  fig = plot_examples(outputs, num_figure_examples, name)
  with atomic.replacing(directory / f"{name}.png") as tmp:
    fig.savefig(str(tmp), dpi=100)
  plt.close(fig)
  with atomic.replacing(directory / f"{name}_metrics.json") as tmp:
    tmp.write_text(json.dumps(summary, indent=2))


@train_loop.cached_by_config("model", "forward", "data.image_size")
def get_eval_step(config: ml_collections.ConfigDict):
  """The jitted `make_eval_step` for the config's network (cached)."""
  return jax.jit(make_eval_step(state_lib.get_model(config), config))


def score(config, params, source, num_batches) -> tuple[dict, dict]:
  """(outputs, summary) of `evaluation.run` on `source`."""
  outputs = run(
      config,
      params,
      get_eval_step(config),
      source,
      parallel.create_mesh(),
      num_batches,
      config.eval.batch_size,
  )
  return outputs, summarize(outputs, config.eval.ci_level)


def report(config, workdir, params, source) -> dict:
  """Scores `eval.split`, writes its JSON summary and figure."""
  outputs, summary = score(config, params, source, config.eval.num_batches)
  write_report(
      summary,
      outputs,
      epath.Path(workdir) / "eval",
      f"{config.eval.split}_{config.model.name}",
      config.eval.num_figure_examples,
  )
  return summary


def evaluate(
    config: ml_collections.ConfigDict,
    workdir: str,
    *,
    sources: dict | None = None,
) -> dict:
  """Evaluates the newest checkpoint in `workdir` on `eval.split`.

  Writes `<workdir>/eval/<split>_<model>_metrics.json` (per-slice and
  per-volume NMSE/PSNR/SSIM with mean and confidence interval, for the model
  and the zero-filled input) and the `<split>_<model>.png` figure. The test
  records' own ground truth is used whatever `data.phase_source` says.

  Returns:
    The summary dict (see `evaluation.summarize`).

  Raises:
    CheckpointError: no checkpoint, or one for another config.
    ValueError: bad k-space (coil count, shapes, NaN).
  """
  step, restored, _ = train_loop.restore(
      workdir,
      state_lib.get_init_fn(config),
      state_lib.compatibility(config),
      parallel.create_mesh(),
      state_lib.TRAIN_MODE,
  )
  sources = input_pipeline.Sources(config, sources)
  summary = report(config, workdir, restored.params, sources[config.eval.split])
  writer = metric_writers.MetricWriter(workdir)
  try:
    writer.write_scalars(
        step,
        {
            f"{config.eval.split}/{name}": summary["model"]["volume"][name][
                "mean"
            ]
            for name in METRICS
        },
    )
  finally:
    writer.close()
  return summary
