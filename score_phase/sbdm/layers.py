"""Building blocks of the conditional NCSN++-style U-Net (Flax Linen).

Feature maps are NHWC, in the blocks' compute `dtype` (float32, or bfloat16
for mixed precision: parameters stay float32, and GroupNorm takes its
statistics in float32 either way). Every block is a small Linen module whose
hyperparameters are explicit fields (no ConfigDict inside modules).
"""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

# Init scale of the last conv of a residual block: each block starts close to
# the identity (NCSN++ uses 0 or 1e-10; small but non-zero keeps gradients).
SMALL_INIT_SCALE = 1e-2
# Half-width of a zero-mean, unit-variance uniform distribution (sqrt 3);
# the Fourier frequencies are scale * U(-sqrt 3, sqrt 3) (std = scale), which
# compiles faster than a Gaussian draw.
UNIFORM_TO_UNIT_STD = math.sqrt(3.0)


def default_init(scale: float = 1.0):
  """NCSN++ / DDPM initialisation: variance scaling, fan_avg, uniform.

  (Uniform also compiles much faster on CPU than Flax's truncated normal.)
  """
  return nn.initializers.variance_scaling(scale, "fan_avg", "uniform")


def conv(
    features: int,
    kernel: int = 3,
    scale: float = 1.0,
    dtype: jnp.dtype = jnp.float32,
) -> nn.Conv:
  """A same-padded kernel x kernel convolution with `default_init(scale)`."""
  return nn.Conv(
      features, (kernel, kernel), kernel_init=default_init(scale), dtype=dtype
  )


def dense(features: int, dtype: jnp.dtype = jnp.float32) -> nn.Dense:
  return nn.Dense(features, kernel_init=default_init(), dtype=dtype)


