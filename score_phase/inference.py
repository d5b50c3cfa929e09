"""A trained phase model as a `PhaseFn`, and every phase source by name.

  phase_fn = inference.get_phase_fn("sbdm", workdir="runs/phase64")
  phase = phase_fn(jax.random.key(0), magnitude)  # (B,H,W) in (-pi, pi]

A model's config is read from its checkpoint's metadata, so only the
training workdir is needed: "sbdm" loads a --mode=train_phase run (sampling
costs `nfe` network evaluations per image; experiments pre-synthesize phases
once), "gan" a --mode=train_gan run (the pix2pix baseline, one generator
pass). This module never imports a trainer: it rebuilds the state's layout
from the config and restores it.
"""

import functools

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from etils import epath

from kspace.common import phase as phase_lib
from runtime import checkpoints
from runtime import optimizers
from runtime import parallel
from runtime import train_loop
from score_phase import gan_model
from score_phase import input_pipeline
from score_phase import losses
from score_phase import phase_sources
from score_phase import record_sources
from score_phase import representation
from score_phase import sampling
from score_phase import sde as sde_lib
from score_phase.models import utils as model_utils

TRAIN_MODE = "train_phase"
# The config block that tells a run's kind, per --mode that trains it.
_RUN_BLOCK = {TRAIN_MODE: "sde", gan_model.TRAIN_MODE: "generator"}


def compatibility(config: ml_collections.ConfigDict) -> dict:
  """What a checkpoint must share with `config` to be restored into it."""
  return {
      "model": train_loop.model_identity(config.model),
      "sde": train_loop.as_json(config.sde),
      "image_size": config.data.image_size,
  }


@train_loop.cached_by_config("model", "optim", "data.image_size")
def get_init_fn(config: ml_collections.ConfigDict):
  """`init_fn(key) -> losses.TrainState` for the config's network."""
  model = model_utils.get_model(config.model)
  optimizer, _ = optimizers.create_optimizer(config.optim)
  image_size = config.data.image_size

  def init_fn(rng):
    return losses.create_train_state(model, optimizer, rng, image_size)

  return init_fn


def restore_state(config: ml_collections.ConfigDict, workdir, mesh):
  """(step, state) of the newest compatible checkpoint in `workdir`.

  Raises:
    CheckpointError: missing, or trained with another model / SDE / size.
  """
  step, state, _ = train_loop.restore(
      workdir, get_init_fn(config), compatibility(config), mesh, TRAIN_MODE
  )
  return step, state


@train_loop.cached_by_config("model", "sde", "sampling")
def _sample_phase_fn(config: ml_collections.ConfigDict):
  sde = sde_lib.get_sde(config.sde)
  score_fn = model_utils.get_model_score_fn(sde, config.model)
  sample_fn, nfe = sampling.get_sampler(config.sampling, sde, score_fn)

  def sample_phase(rng, params, magnitude, scan=None):
    return representation.phasor_to_phase(
        sample_fn(rng, params, magnitude, scan)
    )

  return sample_phase, nfe


@functools.lru_cache(maxsize=16)
def _compiled_sampler(sample_phase, mesh):
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


def get_phase_sampler(config: ml_collections.ConfigDict, mesh):
  """A jitted phase sampler and its score evaluations per sample.

  Args:
    config: a phase_sbdm config (model, sde and sampling blocks).
    mesh: the data mesh.

  Returns:
    (sample_phase(rng, params, magnitude (B,H,W), scan=None) -> (B,H,W)
    float32 in (-pi, pi], with B a multiple of the device count; scan:
    `scan_params.encode`'s dict, or None for none known; nfe).
  """
  sample_phase, nfe = _sample_phase_fn(config)
  return _compiled_sampler(sample_phase, mesh), nfe


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
    workdir: str | epath.Path, train_mode: str = TRAIN_MODE
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


def _as_phase_fn(sample_phase, params, image_size: int, mesh):
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
    inputs = (input_pipeline.prepare_magnitude(magnitude, image_size),) + (
        inputs[1:]
    )
    padded, count = parallel.pad_to_multiple(inputs, jax.device_count())
    phase = sample_phase(
        key, params, *parallel.shard_global_batch(padded, mesh)
    )
    return parallel.gather(phase)[:count]

  return phase_fn


