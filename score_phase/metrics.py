"""Phase quality metrics (all pure jnp; phases in radians, (B,H,W)).

* Circular error: |wrap(phi_hat - phi)| averaged over pixels with weights
  = magnitude (so bright anatomy counts, background noise does not); for the
  circular mean of the samples (`mean_error`) and for single samples
  (`sample_error`, averaged over samples). Radians in [0, pi]; uniform random
  phase scores pi / 2.
* Aligned error (`*_error_aligned`): the same after removing the best global
  phase offset (the weighted circular mean of phi_hat - phi). A constant
  phase is unobservable in MRI and irrelevant downstream, and the synthetic
  set draws it uniformly, so the raw error of *any* method is ~pi / 2.
* Gradient error: magnitude-weighted |wrap(d phi_hat - d phi)| of the phase
  differences between neighbouring pixels (both axes); invariant to the
  global offset and nearly so to slowly varying background phase, it
  measures the local, anatomy-driven structure (dipole patterns at
  air/tissue boundaries, fat chemical shift).
* Diversity: per-pixel circular standard deviation sqrt(-2 ln R) of the
  samples, R = |mean_k exp(i phi_k)| (0 when all samples agree; grows without
  bound as they spread uniformly, we cap R at a tiny floor), averaged with
  magnitude weights (`diversity_foreground`) and over background pixels
  (`diversity_background`, magnitude < threshold).
  `gradient_diversity_*` is the circular std of the neighbour differences
  across samples: high where phase is noise (background), low where the
  anatomy determines the local phase.
* k-space error (after global alignment): NMSE
  ||F(m e^{i phi_hat}) - F(m e^{i phi})||^2 /
  ||F(m e^{i phi})||^2 of the resulting complex images with the centered
  orthonormal FFT (equal to the image-domain NMSE by Parseval, i.e. a
  magnitude^2-weighted 2(1 - cos error)), and the same restricted to the
  central k-space block (`kspace_nmse_center`, the low frequencies that
  calibration / coil estimation use).

The errors above grade single samples, which a broad conditional punishes:
a calibrated sampler cannot beat a point guess on them (DESIGN.md, "How a
phase sampler is judged"). Proper scores grade the K >= 2 samples as a
distribution, per image (lower is better), with a calibration diagnostic
and a paired interval to compare two samplers:

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
* `paired_bootstrap_ci`: CI of mean(a - b) of two methods' per-image scores
  by resampling images (numpy, on host).

Two distribution matches, read against the oracle's own draw-to-draw
variability (a perfect sampler scores what the oracle scores, not 0):

* Spectral distance (`radial_log_spectrum`, `spectral_distance`): the
  radially averaged log10 power spectrum of F(m e^{i phi}) (power per
  integer k-radius, normalised to unit total), and per image
  mean_k mean_r |S_k(r) - S_y(r)| in decades. Phase that is too smooth
  keeps power at low k; noise-like phase spreads it to the edge.
* Neighbour-difference Wasserstein-1 (`difference_histograms`,
  `wasserstein_1`): the distribution of |wrap(phi(x + 1) - phi(x))| over
  pixel pairs, weighted by m(x) m(x + 1), at tissue boundaries (the pair's
  labels differ) and in tissue interiors, pooled over images as
  histograms on [0, pi]; W1 between a source's and the truth's.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from kspace import fft
from kspace.common import phase as phase_lib
from kspace.simulator import phantom


def circular_difference(a: jax.Array, b: jax.Array) -> jax.Array:
  """wrap(a - b) in (-pi, pi], elementwise."""
  return phase_lib.wrap_phase(a - b)


def circular_mean(phases: jax.Array, axis: int = 0) -> jax.Array:
  """angle(mean(exp(i phi))) along `axis`, in (-pi, pi]."""
  mean = jnp.mean(jnp.exp(1j * phases), axis=axis)
  return phase_lib.wrap_phase(jnp.angle(mean))


def circular_std(
    phases: jax.Array, axis: int = 0, min_resultant: float = 1e-6
) -> jax.Array:
  """sqrt(-2 ln R) along `axis`, R the mean resultant length."""
  resultant = jnp.abs(jnp.mean(jnp.exp(1j * phases), axis=axis))
  resultant = jnp.clip(resultant, min_resultant, 1.0)
  return jnp.sqrt(-2.0 * jnp.log(resultant))


def weighted_mean(values: jax.Array, weights: jax.Array) -> jax.Array:
  """Per-image weighted mean over (H, W): (B,H,W) -> (B,)."""
  total = jnp.sum(weights, axis=(-2, -1))
  return jnp.sum(values * weights, axis=(-2, -1)) / jnp.maximum(total, 1e-12)


def circular_error(
    phase: jax.Array, target: jax.Array, magnitude: jax.Array
) -> jax.Array:
  """Magnitude-weighted mean |wrap(phase - target)| per image, (B,)."""
  return weighted_mean(jnp.abs(circular_difference(phase, target)), magnitude)


def align_global_phase(
    phase: jax.Array, target: jax.Array, magnitude: jax.Array
) -> jax.Array:
  """phase - c, with c the magnitude-weighted circular mean of phase - target.

  Args:
    phase, target, magnitude: (B,H,W).

  Returns:
    (B,H,W) phase in (-pi, pi] with the best constant offset removed.
  """
  resultant = jnp.sum(magnitude * jnp.exp(1j * (phase - target)), axis=(-2, -1))
  offset = jnp.angle(resultant)[..., None, None]
  return phase_lib.wrap_phase(phase - offset)


def neighbour_differences(phase: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Wrapped differences along H and W: (..., H-1, W), (..., H, W-1)."""
  return (
      circular_difference(phase[..., 1:, :], phase[..., :-1, :]),
      circular_difference(phase[..., :, 1:], phase[..., :, :-1]),
  )


