"""The fastMRI baseline U-Net (Ronneberger et al.), in Flax Linen.

Same architecture as `fastmri.models.Unet`: `num_pools` levels of two
(3x3 conv without bias -> instance norm without affine -> leaky ReLU) blocks,
2x2 average pooling down, 2x2 stride-2 transposed convolution (+ instance norm
+ leaky ReLU) up with skip concatenation, a bottleneck that doubles the
channels, and a final 1x1 convolution with bias. Dropout is left out (fastMRI
trains with drop_prob = 0). Images are NHWC (channels last).

`ZeroFilledUnet` wraps it as a reconstruction model: the zero-filled,
root-sum-of-squares combined image is normalised by its mean and standard
deviation and clamped, passed through the U-Net, and un-normalised (fastMRI's
U-Net data transform normalises and clamps the input the same way).

Two options for large hardware leave the parameters and their names as they
are: `dtype=jnp.bfloat16` runs the convolutions in bf16 with float32
parameters (instance-norm statistics and the output stay float32), and
`remat=True` recomputes each block's activations in the backward pass
instead of storing them (less memory, one more forward).
"""

import itertools

import flax.linen as nn
import jax
import jax.numpy as jnp

from kspace import coils
from kspace import fft


def instance_norm(x: jax.Array, eps: float) -> jax.Array:
  """Instance norm without affine parameters (PyTorch InstanceNorm2d).

  Normalises each (example, channel) of (B, H, W, C) over H and W with the
  biased variance. Two passes (center, then square) are more accurate than
  E[x^2] - E[x]^2 and their gradient compiles to fewer reductions on CPU.
  The statistics are taken in float32 whatever the input dtype (a bf16 mean
  over 128^2 pixels loses most of its digits); the result has x's dtype.
  """
  x32 = x.astype(jnp.float32)
  centered = x32 - x32.mean(axis=(1, 2), keepdims=True)
  variance = jnp.mean(centered * centered, axis=(1, 2), keepdims=True)
  return (centered * jax.lax.rsqrt(variance + eps)).astype(x.dtype)


class ConvBlock(nn.Module):
  """Two (3x3 conv -> instance norm -> leaky ReLU) layers.

  Attributes:
    features: output channels.
    negative_slope: leaky ReLU slope.
    norm_eps: instance-norm epsilon.
    dtype: compute dtype of the convolutions (parameters stay float32).
  """

  features: int
  negative_slope: float
  norm_eps: float
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """(B, H, W, C_in) -> (B, H, W, features) in `dtype`."""
    for _ in range(2):
      x = nn.Conv(
          self.features,
          (3, 3),
          padding=1,
          use_bias=False,
          dtype=self.dtype,
      )(x)
      x = instance_norm(x, self.norm_eps)
      x = nn.leaky_relu(x, self.negative_slope)
    return x


class TransposeConvBlock(nn.Module):
  """2x2 stride-2 transposed conv -> instance norm -> leaky ReLU (upsampling).

  The windows of a 2x2 stride-2 transposed convolution do not overlap, so it
  is one matmul per input pixel followed by a depth-to-space reshape; written
  that way it is several times faster on CPU than a dilated convolution.
  """

  features: int
  negative_slope: float
  norm_eps: float
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """(B, H, W, C_in) -> (B, 2H, 2W, features) in `dtype`."""
    batch, height, width, in_features = x.shape
    kernel = self.param(
        "kernel",
        nn.initializers.lecun_normal(),
        (2, 2, in_features, self.features),
        jnp.float32,
    )
    x = jnp.einsum(
        "bhwc,ijcf->bhiwjf",
        x.astype(self.dtype),
        kernel.astype(self.dtype),
    )
    x = x.reshape(batch, 2 * height, 2 * width, self.features)
    x = instance_norm(x, self.norm_eps)
    return nn.leaky_relu(x, self.negative_slope)


def avg_pool_2x2(x: jax.Array) -> jax.Array:
  """2x2 average pooling with stride 2 of (B, H, W, C), H and W even."""
  batch, height, width, channels = x.shape
  return x.reshape(batch, height // 2, 2, width // 2, 2, channels).mean(
      axis=(2, 4)
  )


