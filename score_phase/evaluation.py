"""Scores a phase model's samples on the validation split (--mode=sample_phase).

The SBDM and the naive baselines (`eval.baselines`) are scored on the same
images with the same metrics (`score_phase.scoring.point_metrics.phase_metrics`); figures
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

from kspace.common import config_errors
from runtime import atomic
from runtime import metric_writers
from runtime import parallel
from score_phase import batch_checks
from score_phase import input_pipeline
from score_phase import loading
from score_phase import scan_params
from score_phase.sbdm import diagnostics
from score_phase.sbdm import loading as sbdm_loading
from score_phase.sbdm import state as sbdm_state
from score_phase.scoring import distributions
from score_phase.scoring import figures
from score_phase.scoring import point_metrics
from score_phase.scoring import sampler_scores
from score_phase.sources import baselines
from score_phase.sources import lookup

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
  spread = np.asarray(point_metrics.circular_std(jnp.asarray(samples)))
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
          point_metrics.phase_metrics,
          background_threshold=background_threshold,
          center_fraction=center_fraction,
      )
  )


# Oracle rows of the table: what `generate_example` redraws for each.
ORACLES = {
    "oracle_a": "hidden",
    "oracle_a_unrevealed": "unrevealed",
    "oracle_b": "acquisition",
}


def _oracle_fns(config, records) -> dict:
  """The `eval.oracles` phase_fns bound to a batch of synthetic records.

  Empty for other data (the oracle rescans a synthetic anatomy).
  """
  if config.data.name != "synthetic_mri" or any(
      "index" not in r for r in records
  ):
    return {}
  return {
      name: lookup.get_phase_fn(
          "oracle",
          records=records,
          split=config.data.val_split,
          dataset_seed=config.data.seed,
          redraw=ORACLES[name],
      )
      for name in config.eval.oracles
  }


def evaluate(
    config: ml_collections.ConfigDict,
    params,
    source: Sequence[dict],
    mesh,
):
  """Samples phases for the validation images and scores every source.

  Sources, all drawn K = eval.num_samples times per image: the SBDM told
  no scan parameters ("sbdm", to read against oracle_b) and, for a
  scan-conditioned model, told each record's ("sbdm_scan", against
  oracle_a), the naive baselines (`eval.baselines`), the GAN when
  `eval.gan_workdir` names a trained one, other trained SBDMs named by
  `eval.compare_sbdm_workdirs` ("sbdm_<folder name>", told no scan
  parameters, sampled with the SBDM's sampler and noise: ablations), and
  on synthetic data the oracles (`eval.oracles`).

  Args:
    config: the phase_sbdm config (its `sampling` block picks the sampler).
    params: the network parameters (replicated).
    source: validation records with magnitude and phase.
    mesh: the data mesh.

  Returns:
    (metrics: dict name -> float, averaged over images, including
    `baseline/<name>/...` for the naive guesses, `nfe`, and "scores": the
    proper-score table of every source (`sampler_scores.summarize`, paired
    against the SBDM);
    figure data: (magnitude, phase, {source: samples}) of the first batch).
  """
  evaluation = config.eval
  for name in evaluation.oracles:
    config_errors.check_choice("eval.oracles", name, ORACLES)
  sample_phase, nfe = sbdm_loading.get_phase_sampler(config, mesh)
  score = get_metrics_fn(
      evaluation.background_threshold, evaluation.center_fraction
  )
  phase_fns = {
      name: jax.jit(baselines.get_baseline(name))
      for name in evaluation.baselines
  }
  if evaluation.gan_workdir:
    phase_fns["gan"] = lookup.get_phase_fn(
        "gan", workdir=evaluation.gan_workdir
    )
  others = {
      f"sbdm_{epath.Path(run).name}": _other_sbdm(config, run, mesh)
      for run in evaluation.compare_sbdm_workdirs
  }
  accumulator = sampler_scores.Accumulator()
  totals, count, first = {}, 0, None
  header_batches = []
  rng = jax.random.key(config.seed)
  for index, records in enumerate(
      input_pipeline.eval_records(
          source, evaluation.batch_size, evaluation.num_examples
      )
  ):
    magnitude = batch_checks.prepare_magnitude(
        np.stack([r["magnitude"] for r in records]), config.data.image_size
    )
    phase = jnp.asarray(np.stack([r["phase"] for r in records]), jnp.float32)
    labels = None
    if all("labels" in r for r in records):
      labels = jnp.asarray(np.stack([r["labels"] for r in records]), jnp.int32)
    batch_rng = jax.random.fold_in(rng, index)
    sample_sbdm = lambda scan=None: loading.sample_phases(
        sample_phase,
        batch_rng,
        params,
        magnitude,
        evaluation.num_samples,
        mesh,
        scan=scan,
    )
    samples = {"sbdm": sample_sbdm()}
    for name, (other_sampler, other_params) in others.items():
      # The SBDM's noise: the paired difference is the models' alone.
      samples[name] = loading.sample_phases(
          other_sampler,
          batch_rng,
          other_params,
          magnitude,
          evaluation.num_samples,
          mesh,
      )
    if config.model.scan_conditioning:
      # The same noise, now told the records' scan parameters.
      scan = scan_params.encode_records(records)
      samples["sbdm_scan"] = sample_sbdm(scan)
      if magnitude.shape[0] > 1:
        header_batches.append({"magnitude": magnitude, "phase": phase, **scan})
    for offset, (name, phase_fn) in enumerate(
        {**phase_fns, **_oracle_fns(config, records)}.items()
    ):
      samples[name] = loading.draw_phases(
          phase_fn,
          jax.random.fold_in(batch_rng, offset + 1),
          magnitude,
          evaluation.num_samples,
      )
    deltas = sampler_scores.deltas_for(phase.shape)
    for name, phases in samples.items():
      accumulator.add(
          name,
          *sampler_scores.score_batch(phases, phase, magnitude, labels, deltas),
      )
      if name == "sbdm" or name in evaluation.baselines:
        prefix = "" if name == "sbdm" else f"baseline/{name}/"
        for key, value in score(phases, phase, magnitude).items():
          totals[prefix + key] = totals.get(prefix + key, 0.0) + float(
              np.sum(value)
          )
    if labels is not None:
      accumulator.add_truth(
          distributions.difference_histograms(phase[None], magnitude, labels)
      )
    count += magnitude.shape[0]
    if first is None:
      first = (magnitude, phase, samples)
  summary = {key: value / count for key, value in totals.items()}
  summary["nfe"] = nfe
  summary["num_images"] = count
  summary["scores"] = sampler_scores.summarize(
      accumulator, reference="sbdm", level=evaluation.ci_level
  )
  if header_batches:
    summary["header_losses"] = diagnostics.summarize(
        diagnostics.header_losses(
            config,
            params,
            header_batches,
            jax.random.fold_in(rng, len(header_batches) + 1),
        ),
        evaluation.ci_level,
    )
  return summary, first


def _other_sbdm(config, run: str, mesh):
  """(sampler, parameters) of another trained SBDM run (its own network,
  this config's sampler and EMA choice), for an ablation scored on the
  same images with the same noise."""
  other = loading.read_config(run, sbdm_state.TRAIN_MODE)
  other.sampling = ml_collections.ConfigDict(config.sampling.to_dict())
  sampler, _ = sbdm_loading.get_phase_sampler(other, mesh)
  _, state = sbdm_state.restore_state(other, run, mesh)
  return sampler, state.ema_params if config.eval.use_ema else state.params


def _comparison_sources(samples: dict, count: int) -> dict:
  """What the comparison figure shows: 4 SBDM samples, 2 of each oracle,
  1 of every other source."""
  shown = {"sbdm": 4, "sbdm_scan": 2, **{name: 2 for name in ORACLES}}
  return {
      name: np.asarray(phases[: shown.get(name, 1), :count])
      for name, phases in samples.items()
  }


def sample_and_evaluate(
    config: ml_collections.ConfigDict,
    workdir: str,
    *,
    val_source: Sequence[dict] | None = None,
) -> dict:
  """Loads the newest checkpoint, samples the validation split, scores it.

  Writes `<workdir>/sample_metrics_<sampler><steps>.json`, the proper-score
  table `sample_scores_<sampler><steps>.md` (also printed; "_<split>" is
  appended to the tag when `data.val_split` is not validation, e.g. train
  images to compare with), and figures
  `figures/val_samples_<sampler><steps>_<step>.png` (SBDM samples) and
  `figures/val_sources_<sampler><steps>_<step>.png` (the truth beside 4 SBDM
  samples, 2 draws of each oracle and every other source).

  Returns:
    The metrics dict (see `evaluate`), plus `step`.

  Raises:
    CheckpointError: missing or incompatible checkpoint.
  """
  workdir = epath.Path(workdir)
  mesh = parallel.create_mesh()
  step, state = sbdm_state.restore_state(config, workdir, mesh)
  if val_source is None:
    val_source = input_pipeline.get_source(config.data, config.data.val_split)
  params = state.ema_params if config.eval.use_ema else state.params
  summary, (magnitude, phase, sources) = evaluate(
      config, params, val_source, mesh
  )
  samples = sources["sbdm"]
  summary["step"] = step
  tag = f"{config.sampling.name}{config.sampling.num_steps}"
  if config.data.val_split != "validation":  # e.g. train: memorisation
    tag += f"_{config.data.val_split}"
  path = workdir / f"sample_metrics_{tag}.json"
  with atomic.replacing(path) as tmp:
    tmp.write_text(json.dumps(summary, indent=2, sort_keys=True))
  table = sampler_scores.markdown(summary["scores"])
  if "header_losses" in summary:
    table += (
        "\nThe header test (score_phase.sbdm.diagnostics): denoising loss"
        " told each record's scan parameters, another record's, or none;"
        " same noise.\n\n"
        + diagnostics.markdown(summary["header_losses"])
    )
  with atomic.replacing(workdir / f"sample_scores_{tag}.md") as tmp:
    tmp.write_text(table)
  print(table)
  writer = metric_writers.MetricWriter(workdir)
  try:
    writer.write_scalars(
        step,
        {
            f"val/{k}": v
            for k, v in summary.items()
            if isinstance(v, (int, float))
        },
    )
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
    comparison = figures.comparison_figure(
        np.asarray(magnitude[:shown]),
        np.asarray(phase[:shown]),
        _comparison_sources(sources, shown),
    )
    figures.save_png(
        comparison,
        str(workdir / FIGURE_DIR / f"val_sources_{tag}_{step:07d}.png"),
    )
    writer.write_image(step, f"val_sources_{tag}", comparison)
  finally:
    writer.close()
  return summary
