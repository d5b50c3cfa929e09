"""What loading any trained phase model shares (the SBDM's `sbdm.loading`,
the GAN's `gan.loading`): the run's config read from its checkpoint, a
sampler compiled over the data mesh, and that sampler as a `PhaseFn`.

A model's config is read from its checkpoint's metadata, so only the
training workdir is needed. Nothing here imports a trainer: a loader
rebuilds the state's layout from the config and restores it.
"""

import functools

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from etils import epath

from kspace.common import phase as phase_lib
from runtime import checkpoints
from runtime import parallel
from runtime import train_loop
from score_phase import batch_checks
from score_phase.gan import model as gan_model
from score_phase.sbdm import state as sbdm_state

# The config block that tells a run's kind, per --mode that trains it.
_RUN_BLOCK = {sbdm_state.TRAIN_MODE: "sde", gan_model.TRAIN_MODE: "generator"}


@functools.lru_cache(maxsize=16)
def compile_sampler(sample_phase, mesh):
  """`sample_phase(rng, params, *inputs)` jitted over the mesh: rng and
  params replicated, every input (magnitude[, scan]) sharded along the
  batch."""
  batch = parallel.batch_sharding(mesh)
  repl = parallel.replicated(mesh)
  compiled = jax.jit(
      lambda rng, params, inputs: sample_phase(rng, params, *inputs),
      in_shardings=(repl, repl, batch),
      out_shardings=batch,
  )

  def run(rng, params, *inputs):
    parallel.compile_together(compiled, rng, params, inputs)
    return compiled(rng, params, inputs)

  return run


def sample_phases(
    sample_phase, rng, params, magnitude, num_samples, mesh, scan=None
):
  """`num_samples` phases per image: (B,H,W) host array -> (K,B,H,W) numpy.

  The K copies run as one batch, padded to a multiple of the device count;
  `scan` (the SBDM's optional condition, a dict of (B, ...) arrays) is
  tiled alike.
  """
  batch = magnitude.shape[0]
  inputs = (magnitude,) if scan is None else (magnitude, scan)
  tiled, count = parallel.pad_to_multiple(
      jax.tree.map(lambda a: np.concatenate([a] * num_samples, axis=0), inputs),
      jax.device_count(),
  )
  phases = sample_phase(rng, params, *parallel.shard_global_batch(tiled, mesh))
  phases = np.asarray(parallel.gather(phases))[:count]
  return phases.reshape((num_samples, batch) + magnitude.shape[1:])


def read_config(
    workdir: str | epath.Path, train_mode: str = sbdm_state.TRAIN_MODE
) -> ml_collections.ConfigDict:
  """The training config stored with the newest readable checkpoint.

  Args:
    workdir: the training run's --workdir.
    train_mode: the --mode that writes the expected kind of run
      ("train_phase": an SBDM, "train_gan": the GAN).

  Raises:
    CheckpointError: no checkpoint, no config metadata, or a run of another
      kind (e.g. a GAN run where an SBDM was expected).
  """
  directory = epath.Path(workdir) / train_loop.CHECKPOINT_DIR
  steps = []
  if directory.exists():
    manager = checkpoints.create_manager(directory, async_save=False)
    try:
      steps = sorted(manager.all_steps(), reverse=True)
      for step in steps:
        try:
          metadata = manager.restore(
              step, args=ocp.args.Composite(metadata=ocp.args.JsonRestore())
          ).metadata
        except Exception:  # pylint: disable=broad-except
          continue  # Unreadable step: try the previous one.
        if metadata and "config" in metadata:
          config = ml_collections.ConfigDict(metadata["config"])
          if _RUN_BLOCK[train_mode] not in config:
            raise checkpoints.CheckpointError(
                f"The run in {workdir} was not written by --mode={train_mode}"
                f" (its config has no {_RUN_BLOCK[train_mode]!r} block)."
            )
          return config
    finally:
      manager.close()
  if not steps:
    raise checkpoints.CheckpointError(
        f"No checkpoint in {directory}; train a phase model first"
        f" (--mode={train_mode})."
    )
  raise checkpoints.CheckpointError(
      f"The checkpoints in {directory} carry no config metadata; they were"
      f" not written by --mode={train_mode}."
  )


def as_phase_fn(sample_phase, params, image_size: int, mesh):
  """A compiled `sample_phase(key, params, magnitude[, scan])` as a
  `PhaseFn` with an optional `scan` (`scan_params.encode`'s dict of the
  same images; the SBDM's condition, for a scan-conditioned model).

  Called eagerly the PhaseFn validates the input (shape matching the
  checkpoint, finite values) and pads B to a multiple of the device count;
  under jit only the shape is checked.
  """

  def phase_fn(key: jax.Array, magnitude: jax.Array, scan=None) -> jax.Array:
    inputs = (magnitude,) if scan is None else (magnitude, scan)
    if isinstance(magnitude, jax.core.Tracer):
      if magnitude.shape[1:] != (image_size, image_size):
        raise ValueError(
            f"magnitude images are {magnitude.shape[1:]}, the checkpoint was"
            f" trained on {image_size}x{image_size}."
        )
      return sample_phase(key, params, *inputs)
    inputs = (batch_checks.prepare_magnitude(magnitude, image_size),) + (
        inputs[1:]
    )
    padded, count = parallel.pad_to_multiple(inputs, jax.device_count())
    phase = sample_phase(
        key, params, *parallel.shard_global_batch(padded, mesh)
    )
    return parallel.gather(phase)[:count]

  return phase_fn


def draw_phases(
    phase_fn: phase_lib.PhaseFn, key: jax.Array, magnitude, num_samples: int
) -> np.ndarray:
  """(K, B, H, W) host array: K calls of a phase source, the k-th with key
  fold_in(key, k)."""
  return np.stack([
      np.asarray(phase_fn(jax.random.fold_in(key, k), magnitude))
      for k in range(num_samples)
  ])
