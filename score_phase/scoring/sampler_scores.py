"""Phase sources scored as samplers on the same images (docs/design.md, "How a
phase sampler is judged").

`score_batch` grades K samples per image of one source against the truth
with the proper scores of `score_phase.scoring.proper_scores` and returns per-image
values plus histograms to pool; `Accumulator` gathers them over batches
and sources; `summarize` turns them into a table: mean and bootstrap
interval over images of every score, the spread/skill ratio of pooled
terms per offset, the neighbour-difference W1 of the pooled histograms, and
paired intervals of each source against a reference (the SBDM). Read every
number against the oracle rows (`oracle_a`: only what the magnitude does
not reveal redrawn; `oracle_b`: full rescans): a perfect sampler scores
what the oracle scores, not 0.

Per-image scores (lower is better unless said):
  energy_d{1,4,16}, energy_total   fair multi-scale energy score
  skill_d*, spread_d*              its two terms (pooled for spread/skill)
  crps                             self-gauged circular CRPS, magnitude-weighted
  crps_<region>                    the same per `distributions.TISSUE_REGIONS`
                                   (labelled data; NaN where absent)
  spectral_distance                log power spectrum vs the truth's, decades
  mean_error                       circular error of the samples' circular
                                   mean after global alignment (the one
                                   point-estimate metric)
"""

import functools
import math
from collections.abc import Mapping, Sequence

import jax
import numpy as np

from runtime import stats
from score_phase.scoring import distributions
from score_phase.scoring import point_metrics
from score_phase.scoring import proper_scores

DELTAS = (1, 4, 16)
# Scores whose paired difference against the reference is reported.
PAIRED = ("energy_total", "energy_d1", "crps")


def deltas_for(shape: Sequence[int]) -> tuple[int, ...]:
  """The default offsets that fit an (H, W) image."""
  return tuple(d for d in DELTAS if d < min(shape[-2:]))


@functools.partial(jax.jit, static_argnames=("deltas",))
def score_batch(
    samples: jax.Array,
    truth: jax.Array,
    magnitude: jax.Array,
    labels: jax.Array | None,
    deltas: tuple[int, ...],
) -> tuple[dict[str, jax.Array], jax.Array | None]:
  """Every score of K samples per image.

  Args:
    samples: (K, B, H, W) phases, K >= 2.
    truth: (B, H, W) true phase.
    magnitude: (B, H, W) normalised magnitude (the weights).
    labels: (B, H, W) int tissue classes, or None (no per-region scores).
    deltas: energy-score offsets.

  Returns:
    (dict name -> (B,) float32 per-image scores (see the module docstring),
    (2, bins) neighbour-difference histograms summed over the batch, or None
    without labels).
  """
  terms = proper_scores.energy_decomposition(samples, truth, magnitude, deltas)
  scores = {}  # in the order the tables and files have always shown them
  for delta in deltas:
    for kind in ("skill", "spread", "energy"):
      scores[f"{kind}_d{delta}"] = terms[kind][f"d{delta}"]
  for kind in ("energy", "skill", "spread"):
    scores[f"{kind}_total"] = terms[kind]["total"]
  crps_map = proper_scores.circular_crps_map(samples, truth, magnitude)
  scores["crps"] = point_metrics.weighted_mean(crps_map, magnitude)
  scores["spectral_distance"] = distributions.spectral_distance(
      samples, truth, magnitude
  )
  aligned = jax.vmap(point_metrics.align_global_phase, (0, None, None))(
      samples, truth, magnitude
  )
  scores["mean_error"] = point_metrics.circular_error(
      point_metrics.circular_mean(aligned), truth, magnitude
  )
  if labels is None:
    return scores, None
  regions = distributions.tissue_regions(labels)
  by_region = proper_scores.region_means(
      crps_map, magnitude, regions, len(distributions.TISSUE_REGIONS)
  )
  for index, name in enumerate(distributions.TISSUE_REGIONS):
    scores[f"crps_{name}"] = by_region[:, index]
  histograms = distributions.difference_histograms(samples, magnitude, labels)
  return scores, histograms


class Accumulator:
  """Per-image scores and pooled histograms of several sources, and the
  truth's histograms (`add_truth`)."""

  def __init__(self):
    self.scores: dict[str, dict[str, list[np.ndarray]]] = {}
    self.histograms: dict[str, np.ndarray] = {}
    self.truth_histograms: np.ndarray | None = None

  def add_truth(self, histograms) -> None:
    total = 0.0 if self.truth_histograms is None else self.truth_histograms
    self.truth_histograms = total + np.asarray(histograms, np.float64)

  def add(self, source: str, scores: Mapping, histograms=None) -> None:
    rows = self.scores.setdefault(source, {})
    for name, values in scores.items():
      rows.setdefault(name, []).append(np.asarray(values, np.float64))
    if histograms is not None:
      total = self.histograms.get(source, 0.0)
      self.histograms[source] = total + np.asarray(histograms, np.float64)

  def per_image(self) -> dict[str, dict[str, np.ndarray]]:
    return {
        source: {name: np.concatenate(v) for name, v in rows.items()}
        for source, rows in self.scores.items()
    }


