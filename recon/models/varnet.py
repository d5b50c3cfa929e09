"""End-to-end variational network (Sriram et al. 2020), in Flax Linen.

Same structure as `fastmri.models.VarNet`:

  * `SensitivityModel`: the low-resolution coil images of the fully sampled
    center (ACS) lines (`kspace.coils.acs_coil_images`, the width found from
    each mask as fastMRI does), each coil refined by a small `NormUnet`
    (coils folded into the batch), then divided by their root-sum-of-squares.
  * `num_cascades` x `VarNetBlock`: k <- k - w M (k - k0) - E(R(E^H k)),
    where E = F S ("sens_expand", `kspace.operators.forward` with a full mask),
    E^H its adjoint ("sens_reduce", `kspace.operators.adjoint`), R a
    `NormUnet` on the complex image as two real channels, M the sampling
    mask, k0 the measured k-space and w a learned soft data-consistency weight.
  * Output: the RSS of the final coil images (fastMRI's target convention).

The physics stays in complex64. The ACS width of the sensitivity estimate
is found from each example's mask (`num_low_frequencies=None`, fastMRI's
behaviour when its batch carries no count), or is a static count such as the
smallest ACS of the configured mask settings, which every drawn mask samples
fully.
"""

import functools
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from kspace import coils
from kspace import fft
from kspace import masks
from kspace import operators
from recon.models import unet


def sens_expand(image: jax.Array, sens: jax.Array) -> jax.Array:
  """E x = F (S x): (B, H, W) image, (B, C, H, W) maps -> (B, C, H, W)."""
  full = jnp.ones((), jnp.float32)
  return jax.vmap(operators.forward, in_axes=(0, 0, None))(image, sens, full)


def sens_reduce(kspace: jax.Array, sens: jax.Array) -> jax.Array:
  """E^H k = sum_c conj(S_c) F^H k_c: (B, C, H, W) -> (B, H, W) complex."""
  full = jnp.ones((), jnp.float32)
  return jax.vmap(operators.adjoint, in_axes=(0, 0, None))(kspace, sens, full)


def soft_data_consistency(
    kspace: jax.Array, measured: jax.Array, mask: jax.Array, weight: jax.Array
) -> jax.Array:
  """The soft DC term w M (k - k0).

  Args:
    kspace: (B, C, H, W) complex current estimate.
    measured: (B, C, H, W) complex measured (zero-filled) k-space.
    mask: (B, H, W) float32 sampling mask.
    weight: scalar data-consistency weight.

  Returns:
    (B, C, H, W) complex64; zero where the mask is zero.
  """
  sampled = mask[:, None] > 0
  return jnp.where(sampled, kspace - measured, 0) * weight


class NormUnet(nn.Module):
  """U-Net on a complex image as 2 real channels, with per-channel
  mean/std normalisation and zero padding to a multiple of 2 ** num_pools.

  The normalisation is fastMRI's `NormUnet.norm`: the mean and torch's
  default unbiased (ddof=1) standard deviation of each of the real and
  imaginary channels over the pixels, with no epsilon, so that a model
  trained here sees the same inputs as the reference.

  Attributes:
    chans: U-Net channels.
    num_pools: U-Net levels.
    negative_slope: leaky ReLU slope.
    norm_eps: instance-norm epsilon.
    std_eps: added to the standard deviation. 0 is fastMRI's behaviour, under
      which a constant (e.g. all-zero) image gives NaN; a small positive
      value (e.g. 1e-6) keeps such inputs finite at a small bias.
    dtype: U-Net compute dtype (`unet.Unet`).
    remat: recompute the U-Net's block activations in the backward pass.
  """

  chans: int
  num_pools: int
  negative_slope: float
  norm_eps: float
  std_eps: float
  dtype: jnp.dtype = jnp.float32
  remat: bool = False

  @nn.compact
  def __call__(self, image: jax.Array) -> jax.Array:
    """(N, H, W) complex64 -> (N, H, W) complex64."""
    x = jnp.stack([image.real, image.imag], axis=-1)
    mean = x.mean(axis=(1, 2), keepdims=True)
    std = x.std(axis=(1, 2), keepdims=True, ddof=1) + self.std_eps
    x, (rows, cols) = unet.pad_to_multiple((x - mean) / std, 2**self.num_pools)
    x = unet.Unet(
        2,
        self.chans,
        self.num_pools,
        self.negative_slope,
        self.norm_eps,
        dtype=self.dtype,
        remat=self.remat,
    )(x)
    x = x[:, rows, cols] * std + mean
    return jax.lax.complex(x[..., 0], x[..., 1])


