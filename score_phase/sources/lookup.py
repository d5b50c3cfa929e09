"""Every phase source by name, as one `PhaseFn(key, magnitude) -> phase`.

phase_fn = lookup.get_phase_fn("sbdm", workdir="runs/phase64")
phase = phase_fn(jax.random.key(0), magnitude)  # (B,H,W) in (-pi, pi]
"""

import functools
from collections.abc import Callable

from kspace.common import catalog
from kspace.common import phase as phase_lib
from score_phase.gan import loading as gan_loading
from score_phase.sbdm import loading as sbdm_loading
from score_phase.sources import baselines
from score_phase.sources import records as record_sources

# name -> factory(**kwargs) -> PhaseFn, for every source: the trained
# models (loaded from their run), the record-bound ones and the baselines.
SOURCES: catalog.Catalog[Callable[..., phase_lib.PhaseFn]] = catalog.Catalog(
    "phase source"
)
SOURCES.register("sbdm")(sbdm_loading.load_sbdm_phase_fn)
SOURCES.register("gan")(gan_loading.load_gan_phase_fn)
SOURCES.register("ground_truth")(record_sources.ground_truth)
SOURCES.register("oracle")(record_sources.oracle)
for _name in baselines.PHASE_SOURCES.names():
  SOURCES.register(_name)(functools.partial(baselines.get_baseline, _name))


def get_phase_fn(name: str, **kwargs) -> phase_lib.PhaseFn:
  """Any phase source by name, as `phase_fn(key, magnitude) -> phase`.

  "sbdm" (kwargs of `sbdm_loading.load_sbdm_phase_fn`, e.g. workdir=...),
  "gan" (`gan_loading.load_gan_phase_fn`'s workdir=...), "ground_truth" /
  "oracle" (bound to the records they phase: `records`' records=..., and
  for the oracle split=..., dataset_seed=..., optionally params=... and
  redraw="acquisition" (oracle-B, default) | "hidden" (oracle-A) |
  "unrevealed" (oracle-A and each tissue's susceptibility and the noise's
  quadrature part)), or a `baselines` source (its kwargs).
  """
  return SOURCES.get(name)(**kwargs)
