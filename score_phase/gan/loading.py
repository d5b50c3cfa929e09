"""A trained pix2pix GAN (--mode=train_gan) as a jitted phase sampler and as
a `PhaseFn` (one generator pass per sample)."""

import ml_collections

from kspace.common import phase as phase_lib
from runtime import parallel
from score_phase import loading
from score_phase.gan import model as gan_model


def get_gan_phase_sampler(config: ml_collections.ConfigDict, mesh):
  """The GAN generator as a jitted `sample_phase(rng, generator_params,
  magnitude (B,H,W)) -> (B,H,W)` float32 in (-pi, pi], B a multiple of the
  device count (config: a phase_gan config)."""
  return loading.compile_sampler(gan_model.get_sample_phase(config), mesh)


def load_gan_phase_fn(workdir: str) -> phase_lib.PhaseFn:
  """Loads a trained pix2pix GAN (--mode=train_gan) as a phase sampler.

  Args:
    workdir: the training run's --workdir.

  Returns:
    phase_fn(key, magnitude (B,H,W)) -> (B,H,W) float32 in (-pi, pi]; each
    key draws other generator noise. Input checks as `load_sbdm_phase_fn`'s.

  Raises:
    CheckpointError: missing checkpoint, or not a GAN run.
  """
  config = loading.read_config(workdir, gan_model.TRAIN_MODE)
  mesh = parallel.create_mesh()
  _, state = gan_model.restore_state(config, workdir, mesh)
  return loading.as_phase_fn(
      get_gan_phase_sampler(config, mesh),
      state.generator_params,
      config.data.image_size,
      mesh,
  )
