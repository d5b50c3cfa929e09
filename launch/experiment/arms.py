"""The experiment's arms by kind, from the one table of arms in
`configs/experiment.py` (KNOWN_ARMS: kind, PRNG index, default, phase
model, header)."""

from configs import experiment as experiment_config
from recon import train as recon_train

KNOWN_ARMS = experiment_config.KNOWN_ARMS
# The arm that trains on its records' own complex images (the recon
# trainer's phase source of that name).
GROUND_TRUTH = recon_train.GROUND_TRUTH
# The naive baseline every arm is paired against in the report.
SMOOTH = "smooth_polynomial"
# Arms that sample a phase model the experiment trains (or is named) first.
LEARNED = experiment_config.arms_of_kind("learned")
# Arms that are a `score_phase.sources.baselines` source of the same name.
BASELINES = experiment_config.arms_of_kind("baseline")


def arm_index(arm: str) -> int:
  """The arm's fixed PRNG index (folded into its pre-synthesis key)."""
  return KNOWN_ARMS[arm].rng_index


def phase_model(arm: str) -> str:
  """The phase model (a learned arm's name) a learned arm samples."""
  return KNOWN_ARMS[arm].model or arm


def phase_models(arms) -> list[str]:
  """The phase models the learned ones of `arms` need, in arm order."""
  return list(dict.fromkeys(phase_model(a) for a in arms if a in LEARNED))


def told_header(arm: str) -> bool:
  """Whether the arm samples its model told each record's header."""
  return KNOWN_ARMS[arm].told_header
