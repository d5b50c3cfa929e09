"""recon.input_pipeline: which fields training and evaluation read, and the
host-side checks that reject bad records before they reach the device."""

import numpy as np
import pytest

from configs import recon as recon_config
from kspace.common import normalize
from recon import input_pipeline


def _records():
  """Four 8x8 image records with two different phases and k-space."""
  rng = np.random.default_rng(0)
  return {
      "magnitude": rng.uniform(0.1, 1.0, (4, 8, 8)).astype(np.float32),
      "phase": rng.uniform(-1.0, 1.0, (4, 8, 8)).astype(np.float32),
      "other_phase": rng.uniform(2.0, 3.0, (4, 8, 8)).astype(np.float32),
      "kspace": np.ones((4, 4, 8, 8), np.complex64),
      "labels": np.ones((4, 8, 8), np.uint8),
      "volume_id": np.array(["a", "a", "b", "b"]),
  }


def test_image_inputs_select_the_training_phase_field():
  config = recon_config.get_config("tiny")
  records = _records()
  inputs = input_pipeline.image_inputs(records, config, "other_phase")
  # Labels, ids and k-space never reach the step; the chosen field becomes
  # `phase`, not the records' own phase.
  assert set(inputs) == {"magnitude", "phase"}
  np.testing.assert_array_equal(inputs["phase"], records["other_phase"])
  np.testing.assert_array_equal(
      inputs["magnitude"], normalize.normalize_magnitude(records["magnitude"])
  )
  # A phase function makes the phase in the step: no phase is read.
  assert set(input_pipeline.image_inputs(records, config, None)) == {
      "magnitude"
  }
  with pytest.raises(ValueError, match="no phase field 'synthesized'"):
    input_pipeline.image_inputs(records, config, "synthesized")


def test_eval_inputs_are_the_ground_truth_whatever_the_training_phase():
  config = recon_config.get_config("tiny")
  config.data.phase_source = "zero"
  config.data.phase_field = "other_phase"
  records = _records()
  # Measured k-space wins (with its mask when the records carry one).
  assert set(input_pipeline.eval_inputs(records, config)) == {"kspace"}
  masked = dict(records, mask=np.ones((4, 8, 8), np.float32))
  assert set(input_pipeline.eval_inputs(masked, config)) == {"kspace", "mask"}
  # Image records: their own `phase`, never data.phase_field.
  images = {k: v for k, v in records.items() if k != "kspace"}
  inputs = input_pipeline.eval_inputs(images, config)
  assert set(inputs) == {"magnitude", "phase"}
  np.testing.assert_array_equal(inputs["phase"], records["phase"])
  # Complex images are split into magnitude and their true phase.
  inputs = input_pipeline.eval_inputs(
      {"image": np.full((4, 8, 8), 2j, np.complex64)}, config
  )
  np.testing.assert_allclose(inputs["magnitude"], 1.0)  # normalised
  np.testing.assert_allclose(inputs["phase"], np.pi / 2)


def test_bad_records_are_rejected():
  config = recon_config.get_config("tiny")
  records = _records()
  with pytest.raises(ValueError, match="NaN/inf"):
    input_pipeline.image_inputs(
        dict(records, magnitude=np.full((4, 8, 8), np.nan, np.float32)),
        config,
        "phase",
    )
  with pytest.raises(ValueError, match="does not match magnitude shape"):
    input_pipeline.image_inputs(
        dict(records, phase=records["phase"][:, :4]), config, "phase"
    )
  with pytest.raises(ValueError, match="coil maps but forward.num_coils"):
    input_pipeline.image_inputs(
        dict(records, sens=np.ones((4, 3, 8, 8), np.complex64)),
        config,
        "phase",
    )
  with pytest.raises(ValueError, match="Records need `magnitude`"):
    input_pipeline.image_inputs({"phase": records["phase"]}, config, "phase")
  with pytest.raises(ValueError, match="trained with 4"):
    input_pipeline.eval_inputs(
        {"kspace": np.ones((4, 3, 8, 8), np.complex64)}, config
    )
