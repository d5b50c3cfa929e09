"""The in-step forward model: image batches -> network inputs and targets.

`get_simulate_fn` returns a pure, jittable `simulate_fn(key, batch)` that,
per example, draws a mask (`kspace.masks.sample_mask`), a phase (from the
configured source) and, when the batch has no coil maps, a randomly rotated
birdcage coil array, then runs `kspace.synthesize.synthesize` vmapped over the
batch. The training step calls it inside `jit`, so a fresh mask, phase and
noise are drawn for every example at every step.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import ml_collections

from kspace import coils
from kspace import fft
from kspace import masks
from kspace import synthesize

# Phase sources handled here; every other name goes to score_phase.
GROUND_TRUTH = "ground_truth"
ZERO = "zero"

PhaseFn = Callable[[jax.Array, dict[str, jax.Array]], jax.Array]


def get_phase_fn(data_config: ml_collections.ConfigDict) -> PhaseFn:
  """`phase_fn(key, batch) -> (B, H, W) float32` for `data.phase_source`.

  "ground_truth" reads `batch["phase"]` (`input_pipeline.model_inputs` puts
  the records' `data.phase_field` there: a dataset's phase, or a
  pre-synthesized one stored under another key); "zero" is zero phase; any
  other name is looked up (lazily) in `score_phase.phase_sources`.
  """
  source = data_config.phase_source
  if source == GROUND_TRUTH:

    def ground_truth(key, batch):
      del key
      if "phase" not in batch:
        raise KeyError(
            "phase_source='ground_truth' needs batch['phase'] (from records["
            f"{data_config.phase_field!r}]); the batch has {sorted(batch)}."
        )
      return batch["phase"].astype(jnp.float32)

    return ground_truth
  if source == ZERO:
    return lambda key, batch: jnp.zeros_like(batch["magnitude"], jnp.float32)
  # Imported lazily: score_phase is optional for recon training.
  from score_phase import phase_sources  # pylint: disable=g-import-not-at-top

  synthesize_phase = phase_sources.get_phase_fn(
      source, **data_config.phase_kwargs.to_dict()
  )
  return lambda key, batch: synthesize_phase(key, batch["magnitude"])


def get_simulate_fn(config: ml_collections.ConfigDict):
  """Builds the batched forward model from the `data` and `forward` blocks.

  Args:
    config: the full recon config.

  Returns:
    simulate_fn(key, batch) with batch a dict holding `magnitude` (B, H, W)
    float32, `phase` (B, H, W) if the phase source needs it, and optionally
    `sens` (B, C, H, W) complex64 coil maps. It returns a dict of
      masked_kspace: (B, C, H, W) complex64 network input;
      mask: (B, H, W) float32;
      target: (B, H, W) float32 RSS of the fully sampled coil images;
      image: (B, H, W) complex64 ground-truth complex image.
  """
  forward = config.forward
  phase_fn = get_phase_fn(config.data)
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
    phase = phase_fn(phase_key, batch)
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
