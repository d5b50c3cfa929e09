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
"""

import jax
import jax.numpy as jnp

from kspace import fft
from kspace.common import phase as phase_lib


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
