"""launch.experiment.arms: the one table of arms agrees with the phase
sources that exist."""

from launch.experiment import arms
from score_phase.sources import baselines
from score_phase.sources import lookup


def test_every_baseline_is_an_arm_and_every_arm_a_phase_source():
  # A new baseline needs a row in configs/experiment.py:KNOWN_ARMS (its
  # own PRNG index), or the experiment could not run it.
  assert set(arms.BASELINES) == set(baselines.PHASE_SOURCES.names())
  # Every arm samples a phase source (the header-aware one the SBDM's).
  models = {arms.phase_model(arm) for arm in arms.KNOWN_ARMS}
  assert models <= set(lookup.SOURCES.names())
  assert {arms.GROUND_TRUTH, arms.SMOOTH} <= set(arms.KNOWN_ARMS)
  assert set(arms.LEARNED) == {"sbdm", "gan", "sbdm_scan"}
  assert arms.phase_model("sbdm_scan") == "sbdm"
  assert arms.told_header("sbdm_scan") and not arms.told_header("sbdm")
  # The learned arms need one model each of the SBDM and the GAN.
  assert arms.phase_models(["zero", "sbdm_scan", "gan", "sbdm"]) == [
      "sbdm",
      "gan",
  ]


def test_each_arm_folds_its_own_prng_index():
  indices = [arms.arm_index(arm) for arm in arms.KNOWN_ARMS]
  assert sorted(indices) == list(range(len(indices)))
