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

  stores: {arm: phase store} of the phases the report scores.
  thresholds: {net: {test mask key: threshold}}.
  phase_models: {model: {"run": directory, "step": checkpoint step,
  "sampler": its label or None}} of the learned phase models whose samples
  the arms trained on.
  """
  workdir = epath.Path(workdir)
  evaluations = {
      net: tables.load_evaluations(config, workdir, net)
      for net in layout.nets(config)
  }
  results = {
      net: tables.recon_results(config, evaluation)
      for net, evaluation in evaluations.items()
  }
  curves = {
      net: tables.validation_curves(config, workdir, net)
      for net in layout.nets(config)
  }
  quality = tables.phase_quality(config, stores)
  preflight = {"all": tables.preflight(config, stores)}
  for family in tables.FAMILIES:
    if checked := tables.preflight(config, stores, family):
      preflight[family] = checked
  figures = draw_figures(
      config, workdir, stores, evaluations[layout.PRIMARY], preflight["all"]
  )
  role_sizes = {role: len(source) for role, source in roles.items()}
  summary = {
      "variant": config.variant,
      "arms": list(config.arms),
      "seeds": list(config.recon_seeds),
      "num_phase_samples": config.num_phase_samples,
      "roles": role_sizes,
      "phase_models": phase_models,
      "hallucination_thresholds": thresholds[layout.PRIMARY],
      "recon": results[layout.PRIMARY],
      "phase_quality": quality,
      "phase_quality_by_sequence": tables.phase_quality_by_sequence(
          config, stores
      ),
      "preflight": preflight,
      "validation_curves": curves,
  }
  if layout.SECONDARY in results:
    summary[layout.SECONDARY] = results[layout.SECONDARY]
    summary[f"hallucination_thresholds_{layout.SECONDARY}"] = thresholds[
        layout.SECONDARY
    ]
  with atomic.replacing(layout.results_path(workdir)) as tmp:
    tmp.write_text(json.dumps(summary, indent=2))
  lines = markdown(config, summary)
  lines += ["", "## Figures", ""] + [
      f"![{title}]({path.relative_to(workdir)})" for title, path in figures
  ]
  report = layout.report_path(workdir)
  with atomic.replacing(report) as tmp:
    tmp.write_text("\n".join(lines) + "\n")
  return report


def draw_figures(config, workdir, stores, evaluations, preflight) -> list:
  """The phase-sample figure, the pre-flight spectra and one
  reconstruction figure per test mask (primary net); [(title, path)]."""
  figures = []
  if stores:
    path = layout.figure_path(workdir, "phase_samples")
    plots.save(plots.phase_figure(stores, config.eval.figure_images), path)
    figures.append(("Phase samples", path))
  if preflight.get("spectra"):
    path = layout.figure_path(workdir, "kspace_spectra")
    plots.save(plots.spectrum_figure(preflight["spectra"]), path)
    figures.append(("Pre-flight: k-space spectra", path))
  for r_key, arms in evaluations.items():
    path = layout.figure_path(workdir, f"reconstructions_{r_key}")
    plots.save(plots.recon_figure(arms, r_key), path)
    figures.append((f"Reconstructions {r_key}", path))
  return figures


def markdown(config, summary: dict) -> list[str]:
  """report.md's lines up to its figures: the question and answer, the
  set-up, the recon tables (overall and per sequence family), the
  pre-flight and phase tables, the hallucination metric."""
  results, quality = summary["recon"], summary["phase_quality"]
  role_sizes, phase_models = summary["roles"], summary["phase_models"]
  thresholds = summary["hallucination_thresholds"]
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
      *(
          ["", f"What this run can and cannot show: {config.scope}"]
          if config.scope
          else []
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
                  + (
                      f" (sampler {model['sampler']})"
                      if model.get("sampler")
                      else ""
                  )
                  for arm, model in phase_models.items()
              )
              + "."
          ]
          if phase_models
          else []
      ),
      *[_net_line(config, net) for net in layout.nets(config)],
      (
          "- test masks: "
          + ", ".join(
              f"{m.key} ({m.mask_type or rc.forward.mask_type}, centre"
              f" {m.center_fraction:g})"
              for m in layout.test_masks(config)
          )
          + "."
      ),
  ]
  lines += _net_sections(results, "")
  lines += [
      "",
      *tables._curve_table(summary["validation_curves"][layout.PRIMARY]),
  ]
  if layout.SECONDARY in summary:
    secondary = config[layout.SECONDARY]
    lines += [
        "",
        f"## Second recon net: {secondary.model.name}",
        "",
        (
            "The same arms, phases, seeds and test masks, another network"
            f" ({_net_line(config, layout.SECONDARY).removeprefix('- ')})."
        ),
    ]
    lines += _net_sections(summary[layout.SECONDARY], "### ")
    lines += [
        "",
        *tables._curve_table(summary["validation_curves"][layout.SECONDARY]),
    ]
    lines += [
        "",
        "Hallucination thresholds of the second net: "
        + ", ".join(
            f"{k} {v:.4g}"
            for k, v in summary[
                f"hallucination_thresholds_{layout.SECONDARY}"
            ].items()
        )
        + ".",
    ]
  lines += [
      "",
      "## Pre-flight: the k-space each arm trains on",
      "",
      *tables._preflight_table(summary["preflight"]),
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
          f" after the self-gauge; mean and {config.eval.ci_level:.0%}"
          f" bootstrap interval over images; {_scored_samples(config)}."
      ),
      "",
      *tables._phase_table(quality),
  ]
  for family, by_family in summary["phase_quality_by_sequence"].items():
    lines += ["", f"### {family.replace('_', ' ')} images only", ""]
    lines += tables._phase_table(by_family)
  lines += [
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


def _scored_samples(config) -> str:
  if config.eval.phase_quality_samples:
    return (
        f"K = {config.eval.phase_quality_samples} samples per image, drawn"
        " apart from the training phases"
    )
  return f"the K = {config.num_phase_samples} training phases per image"


def _net_line(config, net: str) -> str:
  rc = config[net]
  coils = (
      "single-coil"
      if rc.forward.num_coils == 1
      else f"{rc.forward.num_coils} coils"
  )
  shape = f"chans {rc.model.chans}, pools {rc.model.num_pools}"
  if rc.model.name == "varnet":
    shape = f"{rc.model.num_cascades} cascades, " + shape
  accelerations = "/".join(f"{a:g}" for a in rc.forward.accelerations)
  return (
      f"- {net}: {rc.model.name} ({shape}), {coils}, trained on"
      f" {rc.forward.mask_type} masks R = {accelerations},"
      f" {rc.train.num_steps} steps x batch {rc.train.batch_size}, loss"
      f" {rc.loss.name}, seeds {list(config.recon_seeds)}."
  )


def _net_sections(results: dict, level: str) -> list[str]:
  """One net's test tables per mask, each with its per-family split."""
  heading = level or "## "
  lines = []
  for r_key, result in results.items():
    lines += ["", f"{heading}Test reconstruction, {r_key}", ""]
    lines += tables._recon_table(result)
    lines += tables._paired_table(result["paired"])
    if "by_sequence" in result:
      lines += ["", *tables._family_table(result["by_sequence"])]
  return lines
