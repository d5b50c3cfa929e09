"""Reconstruction metrics with fastMRI's evaluation conventions, in JAX.

fastMRI (`fastmri/evaluate.py`) scores a reconstructed volume `pred` against
the target volume `gt`, both (S, H, W) magnitude images (S slices):

  * NMSE = ||gt - pred||^2 / ||gt||^2 over the whole volume;
  * PSNR = 10 log10(data_range^2 / mean((gt - pred)^2)) over the volume, with
    data_range = gt.max() of the volume (scikit-image peak_signal_noise_ratio);
  * SSIM = mean over slices of scikit-image `structural_similarity` with
    data_range = gt.max() of the *volume*: uniform 7x7 window, K1 = 0.01,
    K2 = 0.03, sample covariance (N / (N - 1) with N = 49), and the SSIM map
    averaged over the image cropped by (7 - 1) // 2 pixels at every border.

Because the border crop removes exactly the pixels whose window would leave
the image, a 'valid' box filter reproduces scikit-image's (reflect-padded)
filter on the pixels that count. Everything is float32 and jittable; the
reference tests compare against scikit-image to 1e-4.
"""

import jax
import jax.numpy as jnp

# scikit-image / fastMRI SSIM defaults (Wang et al. 2004 constants).
SSIM_WIN_SIZE = 7
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def _box_mean(x: jax.Array, win_size: int) -> jax.Array:
  """Mean over every full win_size x win_size window ('valid'), (..., H, W)."""
  window = (1,) * (x.ndim - 2) + (win_size, win_size)
  total = jax.lax.reduce_window(
      x, 0.0, jax.lax.add, window, (1,) * x.ndim, "VALID"
  )
  return total / (win_size * win_size)


def ssim_map(
    gt: jax.Array,
    pred: jax.Array,
    data_range: jax.Array,
    win_size: int = SSIM_WIN_SIZE,
    k1: float = SSIM_K1,
    k2: float = SSIM_K2,
) -> jax.Array:
  """The SSIM map on the border-cropped image (scikit-image semantics).

  Args:
    gt: (..., H, W) float reference images.
    pred: (..., H, W) float images to score.
    data_range: scalar or array broadcastable to (...,), the dynamic range
      (fastMRI: gt.max() of the volume).
    win_size: odd side of the uniform window.
    k1: luminance constant.
    k2: contrast constant.

  Returns:
    float32 map of shape (..., H - win_size + 1, W - win_size + 1).
  """
  gt = jnp.asarray(gt, jnp.float32)
  pred = jnp.asarray(pred, jnp.float32)
  data_range = jnp.asarray(data_range, jnp.float32)[..., None, None]
  num_points = win_size * win_size
  cov_norm = num_points / (num_points - 1)  # sample covariance
  # Second moments are taken about the reference's mean, which removes most
  # of the float32 cancellation in E[x^2] - E[x]^2 without changing the math.
  shift = jnp.mean(gt, axis=(-2, -1), keepdims=True)
  x, y = gt - shift, pred - shift
  ux, uy = _box_mean(x, win_size), _box_mean(y, win_size)
  vx = cov_norm * (_box_mean(x * x, win_size) - ux * ux)
  vy = cov_norm * (_box_mean(y * y, win_size) - uy * uy)
  vxy = cov_norm * (_box_mean(x * y, win_size) - ux * uy)
  ux, uy = ux + shift, uy + shift
  c1 = (k1 * data_range) ** 2
  c2 = (k2 * data_range) ** 2
  numerator = (2 * ux * uy + c1) * (2 * vxy + c2)
  denominator = (ux * ux + uy * uy + c1) * (vx + vy + c2)
  return numerator / denominator


def ssim(
    gt: jax.Array, pred: jax.Array, data_range: jax.Array | None = None
) -> jax.Array:
  """fastMRI volume SSIM: per-slice SSIM averaged over slices.

  Args:
    gt: (S, H, W) target volume.
    pred: (S, H, W) reconstruction.
    data_range: defaults to gt.max() over the volume.

  Returns:
    float32 scalar.
  """
  if data_range is None:
    data_range = jnp.max(gt)
  return jnp.mean(ssim_map(gt, pred, data_range), axis=(-2, -1)).mean()


def nmse(gt: jax.Array, pred: jax.Array) -> jax.Array:
  """Normalized MSE ||gt - pred||^2 / ||gt||^2 over all axes (float32)."""
  gt = jnp.asarray(gt, jnp.float32)
  pred = jnp.asarray(pred, jnp.float32)
  return jnp.sum((gt - pred) ** 2) / jnp.sum(gt**2)


def psnr(
    gt: jax.Array, pred: jax.Array, data_range: jax.Array | None = None
) -> jax.Array:
  """PSNR in dB over the volume with data_range = gt.max() (float32)."""
  gt = jnp.asarray(gt, jnp.float32)
  pred = jnp.asarray(pred, jnp.float32)
  if data_range is None:
    data_range = jnp.max(gt)
  mse = jnp.mean((gt - pred) ** 2)
  return 10.0 * jnp.log10(data_range**2 / mse)


@jax.jit
def volume_metrics(gt: jax.Array, pred: jax.Array) -> dict[str, jax.Array]:
  """NMSE, PSNR and SSIM of one (S, H, W) volume, fastMRI conventions."""
  return {
      "nmse": nmse(gt, pred),
      "psnr": psnr(gt, pred),
      "ssim": ssim(gt, pred),
  }


@jax.jit
def slice_metrics(gt: jax.Array, pred: jax.Array) -> dict[str, jax.Array]:
  """Per-slice metrics: each (H, W) slice of (N, H, W) scored as a volume of
  one slice (its own data range); returns a dict of (N,) float32 arrays."""
  return jax.vmap(lambda g, p: volume_metrics(g[None], p[None]))(gt, pred)