class SensitivityModel(nn.Module):
  """Coil maps from the ACS lines, refined by a NormUnet per coil.

  fastMRI's `SensitivityModel`: the ACS coil images go through the U-Net as
  they are, and only its output is divided by the RSS over coils. Dividing
  first (the non-learned `coils.estimate_sensitivities`) would hand the
  U-Net maps of unit RSS instead of coil images, a different input from the
  reference model's.

  Attributes:
    num_low_frequencies: static number of fully sampled center columns, or
      None to find each example's from its mask
      (`masks.num_low_frequencies_from_mask`, as fastMRI does).
    regularizer: zero-argument factory of the per-coil refiner (a NormUnet).
    rss_eps: added to the RSS the maps are divided by; 0 is fastMRI's
      `divide_root_sum_of_squares` (NaN where every coil's output vanishes).
  """

  num_low_frequencies: int | None
  regularizer: Callable[[], nn.Module]
  rss_eps: float

  @nn.compact
  def __call__(self, masked_kspace: jax.Array, mask: jax.Array) -> jax.Array:
    """Estimates coil maps.

    Args:
      masked_kspace: (B, C, H, W) complex64 undersampled k-space.
      mask: (B, H, W) float32 sampling mask.

    Returns:
      (B, C, H, W) complex64 maps with unit RSS over C.
    """
    if self.num_low_frequencies is None:
      num_low = masks.num_low_frequencies_from_mask(mask)
    else:
      num_low = self.num_low_frequencies
    images = coils.acs_coil_images(masked_kspace, num_low)
    batch, num_coils, height, width = images.shape
    refined = self.regularizer()(images.reshape(-1, height, width))
    refined = refined.reshape(batch, num_coils, height, width)
    return refined / (coils.rss(refined)[:, None] + self.rss_eps)


class VarNetBlock(nn.Module):
  """One cascade: k - w M (k - k0) - E R(E^H k).

  Attributes:
    regularizer: zero-argument factory of the image-domain regularizer R,
      (B, H, W) complex -> (B, H, W) complex.
    dc_weight_init: initial soft data-consistency weight w (learned).
  """

  regularizer: Callable[[], nn.Module]
  dc_weight_init: float

  @nn.compact
  def __call__(
      self,
      kspace: jax.Array,
      measured: jax.Array,
      mask: jax.Array,
      sens: jax.Array,
  ) -> jax.Array:
    """All k-space arrays (B, C, H, W) complex64; mask (B, H, W) float32."""
    weight = self.param(
        "dc_weight",
        nn.initializers.constant(self.dc_weight_init),
        (),
        jnp.float32,
    )
    model_term = sens_expand(
        self.regularizer()(sens_reduce(kspace, sens)), sens
    )
    dc_term = soft_data_consistency(kspace, measured, mask, weight)
    return (kspace - dc_term - model_term).astype(jnp.complex64)


class VarNet(nn.Module):
  """E2E-VarNet reconstruction model.

  Attributes:
    num_cascades: unrolled iterations.
    chans: channels of each cascade's U-Net.
    num_pools: levels of each cascade's U-Net.
    sens_chans: channels of the sensitivity U-Net.
    sens_pools: levels of the sensitivity U-Net.
    num_low_frequencies: static ACS width for the sensitivity estimate, or
      None to find it from each mask (fastMRI).
    dc_weight_init: initial soft data-consistency weight.
    negative_slope: leaky ReLU slope.
    norm_eps: instance-norm epsilon.
    std_eps: NormUnet normalisation epsilon.
    rss_eps: sensitivity normalisation epsilon.
    dtype: compute dtype of every U-Net (the physics stays complex64).
    remat: recompute the U-Nets' block activations in the backward pass.
    estimate_sens: estimate coil maps with the sensitivity U-Net; False
      (single coil only) uses a map of ones, as a single-coil VarNet does:
      one estimated "map" would be the low-resolution phase, divided out
      before each cascade's U-Net.
  """

  num_cascades: int
  chans: int
  num_pools: int
  sens_chans: int
  sens_pools: int
  num_low_frequencies: int | None
  dc_weight_init: float
  negative_slope: float
  norm_eps: float
  std_eps: float
  rss_eps: float
  dtype: jnp.dtype = jnp.float32
  remat: bool = False
  estimate_sens: bool = True

  def _norm_unet(self, chans: int, num_pools: int):
    return functools.partial(
        NormUnet,
        chans,
        num_pools,
        self.negative_slope,
        self.norm_eps,
        self.std_eps,
        dtype=self.dtype,
        remat=self.remat,
    )

  @nn.compact
  def __call__(self, masked_kspace: jax.Array, mask: jax.Array) -> jax.Array:
    """Reconstructs magnitude images.

    Args:
      masked_kspace: (B, C, H, W) complex64 undersampled k-space (C = 1 for
        single coil).
      mask: (B, H, W) float32 sampling mask.

    Returns:
      (B, H, W) float32 RSS reconstruction.
    """
    masked_kspace = masked_kspace.astype(jnp.complex64)
    if self.estimate_sens:
      sens = SensitivityModel(
          self.num_low_frequencies,
          self._norm_unet(self.sens_chans, self.sens_pools),
          self.rss_eps,
      )(masked_kspace, mask)
    elif masked_kspace.shape[1] != 1:
      raise ValueError(
          "model.estimate_sens=False needs single-coil k-space, got"
          f" {masked_kspace.shape[1]} coils: set forward.num_coils=1 or"
          " model.estimate_sens=True."
      )
    else:
      sens = jnp.ones_like(masked_kspace)
    kspace = masked_kspace
    for _ in range(self.num_cascades):
      kspace = VarNetBlock(
          self._norm_unet(self.chans, self.num_pools), self.dc_weight_init
      )(kspace, masked_kspace, mask, sens)
    return coils.rss(fft.ifft2c(kspace))
