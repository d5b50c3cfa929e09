"""A trained SBDM as a `phase_fn(key, magnitude) -> phase` (phase_sources).

  phase_fn = load_sbdm_phase_fn("/path/to/workdir", sampler_name="heun",
                                num_steps=18)
  phase = phase_fn(jax.random.key(0), magnitude)  # (B,H,W) in (-pi, pi]

The config is read from the checkpoint's metadata, so only the workdir (or
its checkpoints/ folder) is needed. Sampling costs `nfe` network
evaluations per image; experiments pre-synthesize phases once.
"""

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from etils import epath

from launch import checkpoints
from launch import parallel
from score_phase import input_pipeline
from score_phase import phase_sources
from score_phase import train


def _read_config(workdir: epath.Path) -> ml_collections.ConfigDict:
  directory = workdir / train.CHECKPOINT_DIR
  if not directory.exists() and workdir.name == train.CHECKPOINT_DIR:
    directory, workdir = workdir, workdir.parent
  manager = checkpoints.create_manager(directory, async_save=False)
  try:
    steps = sorted(manager.all_steps(), reverse=True)
    if not steps:
      raise checkpoints.CheckpointError(
          f"No checkpoint in {directory}; train a phase model first"
          " (--mode=train_phase)."
      )
    for step in steps:
      try:
        metadata = manager.restore(
            step,
            args=ocp.args.Composite(metadata=ocp.args.JsonRestore()),
        ).metadata
      except Exception:  # pylint: disable=broad-except
        continue  # Unreadable step: try the previous one.
      if metadata and "config" in metadata:
        return ml_collections.ConfigDict(metadata["config"]), workdir
  finally:
    manager.close()
  raise checkpoints.CheckpointError(
      f"The checkpoints in {directory} carry no config metadata; they were"
      " not written by score_phase.train."
  )


def load_sbdm_phase_fn(
    workdir_or_checkpoint: str,
    sampler_name: str | None = None,
    num_steps: int | None = None,
    use_ema: bool = True,
    **sampling_overrides,
) -> phase_sources.PhaseFn:
  """Loads a trained phase model and returns a batched phase sampler.

  Args:
    workdir_or_checkpoint: the training workdir or its checkpoints/ folder.
    sampler_name: "pc" | "ode" | "heun" (default: the training config's).
    num_steps: sampler steps (default: the config's).
    use_ema: sample with the EMA parameters (recommended).
    **sampling_overrides: other `sampling` config fields (snr, churn, ...).

  Returns:
    phase_fn(key, magnitude (B,H,W)) -> (B,H,W) float32 in (-pi, pi].
    Called eagerly it validates the input (shape matching the checkpoint,
    finite values) and pads B to a multiple of the device count; under jit
    only the shape is checked.

  Raises:
    CheckpointError: missing or incompatible checkpoint.
  """
  config, workdir = _read_config(epath.Path(workdir_or_checkpoint))
  sampling_config = ml_collections.ConfigDict(config.sampling.to_dict())
  if sampler_name is not None:
    sampling_config.name = sampler_name
  if num_steps is not None:
    sampling_config.num_steps = num_steps
  for key, value in sampling_overrides.items():
    if key not in sampling_config:
      raise ValueError(
          f"Unknown sampling option {key!r}; known: {sorted(sampling_config)}."
      )
    sampling_config[key] = value
  mesh = parallel.create_mesh()
  _, state, _ = train.restore_checkpoint(config, workdir, mesh)
  params = state.ema_params if use_ema else state.params
  sample_phase, _ = train.get_phase_sampler(config, mesh, sampling_config)
  image_size = config.data.image_size

  def phase_fn(key: jax.Array, magnitude: jax.Array) -> jax.Array:
    if isinstance(magnitude, jax.core.Tracer):
      if magnitude.shape[1:] != (image_size, image_size):
        raise ValueError(
            f"magnitude images are {magnitude.shape[1:]}, the checkpoint was"
            f" trained on {image_size}x{image_size}."
        )
      return sample_phase(key, params, magnitude)
    magnitude = input_pipeline.check_magnitude(magnitude, image_size)
    batch = magnitude.shape[0]
    pad = -batch % jax.device_count()
    if pad:
      magnitude = np.concatenate([magnitude, magnitude[:pad]], axis=0)
    phase = sample_phase(key, params, parallel.shard_batch(magnitude, mesh))
    return phase[:batch]

  return phase_fn
