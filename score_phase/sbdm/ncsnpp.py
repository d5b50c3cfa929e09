"""Conditional NCSN++-style U-Net: (x_t, noise label, magnitude) -> output.

Conditioning on the magnitude image goes two ways: (1) it is concatenated to
x_t as an input channel (as in the paper), and (2) an average-pooled copy is
injected into every residual block of the matching resolution (a magnitude
pyramid), so deep low-resolution features see the anatomy directly.

With `scan_conditioning`, the scan parameters (`score_phase.scan_params`)
are embedded per field, an absent field replaced by a learned null vector,
and added to the noise-level embedding, which each residual block adds as
a bias or, with `scale_shift_norm`, applies as a scale and shift after its
second norm (`layers.ResnetBlock`).

For large hardware, `dtype=jnp.bfloat16` runs the blocks in bf16 with
float32 parameters (the noise-level embedding and the output convolution
stay float32), and `remat=True` recomputes each residual and attention
block's activations in the backward pass; neither changes the parameters.
"""

import itertools

import flax.linen as nn
import jax.numpy as jnp

from score_phase import scan_params
from score_phase.sbdm import layers


class ScanEmbedding(nn.Module):
  """sum over fields of (present ? dense(field values) : learned null), then
  an MLP: (B, NUM_VALUES), (B, F) -> (B, features)."""

  features: int

  @nn.compact
  def __call__(self, values, present):
    total = 0.0
    for index, field in enumerate(scan_params.FIELDS):
      embedded = layers.dense(self.features)(
          values[:, scan_params.SLICES[field]]
      )
      null = self.param(
          f"null_{field}", nn.initializers.normal(0.02), (self.features,)
      )
      total = total + jnp.where(present[:, index : index + 1], embedded, null)
    return layers.dense(self.features)(nn.swish(total))


