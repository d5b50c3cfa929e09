"""The in-step forward model: image batches -> network inputs and targets.

`get_simulate_fn` returns a pure, jittable `simulate_fn(key, batch)` that,
per example, draws a mask (`kspace.masks.sample_mask`), a phase (from the
injected `PhaseFn`, or one of the records' own K) and, when the batch has no
coil maps, a randomly rotated birdcage coil array, then runs `kspace.synthesize.synthesize` vmapped over the
batch. The training step calls it inside `jit`, so a fresh mask, phase and
noise are drawn for every example at every step.
"""

import jax
import jax.numpy as jnp
import ml_collections

from kspace import coils
from kspace import fft
from kspace import masks
from kspace.common import phase as phase_lib
from kspace import synthesize


def get_simulate_fn(
    config: ml_collections.ConfigDict,
    phase_fn: phase_lib.PhaseFn | None = None,
):
  """Builds the batched forward model from the `forward` block.

  Args:
    config: the full recon config.
    phase_fn: where the phase comes from; None uses `batch["phase"]` (the
      records' own phase: ground truth, or a pre-synthesized one).

  Returns:
    simulate_fn(key, batch) with batch a dict holding `magnitude` (B, H, W)
    float32, `phase` (B, H, W) or (B, K, H, W) (K pre-synthesized phases,
    one drawn per example) when `phase_fn` is None, and optionally
    `sens` (B, C, H, W) complex64 coil maps. It returns a dict of
      masked_kspace: (B, C, H, W) complex64 network input;
      mask: (B, H, W) float32;
      target: (B, H, W) float32 RSS of the fully sampled coil images;
      image: (B, H, W) complex64 ground-truth complex image.
  """
  forward = config.forward
  snr_db = forward.snr_db
  center_fractions = tuple(forward.center_fractions)
  accelerations = tuple(forward.accelerations)

  def one_example(key, magnitude, phase, sens):
    mask_key, coil_key, noise_key = jax.random.split(key, 3)
    mask = masks.sample_mask(
        mask_key,
        magnitude.shape,
        forward.mask_type,
        center_fractions,
        accelerations,
    )
    if sens is None:
      rotation = jax.random.uniform(coil_key, (), maxval=2 * jnp.pi)
      sens = coils.birdcage_maps(
          magnitude.shape, forward.num_coils, forward.coil_radius, rotation
      )
    return synthesize.synthesize(
        magnitude, phase, mask, sens, key=noise_key, snr_db=snr_db
    )

  def simulate_fn(key: jax.Array, batch: dict[str, jax.Array]):
    phase_key, example_key = jax.random.split(key)
    magnitude = batch["magnitude"].astype(jnp.float32)
    if phase_fn is None:
      phase = batch["phase"].astype(jnp.float32)
      if phase.ndim == 4:  # (B, K, H, W): draw one of K per example.
        choice = jax.random.randint(
            phase_key, phase.shape[:1], 0, phase.shape[1]
        )
        phase = jnp.take_along_axis(phase, choice[:, None, None, None], axis=1)[
            :, 0
        ]
    else:
      phase = phase_fn(phase_key, magnitude)
    keys = jax.random.split(example_key, magnitude.shape[0])
    out = jax.vmap(one_example)(keys, magnitude, phase, batch.get("sens"))
    return {
        name: out[name] for name in ("masked_kspace", "mask", "target", "image")
    }

  return simulate_fn


def min_num_low_frequencies(config: ml_collections.ConfigDict) -> int:
  """The smallest ACS width of the configured masks (static).

  Every mask drawn from `forward.center_fractions` samples at least these
  center columns, so the VarNet's sensitivity estimate may use them.
  """
  return min(
      masks.num_low_frequencies(config.data.image_size, fraction)
      for fraction in config.forward.center_fractions
  )


def get_undersample_fn(config: ml_collections.ConfigDict):
  """For data that already is k-space (e.g. fastMRI val): draws masks only.

  Returns:
    undersample_fn(key, kspace) with kspace (B, C, H, W) complex64 fully
    sampled; returns the same dict as `simulate_fn` minus `image`.
  """
  forward = config.forward
  center_fractions = tuple(forward.center_fractions)
  accelerations = tuple(forward.accelerations)

  def undersample_fn(key: jax.Array, kspace: jax.Array):
    kspace = kspace.astype(jnp.complex64)
    keys = jax.random.split(key, kspace.shape[0])
    mask = jax.vmap(
        lambda k: masks.sample_mask(
            k,
            kspace.shape[-2:],
            forward.mask_type,
            center_fractions,
            accelerations,
        )
    )(keys)
    return {
        "masked_kspace": (mask[:, None] * kspace).astype(jnp.complex64),
        "mask": mask,
        "target": coils.rss(fft.ifft2c(kspace)),
    }

  return undersample_fn
