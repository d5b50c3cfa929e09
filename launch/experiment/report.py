"""The experiment's report, from the stage outputs: figures, then
`results.json`, then `report.md` (written last, so a report exists only
when everything it shows does). The numbers and tables are
`launch.experiment.tables`', the figures `launch.experiment.plots`'."""

import json

from etils import epath

from launch.experiment import layout
from launch.experiment import plots
from launch.experiment import tables
from recon import hallucination
from runtime import atomic


def write(
    config, workdir, stores, roles, thresholds, phase_models
) -> epath.Path:
  """Writes figures, results.json, then report.md; returns its path.

  phase_models: {arm: {"run": directory, "step": checkpoint step}} of the
  learned phase models whose samples the arms trained on.
  """
  workdir = epath.Path(workdir)
  evaluations = tables.load_evaluations(config, workdir)
  results = tables.recon_results(config, evaluations)
  quality = tables.phase_quality(config, stores)
  figures = draw_figures(config, workdir, stores, evaluations)
  role_sizes = {role: len(source) for role, source in roles.items()}
  summary = {
      "variant": config.variant,
      "arms": list(config.arms),
      "seeds": list(config.recon_seeds),
      "num_phase_samples": config.num_phase_samples,
      "roles": role_sizes,
      "phase_models": phase_models,
      "hallucination_thresholds": thresholds,
      "recon": results,
      "phase_quality": quality,
  }
  with atomic.replacing(layout.results_path(workdir)) as tmp:
    tmp.write_text(json.dumps(summary, indent=2))
  lines = markdown(
      config, results, quality, role_sizes, phase_models, thresholds
  )
  lines += ["", "## Figures", ""] + [
      f"![{title}]({path.relative_to(workdir)})" for title, path in figures
  ]
  report = layout.report_path(workdir)
  with atomic.replacing(report) as tmp:
    tmp.write_text("\n".join(lines) + "\n")
  return report


def draw_figures(config, workdir, stores, evaluations) -> list:
  """The phase-sample figure and one reconstruction figure per
  acceleration; [(title, path)]."""
  figures = []
  if stores:
    path = layout.figure_path(workdir, "phase_samples")
    plots.save(plots.phase_figure(stores, config.eval.figure_images), path)
    figures.append(("Phase samples", path))
  for r_key, arms in evaluations.items():
    path = layout.figure_path(workdir, f"reconstructions_{r_key}")
    plots.save(plots.recon_figure(arms, r_key), path)
    figures.append((f"Reconstructions {r_key}", path))
  return figures


def markdown(
    config, results, quality, role_sizes, phase_models, thresholds
) -> list[str]:
  """report.md's lines up to its figures: the question and answer, the
  set-up, the recon and phase tables, the hallucination metric."""
  rc = config.recon
  lines = [
      f"# Experiment report ({config.variant})",
      "",
      (
          "Does a recon net trained on k-space made from SBDM phase beat nets"
          " trained on smooth or GAN phase, and how close does it come to"
          " ground-truth k-space? Every arm is evaluated on the test role's own"
          " ground truth with the same masks; mean and"
          f" {config.eval.ci_level:.0%} interval over {len(config.recon_seeds)}"
          f" seeds x {role_sizes.get('test')} test volumes (two-way bootstrap)."
      ),
      "",
      "## Answer",
      "",
      *tables._answer(results, config.arms),
      *tables._evidence(config, results, quality, role_sizes, phase_models),
      "",
      "## Set-up",
      "",
      f"- data: {config.data.name} {config.data.image_size}x"
      f"{config.data.image_size}; roles "
      + ", ".join(f"{k} {v}" for k, v in role_sizes.items())
      + " (disjoint).",
      *(
          [
              "- registry: the pre-synthesized arms trained on the"
              f" {role_sizes.get('registry_train')} slices of your registry"
              " (registry_train) instead of recon_train; the ground-truth arm"
              " on recon_train."
          ]
          if "registry_train" in role_sizes
          else []
      ),
      (
          f"- arms: {', '.join(config.arms)}; K = {config.num_phase_samples}"
          " pre-synthesized phases per training magnitude (one drawn per"
          " example per step)."
      ),
      *(
          [
              "- phase models (the checkpoints that drew the phases): "
              + "; ".join(
                  f"{arm} step {model['step']} of {model['run']}"
                  for arm, model in phase_models.items()
              )
              + "."
          ]
          if phase_models
          else []
      ),
      (
          f"- recon: {rc.model.name} (chans {rc.model.chans}, pools"
          f" {rc.model.num_pools}), {rc.forward.num_coils} coils,"
          f" {rc.train.num_steps} steps x batch {rc.train.batch_size}, loss"
          f" {rc.loss.name}, seeds {list(config.recon_seeds)}."
      ),
  ]
  for r_key, result in results.items():
    lines += ["", f"## Test reconstruction, {r_key}", ""]
    lines += tables._recon_table(result)
    lines += tables._paired_table(result["paired"])
  lines += [
      "",
      (
          "## Phase quality of each source (recon_train images vs their true"
          " phase)"
      ),
      "",
      (
          "Fair energy score on gauge-invariant features w exp(i(phi(x+d) -"
          " phi(x))) (lower is better), spread/skill E||X-X'|| / E||X-y||"
          " (about 1 when calibrated: compare with the oracle), circular CRPS"
          f" after the self-gauge; mean +- {config.eval.ci_level:.0%}"
          " half-width over images."
      ),
      "",
      *tables._phase_table(quality),
      "",
      "## Hallucination metric",
      "",
      "On r = |recon| - |target|: connected components (area >= "
      f"{hallucination.MIN_AREA} px) of max over sigma in"
      f" {hallucination.SIGMAS} of |sigma^2 LoG_sigma(r)| above a threshold"
      " fixed on val from the ground-truth arm (its"
      f" {hallucination.PERCENTILE}th percentile: "
      + ", ".join(f"{k} {v:.4g}" for k, v in thresholds.items())
      + "), counted inside tissue and >= "
      f"{hallucination.BOUNDARY_MARGIN} px from tissue-label boundaries; a"
      " component is near air/bone/fat within"
      f" {config.eval.near_distance} px of those labels.",
  ]
  return lines
