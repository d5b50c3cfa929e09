"""A trained SBDM as a jitted phase sampler and as a `PhaseFn`.

  phase_fn = sbdm_loading.load_sbdm_phase_fn("runs/phase64")
  phase = phase_fn(jax.random.key(0), magnitude)  # (B,H,W) in (-pi, pi]

"sbdm" loads a --mode=train_phase run; sampling costs `nfe` network
evaluations per image (experiments pre-synthesize phases once).
"""

import ml_collections

from kspace.common import phase as phase_lib
from runtime import parallel
from runtime import train_loop
from score_phase import loading
from score_phase import representation
from score_phase.sbdm import networks
from score_phase.sbdm import sampling
from score_phase.sbdm import sde as sde_lib
from score_phase.sbdm import state as sbdm_state


@train_loop.cached_by_config("model", "sde", "sampling")
def sample_phase_fn(config: ml_collections.ConfigDict):
  """(sample_phase(rng, params, magnitude, scan=None) -> phase, nfe), not
  yet jitted: the function `get_phase_sampler` compiles."""
  sde = sde_lib.get_sde(config.sde)
  score_fn = networks.get_model_score_fn(sde, config.model)
  sample_fn, nfe = sampling.get_sampler(config.sampling, sde, score_fn)

  def sample_phase(rng, params, magnitude, scan=None):
    return representation.phasor_to_phase(
        sample_fn(rng, params, magnitude, scan)
    )

  return sample_phase, nfe


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
  sample_phase, nfe = sample_phase_fn(config)
  return loading.compile_sampler(sample_phase, mesh), nfe


def resolve_sampling(
    block: ml_collections.ConfigDict,
    sampler_name: str | None = None,
    num_steps: int | None = None,
    **sampling_overrides,
) -> ml_collections.ConfigDict:
  """A copy of a run's `sampling` block with `load_sbdm_phase_fn`'s
  sampler options applied (sampler_name sets `name`).

  Raises:
    ValueError: an option the block does not have.
  """
  overrides = dict(sampling_overrides)
  if sampler_name is not None:
    overrides["name"] = sampler_name
  if num_steps is not None:
    overrides["num_steps"] = num_steps
  unknown = sorted(set(overrides) - set(block))
  if unknown:
    raise ValueError(
        f"Unknown sampling options {unknown}; known: sampler_name, num_steps,"
        f" use_ema, {', '.join(sorted(block))}."
    )
  resolved = ml_collections.ConfigDict(block.to_dict())
  resolved.update(overrides)
  return resolved


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
  config = loading.read_config(workdir, sbdm_state.TRAIN_MODE)
  config.sampling = resolve_sampling(
      config.sampling, sampler_name, num_steps, **sampling_overrides
  )
  mesh = parallel.create_mesh()
  _, state = sbdm_state.restore_state(config, workdir, mesh)
  params = state.ema_params if use_ema else state.params
  sample_phase, _ = get_phase_sampler(config, mesh)
  return loading.as_phase_fn(sample_phase, params, config.data.image_size, mesh)