def summarize(
    accumulator: Accumulator,
    reference: str | None,
    level: float = 0.95,
    seed: int = 0,
) -> dict:
  """The sources' table.

  Args:
    accumulator: per-image scores of every source on the same images (and
      the truth's histograms, for W1).
    reference: the source the others are paired against (None: no pairs).
    level: interval coverage.
    seed: bootstrap seed.

  Returns:
    {"sources": {source: {score: {mean, ci_low, ci_high}}}, with
    spread_skill_d* (pooled terms, about 1 when calibrated) and
    w1_boundary / w1_interior (radians, against the truth's histograms)
    added; "paired": {source: {score: {mean_difference, low, high}}} of
    reference - source for `PAIRED` scores (< 0: the reference is better),
    "num_images", "level"}.
  """
  per_image = accumulator.per_image()
  truth_histograms = accumulator.truth_histograms
  table, paired, counts = {}, {}, set()
  for source, scores in per_image.items():
    row = {}
    for name, values in scores.items():
      counts.add(values.size)
      if name.startswith(("skill_", "spread_")):
        continue
      row[name] = stats.bootstrap(values, level, seed).as_dict()
    for name in scores:
      if name.startswith("skill_"):
        suffix = name.removeprefix("skill_")
        row[f"spread_skill_{suffix}"] = stats.ratio_bootstrap(
            scores[f"spread_{suffix}"], scores[name], level, seed
        ).as_dict()
    if source in accumulator.histograms and truth_histograms is not None:
      distances = distributions.wasserstein_1(
          accumulator.histograms[source], truth_histograms
      )
      for region, distance in zip(distributions.DIFFERENCE_REGIONS, distances):
        row[f"w1_{region}"] = {
            "mean": float(distance),
            "ci_low": float("nan"),
            "ci_high": float("nan"),
        }
    table[source] = row
  if len(counts) > 1:
    raise ValueError(f"Sources were scored on different images: {counts}.")
  if reference is not None and reference in per_image:
    for source, scores in per_image.items():
      if source == reference:
        continue
      paired[source] = {
          name: (
              stats.paired_bootstrap(
                  per_image[reference][name], scores[name], level, seed=seed
              ).as_difference_dict()
          )
          for name in PAIRED
          if name in scores
      }
  return {
      "sources": table,
      "paired": paired,
      "num_images": counts.pop() if counts else 0,
      "level": level,
  }


def _cell(stats: dict) -> str:
  if np.isnan(stats["ci_low"]):
    return f"{stats['mean']:.3f}"
  return f"{stats['mean']:.3f} [{stats['ci_low']:.3f}, {stats['ci_high']:.3f}]"


def _table(columns: Sequence[str], rows: Mapping, cell) -> list[str]:
  """Markdown lines: a header of `columns`, one row per source, each cell
  `cell(stats)` where the row has the column, "-" where not."""
  lines = [
      "| source | " + " | ".join(columns) + " |",
      "|---" * (len(columns) + 1) + "|",
  ]
  for source, row in rows.items():
    cells = [cell(row[c]) if c in row else "-" for c in columns]
    lines.append(f"| {source} | " + " | ".join(cells) + " |")
  return lines


def _paired_cell(interval: dict) -> str:
  return (
      f"{interval['mean_difference']:+.3f} [{interval['low']:+.3f},"
      f" {interval['high']:+.3f}]"
  )


def _by_offset(name: str) -> tuple[str, float]:
  """energy_d1, energy_d4, energy_d16, energy_total, spread_skill_d1, ..."""
  family, _, scale = name.rpartition("_")
  return family, float(scale[1:]) if scale.startswith("d") else math.inf


def markdown(summary: dict, reference: str = "sbdm") -> str:
  """`summarize`'s result as markdown tables: scores, the CRPS by region
  (labelled data), and the paired differences reference - source
  (negative: the reference is better)."""
  sources = summary["sources"]
  columns = sorted(
      (
          name
          for name in next(iter(sources.values()), {})
          if name.startswith(("energy_", "spread_skill_"))
      ),
      key=_by_offset,
  )
  columns += [
      name
      for name in ("crps", "spectral_distance", "w1_boundary", "w1_interior")
      if any(name in row for row in sources.values())
  ]
  columns.append("mean_error")
  lines = [
      (
          f"Proper scores on {summary['num_images']} images, mean"
          f" [{summary['level']:.0%} bootstrap interval]; lower is better"
          " except spread_skill (about 1 when calibrated). Read against the"
          " oracle rows."
      ),
      "",
      *_table(columns, sources, _cell),
  ]
  regions = [
      f"crps_{name}"
      for name in distributions.TISSUE_REGIONS
      if any(f"crps_{name}" in row for row in sources.values())
  ]
  if regions:
    lines += [
        "",
        "Self-gauged circular CRPS (radians) by where a pixel lies.",
        "",
        *_table(regions, sources, _cell),
    ]
  if summary["paired"]:
    lines += [
        "",
        (
            f"Paired differences {reference} - source over images (< 0:"
            f" {reference} is better)."
        ),
        "",
        *_table(PAIRED, summary["paired"], _paired_cell),
    ]
  return "\n".join(lines) + "\n"
