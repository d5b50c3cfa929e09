"""Distribution matches of phase maps (pure jnp, histograms pooled on host).

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

import jax
import jax.numpy as jnp
import numpy as np

from kspace import fft
from kspace.simulator import phantom
from score_phase.scoring import point_metrics


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
    difference = jnp.abs(
        point_metrics.circular_difference(second(phase), first(phase))
    )
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
