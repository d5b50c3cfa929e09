"""Proper scores of a phase sampler (all pure jnp; phases in radians, (B,H,W)).

The point errors of `point_metrics` grade single samples, which a broad conditional punishes:
a calibrated sampler cannot beat a point guess on them (docs/design.md, "How a
phase sampler is judged"). Proper scores grade the K >= 2 samples as a
distribution, per image (lower is better), with a calibration diagnostic
(paired intervals to compare two samplers: `runtime.stats`):

* Energy score (`energy_scores`), fair form, on gauge-invariant features.
  For an offset d, the feature field of a phase map is
  f = w exp(i (phi(x + d) - phi(x))) over all pixel pairs d apart along H
  and along W, with w^2 = m(x) m(x + d) normalised per image so that
  sum w^2 = 1 over both axes (||f|| = 1, so distances lie in [0, 2]; the
  product makes a pair count only where both pixels are bright). With
  X_k the samples' features and y the truth's,
    ES = mean_k ||X_k - y|| - 1 / (2 K (K - 1)) sum_{k != l} ||X_k - X_l||,
  whose expectation does not depend on K. Scales d in {1, 4, 16} by
  default, plus their sum.
* Spread/skill (`spread_skill_ratio`): E||X - X'|| / E||X - y|| on the same
  features, about 1 when calibrated, < 1 under-dispersed, 0 for a point
  guess. Per image; pool `energy_terms` over images for a dataset ratio.
* Circular CRPS (`circular_crps_map`, `circular_crps`): each sample and the
  truth first lose their own magnitude-weighted circular mean phase (the
  self-gauge), then per pixel the fair CRPS with the angular distance
  d(a, b) = |wrap(a - b)|,
    mean_k d(X_k, y) - 1 / (2 K (K - 1)) sum_{k != l} d(X_k, X_l),
  averaged with magnitude weights per image, or per region of a label map
  (`region_means`).
"""

import jax
import jax.numpy as jnp

from score_phase.scoring import point_metrics


def _check_samples(samples: jax.Array) -> int:
  """K of (K, B, H, W) samples; fair scores need two of them."""
  num_samples = samples.shape[0]
  if num_samples < 2:
    raise ValueError(f"Fair scores need K >= 2 samples, got {num_samples}.")
  return num_samples


def offset_features(
    phase: jax.Array, magnitude: jax.Array, delta: int
) -> jax.Array:
  """Gauge-invariant features w exp(i (phi(x + d) - phi(x))), both axes.

  Args:
    phase: (..., B, H, W) radians.
    magnitude: (B, H, W) >= 0.
    delta: pixel offset d, 1 <= d < min(H, W).

  Returns:
    (..., B, N) complex64 with N = (H - d) W + H (W - d): the pairs along H,
    then along W. The weights w = sqrt(m(x) m(x + d) / total), total the
    image's sum of m(x) m(x + d) over both axes, so each feature vector has
    unit norm (zero for an all-zero magnitude).
  """
  height, width = phase.shape[-2:]
  if not 1 <= delta < min(height, width):
    raise ValueError(f"Offset {delta} outside [1, {min(height, width)}).")
  differences = [
      phase[..., delta:, :] - phase[..., :-delta, :],
      phase[..., :, delta:] - phase[..., :, :-delta],
  ]
  products = [
      magnitude[..., delta:, :] * magnitude[..., :-delta, :],
      magnitude[..., :, delta:] * magnitude[..., :, :-delta],
  ]
  flat = lambda x: x.reshape(x.shape[:-2] + (-1,))
  difference = jnp.concatenate([flat(d) for d in differences], axis=-1)
  product = jnp.concatenate([flat(p) for p in products], axis=-1)
  total = jnp.sum(product, axis=-1, keepdims=True)
  weight = jnp.sqrt(product / jnp.maximum(total, 1e-12))
  return weight * jnp.exp(1j * difference)


def _pair_sum(samples: jax.Array, distance) -> jax.Array:
  """sum_{k, l} distance(x_k, x_l) over the leading axis, one row at a time.

  A row at a time keeps memory at K times one sample instead of K^2; the
  k == l terms are exactly zero for the distances used here.
  """
  rows = jax.lax.map(
      lambda row: jnp.sum(distance(row[None], samples), axis=0), samples
  )
  return jnp.sum(rows, axis=0)


def energy_terms(
    samples: jax.Array, truth: jax.Array, magnitude: jax.Array, delta: int
) -> tuple[jax.Array, jax.Array]:
  """The two expectations of the fair energy score at one offset.

  Args:
    samples: (K, B, H, W) sampled phases, K >= 2.
    truth: (B, H, W) true phase.
    magnitude: (B, H, W) >= 0.
    delta: feature offset (see `offset_features`).

  Returns:
    skill: (B,) mean_k ||X_k - y||, an estimate of E||X - y||.
    spread: (B,) mean over k != l of ||X_k - X_l||, of E||X - X'||.
    Both in [0, 2]. A dataset-level spread/skill ratio is
    sum(spread) / sum(skill) over images.
  """
  num_samples = _check_samples(samples)
  features = offset_features(samples, magnitude, delta)
  target = offset_features(truth, magnitude, delta)
  norm = lambda a, b: jnp.sqrt(jnp.sum(jnp.square(jnp.abs(a - b)), axis=-1))
  skill = jnp.mean(norm(features, target), axis=0)
  spread = _pair_sum(features, norm) / (num_samples * (num_samples - 1))
  return skill, spread


