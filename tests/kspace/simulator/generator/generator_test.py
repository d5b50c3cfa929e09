"""Tests of the kspace.simulator.generator package: the names it keeps for
users outside the simulator, and the packages that re-export the generator.

Each stage has its own tests (example_seeds_test, synthetic_params_test,
subject_test, scan_draws_test, image_formation_test, example_features_test,
rescans_test, example_pipeline_test).
"""

from kspace import datasets
from kspace import simulator
from kspace.simulator import generator
from kspace.simulator import sequences
from kspace.simulator.generator import example_pipeline
from kspace.simulator.generator import example_seeds
from kspace.simulator.generator import rescans
from kspace.simulator.generator import synthetic_params


def test_datasets_reexports_the_generator():
  assert datasets.generate_example is example_pipeline.generate_example
  assert datasets.example_rng is example_seeds.example_rng
  assert datasets.SyntheticParams is synthetic_params.SyntheticParams
  assert datasets.REDRAWS is rescans.REDRAWS


def test_simulator_reexports_the_generator():
  assert simulator.generate_example is example_pipeline.generate_example
  assert simulator.example_rng is example_seeds.example_rng
  assert simulator.SyntheticParams is synthetic_params.SyntheticParams
  assert simulator.DEFAULT_PARAMS is synthetic_params.DEFAULT_PARAMS
  assert simulator.REDRAWS is rescans.REDRAWS
  assert simulator.GRADIENT_ECHO == sequences.GRADIENT_ECHO
  assert simulator.SPIN_ECHO == sequences.SPIN_ECHO


def test_generator_keeps_the_names_outside_users_import():
  assert generator.generate_example is example_pipeline.generate_example
  assert generator.example_rng is example_seeds.example_rng
  assert generator.GRADIENT_ECHO == sequences.GRADIENT_ECHO
  assert generator.SPIN_ECHO == sequences.SPIN_ECHO
