"""Tests of kspace.simulator.sequences: the `sequence` record values."""

from kspace.datasets import scan_headers
from kspace.simulator import sequences
from kspace.simulator.generator import example_pipeline
from kspace.simulator.generator import synthetic_params


def test_sequence_values_are_the_record_features():
  assert (sequences.GRADIENT_ECHO, sequences.SPIN_ECHO) == (0, 1)
  assert scan_headers.UNKNOWN_SEQUENCE not in (
      sequences.GRADIENT_ECHO,
      sequences.SPIN_ECHO,
  )


def test_generator_and_headers_share_the_values():
  for probability, value in ((0.0, sequences.GRADIENT_ECHO), (1.0, 1)):
    params = synthetic_params.SyntheticParams(spin_echo_probability=probability)
    example = example_pipeline.generate_example(0, 16, params=params)
    assert example["sequence"] == value
  assert scan_headers.sequence_family(["GR"]) == sequences.GRADIENT_ECHO
  assert scan_headers.sequence_family(["SE"]) == sequences.SPIN_ECHO
