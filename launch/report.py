"""The experiment's report: `report.md`, `results.json` and figures.

Read from the stage outputs `launch.experiment` wrote: per arm, seed and
acceleration the test role's per-volume NMSE / PSNR / SSIM and per-slice
hallucination counts; the pre-synthesized phases for the phase-quality
table. Intervals are percentile bootstraps that resample seeds and test
volumes together (two-way), so both the training noise between seeds and
the spread of the test set widen them; paired differences resample the same
(seed, volume) pairs for both arms. report.md is written last, so a report
exists only when everything it shows does.
"""

import json
from collections.abc import Sequence

import jax.numpy as jnp
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from etils import epath

from recon import evaluation as recon_evaluation
from recon import hallucination
from runtime import atomic
from score_phase import scoring

matplotlib.use("Agg")

GROUND_TRUTH = "ground_truth"
SMOOTH = "smooth_polynomial"
# metric -> (higher is better, format).
RECON_METRICS = {
    "psnr": (True, "{:.2f}"),
    "ssim": (True, "{:.4f}"),
    "nmse": (False, "{:.4f}"),
    "hallucinations": (False, "{:.2f}"),
}


def two_way_bootstrap(
    values: np.ndarray, level: float, num_resamples: int, seed: int = 0
) -> dict[str, float]:
  """Mean of a (seeds, volumes) table and its two-way bootstrap interval.

  Each resample draws seeds and volumes with replacement, independently;
  the mean of the resampled grid is (c_s^T X c_v) / (S V) with c the draw
  counts.
  """
  values = np.asarray(values, np.float64)
  num_seeds, num_volumes = values.shape
  rng = np.random.default_rng(seed)
  seed_counts = rng.multinomial(
      num_seeds, np.full(num_seeds, 1 / num_seeds), num_resamples
  )
  volume_counts = rng.multinomial(
      num_volumes, np.full(num_volumes, 1 / num_volumes), num_resamples
  )
  means = np.einsum("bs,sv,bv->b", seed_counts, values, volume_counts) / (
      num_seeds * num_volumes
  )
  tail = 50 * (1 - level)
  low, high = np.percentile(means, [tail, 100 - tail])
  return {
      "mean": float(values.mean()),
      "ci_low": float(low),
      "ci_high": float(high),
  }


def load_evaluations(config, workdir: epath.Path, eval_path) -> dict:
  """{R key: {arm: {metric: (S, V) array, "figure_*": arrays}}}."""
  out = {}
  for acceleration, _ in config.eval.accelerations:
    key = f"R{float(acceleration):g}"
    out[key] = {}
    for arm in config.arms:
      loaded = [
          dict(np.load(eval_path(workdir, arm, seed, acceleration)))
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
          name: two_way_bootstrap(tables[name], level, resamples)
          for name in list(RECON_METRICS) + [
              "hallucinations_near",
              "hallucinations_elsewhere",
              "zero_filled_psnr",
          ]
          if name in tables
      }
    for reference in (SMOOTH, GROUND_TRUTH):
      if reference not in arms:
        continue
      results[r_key]["paired"][f"vs_{reference}"] = {
          arm: {
              name: two_way_bootstrap(
                  arms[arm][name] - arms[reference][name], level, resamples
              )
              for name in RECON_METRICS
          }
          for arm in arms
          if arm != reference
      }
  return results


def phase_quality(config, stores: dict) -> dict:
  """Proper scores of every pre-synthesized source on recon_train images.

  `score_phase.scoring` against each image's true phase (synthetic data;
  arms whose store has no `true_phase` are skipped), on the first
  `eval.phase_quality_images` images of every store: the fair multi-scale
  energy score (total and per offset), spread/skill per offset, the
  self-gauged circular CRPS, the spectral distance and the circular-mean
  error, each as mean and bootstrap interval over images; paired
  differences sbdm - source.

  Returns:
    `scoring.summarize`'s dict ({"sources", "paired", "num_images"}), or {}
    when no store has a true phase.
  """
  accumulator = scoring.Accumulator()
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
    scores, _ = scoring.score_batch(
        samples, truth, magnitude, None, scoring.deltas_for(truth.shape)
    )
    accumulator.add(arm, scores)
  if not accumulator.scores:
    return {}
  return scoring.summarize(
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
  return scoring.markdown(quality).splitlines()


def _answer(results: dict, arms: Sequence[str]) -> list[str]:
  """The headline: SBDM vs smooth and vs GT, and the PSNR ordering."""
  lines = []
  for r_key, result in results.items():
    order = sorted(
        result["arms"], key=lambda a: -result["arms"][a]["psnr"]["mean"]
    )
    line = f"- **{r_key}**: PSNR order " + " > ".join(order) + "."
    for reference in (SMOOTH, GROUND_TRUTH):
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
      .get(f"vs_{SMOOTH}", {})
      .get("sbdm", {})
      .get("psnr", {"ci_low": -1.0})["ci_low"]
      > 0
      for result in results.values()
  )
  verdict = "beats" if beaten else "does not clearly beat"
  scores = ", ".join(
      f"{arm} {quality[arm]['energy_total']['mean']:.4f}"
      for arm in ("oracle", "sbdm", "gan", SMOOTH)
      if arm in quality
  )
  oracle_ratio = quality.get("oracle", {}).get("spread_skill_total", {})
  oracle_ratio = oracle_ratio.get("mean", float("nan"))
  oracle_gain = "; ".join(
      f"{r_key} {paired['oracle']['psnr']['mean']:+.2f} dB"
      f" [{paired['oracle']['psnr']['ci_low']:+.2f},"
      f" {paired['oracle']['psnr']['ci_high']:+.2f}]"
      for r_key, result in results.items()
      if "oracle" in (paired := result["paired"].get(f"vs_{SMOOTH}", {}))
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
      f"- SBDM {verdict} {SMOOTH} (a paired PSNR interval above 0 at every"
      " acceleration). Evidence: the phase energy score of each source"
      f" against the true phase (lower is better): {scores}; the SBDM's"
      f" spread/skill {quality['sbdm']['spread_skill_total']['mean']:.2f} (the"
      f" oracle's {oracle_ratio:.2f}; < 1 is over-confident). A perfect"
      f" sampler (oracle) vs {SMOOTH}: {oracle_gain or 'not run'}: what the"
      " most realistic phase can gain at this size and budget. The SBDM"
      f" {trained}; each recon net"
      f" {config.recon.train.num_steps} steps on"
      f" {role_sizes.get('recon_train')} recon_train images."
  )
  return lines