def load_sbdm_phase_fn(
    workdir: str,
    sampler_name: str | None = None,
    num_steps: int | None = None,
    use_ema: bool = True,
    **sampling_overrides,
) -> phase_lib.PhaseFn:
  """Loads a trained phase model and returns a batched phase sampler.

  Args:
    workdir: the training run's --workdir.
    sampler_name: "pc" | "ode" | "heun" (default: the training config's).
    num_steps: sampler steps (default: the config's).
    use_ema: sample with the EMA parameters (recommended).
    **sampling_overrides: other `sampling` config fields (snr, churn, ...).

  Returns:
    phase_fn(key, magnitude (B,H,W), scan=None) -> (B,H,W) float32 in
    (-pi, pi]; `scan` (`scan_params.encode` of the same images) conditions
    a scan-conditioned model on their scan parameters (None: none known).
    Called eagerly it validates the input (shape matching the checkpoint,
    finite values) and pads B to a multiple of the device count; under jit
    only the shape is checked.

  Raises:
    CheckpointError: missing or incompatible checkpoint.
    ValueError: an unknown sampling option.
  """
  config = read_config(workdir, TRAIN_MODE)
  overrides = dict(sampling_overrides)
  if sampler_name is not None:
    overrides["name"] = sampler_name
  if num_steps is not None:
    overrides["num_steps"] = num_steps
  unknown = sorted(set(overrides) - set(config.sampling))
  if unknown:
    raise ValueError(
        f"Unknown sampling options {unknown}; known: {sorted(config.sampling)}."
    )
  config.sampling.update(overrides)
  mesh = parallel.create_mesh()
  _, state = restore_state(config, workdir, mesh)
  params = state.ema_params if use_ema else state.params
  sample_phase, _ = get_phase_sampler(config, mesh)
  return _as_phase_fn(sample_phase, params, config.data.image_size, mesh)


def get_gan_phase_sampler(config: ml_collections.ConfigDict, mesh):
  """The GAN generator as a jitted `sample_phase(rng, generator_params,
  magnitude (B,H,W)) -> (B,H,W)` float32 in (-pi, pi], B a multiple of the
  device count (config: a phase_gan config)."""
  return _compiled_sampler(gan_model.get_sample_phase(config), mesh)


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
  config = read_config(workdir, gan_model.TRAIN_MODE)
  mesh = parallel.create_mesh()
  _, state = gan_model.restore_state(config, workdir, mesh)
  return _as_phase_fn(
      get_gan_phase_sampler(config, mesh),
      state.generator_params,
      config.data.image_size,
      mesh,
  )


def draw_phases(
    phase_fn: phase_lib.PhaseFn, key: jax.Array, magnitude, num_samples: int
) -> np.ndarray:
  """(K, B, H, W) host array: K calls of a phase source, the k-th with key
  fold_in(key, k)."""
  return np.stack([
      np.asarray(phase_fn(jax.random.fold_in(key, k), magnitude))
      for k in range(num_samples)
  ])


def get_phase_fn(name: str, **kwargs) -> phase_lib.PhaseFn:
  """Any phase source by name, as `phase_fn(key, magnitude) -> phase`.

  "sbdm" (kwargs of `load_sbdm_phase_fn`, e.g. workdir=...), "gan"
  (`load_gan_phase_fn`'s workdir=...), "ground_truth" / "oracle" (bound to
  the records they phase: `record_sources`' records=..., and for the
  oracle split=..., dataset_seed=..., optionally params=... and
  redraw="acquisition" (oracle-B, default) | "hidden" (oracle-A) |
  "unrevealed" (oracle-A and each tissue's susceptibility and the noise's
  quadrature part)), or a
  `phase_sources` baseline (its kwargs).
  """
  if name == "sbdm":
    return load_sbdm_phase_fn(**kwargs)
  if name == "gan":
    return load_gan_phase_fn(**kwargs)
  if name == "ground_truth":
    return record_sources.ground_truth(**kwargs)
  if name == "oracle":
    return record_sources.oracle(**kwargs)
  return phase_sources.get_baseline(name, **kwargs)
