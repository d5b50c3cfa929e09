"""The experiment's numbers and tables: per arm and acceleration the recon
metrics with intervals, paired differences and the phase-quality table.

Read from the stage outputs `launch.experiment` wrote: per arm, seed and
acceleration the test role's per-volume NMSE / PSNR / SSIM and per-slice
hallucination counts; the pre-synthesized phases for the phase-quality
table. Intervals are percentile bootstraps that resample seeds and test
volumes together (two-way), so both the training noise between seeds and
the spread of the test set widen them; paired differences resample the same
(seed, volume) pairs for both arms. report.md is written last, so a report
exists only when everything it shows does.
"""

from collections.abc import Sequence

import jax.numpy as jnp
import matplotlib
import numpy as np
from etils import epath

from recon import evaluation as recon_evaluation
from runtime import stats
from score_phase.scoring import sampler_scores
from launch.experiment import arms as arms_lib
from launch.experiment import layout

matplotlib.use("Agg")

# metric -> (higher is better, format).
RECON_METRICS = {
    "psnr": (True, "{:.2f}"),
    "ssim": (True, "{:.4f}"),
    "nmse": (False, "{:.4f}"),
    "hallucinations": (False, "{:.2f}"),
}


def load_evaluations(config, workdir: epath.Path) -> dict:
  """{R key: {arm: {metric: (S, V) array, "figure_*": arrays}}}."""
  out = {}
  for acceleration, _ in config.eval.accelerations:
    key = layout.r_key(acceleration)
    out[key] = {}
    for arm in config.arms:
      loaded = [
          dict(np.load(layout.eval_path(workdir, arm, seed, acceleration)))
          for seed in config.recon_seeds
      ]
      tables = {
          name: np.stack([d[f"volume_{name}"] for d in loaded])
          for name in recon_evaluation.METRICS
      }
      # Hallucinations are counted per slice; a volume's is its mean.
      tables["hallucinations"] = np.stack(
          [d["hallucination_total"] for d in loaded]
      ).astype(np.float64)
      tables["hallucinations_near"] = np.stack(
          [d["hallucination_near"] for d in loaded]
      ).astype(np.float64)
      tables["hallucinations_elsewhere"] = np.stack(
          [d["hallucination_elsewhere"] for d in loaded]
      ).astype(np.float64)
      tables["zero_filled_psnr"] = np.stack(
          [d["zero_filled_psnr"] for d in loaded]
      )
      tables["figure"] = {
          k: loaded[0][f"figure_{k}"] for k in ("pred", "target", "zero_filled")
      }
      out[key][arm] = tables
  return out


def recon_results(config, evaluations) -> dict:
  """Means, intervals and paired differences of every table."""
  level = config.eval.ci_level
  resamples = config.eval.bootstrap_resamples
  results = {}
  for r_key, arms in evaluations.items():
    results[r_key] = {"arms": {}, "paired": {}}
    for arm, tables in arms.items():
      results[r_key]["arms"][arm] = {
          name: (
              stats.two_way_bootstrap(tables[name], level, resamples).as_dict()
          )
          for name in list(RECON_METRICS) + [
              "hallucinations_near",
              "hallucinations_elsewhere",
              "zero_filled_psnr",
          ]
          if name in tables
      }
    for reference in (arms_lib.SMOOTH, arms_lib.GROUND_TRUTH):
      if reference not in arms:
        continue
      results[r_key]["paired"][f"vs_{reference}"] = {
          arm: {
              name: (
                  stats.two_way_bootstrap(
                      arms[arm][name] - arms[reference][name], level, resamples
                  ).as_dict()
              )
              for name in RECON_METRICS
          }
          for arm in arms
          if arm != reference
      }
  return results


def phase_quality(config, stores: dict) -> dict:
  """Proper scores of every pre-synthesized source on recon_train images.

  `score_phase.scoring.sampler_scores` against each image's true phase (synthetic data;
  arms whose store has no `true_phase` are skipped), on the first
  `eval.phase_quality_images` images of every store: the fair multi-scale
  energy score (total and per offset), spread/skill per offset, the
  self-gauged circular CRPS, the spectral distance and the circular-mean
  error, each as mean and bootstrap interval over images; paired
  differences sbdm - source.

  Returns:
    `sampler_scores.summarize`'s dict ({"sources", "paired", "num_images"}), or {}
    when no store has a true phase.
  """
  accumulator = sampler_scores.Accumulator()
  for arm, store in stores.items():
    count = min(config.eval.phase_quality_images, len(store))
    records = [store[i] for i in range(count)]
    if not records or "true_phase" not in records[0]:
      continue
    samples = jnp.asarray(
        np.stack([r["phases"] for r in records], axis=1), jnp.float32
    )
    truth = jnp.asarray(np.stack([r["true_phase"] for r in records]))
    magnitude = jnp.asarray(np.stack([r["magnitude"] for r in records]))
    scores, _ = sampler_scores.score_batch(
        samples, truth, magnitude, None, sampler_scores.deltas_for(truth.shape)
    )
    accumulator.add(arm, scores)
  if not accumulator.scores:
    return {}
  return sampler_scores.summarize(
      accumulator, reference="sbdm", level=config.eval.ci_level
  )


def _cell(stats: dict, fmt: str) -> str:
  return (
      f"{fmt.format(stats['mean'])} [{fmt.format(stats['ci_low'])},"
      f" {fmt.format(stats['ci_high'])}]"
  )