def group_norm(
    channels: int,
    max_groups: int,
    min_group_channels: int = 4,
    dtype: jnp.dtype = jnp.float32,
) -> nn.GroupNorm:
  """GroupNorm with the most groups that divide `channels`, are at most
  `max_groups` and keep >= `min_group_channels` channels per group.

  A group of one channel is an instance norm, which subtracts any
  per-channel constant: the noise-level embedding that a residual block adds
  before its second norm would vanish. NCSN++ keeps >= 4 channels per group
  (min(C // 4, 32) groups) for that reason.
  """
  groups = max(1, min(max_groups, channels // min_group_channels))
  while channels % groups:
    groups -= 1
  return nn.GroupNorm(num_groups=groups, dtype=dtype)


class GaussianFourierProjection(nn.Module):
  """Random Fourier features of a scalar noise label (Tancik et al.).

  Attributes:
    embedding_size: half the output width.
    scale: std of the fixed random frequencies (config: fourier_scale).
  """

  embedding_size: int
  scale: float

  @nn.compact
  def __call__(self, labels: jax.Array) -> jax.Array:
    """(B,) float -> (B, 2 * embedding_size) float32."""
    frequencies = self.param(
        "frequencies",
        lambda key, shape: self.scale
        * jax.random.uniform(
            key, shape, minval=-UNIFORM_TO_UNIT_STD, maxval=UNIFORM_TO_UNIT_STD
        ),
        (self.embedding_size,),
    )
    # Fixed (not trained), as in NCSN++; kept in params so checkpoints hold it.
    frequencies = jax.lax.stop_gradient(frequencies)
    projection = labels[:, None] * frequencies[None, :] * 2 * math.pi
    return jnp.concatenate([jnp.sin(projection), jnp.cos(projection)], -1)


def sinusoidal_embedding(
    labels: jax.Array, embedding_dim: int, max_positions: float
) -> jax.Array:
  """Transformer-style sinusoidal embedding, (B,) -> (B, embedding_dim)."""
  half = embedding_dim // 2
  frequencies = jnp.exp(
      -math.log(max_positions) * jnp.arange(half, dtype=jnp.float32) / half
  )
  arguments = labels[:, None].astype(jnp.float32) * frequencies[None, :]
  return jnp.concatenate([jnp.sin(arguments), jnp.cos(arguments)], -1)


class ResnetBlock(nn.Module):
  """BigGAN-style residual block with time and magnitude conditioning.

  h = conv(act(norm(x))) + dense(temb) [+ conv(cond)];
  h = conv(dropout(act(norm(h)))); out = (skip(x) + h) / sqrt(2).

  With `scale_shift_norm` (ADM's use_scale_shift_norm, EDM's adaptive
  scale) the embedding instead scales and shifts the normalised h:
  h = conv(dropout(act(norm(h) * (1 + scale) + shift))), (scale, shift) =
  dense(temb). An added bias is largely undone by the GroupNorm that follows
  it (only its differences within a group survive); a scale after the norm
  is not, so the noise level and the scan parameters reach every block.

  Attributes:
    out_channels: output width.
    dropout: dropout rate (training only).
    norm_groups: maximum GroupNorm groups.
    skip_rescale: divide the residual sum by sqrt(2).
    norm_group_channels: minimum channels per GroupNorm group.
    dtype: compute dtype.
    scale_shift_norm: condition by scale and shift after the second norm.
  """

  out_channels: int
  dropout: float
  norm_groups: int
  skip_rescale: bool = True
  norm_group_channels: int = 4
  dtype: jnp.dtype = jnp.float32
  scale_shift_norm: bool = False

  @nn.compact
  def __call__(self, x, temb, cond=None, train: bool = False):
    """x (B,H,W,C), temb (B,E), cond (B,H,W,Cc) or None -> (B,H,W,out)."""
    norm = lambda c: group_norm(
        c, self.norm_groups, self.norm_group_channels, self.dtype
    )
    h = nn.swish(norm(x.shape[-1])(x))
    h = conv(self.out_channels, dtype=self.dtype)(h)
    embedding = nn.swish(temb)
    if not self.scale_shift_norm:
      h += dense(self.out_channels, self.dtype)(embedding)[:, None, None]
    if cond is not None:
      h += conv(self.out_channels, dtype=self.dtype)(cond)
    h = norm(self.out_channels)(h)
    if self.scale_shift_norm:
      scale, shift = jnp.split(
          dense(2 * self.out_channels, self.dtype)(embedding)[:, None, None],
          2,
          axis=-1,
      )
      h = h * (1 + scale) + shift
    h = nn.swish(h)
    h = nn.Dropout(self.dropout, deterministic=not train)(h)
    # Small init keeps each block close to the identity at the start.
    h = conv(self.out_channels, scale=SMALL_INIT_SCALE, dtype=self.dtype)(h)
    if x.shape[-1] != self.out_channels:
      x = conv(self.out_channels, kernel=1, dtype=self.dtype)(x)
    out = x + h
    return out / math.sqrt(2.0) if self.skip_rescale else out


class AttentionBlock(nn.Module):
  """Single-head self-attention over all pixels with a residual connection."""

  norm_groups: int
  skip_rescale: bool = True
  norm_group_channels: int = 4
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    """(B,H,W,C) -> (B,H,W,C)."""
    batch, height, width, channels = x.shape
    h = group_norm(
        channels, self.norm_groups, self.norm_group_channels, self.dtype
    )(x)
    h = h.reshape(batch, -1, channels)
    h = nn.SelfAttention(
        num_heads=1,
        qkv_features=channels,
        kernel_init=default_init(),
        dtype=self.dtype,
    )(h)
    out = x + h.reshape(batch, height, width, channels)
    return out / math.sqrt(2.0) if self.skip_rescale else out


def downsample(x: jax.Array) -> jax.Array:
  """2x2 average pooling, (B,H,W,C) -> (B,H/2,W/2,C)."""
  return nn.avg_pool(x, (2, 2), strides=(2, 2))


class Upsample(nn.Module):
  """Nearest-neighbour 2x upsampling followed by a 3x3 convolution."""

  channels: int
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    batch, height, width, channels = x.shape
    x = jax.image.resize(
        x, (batch, 2 * height, 2 * width, channels), method="nearest"
    )
    return conv(self.channels, dtype=self.dtype)(x)
