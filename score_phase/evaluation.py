"""Scores a phase model's samples on the validation split (--mode=sample_phase).

The SBDM and the naive baselines (`eval.baselines`) are scored on the same
images with the same metrics (`score_phase.metrics.phase_metrics`); figures
show magnitude, true phase, samples and their circular spread.
"""

import functools
import json
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from etils import epath

from runtime import atomic
from runtime import metric_writers
from runtime import parallel
from score_phase import figures
from score_phase import inference
from score_phase import input_pipeline
from score_phase import metrics as metrics_lib
from score_phase import phase_sources

FIGURE_DIR = "figures"


def write_figure(writer, workdir, step, magnitude, phase, samples, name):
  """Saves `figures/<name>_<step>.png` and logs it to TensorBoard.

  Args:
    writer: a MetricWriter.
    workdir: the run folder.
    step: the training step shown in the name.
    magnitude, phase: (B,H,W) host arrays.
    samples: (K,B,H,W) sampled phases.
    name: the figure's name.

  Returns:
    The PNG's path.
  """
  spread = np.asarray(metrics_lib.circular_std(jnp.asarray(samples)))
  image = figures.sample_figure(magnitude, phase, samples, spread)
  directory = epath.Path(workdir) / FIGURE_DIR
  directory.mkdir(parents=True, exist_ok=True)
  path = directory / f"{name}_{step:07d}.png"
  figures.save_png(image, str(path))
  writer.write_image(step, name, image)
  return path


@functools.lru_cache(maxsize=4)
def get_metrics_fn(background_threshold: float, center_fraction: float):
  """Jitted metrics(samples, phase, magnitude) with the eval constants."""
  return jax.jit(
      functools.partial(
          metrics_lib.phase_metrics,
          background_threshold=background_threshold,
          center_fraction=center_fraction,
      )
  )


def evaluate(
    config: ml_collections.ConfigDict,
    params,
    source: Sequence[dict],
    mesh,
):
  """Samples phases for the validation images and scores them.

  Args:
    config: the phase_sbdm config (its `sampling` block picks the sampler).
    params: the network parameters (replicated).
    source: validation records with magnitude and phase.
    mesh: the data mesh.

  Returns:
    (metrics: dict name -> float, averaged over images, including
    `baseline/<name>/...` for the naive guesses and `nfe`;
    figure data: (magnitude, phase, samples) of the first batch).
  """
  evaluation = config.eval
  sample_phase, nfe = inference.get_phase_sampler(config, mesh)
  score = get_metrics_fn(
      evaluation.background_threshold, evaluation.center_fraction
  )
  baseline_fns = {
      name: jax.jit(phase_sources.get_baseline(name))
      for name in evaluation.baselines
  }
  totals, count, first = {}, 0, None
  rng = jax.random.key(config.seed)
  for index, batch in enumerate(
      input_pipeline.eval_batches(
          source, evaluation.batch_size, evaluation.num_examples
      )
  ):
    magnitude = input_pipeline.prepare_magnitude(
        batch["magnitude"], config.data.image_size
    )
    phase = np.asarray(batch["phase"], np.float32)
    batch_rng = jax.random.fold_in(rng, index)
    samples = inference.sample_phases(
        sample_phase,
        batch_rng,
        params,
        magnitude,
        evaluation.num_samples,
        mesh,
    )
    results = {"sbdm": score(samples, phase, magnitude)}
    for name, phase_fn in baseline_fns.items():
      guesses = jnp.stack([
          phase_fn(jax.random.fold_in(batch_rng, k), magnitude)
          for k in range(evaluation.num_samples)
      ])
      results[f"baseline/{name}"] = score(guesses, phase, magnitude)
    for prefix, values in results.items():
      for key, value in values.items():
        name = key if prefix == "sbdm" else f"{prefix}/{key}"
        totals[name] = totals.get(name, 0.0) + float(np.sum(value))
    count += magnitude.shape[0]
    if first is None:
      first = (magnitude, phase, samples)
  summary = {key: value / count for key, value in totals.items()}
  summary["nfe"] = nfe
  summary["num_images"] = count
  return summary, first


def sample_and_evaluate(
    config: ml_collections.ConfigDict,
    workdir: str,
    *,
    val_source: Sequence[dict] | None = None,
) -> dict:
  """Loads the newest checkpoint, samples the validation split, scores it.

  Writes `<workdir>/sample_metrics_<sampler><steps>.json` and a figure
  `figures/val_samples_<sampler><steps>_<step>.png`.

  Returns:
    The metrics dict (see `evaluate`), plus `step`.

  Raises:
    CheckpointError: missing or incompatible checkpoint.
  """
  workdir = epath.Path(workdir)
  mesh = parallel.create_mesh()
  step, state = inference.restore_state(config, workdir, mesh)
  if val_source is None:
    val_source = input_pipeline.get_source(config.data, config.data.val_split)
  params = state.ema_params if config.eval.use_ema else state.params
  summary, (magnitude, phase, samples) = evaluate(
      config, params, val_source, mesh
  )
  summary["step"] = step
  tag = f"{config.sampling.name}{config.sampling.num_steps}"
  path = workdir / f"sample_metrics_{tag}.json"
  with atomic.replacing(path) as tmp:
    tmp.write_text(json.dumps(summary, indent=2, sort_keys=True))
  writer = metric_writers.MetricWriter(workdir)
  try:
    writer.write_scalars(step, {f"val/{k}": v for k, v in summary.items()})
    shown = min(config.eval.figure_examples, magnitude.shape[0])
    write_figure(
        writer,
        workdir,
        step,
        magnitude[:shown],
        phase[:shown],
        samples[: config.eval.figure_samples, :shown],
        f"val_samples_{tag}",
    )
  finally:
    writer.close()
  return summary
