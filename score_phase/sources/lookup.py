"""Every phase source by name, as one `PhaseFn(key, magnitude) -> phase`.

  phase_fn = lookup.get_phase_fn("sbdm", workdir="runs/phase64")
  phase = phase_fn(jax.random.key(0), magnitude)  # (B,H,W) in (-pi, pi]
"""

from kspace.common import phase as phase_lib
from score_phase.gan import loading as gan_loading
from score_phase.sbdm import loading as sbdm_loading
from score_phase.sources import baselines
from score_phase.sources import records as record_sources


def get_phase_fn(name: str, **kwargs) -> phase_lib.PhaseFn:
  """Any phase source by name, as `phase_fn(key, magnitude) -> phase`.

  "sbdm" (kwargs of `load_sbdm_phase_fn`, e.g. workdir=...), "gan"
  (`load_gan_phase_fn`'s workdir=...), "ground_truth" / "oracle" (bound to
  the records they phase: `records`' records=..., and for the
  oracle split=..., dataset_seed=..., optionally params=... and
  redraw="acquisition" (oracle-B, default) | "hidden" (oracle-A) |
  "unrevealed" (oracle-A and each tissue's susceptibility and the noise's
  quadrature part)), or a
  `baselines` source (its kwargs).
  """
  if name == "sbdm":
    return sbdm_loading.load_sbdm_phase_fn(**kwargs)
  if name == "gan":
    return gan_loading.load_gan_phase_fn(**kwargs)
  if name == "ground_truth":
    return record_sources.ground_truth(**kwargs)
  if name == "oracle":
    return record_sources.oracle(**kwargs)
  return baselines.get_baseline(name, **kwargs)