def _recon_table(results_r: dict) -> list[str]:
  lines = [
      (
          "| arm | PSNR (dB) | SSIM | NMSE | hallucinations / slice (near air,"
          " bone, fat / elsewhere) |"
      ),
      "|---|---|---|---|---|",
  ]
  for arm, stats in results_r["arms"].items():
    lines.append(
        f"| {arm} | {_cell(stats['psnr'], '{:.2f}')} |"
        f" {_cell(stats['ssim'], '{:.4f}')} |"
        f" {_cell(stats['nmse'], '{:.4f}')} |"
        f" {_cell(stats['hallucinations'], '{:.2f}')}"
        f" ({stats['hallucinations_near']['mean']:.2f} /"
        f" {stats['hallucinations_elsewhere']['mean']:.2f}) |"
    )
  return lines


def _paired_table(paired: dict) -> list[str]:
  lines = []
  for reference, arms in paired.items():
    lines += [
        "",
        (
            f"Paired differences, arm - {reference.removeprefix('vs_')}"
            " (same seeds, volumes, masks; an interval excluding 0 is a"
            " difference):"
        ),
        "",
        "| arm | dPSNR (dB) | dSSIM | dNMSE | dhallucinations |",
        "|---|---|---|---|---|",
    ]
    for arm, stats in arms.items():
      lines.append(
          f"| {arm} | {_cell(stats['psnr'], '{:+.2f}')} |"
          f" {_cell(stats['ssim'], '{:+.4f}')} |"
          f" {_cell(stats['nmse'], '{:+.4f}')} |"
          f" {_cell(stats['hallucinations'], '{:+.2f}')} |"
      )
  return lines


def _phase_table(quality: dict) -> list[str]:
  if not quality:
    return ["(no ground-truth phase in recon_train: not scored)"]
  return sampler_scores.markdown(quality).splitlines()


def _answer(results: dict, arms: Sequence[str]) -> list[str]:
  """The headline: SBDM vs smooth and vs GT, and the PSNR ordering."""
  lines = []
  for r_key, result in results.items():
    order = sorted(
        result["arms"], key=lambda a: -result["arms"][a]["psnr"]["mean"]
    )
    line = f"- **{r_key}**: PSNR order " + " > ".join(order) + "."
    for reference in (arms_lib.SMOOTH, arms_lib.GROUND_TRUTH):
      paired = result["paired"].get(f"vs_{reference}", {})
      if "sbdm" in paired:
        stats = paired["sbdm"]["psnr"]
        line += (
            f" SBDM - {reference}: {stats['mean']:+.2f} dB"
            f" [{stats['ci_low']:+.2f}, {stats['ci_high']:+.2f}]."
        )
    lines.append(line)
  if "sbdm" not in arms:
    lines.append("- (no SBDM arm in this run)")
  return lines


def _evidence(config, results, quality, role_sizes, phase_models) -> list[str]:
  """Why the SBDM arm did or did not beat smooth phase: its phase quality
  next to the oracle's and smooth phase's, and what it was trained on (the
  step of the checkpoint that made its phases, not the config's budget: a
  named run may have trained longer)."""
  quality = quality.get("sources", {})
  if "sbdm" not in quality:
    return []
  lines = []
  beaten = all(
      result["paired"]
      .get(f"vs_{arms_lib.SMOOTH}", {})
      .get("sbdm", {})
      .get("psnr", {"ci_low": -1.0})["ci_low"]
      > 0
      for result in results.values()
  )
  verdict = "beats" if beaten else "does not clearly beat"
  scores = ", ".join(
      f"{arm} {quality[arm]['energy_total']['mean']:.4f}"
      for arm in ("oracle", "sbdm", "gan", arms_lib.SMOOTH)
      if arm in quality
  )
  oracle_ratio = quality.get("oracle", {}).get("spread_skill_total", {})
  oracle_ratio = oracle_ratio.get("mean", float("nan"))
  oracle_gain = "; ".join(
      f"{r_key} {paired['oracle']['psnr']['mean']:+.2f} dB"
      f" [{paired['oracle']['psnr']['ci_low']:+.2f},"
      f" {paired['oracle']['psnr']['ci_high']:+.2f}]"
      for r_key, result in results.items()
      if "oracle"
      in (paired := result["paired"].get(f"vs_{arms_lib.SMOOTH}", {}))
  )
  sbdm = phase_models.get("sbdm", {})
  if config.sbdm_workdir:
    trained = (
        f"is the step-{sbdm.get('step')} checkpoint of run {sbdm.get('run')}"
        " (trained on its own data)"
    )
  else:
    trained = (
        f"trained {sbdm.get('step')} steps on"
        f" {role_sizes.get('phase_train')} phase_train images"
    )
  lines.append(
      f"- SBDM {verdict} {arms_lib.SMOOTH} (a paired PSNR interval above 0 at"
      " every acceleration). Evidence: the phase energy score of each source"
      f" against the true phase (lower is better): {scores}; the SBDM's"
      f" spread/skill {quality['sbdm']['spread_skill_total']['mean']:.2f} (the"
      f" oracle's {oracle_ratio:.2f}; < 1 is over-confident). A perfect sampler"
      f" (oracle) vs {arms_lib.SMOOTH}: {oracle_gain or 'not run'}: what the"
      " most realistic phase can gain at this size and budget. The SBDM"
      f" {trained}; each recon net {config.recon.train.num_steps} steps on"
      f" {role_sizes.get('recon_train')} recon_train images."
  )
  return lines