class Unet(nn.Module):
  """fastMRI U-Net.

  Attributes:
    out_chans: output channels.
    chans: channels after the first block (doubled at every pool).
    num_pools: number of down-/up-sampling levels; H and W must be divisible
      by 2 ** num_pools (the wrappers pad to that with `pad_to_multiple`).
    negative_slope: leaky ReLU slope (fastMRI: 0.2).
    norm_eps: instance-norm epsilon (PyTorch InstanceNorm2d: 1e-5).
    dtype: compute dtype of the 3x3 and transposed convolutions (float32, or
      bfloat16 for mixed precision); the parameters, normalisation
      statistics and the 1x1 output conv are float32.
    remat: recompute each block's activations in the backward pass.
  """

  out_chans: int
  chans: int
  num_pools: int
  negative_slope: float
  norm_eps: float
  dtype: jnp.dtype = jnp.float32
  remat: bool = False

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """(B, H, W, C_in) float32 -> (B, H, W, out_chans) float32."""
    factor = 2**self.num_pools
    if x.shape[1] % factor or x.shape[2] % factor:
      raise ValueError(
          f"Unet with {self.num_pools} pools needs H and W divisible by"
          f" {factor}, got {x.shape[1:3]}; pad the input."
      )
    kwargs = dict(
        negative_slope=self.negative_slope,
        norm_eps=self.norm_eps,
        dtype=self.dtype,
    )
    conv_cls, up_cls = ConvBlock, TransposeConvBlock
    if self.remat:
      conv_cls, up_cls = nn.remat(ConvBlock), nn.remat(TransposeConvBlock)
    # Explicit names keep the parameter tree the same with and without remat
    # (nn.remat renames the class), so checkpoints load either way.
    conv_index, up_index = itertools.count(), itertools.count()

    def conv(features, h):
      name = f"ConvBlock_{next(conv_index)}"
      return conv_cls(features, name=name, **kwargs)(h)

    def up(features, h):
      name = f"TransposeConvBlock_{next(up_index)}"
      return up_cls(features, name=name, **kwargs)(h)

    x = x.astype(self.dtype)
    skips = []
    features = self.chans
    for _ in range(self.num_pools):
      x = conv(features, x)
      skips.append(x)
      x = avg_pool_2x2(x)
      features *= 2
    x = conv(features, x)
    for skip in reversed(skips):
      features //= 2
      x = up(features, x)
      x = jnp.concatenate([x, skip], axis=-1)
      x = conv(features, x)
    # The 1x1 output conv stays float32: its bias gradient sums over every
    # pixel, which a bf16 sum gets wrong by tens of percent.
    return nn.Conv(self.out_chans, (1, 1))(x.astype(jnp.float32))


def pad_to_multiple(
    x: jax.Array, multiple: int
) -> tuple[jax.Array, tuple[slice, slice]]:
  """Zero-pads H and W of (B, H, W, C) to multiples of `multiple`, centered.

  Returns:
    The padded array and the (row, column) slices that crop it back.
  """
  pads, crops = [], []
  for size in x.shape[1:3]:
    total = -size % multiple
    before = total // 2
    pads.append((before, total - before))
    crops.append(slice(before, before + size))
  padded = jnp.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
  return padded, (crops[0], crops[1])


def zero_filled_rss(masked_kspace: jax.Array) -> jax.Array:
  """RSS of the zero-filled coil images: (B, C, H, W) complex -> (B, H, W)."""
  return coils.rss(fft.ifft2c(masked_kspace))


class ZeroFilledUnet(nn.Module):
  """Reconstruction model: U-Net on the normalised zero-filled RSS image.

  The input is normalised as fastMRI's `UnetDataTransform` does it
  (`normalize_instance`, then `clamp(-6, 6)`): minus the image mean, over
  its unbiased (ddof=1, torch's default) standard deviation plus `std_eps`,
  clipped to [-input_clamp, input_clamp]. The clamp keeps a few very bright
  pixels (fat, flow artefacts) from dominating the U-Net's input range. The
  output is un-normalised with the same mean and std, so the model predicts
  in image units.

  Attributes:
    chans: U-Net channels.
    num_pools: U-Net levels.
    negative_slope: leaky ReLU slope.
    norm_eps: instance-norm epsilon.
    std_eps: keeps the input normalisation finite on constant images
      (fastMRI: 1e-11).
    input_clamp: bound of the normalised input (fastMRI: 6); inf disables it.
    dtype: U-Net compute dtype (`Unet`).
    remat: recompute the U-Net's block activations in the backward pass.
  """

  chans: int
  num_pools: int
  negative_slope: float
  norm_eps: float
  std_eps: float
  input_clamp: float
  dtype: jnp.dtype = jnp.float32
  remat: bool = False

  @nn.compact
  def __call__(self, masked_kspace: jax.Array, mask: jax.Array) -> jax.Array:
    """Reconstructs magnitude images.

    Args:
      masked_kspace: (B, C, H, W) complex64 undersampled k-space.
      mask: (B, H, W) float32 sampling mask (unused: the zero-filled image
        already carries it; kept so every model has the same signature).

    Returns:
      (B, H, W) float32 magnitude reconstruction.
    """
    del mask
    image = zero_filled_rss(masked_kspace)
    mean = image.mean(axis=(-2, -1), keepdims=True)
    std = image.std(axis=(-2, -1), keepdims=True, ddof=1) + self.std_eps
    x = jnp.clip((image - mean) / std, -self.input_clamp, self.input_clamp)
    x, (rows, cols) = pad_to_multiple(x[..., None], 2**self.num_pools)
    x = Unet(
        1,
        self.chans,
        self.num_pools,
        self.negative_slope,
        self.norm_eps,
        dtype=self.dtype,
        remat=self.remat,
    )(x)
    return x[:, rows, cols, 0] * std + mean