def phase_figure(stores: dict, count: int) -> plt.Figure:
  """Rows: images; columns: magnitude, true phase, one sample per source."""
  arms = list(stores)
  first = stores[arms[0]]
  count = min(count, len(first))
  columns = ["magnitude", "true phase"] + arms
  fig, axes = plt.subplots(
      count,
      len(columns),
      figsize=(2.2 * len(columns), 2.3 * count),
      squeeze=False,
  )
  for row in range(count):
    record = first[row]
    panels = [(record["magnitude"], "gray", None)]
    truth = record.get("true_phase")
    panels.append((
        truth if truth is not None else np.zeros_like(record["magnitude"]),
        "twilight",
        (-np.pi, np.pi),
    ))
    panels += [
        (stores[a][row]["phases"][0], "twilight", (-np.pi, np.pi)) for a in arms
    ]
    for ax, title, (image, cmap, limits) in zip(axes[row], columns, panels):
      ax.imshow(
          image,
          cmap=cmap,
          interpolation="nearest",
          vmin=None if limits is None else limits[0],
          vmax=None if limits is None else limits[1],
      )
      ax.set_title(title, fontsize=8)
      ax.axis("off")
  fig.suptitle("Phase of the same recon_train images, one sample per source")
  fig.tight_layout()
  return fig


def recon_figure(arms: dict, r_key: str) -> plt.Figure:
  """Rows: arms (+ target); columns: test slices, recon and |error| x5."""
  names = list(arms)
  figure = arms[names[0]]["figure"]
  count = figure["target"].shape[0]
  fig, axes = plt.subplots(
      len(names) + 1,
      2 * count,
      figsize=(2.0 * 2 * count, 2.1 * (len(names) + 1)),
      squeeze=False,
  )
  for col in range(count):
    target = figure["target"][col]
    vmax = float(target.max())
    axes[0, 2 * col].imshow(target, cmap="gray", vmin=0, vmax=vmax)
    axes[0, 2 * col].set_title(f"target {col}", fontsize=8)
    axes[0, 2 * col + 1].imshow(
        figure["zero_filled"][col], cmap="gray", vmin=0, vmax=vmax
    )
    axes[0, 2 * col + 1].set_title("zero-filled", fontsize=8)
    for row, arm in enumerate(names, start=1):
      pred = arms[arm]["figure"]["pred"][col]
      axes[row, 2 * col].imshow(pred, cmap="gray", vmin=0, vmax=vmax)
      axes[row, 2 * col].set_title(arm, fontsize=8)
      axes[row, 2 * col + 1].imshow(
          np.abs(pred - target), cmap="magma", vmin=0, vmax=vmax / 5
      )
      axes[row, 2 * col + 1].set_title("|error| x5", fontsize=8)
  for ax in axes.flat:
    ax.axis("off")
  fig.suptitle(f"Test reconstructions at {r_key} (first seed of each arm)")
  fig.tight_layout()
  return fig


def _save(fig: plt.Figure, path: epath.Path) -> None:
  path.parent.mkdir(parents=True, exist_ok=True)
  with atomic.replacing(path) as tmp:
    fig.savefig(str(tmp), dpi=90)
  plt.close(fig)


def write(
    config, workdir, stores, roles, thresholds, eval_path, phase_models
) -> epath.Path:
  """Writes figures, results.json, then report.md; returns its path.

  phase_models: {arm: {"run": directory, "step": checkpoint step}} of the
  learned phase models whose samples the arms trained on.
  """
  workdir = epath.Path(workdir)
  evaluations = load_evaluations(config, workdir, eval_path)
  results = recon_results(config, evaluations)
  quality = phase_quality(config, stores)
  figures = []
  if stores:
    path = workdir / "figures" / "phase_samples.png"
    _save(phase_figure(stores, config.eval.figure_images), path)
    figures.append(("Phase samples", path))
  for r_key, arms in evaluations.items():
    path = workdir / "figures" / f"reconstructions_{r_key}.png"
    _save(recon_figure(arms, r_key), path)
    figures.append((f"Reconstructions {r_key}", path))
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
  with atomic.replacing(workdir / "results.json") as tmp:
    tmp.write_text(json.dumps(summary, indent=2))
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
      *_answer(results, config.arms),
      *_evidence(config, results, quality, role_sizes, phase_models),
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
    lines += _recon_table(result)
    lines += _paired_table(result["paired"])
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
      *_phase_table(quality),
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
      "",
      "## Figures",
      "",
  ]
  lines += [
      f"![{title}]({path.relative_to(workdir)})" for title, path in figures
  ]
  report = workdir / "report.md"
  with atomic.replacing(report) as tmp:
    tmp.write_text("\n".join(lines) + "\n")
  return report