class ConditionalNCSNpp(nn.Module):
  """U-Net with residual blocks, attention at low resolution, skip links.

  Attributes:
    nf: base channel count.
    ch_mult: channel multiplier per resolution level (len = levels).
    num_res_blocks: residual blocks per level (down path; +1 on the up path).
    attn_resolutions: spatial sizes (e.g. (8,)) with self-attention.
    dropout: dropout rate.
    embedding_type: "fourier" or "sinusoidal" time embedding.
    fourier_scale: std of the Fourier frequencies.
    max_positions: sinusoidal embedding period scale.
    norm_groups: maximum GroupNorm groups.
    norm_group_channels: minimum channels per GroupNorm group (>= 2 keeps
      the noise-level embedding from being normalised away).
    out_channels: channels of x (2 for the phasor).
    magnitude_pyramid: inject the pooled magnitude into each block.
    skip_rescale: divide residual sums by sqrt(2).
    scan_conditioning: add the scan-parameter embedding (`ScanEmbedding`).
    scale_shift_norm: the blocks' conditioning (`layers.ResnetBlock`).
    dtype: compute dtype of the blocks (float32 or bfloat16).
    remat: recompute the residual and attention blocks' activations in the
      backward pass.
  """

  nf: int
  ch_mult: tuple[int, ...]
  num_res_blocks: int
  attn_resolutions: tuple[int, ...]
  dropout: float
  embedding_type: str
  fourier_scale: float
  max_positions: float
  norm_groups: int
  out_channels: int
  magnitude_pyramid: bool = True
  skip_rescale: bool = True
  scan_conditioning: bool = False
  scale_shift_norm: bool = False
  norm_group_channels: int = 4
  dtype: jnp.dtype = jnp.float32
  remat: bool = False

  @nn.compact
  def __call__(self, x, labels, magnitude, scan=None, train: bool = False):
    """Runs the network.

    Args:
      x: (B, H, W, out_channels) float32 noisy phasor image.
      labels: (B,) float32 noise labels (log of the noise level).
      magnitude: (B, H, W) float32 conditioning magnitude.
      scan: None (nothing known) or {"scan_values", "scan_present"} of
        `scan_params.encode`; ignored without `scan_conditioning`.
      train: enables dropout (needs a 'dropout' rng).

    Returns:
      (B, H, W, out_channels) float32.
    """
    levels = len(self.ch_mult)
    if x.shape[1] % 2 ** (levels - 1) or x.shape[2] % 2 ** (levels - 1):
      raise ValueError(
          f"Image size {x.shape[1:3]} must be divisible by"
          f" 2^{levels - 1} for ch_mult={self.ch_mult}."
      )
    embed_dim = 4 * self.nf
    if self.embedding_type == "fourier":
      temb = layers.GaussianFourierProjection(self.nf, self.fourier_scale)(
          labels
      )
    elif self.embedding_type == "sinusoidal":
      temb = layers.sinusoidal_embedding(labels, self.nf, self.max_positions)
    else:
      raise ValueError(f"Unknown embedding_type {self.embedding_type!r}.")
    temb = layers.dense(embed_dim)(temb)
    temb = layers.dense(embed_dim)(nn.swish(temb))
    if self.scan_conditioning:
      if scan is None:
        scan = scan_params.absent(x.shape[0])
      temb = temb + ScanEmbedding(embed_dim)(
          scan["scan_values"], scan["scan_present"]
      )

    cond = magnitude[..., None].astype(jnp.float32)
    pyramid = [cond]
    for _ in range(levels - 1):
      pyramid.append(layers.downsample(pyramid[-1]))

    resnet_cls, attention_cls = layers.ResnetBlock, layers.AttentionBlock
    if self.remat:
      # `train` (argument 4, counting self) is a Python bool.
      resnet_cls = nn.remat(resnet_cls, static_argnums=(4,))
      attention_cls = nn.remat(attention_cls)
    # Explicit names keep the parameter tree the same with and without remat
    # (nn.remat renames the class), so checkpoints load either way.
    resnet_index, attention_index = itertools.count(), itertools.count()

    def block(h, channels, level):
      extra = pyramid[level] if self.magnitude_pyramid else None
      return resnet_cls(
          channels,
          self.dropout,
          self.norm_groups,
          self.skip_rescale,
          self.norm_group_channels,
          self.dtype,
          self.scale_shift_norm,
          name=f"ResnetBlock_{next(resnet_index)}",
      )(h, temb, extra, train)

    def attend(h):
      return attention_cls(
          self.norm_groups,
          self.skip_rescale,
          self.norm_group_channels,
          self.dtype,
          name=f"AttentionBlock_{next(attention_index)}",
      )(h)

    def maybe_attend(h):
      return attend(h) if h.shape[1] in self.attn_resolutions else h

    h = layers.conv(self.nf, dtype=self.dtype)(
        jnp.concatenate([x, cond], axis=-1)
    )
    skips = [h]
    for level, mult in enumerate(self.ch_mult):
      for _ in range(self.num_res_blocks):
        h = maybe_attend(block(h, self.nf * mult, level))
        skips.append(h)
      if level != levels - 1:
        h = layers.downsample(h)
        skips.append(h)

    h = block(h, h.shape[-1], levels - 1)
    h = attend(h)
    h = block(h, h.shape[-1], levels - 1)

    for level in reversed(range(levels)):
      for _ in range(self.num_res_blocks + 1):
        h = jnp.concatenate([h, skips.pop()], axis=-1)
        h = maybe_attend(block(h, self.nf * self.ch_mult[level], level))
      if level != 0:
        h = layers.Upsample(h.shape[-1], self.dtype)(h)
    assert not skips

    # The last norm and the output conv run in float32 (the output conv's
    # bias gradient sums over every pixel, which bf16 gets visibly wrong).
    h = nn.swish(
        layers.group_norm(
            h.shape[-1], self.norm_groups, self.norm_group_channels
        )(h)
    )
    return nn.Conv(
        self.out_channels, (3, 3), kernel_init=nn.initializers.zeros
    )(h)
