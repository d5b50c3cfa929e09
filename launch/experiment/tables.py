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

import json
from collections.abc import Sequence

import jax.numpy as jnp
import matplotlib
import numpy as np
from etils import epath

from kspace.simulator import sequences
from recon import evaluation as recon_evaluation
from runtime import stats
from score_phase.scoring import sampler_scores
from score_phase.scoring import spectra
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


def load_evaluations(
    config, workdir: epath.Path, net: str = layout.PRIMARY
) -> dict:
  """{test mask key: {arm: {metric: (S, V) array, "figure": arrays,
  "sequence": (V,)}}} of one recon net."""
  out = {}
  for mask in layout.test_masks(config):
    key = mask.key
    out[key] = {}
    for arm in config.arms:
      loaded = [
          dict(np.load(layout.eval_path(workdir, arm, seed, key, net)))
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
      # The same test volumes for every seed (files from before it: none).
      tables["sequence"] = loaded[0].get("volume_sequence")
      out[key][arm] = tables
  return out


# The arms every other arm is paired against, in report order.
PAIRED_REFERENCES = (arms_lib.SMOOTH, "gan", arms_lib.GROUND_TRUTH)
# The arms the answer is about: the SBDM, magnitude-only and told headers.
SBDM_ARMS = ("sbdm", "sbdm_scan")

# The sequence families tables are split by (`kspace.simulator.sequences`).
FAMILIES = {
    "gradient_echo": sequences.GRADIENT_ECHO,
    "spin_echo": sequences.SPIN_ECHO,
}


def recon_results(config, evaluations) -> dict:
  """Means, intervals and paired differences of every table, overall and
  per sequence family (`by_sequence`, where the test volumes have one and a
  family has two or more of them)."""
  level = config.eval.ci_level
  resamples = config.eval.bootstrap_resamples
  results = {}
  for r_key, arms in evaluations.items():
    results[r_key] = _intervals(arms, level, resamples)
    sequence = next(iter(arms.values())).get("sequence")
    if sequence is None:
      continue
    by_family = {}
    for family, value in FAMILIES.items():
      columns = np.asarray(sequence) == value
      if columns.sum() >= 2:
        by_family[family] = _intervals(
            {
                arm: {
                    name: tables[name][:, columns]
                    for name in RECON_METRICS
                    if name in tables
                }
                for arm, tables in arms.items()
            },
            level,
            resamples,
        )
        by_family[family]["num_volumes"] = int(columns.sum())
    if by_family:
      results[r_key]["by_sequence"] = by_family
  return results


def _intervals(arms: dict, level: float, resamples: int) -> dict:
  """{"arms": per-arm intervals, "paired": arm - reference intervals} of
  per-arm (S, V) tables."""
  result = {"arms": {}, "paired": {}}
  for arm, tables in arms.items():
    result["arms"][arm] = {
        name: stats.two_way_bootstrap(tables[name], level, resamples).as_dict()
        for name in list(RECON_METRICS) + [
            "hallucinations_near",
            "hallucinations_elsewhere",
            "zero_filled_psnr",
        ]
        if name in tables
    }
  for reference in PAIRED_REFERENCES:
    if reference not in arms:
      continue
    result["paired"][f"vs_{reference}"] = {
        arm: {
            name: (
                stats.two_way_bootstrap(
                    arms[arm][name] - arms[reference][name], level, resamples
                ).as_dict()
            )
            for name in RECON_METRICS
            if name in arms[arm]
        }
        for arm in arms
        if arm != reference
    }
  return result


def _scored_records(config, store, family: str | None = None) -> list:
  """The first `eval.phase_quality_images` records of a store, those of one
  sequence family only if `family` is given."""
  count = min(config.eval.phase_quality_images, len(store))
  records = [store[i] for i in range(count)]
  if family is not None:
    records = [
        r
        for r in records
        if "sequence" in r and int(r["sequence"]) == FAMILIES[family]
    ]
  return records


def phase_quality(config, stores: dict, family: str | None = None) -> dict:
  """Proper scores of every pre-synthesized source on recon_train images
  (of one sequence family, if given).

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
    records = _scored_records(config, store, family)
    if len(records) < 2 or "true_phase" not in records[0]:
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
      accumulator,
      reference="sbdm" if "sbdm" in accumulator.scores else None,
      level=config.eval.ci_level,
  )


def phase_quality_by_sequence(config, stores: dict) -> dict:
  """`phase_quality` of each sequence family ({} without families)."""
  return {
      family: quality
      for family in FAMILIES
      if (quality := phase_quality(config, stores, family))
  }


def preflight(config, stores: dict, family: str | None = None) -> dict:
  """The k-space each arm trains on, against the truth's, before any net:
  per arm the high-frequency fraction (`score_phase.scoring.spectra`) of
  magnitude x exp(i phase) over its scored images and samples, its paired
  difference from the truth's with a bootstrap interval, and `flagged`
  when it departs from the truth by more than the oracle arm does; the
  mean radial spectra for the figure.

  Returns:
    {"truth": {...}, "arms": {arm: {...}}, "spectra": {name: list}} or {}
    without ground-truth phase.
  """
  level = config.eval.ci_level
  out, truth = {"arms": {}, "spectra": {}}, None
  for arm, store in stores.items():
    records = _scored_records(config, store, family)
    if len(records) < 2 or "true_phase" not in records[0]:
      continue
    magnitude = np.stack([r["magnitude"] for r in records])
    if truth is None:
      truth_images = magnitude * np.exp(
          1j * np.stack([r["true_phase"] for r in records])
      )
      truth = np.asarray(spectra.high_frequency_fraction(truth_images))
      out["truth"] = stats.bootstrap(truth, level, seed=0).as_dict()
      out["spectra"]["truth"] = np.asarray(
          spectra.radial_power_spectrum(truth_images).mean(axis=0)
      ).tolist()
    phases = np.stack([r["phases"] for r in records], axis=1)  # (K, N, H, W)
    images = magnitude[None] * np.exp(1j * phases)
    fraction = np.asarray(
        spectra.high_frequency_fraction(images.reshape(-1, *images.shape[2:]))
    ).reshape(phases.shape[:2])
    per_image = fraction.mean(axis=0)
    out["arms"][arm] = {
        "high_frequency_fraction": (
            stats.bootstrap(per_image, level, seed=0).as_dict()
        ),
        "minus_truth": (
            stats.paired_bootstrap(per_image, truth, level).as_dict()
        ),
    }
    out["spectra"][arm] = np.asarray(
        spectra.radial_power_spectrum(
            images.reshape(-1, *images.shape[2:])
        ).mean(axis=0)
    ).tolist()
  if truth is None:
    return {}
  bound = out["arms"].get("oracle", {}).get("minus_truth", {}).get("mean")
  for arm, entry in out["arms"].items():
    departure = abs(entry["minus_truth"]["mean"])
    entry["flagged"] = bool(
        bound is not None and arm != "oracle" and departure > abs(bound)
    )
  out["num_images"] = int(truth.size)
  return out


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
  for arm, row in results_r["arms"].items():
    lines.append(
        f"| {arm} | {_cell(row['psnr'], '{:.2f}')} |"
        f" {_cell(row['ssim'], '{:.4f}')} |"
        f" {_cell(row['nmse'], '{:.4f}')} |"
        f" {_cell(row['hallucinations'], '{:.2f}')}"
        f" ({row['hallucinations_near']['mean']:.2f} /"
        f" {row['hallucinations_elsewhere']['mean']:.2f}) |"
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
    for arm, row in arms.items():
      lines.append(
          f"| {arm} | {_cell(row['psnr'], '{:+.2f}')} |"
          f" {_cell(row['ssim'], '{:+.4f}')} |"
          f" {_cell(row['nmse'], '{:+.4f}')} |"
          f" {_cell(row['hallucinations'], '{:+.2f}')} |"
      )
  return lines


def _phase_table(quality: dict) -> list[str]:
  if not quality:
    return ["(no ground-truth phase in recon_train: not scored)"]
  return sampler_scores.markdown(quality).splitlines()


def _answer(results: dict, arms: Sequence[str]) -> list[str]:
  """The headline: each SBDM arm vs smooth phase, the GAN and ground
  truth, the share of the smooth-to-ground-truth gap it closes, and the
  PSNR ordering."""
  lines = []
  for r_key, result in results.items():
    order = sorted(
        result["arms"], key=lambda a: -result["arms"][a]["psnr"]["mean"]
    )
    line = f"- **{r_key}**: PSNR order " + " > ".join(order) + "."
    for arm in SBDM_ARMS:
      for reference in PAIRED_REFERENCES:
        paired = result["paired"].get(f"vs_{reference}", {})
        if arm in paired:
          psnr, ssim = paired[arm]["psnr"], paired[arm]["ssim"]
          line += (
              f" {arm} - {reference}: {psnr['mean']:+.2f} dB"
              f" [{psnr['ci_low']:+.2f}, {psnr['ci_high']:+.2f}], SSIM"
              f" {ssim['mean']:+.4f} [{ssim['ci_low']:+.4f},"
              f" {ssim['ci_high']:+.4f}]."
          )
      gap = gap_closed(result, arm)
      if gap is not None:
        line += (
            f" {arm} closes {gap:.0%} of the {arms_lib.SMOOTH}-to-ground-truth"
            " PSNR gap."
        )
    lines.append(line)
  if "sbdm" not in arms:
    lines.append("- (no SBDM arm in this run)")
  return lines


def gap_closed(result: dict, arm: str) -> float | None:
  """(arm - smooth) / (ground truth - smooth) in mean PSNR, or None where
  the gap itself is not resolved (its paired interval includes 0: a share
  of it would mean nothing)."""
  paired = result["paired"].get(f"vs_{arms_lib.SMOOTH}", {})
  if arm not in paired or arms_lib.GROUND_TRUTH not in paired:
    return None
  gap = paired[arms_lib.GROUND_TRUTH]["psnr"]
  if gap["ci_low"] <= 0:
    return None
  return paired[arm]["psnr"]["mean"] / gap["mean"]


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


def _family_table(by_sequence: dict) -> list[str]:
  """PSNR / SSIM per arm and sequence family, and arm - smooth phase."""
  families = list(by_sequence)
  header = "| arm |" + "".join(
      f" {f.replace('_', ' ')} PSNR | d vs {arms_lib.SMOOTH} | SSIM |"
      for f in families
  )
  lines = [
      "By sequence family ("
      + ", ".join(
          f"{f.replace('_', ' ')}: {by_sequence[f]['num_volumes']} volumes"
          for f in families
      )
      + "):",
      "",
      header,
      "|---|" + "---|---|---|" * len(families),
  ]
  arms = list(by_sequence[families[0]]["arms"])
  for arm in arms:
    cells = []
    for family in families:
      result = by_sequence[family]
      paired = result["paired"].get(f"vs_{arms_lib.SMOOTH}", {}).get(arm)
      cells += [
          _cell(result["arms"][arm]["psnr"], "{:.2f}"),
          _cell(paired["psnr"], "{:+.2f}") if paired else "0",
          _cell(result["arms"][arm]["ssim"], "{:.4f}"),
      ]
    lines.append(f"| {arm} | " + " | ".join(cells) + " |")
  return lines


def _preflight_table(preflight: dict) -> list[str]:
  """The high-frequency fraction of each arm's training k-space against
  the truth's, overall and per family; flagged arms depart from the truth
  by more than the oracle."""
  overall = preflight.get("all")
  if not overall:
    return ["(no ground-truth phase in recon_train: not checked)"]
  families = [f for f in preflight if f != "all"]
  center = f"1/{1 / spectra.CENTER_FRACTION:g}"
  lines = [
      (
          "Share of k-space energy outside the central block"
          f" ({center} of each side) of magnitude x exp(i phase) over the"
          f" {overall['num_images']} scored images and their samples, and"
          " its paired difference from the truth's (coil-free). Flagged"
          " (**!**): the arm departs from the truth by more than the oracle"
          " does; a rough phase adds high-frequency energy the recon net"
          " learns to undo. The spectra are in the figure kspace_spectra."
      ),
      "",
      "| arm | high-frequency fraction | arm - truth |"
      + "".join(f" {f.replace('_', ' ')}: arm - truth |" for f in families),
      "|---|---|---|" + "---|" * len(families),
      f"| truth | {_cell(overall['truth'], '{:.4f}')} | 0 |"
      + " 0 |" * len(families),
  ]
  for arm, entry in overall["arms"].items():
    flag = " **!**" if entry["flagged"] else ""
    cells = [
        _cell(entry["high_frequency_fraction"], "{:.4f}"),
        _cell(entry["minus_truth"], "{:+.4f}") + flag,
    ]
    for family in families:
      by_family = preflight[family]["arms"].get(arm)
      cells.append(
          _cell(by_family["minus_truth"], "{:+.4f}")
          + (" **!**" if by_family["flagged"] else "")
          if by_family
          else "-"
      )
    lines.append(f"| {arm} | " + " | ".join(cells) + " |")
  return lines


def validation_curves(config, workdir, net: str = layout.PRIMARY) -> dict:
  """{arm: {"steps": [...], metric: [mean over seeds]}} of the validation
  the recon runs logged during training (`val/<metric>` in metrics.jsonl;
  {} when the net's recon config validates only at the end)."""
  if not config[net].train.eval_every:
    return {}
  curves = {}
  for arm in config.arms:
    per_seed = []
    for seed in config.recon_seeds:
      path = layout.recon_dir(workdir, arm, seed, net) / "metrics.jsonl"
      rows = {}  # step -> row; a resumed run's later row wins
      if path.exists():
        for line in path.read_text().splitlines():
          row = json.loads(line)
          if "val/psnr" in row:
            rows[row["step"]] = row
      per_seed.append(rows)
    steps = sorted(set.intersection(*(set(r) for r in per_seed)))
    if not steps:
      continue
    curves[arm] = {"steps": steps}
    for name in ("psnr", "ssim"):
      curves[arm][name] = [
          float(np.mean([rows[step][f"val/{name}"] for rows in per_seed]))
          for step in steps
      ]
  return curves


def _curve_table(curves: dict) -> list[str]:
  """Validation PSNR per arm at each logged step, and its change over the
  last quarter of training (about 0: the curve has flattened)."""
  if not curves:
    return []
  arms = list(curves)
  steps = curves[arms[0]]["steps"]
  lines = [
      (
          "Validation PSNR (dB) during training, mean over seeds (the"
          " validation role, the net's training masks):"
      ),
      "",
      "| step | " + " | ".join(arms) + " |",
      "|---|" + "---|" * len(arms),
  ]
  for index, step in enumerate(steps):
    cells = [
        f"{curves[arm]['psnr'][index]:.2f}"
        if step in curves[arm]["steps"]
        else "-"
        for arm in arms
    ]
    lines.append(f"| {step} | " + " | ".join(cells) + " |")
  changes = []
  for arm in arms:
    arm_steps, psnr = curves[arm]["steps"], curves[arm]["psnr"]
    start = next(
        i for i, s in enumerate(arm_steps) if s >= 0.75 * arm_steps[-1]
    )
    changes.append(f"{arm} {psnr[-1] - psnr[start]:+.2f}")
  lines += [
      "",
      "Change over the last quarter of training (dB): "
      + ", ".join(changes)
      + ".",
  ]
  return lines