def energy_decomposition(
    samples: jax.Array,
    truth: jax.Array,
    magnitude: jax.Array,
    deltas: tuple[int, ...] = (1, 4, 16),
) -> dict[str, dict[str, jax.Array]]:
  """The fair energy score and its two terms, per offset and summed.

  Args:
    samples: (K, B, H, W) sampled phases, K >= 2.
    truth: (B, H, W) true phase.
    magnitude: (B, H, W) >= 0.
    deltas: feature offsets, each < min(H, W).

  Returns:
    {"skill" | "spread" | "energy": {f"d{delta}" | "total": (B,) float32}}:
    `energy_terms`' two terms and the score skill - spread / 2 (in [-1, 2];
    0 when every sample equals the truth), each summed over the offsets as
    "total".
  """
  terms = {"skill": {}, "spread": {}, "energy": {}}
  for delta in deltas:
    skill, spread = energy_terms(samples, truth, magnitude, delta)
    terms["skill"][f"d{delta}"] = skill
    terms["spread"][f"d{delta}"] = spread
    terms["energy"][f"d{delta}"] = skill - 0.5 * spread
  for by_offset in terms.values():
    by_offset["total"] = sum(by_offset[f"d{delta}"] for delta in deltas)
  return terms


def energy_scores(
    samples: jax.Array,
    truth: jax.Array,
    magnitude: jax.Array,
    deltas: tuple[int, ...] = (1, 4, 16),
) -> dict[str, jax.Array]:
  """Fair multi-scale energy score on gauge-invariant features (lower wins):
  `energy_decomposition`'s "energy", {f"d{delta}" | "total": (B,)}."""
  return energy_decomposition(samples, truth, magnitude, deltas)["energy"]


def spread_skill_ratio(
    samples: jax.Array,
    truth: jax.Array,
    magnitude: jax.Array,
    deltas: tuple[int, ...] = (1, 4, 16),
) -> dict[str, jax.Array]:
  """E||X - X'|| / E||X - y|| on the energy score's features, per image.

  About 1 for a calibrated sampler, below 1 when its samples are too alike
  (a point guess: 0), above when too spread.

  Args:
    samples: (K, B, H, W) sampled phases, K >= 2.
    truth: (B, H, W) true phase.
    magnitude: (B, H, W) >= 0.
    deltas: feature offsets, each < min(H, W).

  Returns:
    dict of (B,) float32: f"d{delta}" per offset and "total", the ratio of
    the spreads and skills summed over offsets (0 where the skill is 0).
  """
  ratios, spreads, skills = {}, [], []
  for delta in deltas:
    skill, spread = energy_terms(samples, truth, magnitude, delta)
    ratios[f"d{delta}"] = spread / jnp.maximum(skill, 1e-12)
    spreads.append(spread)
    skills.append(skill)
  ratios["total"] = sum(spreads) / jnp.maximum(sum(skills), 1e-12)
  return ratios


def remove_mean_phase(phase: jax.Array, magnitude: jax.Array) -> jax.Array:
  """Self-gauge: phase - angle(sum m exp(i phase)), per image.

  Args:
    phase: (..., B, H, W) radians.
    magnitude: (B, H, W) >= 0.

  Returns:
    (..., B, H, W) in (-pi, pi], magnitude-weighted circular mean 0.
  """
  resultant = jnp.sum(magnitude * jnp.exp(1j * phase), axis=(-2, -1))
  return point_metrics.circular_difference(
      phase, jnp.angle(resultant)[..., None, None]
  )


def circular_crps_map(
    samples: jax.Array, truth: jax.Array, magnitude: jax.Array
) -> jax.Array:
  """Per-pixel fair circular CRPS after the self-gauge (lower wins).

  Args:
    samples: (K, B, H, W) sampled phases, K >= 2.
    truth: (B, H, W) true phase.
    magnitude: (B, H, W) >= 0, sets each map's gauge.

  Returns:
    (B, H, W) float32 radians, mean_k d(X_k, y) - 1 / (2 K (K - 1))
    sum_{k != l} d(X_k, X_l) with d(a, b) = |wrap(a - b)|; 0 where all
    samples equal the truth.
  """
  num_samples = _check_samples(samples)
  samples = remove_mean_phase(samples, magnitude)
  truth = remove_mean_phase(truth, magnitude)
  distance = lambda a, b: jnp.abs(point_metrics.circular_difference(a, b))
  skill = jnp.mean(distance(samples, truth), axis=0)
  spread = _pair_sum(samples, distance)
  return skill - spread / (2 * num_samples * (num_samples - 1))


def circular_crps(
    samples: jax.Array, truth: jax.Array, magnitude: jax.Array
) -> jax.Array:
  """Magnitude-weighted mean of `circular_crps_map` per image, (B,)."""
  return point_metrics.weighted_mean(
      circular_crps_map(samples, truth, magnitude), magnitude
  )


def region_means(
    values: jax.Array,
    weights: jax.Array,
    labels: jax.Array,
    num_regions: int,
) -> jax.Array:
  """Weighted means of a map per image and region (e.g. tissue class).

  Args:
    values: (B, H, W), e.g. `circular_crps_map`.
    weights: (B, H, W) >= 0, e.g. the magnitude.
    labels: (B, H, W) int region of each pixel; values outside
      [0, num_regions) belong to no region.
    num_regions: R, static.

  Returns:
    (B, R) float32; NaN where a region has no weight in that image.
  """
  member = labels[..., None] == jnp.arange(num_regions)
  weights = jnp.where(member, weights[..., None], 0.0)
  total = jnp.sum(weights, axis=(-3, -2))
  weighted = jnp.sum(values[..., None] * weights, axis=(-3, -2))
  occupied = total > 0
  # Divide by 1 where empty: no 0 / 0 in the branch `where` discards.
  return jnp.where(occupied, weighted / jnp.where(occupied, total, 1), jnp.nan)
