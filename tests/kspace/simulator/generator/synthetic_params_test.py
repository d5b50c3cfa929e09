"""Tests of kspace.simulator.generator.synthetic_params: `SyntheticParams`."""

import pytest

from kspace.simulator.generator import example_pipeline
from kspace.simulator.generator import synthetic_params
from kspace.simulator.phantom import cross_sections
from kspace.simulator.phantom import tissues


def test_slice_orientations_are_normalised_and_validated():
  as_dict = synthetic_params.SyntheticParams(
      slice_orientations={"knee": "coronal", "body": "axial", "brain": "axial"}
  )
  assert as_dict == synthetic_params.DEFAULT_PARAMS
  assert hash(as_dict) == hash(synthetic_params.DEFAULT_PARAMS)
  with pytest.raises(ValueError, match="slice_orientations values"):
    synthetic_params.SyntheticParams(
        slice_orientations={
            "knee": "oblique",
            "body": "axial",
            "brain": "axial",
        }
    )
  with pytest.raises(ValueError, match="every anatomy"):
    synthetic_params.SyntheticParams(slice_orientations={"brain": "axial"})
  brain_only = synthetic_params.SyntheticParams(
      anatomies=("brain",), slice_orientations={"brain": "axial"}
  )
  with pytest.raises(ValueError, match="No slice orientation"):
    example_pipeline.generate_example(0, 16, anatomy="knee", params=brain_only)


def test_bad_params_raise():
  with pytest.raises(ValueError, match="noise_std"):
    synthetic_params.SyntheticParams(noise_std=(0.0, 0.01))
  with pytest.raises(ValueError, match="anatomies"):
    synthetic_params.SyntheticParams(anatomies=("elbow",))
  with pytest.raises(ValueError, match="spin_echo_probability"):
    synthetic_params.SyntheticParams(spin_echo_probability=1.5)
  with pytest.raises(ValueError, match="fat_shift_px"):
    synthetic_params.SyntheticParams(fat_shift_px=(-1.0, 1.0))
  with pytest.raises(ValueError, match="oblique_tilt_std"):
    synthetic_params.SyntheticParams(oblique_tilt_std=-0.1)
  with pytest.raises(ValueError, match="low 2 > high 1"):
    synthetic_params.SyntheticParams(num_gaussians=(2, 1))


def test_defaults_draw_every_anatomy_with_its_tissue_table():
  params = synthetic_params.DEFAULT_PARAMS
  assert set(params.anatomies) == set(cross_sections.ANATOMIES)
  assert params.tissues == tissues.TISSUES
  assert params.orientation("knee") == "coronal"
