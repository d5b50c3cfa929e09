"""pix2pix networks (Isola et al. 2017) for phase given magnitude.

The generator is pix2pix's U-Net (4x4 stride-2 convolutions, instance norm,
skip links by concatenation) with one change: pix2pix's only randomness is
dropout, which its authors found the generator learns to ignore, so this
one draws explicit N(0, 1) noise channels (rng stream "noise") at the input
and at the bottleneck. Its output is the unit phasor (cos, sin), so +pi and
-pi are the same point (score_phase.representation).

The discriminator is the PatchGAN: strided 4x4 convolutions with LeakyReLU
0.2 give one real/fake logit per overlapping patch (34x34 pixels for 2
strided layers, 70x70 for pix2pix's 3) of concat(magnitude, phasor).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

# Slope of pix2pix's LeakyReLU (encoder and discriminator).
LEAKY_SLOPE = 0.2
KERNEL = (4, 4)
PHASOR_CHANNELS = 2


def _instance_norm(x: jax.Array) -> jax.Array:
  # pix2pix's instance norm has no affine parameters and no running
  # statistics, so training and sampling normalise the same way.
  return nn.InstanceNorm(use_bias=False, use_scale=False)(x)


def unit_phasor(x: jax.Array, eps: float) -> jax.Array:
  """x / sqrt(|x|^2 + eps) over the last (2-channel) axis."""
  return x * jax.lax.rsqrt(jnp.sum(jnp.square(x), -1, keepdims=True) + eps)


class UNetGenerator(nn.Module):
  """magnitude (+ noise) -> unit phasor, a pix2pix U-Net.

  Attributes:
    features: channels of the first level; level l has
      min(features * 2**l, max_features).
    num_levels: stride-2 downsamplings; the image side must be divisible by
      2**num_levels (pix2pix at 256x256 uses 8, down to 1x1).
    max_features: channel cap of the deep levels.
    noise_channels: N(0, 1) channels concatenated at the input and at the
      bottleneck (0: a deterministic generator).
    phasor_eps: eps of the unit-length normalisation of the output.
  """

  features: int
  num_levels: int
  max_features: int
  noise_channels: int
  phasor_eps: float

  def _noise(self, like: jax.Array) -> jax.Array:
    shape = like.shape[:-1] + (self.noise_channels,)
    return jax.random.normal(self.make_rng("noise"), shape, like.dtype)

  @nn.compact
  def __call__(self, magnitude: jax.Array) -> jax.Array:
    """One phasor sample per magnitude (needs rngs={"noise": key}).

    Args:
      magnitude: (B, H, W) float32.

    Returns:
      (B, H, W, 2) float32 unit phasors (cos, sin).
    """
    size = 2**self.num_levels
    if magnitude.shape[1] % size or magnitude.shape[2] % size:
      raise ValueError(
          f"Image size {magnitude.shape[1:]} is not divisible by 2**num_levels"
          f" = {size}; lower generator.num_levels or crop the images."
      )
    widths = [
        min(self.features * 2**level, self.max_features)
        for level in range(self.num_levels)
    ]
    h = jnp.asarray(magnitude, jnp.float32)[..., None]
    if self.noise_channels:
      h = jnp.concatenate([h, self._noise(h)], axis=-1)
    skips = []
    for level, width in enumerate(widths):
      h = nn.Conv(width, KERNEL, strides=2)(h)
      # pix2pix normalises neither the outermost nor the innermost level.
      if 0 < level < self.num_levels - 1:
        h = _instance_norm(h)
      h = nn.leaky_relu(h, LEAKY_SLOPE)
      skips.append(h)
    if self.noise_channels:
      h = jnp.concatenate([h, self._noise(h)], axis=-1)
    for level in reversed(range(1, self.num_levels)):
      if level < self.num_levels - 1:
        h = jnp.concatenate([h, skips[level]], axis=-1)
      h = nn.ConvTranspose(widths[level - 1], KERNEL, strides=(2, 2))(h)
      h = nn.relu(_instance_norm(h))
    if self.num_levels > 1:
      h = jnp.concatenate([h, skips[0]], axis=-1)
    h = nn.ConvTranspose(PHASOR_CHANNELS, KERNEL, strides=(2, 2))(h)
    return unit_phasor(h, self.phasor_eps)


class PatchDiscriminator(nn.Module):
  """PatchGAN: one real/fake logit per image patch.

  Attributes:
    features: channels of the first layer (doubling per layer, up to
      8 * features, as in pix2pix).
    num_layers: stride-2 layers (pix2pix's n_layers; 3 gives 70x70 patches).
  """

  features: int
  num_layers: int

  @nn.compact
  def __call__(self, magnitude: jax.Array, phasor: jax.Array) -> jax.Array:
    """Logits of `phasor` being a real phase for `magnitude`.

    Args:
      magnitude: (B, H, W) float32.
      phasor: (B, H, W, 2) float32 unit phasors.

    Returns:
      (B, H / 2**num_layers, W / 2**num_layers) float32 patch logits.
    """
    h = jnp.concatenate(
        [jnp.asarray(magnitude, jnp.float32)[..., None], phasor], axis=-1
    )
    h = nn.leaky_relu(nn.Conv(self.features, KERNEL, strides=2)(h), LEAKY_SLOPE)
    for layer in range(1, self.num_layers + 1):
      width = self.features * min(2**layer, 8)
      # The last feature layer keeps the resolution (pix2pix's stride 1).
      stride = 2 if layer < self.num_layers else 1
      h = nn.Conv(width, KERNEL, strides=stride)(h)
      h = nn.leaky_relu(_instance_norm(h), LEAKY_SLOPE)
    return nn.Conv(1, KERNEL)(h)[..., 0]