def _pair_weights(magnitude: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Weight of a neighbour pair: the smaller of the two magnitudes."""
  return (
      jnp.minimum(magnitude[..., 1:, :], magnitude[..., :-1, :]),
      jnp.minimum(magnitude[..., :, 1:], magnitude[..., :, :-1]),
  )


def gradient_error(
    phase: jax.Array, target: jax.Array, magnitude: jax.Array
) -> jax.Array:
  """Weighted mean |wrap(d phase - d target)| over both axes, (B,)."""
  errors = [
      jnp.abs(circular_difference(a, b))
      for a, b in zip(
          neighbour_differences(phase), neighbour_differences(target)
      )
  ]
  weights = _pair_weights(magnitude)
  total = sum(jnp.sum(e * w, axis=(-2, -1)) for e, w in zip(errors, weights))
  norm = sum(jnp.sum(w, axis=(-2, -1)) for w in weights)
  return total / jnp.maximum(norm, 1e-12)


def gradient_diversity(samples: jax.Array, weights: jax.Array) -> jax.Array:
  """Weighted mean circular std across samples of neighbour differences.

  Args:
    samples: (K,B,H,W).
    weights: (B,H,W) pixel weights (pairs take the smaller).

  Returns:
    (B,) float32.
  """
  spreads = [circular_std(d, axis=0) for d in neighbour_differences(samples)]
  pair_weights = _pair_weights(weights)
  total = sum(
      jnp.sum(s * w, axis=(-2, -1)) for s, w in zip(spreads, pair_weights)
  )
  norm = sum(jnp.sum(w, axis=(-2, -1)) for w in pair_weights)
  return total / jnp.maximum(norm, 1e-12)


def kspace_nmse(
    phase: jax.Array,
    target: jax.Array,
    magnitude: jax.Array,
    center_fraction: float | None = None,
) -> jax.Array:
  """NMSE of the k-space of m exp(i phase) against m exp(i target), (B,).

  Args:
    phase, target, magnitude: (B,H,W).
    center_fraction: if given, only the central block of that fraction of
      each k-space side counts.
  """
  estimate = fft.fft2c(magnitude * jnp.exp(1j * phase))
  reference = fft.fft2c(magnitude * jnp.exp(1j * target))
  error = jnp.square(jnp.abs(estimate - reference))
  power = jnp.square(jnp.abs(reference))
  if center_fraction is not None:
    height, width = phase.shape[-2:]
    rows = jnp.abs(jnp.arange(height) - height // 2) <= center_fraction * (
        height / 2
    )
    cols = jnp.abs(jnp.arange(width) - width // 2) <= center_fraction * (
        width / 2
    )
    keep = (rows[:, None] & cols[None, :]).astype(error.dtype)
    error, power = error * keep, power * keep
  return jnp.sum(error, axis=(-2, -1)) / jnp.maximum(
      jnp.sum(power, axis=(-2, -1)), 1e-12
  )


def phase_metrics(
    samples: jax.Array,
    target: jax.Array,
    magnitude: jax.Array,
    *,
    background_threshold: float,
    center_fraction: float,
) -> dict[str, jax.Array]:
  """All metrics for K samples per image, per image (B,) each.

  Args:
    samples: (K, B, H, W) sampled phases.
    target: (B, H, W) ground-truth phase.
    magnitude: (B, H, W) magnitude (max ~1).
    background_threshold: magnitude below which a pixel is background.
    center_fraction: k-space center block for `kspace_nmse_center`.

  Returns:
    dict of (B,) float32: mean_error, sample_error (raw circular errors of
    the circular sample mean and of single samples), mean_error_aligned,
    sample_error_aligned, gradient_error (single samples),
    diversity_foreground / _background, gradient_diversity_foreground /
    _background, kspace_nmse, kspace_nmse_center (aligned single samples).
  """
  per_sample = jax.vmap(lambda f, p: f(p, target, magnitude), (None, 0))
  aligned = per_sample(align_global_phase, samples)
  background = (magnitude < background_threshold).astype(jnp.float32)
  spread = circular_std(samples, axis=0)

  def mean_over_samples(fn, phases):
    return jnp.mean(per_sample(fn, phases), axis=0)

  return {
      "mean_error": circular_error(circular_mean(samples), target, magnitude),
      "sample_error": mean_over_samples(circular_error, samples),
      "mean_error_aligned": circular_error(
          circular_mean(aligned), target, magnitude
      ),
      "sample_error_aligned": mean_over_samples(circular_error, aligned),
      "gradient_error": mean_over_samples(gradient_error, samples),
      "diversity_foreground": weighted_mean(spread, magnitude),
      "diversity_background": weighted_mean(spread, background),
      "gradient_diversity_foreground": gradient_diversity(samples, magnitude),
      "gradient_diversity_background": gradient_diversity(samples, background),
      "kspace_nmse": mean_over_samples(kspace_nmse, aligned),
      "kspace_nmse_center": mean_over_samples(
          lambda p, t, m: kspace_nmse(p, t, m, center_fraction), aligned
      ),
  }


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


def energy_scores(
    samples: jax.Array,
    truth: jax.Array,
    magnitude: jax.Array,
    deltas: tuple[int, ...] = (1, 4, 16),
) -> dict[str, jax.Array]:
  """Fair multi-scale energy score on gauge-invariant features (lower wins).

  Args:
    samples: (K, B, H, W) sampled phases, K >= 2.
    truth: (B, H, W) true phase.
    magnitude: (B, H, W) >= 0.
    deltas: feature offsets, each < min(H, W).

  Returns:
    dict of (B,) float32: f"d{delta}" per offset, skill - spread / 2 from
    `energy_terms` (in [-1, 2]; 0 when every sample equals the truth), and
    "total", their sum.
  """
  scores = {}
  for delta in deltas:
    skill, spread = energy_terms(samples, truth, magnitude, delta)
    scores[f"d{delta}"] = skill - 0.5 * spread
  scores["total"] = sum(scores[f"d{delta}"] for delta in deltas)
  return scores


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
  return circular_difference(phase, jnp.angle(resultant)[..., None, None])


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
  distance = lambda a, b: jnp.abs(circular_difference(a, b))
  skill = jnp.mean(distance(samples, truth), axis=0)
  spread = _pair_sum(samples, distance)
  return skill - spread / (2 * num_samples * (num_samples - 1))


def circular_crps(
    samples: jax.Array, truth: jax.Array, magnitude: jax.Array
) -> jax.Array:
  """Magnitude-weighted mean of `circular_crps_map` per image, (B,)."""
  return weighted_mean(circular_crps_map(samples, truth, magnitude), magnitude)


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


class BootstrapInterval(NamedTuple):
  """mean(a - b) over images and its percentile bootstrap interval."""

  mean_difference: float
  low: float
  high: float


def bootstrap_interval(
    statistic,
    columns: tuple[np.ndarray, ...],
    level: float = 0.95,
    num_resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
  """Percentile bootstrap interval of a statistic over images (on host).

  Every resample draws the same images for all columns, so paired columns
  stay paired.

  Args:
    statistic: (R, B) arrays, one per column -> (R,) values.
    columns: (B,) per-image arrays of the same images.
    level: coverage of the interval, in (0, 1).
    num_resamples: R, bootstrap resamples of the B images.
    seed: numpy seed of the resampling.

  Returns:
    (low, high) Python floats.
  """
  if not 0 < level < 1:
    raise ValueError(f"level must be in (0, 1), got {level}.")
  count = columns[0].size
  rng = np.random.default_rng(seed)
  indices = rng.integers(0, count, (num_resamples, count))
  values = statistic(*(column[indices] for column in columns))
  tail = 50 * (1 - level)
  low, high = np.percentile(values, [tail, 100 - tail])
  return float(low), float(high)


def paired_bootstrap_ci(
    a: np.ndarray | jax.Array,
    b: np.ndarray | jax.Array,
    level: float = 0.95,
    num_resamples: int = 2000,
    seed: int = 0,
) -> BootstrapInterval:
  """Percentile bootstrap CI of mean(a - b), resampling images (on host).

  Both methods are scored on the same images, so resampling the pairs keeps
  the between-image variation, which both share, out of the interval.

  Args:
    a, b: (B,) per-image scores of two methods on the same images (e.g.
      `energy_scores(...)["total"]`); numpy or jax.
    level: coverage of the interval, in (0, 1).
    num_resamples: bootstrap resamples of the B images.
    seed: numpy seed of the resampling.

  Returns:
    BootstrapInterval of Python floats. For lower-is-better scores, high < 0
    means a is better at that level.
  """
  difference = np.asarray(a, np.float64) - np.asarray(b, np.float64)
  if difference.ndim != 1 or difference.size < 2:
    raise ValueError(f"Need (B,) scores with B >= 2, got {difference.shape}.")
  low, high = bootstrap_interval(
      lambda d: np.mean(d, axis=1), (difference,), level, num_resamples, seed
  )
  return BootstrapInterval(float(np.mean(difference)), low, high)


def radial_log_spectrum(phase: jax.Array, magnitude: jax.Array) -> jax.Array:
  """log10 of the radially averaged power of F(m e^{i phase}).

  Args:
    phase: (..., B, H, W) radians.
    magnitude: (B, H, W) >= 0.

  Returns:
    (..., B, R) float32, R = min(H, W) // 2: bin r holds the k-space points
    with r <= |k| < r + 1 (the corners beyond R are left out), as the mean
    power of the bin over the image's total power (Parseval: the phase
    moves power between frequencies, it does not change the total).
  """
  height, width = phase.shape[-2:]
  num_bins = min(height, width) // 2
  power = jnp.square(jnp.abs(fft.fft2c(magnitude * jnp.exp(1j * phase))))
  power = power / jnp.maximum(
      jnp.sum(power, axis=(-2, -1), keepdims=True), 1e-30
  )
  ky = jnp.arange(height) - height // 2
  kx = jnp.arange(width) - width // 2
  radius = jnp.floor(jnp.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2)).astype(int)
  one_hot = (radius[..., None] == jnp.arange(num_bins)).astype(power.dtype)
  mean_power = jnp.einsum("...hw,hwr->...r", power, one_hot) / jnp.sum(
      one_hot, axis=(0, 1)
  )
  return jnp.log10(jnp.maximum(mean_power, 1e-30))


def spectral_distance(
    samples: jax.Array, truth: jax.Array, magnitude: jax.Array
) -> jax.Array:
  """mean_k mean_r |S_k(r) - S_y(r)| of `radial_log_spectrum`, (B,) decades."""
  spectra = radial_log_spectrum(samples, magnitude)
  target = radial_log_spectrum(truth, magnitude)
  return jnp.mean(jnp.abs(spectra - target), axis=(0, -1))


DIFFERENCE_REGIONS = ("boundary", "interior")


def difference_histograms(
    phase: jax.Array,
    magnitude: jax.Array,
    labels: jax.Array,
    num_bins: int = 64,
) -> jax.Array:
  """Weighted histograms of |wrapped neighbour differences| per region.

  Args:
    phase: (..., B, H, W) radians; every leading sample is pooled.
    magnitude: (B, H, W) >= 0; a pair weighs m(x) m(x + 1).
    labels: (B, H, W) int tissue classes; a pair is "boundary" where its two
      labels differ, "interior" where they agree on a tissue (not air).
    num_bins: bins on [0, pi].

  Returns:
    (2, num_bins) float32 weight sums, rows in `DIFFERENCE_REGIONS` order;
    add batches, then normalise (`wasserstein_1` does).
  """
  rows = []
  for axis in (-2, -1):
    size = phase.shape[axis]
    first = lambda x: jax.lax.slice_in_dim(x, 0, size - 1, axis=axis)
    second = lambda x: jax.lax.slice_in_dim(x, 1, size, axis=axis)
    difference = jnp.abs(circular_difference(second(phase), first(phase)))
    weight = second(magnitude) * first(magnitude)
    boundary = second(labels) != first(labels)
    interior = ~boundary & (first(labels) != phantom.BACKGROUND)
    bins = jnp.clip(
        jnp.floor(difference / jnp.pi * num_bins).astype(int), 0, num_bins - 1
    )
    weight = jnp.broadcast_to(weight, difference.shape)
    rows.append(
        jnp.stack([
            jnp.zeros(num_bins)
            .at[bins.ravel()]
            .add(jnp.where(region, weight, 0.0).ravel())
            for region in (
                jnp.broadcast_to(boundary, difference.shape),
                jnp.broadcast_to(interior, difference.shape),
            )
        ])
    )
  return rows[0] + rows[1]


def wasserstein_1(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """W1 (radians) between histograms on [0, pi] along the last axis.

  The integral of |CDF_a - CDF_b|, exact for distributions that are uniform
  within each bin; NaN where a histogram is empty.
  """
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  width = np.pi / a.shape[-1]
  with np.errstate(invalid="ignore", divide="ignore"):
    cdf_a = np.cumsum(a, axis=-1) / np.sum(a, axis=-1, keepdims=True)
    cdf_b = np.cumsum(b, axis=-1) / np.sum(b, axis=-1, keepdims=True)
  return np.sum(np.abs(cdf_a - cdf_b), axis=-1) * width


TISSUE_REGIONS = ("near_air", "near_bone", "near_fat", "elsewhere")


def _dilate(mask: jax.Array, distance: int) -> jax.Array:
  """Binary dilation of (B, H, W) by a (2d + 1)^2 square."""
  size = 2 * distance + 1
  return (
      jax.lax.reduce_window(
          mask.astype(jnp.float32),
          0.0,
          jax.lax.max,
          (1, size, size),
          (1, 1, 1),
          "SAME",
      )
      > 0
  )


def tissue_regions(labels: jax.Array, distance: int = 2) -> jax.Array:
  """Where a tissue pixel lies, for per-class CRPS (`region_means`).

  Args:
    labels: (B, H, W) int `phantom` classes.
    distance: pixels within this Chebyshev distance of a class are "near" it.

  Returns:
    (B, H, W) int32 index into `TISSUE_REGIONS`: near air (background
    label), else near bone, else near fat (fat or fatty marrow), else
    elsewhere; -1 on air itself.
  """
  near = lambda classes: _dilate(jnp.isin(labels, jnp.array(classes)), distance)
  region = jnp.select(
      [
          near((phantom.BACKGROUND,)),
          near((phantom.BONE,)),
          near((phantom.FAT, phantom.MARROW)),
      ],
      [0, 1, 2],
      3,
  )
  return jnp.where(labels == phantom.BACKGROUND, -1, region).astype(jnp.int32)
