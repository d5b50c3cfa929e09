"""Training losses on magnitude reconstructions.

* "l1": mean absolute error.
* "ssim": 1 - SSIM, with fastMRI's SSIMLoss conventions: uniform 7x7
  window, K1 = 0.01, K2 = 0.03, sample covariance, and each example's
  target maximum as its data range (the metric's map, `metrics.ssim_map`).
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp

from kspace.common import catalog
from recon import metrics

LossFn = Callable[[jax.Array, jax.Array], jax.Array]
LOSSES: catalog.Catalog[LossFn] = catalog.Catalog("loss.name")


@LOSSES.register("l1")
def l1_loss(pred: jax.Array, target: jax.Array) -> jax.Array:
  """Mean |pred - target| over (B, H, W) float32 -> scalar."""
  return jnp.mean(jnp.abs(pred - target))


@LOSSES.register("ssim")
def ssim_loss(pred: jax.Array, target: jax.Array) -> jax.Array:
  """1 - mean SSIM of (B, H, W) float32 images (per-example data range)."""
  data_range = jnp.max(target, axis=(-2, -1))
  return 1.0 - jnp.mean(metrics.ssim_map(target, pred, data_range))


def get_loss_fn(name: str) -> LossFn:
  """`loss_fn(pred, target) -> scalar float32` registered under `name`."""
  return LOSSES.get(name)
