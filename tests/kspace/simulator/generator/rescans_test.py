"""Tests of kspace.simulator.generator.rescans: oracle-A and B rescans."""

import numpy as np
import pytest

from kspace.simulator import sequences
from kspace.simulator.generator import example_pipeline
from kspace.simulator.generator import example_seeds
from kspace.simulator.generator import rescans
from kspace.simulator.generator import synthetic_params
from kspace.simulator.phantom import cross_sections
from kspace.simulator.phantom import tissues
from tests.helpers import example_analysis


def test_acquisition_seed_rescans_the_same_anatomy():
  rng = lambda: example_seeds.example_rng(3, "validation", 2)
  original = example_pipeline.generate_example(
      rng(), 32, return_components=True
  )
  rescans = [
      example_pipeline.generate_example(
          rng(), 32, return_components=True, acquisition_seed=seed
      )
      for seed in (0, 1, 0)
  ]
  for rescan in rescans:
    np.testing.assert_array_equal(rescan["labels"], original["labels"])
    np.testing.assert_array_equal(
        rescan["susceptibility_ppm"], original["susceptibility_ppm"]
    )
  # A new acquisition: new background phase and scan parameters.
  for rescan in rescans[:2]:
    assert not np.allclose(
        rescan["background_phase"], original["background_phase"]
    )
  assert not np.allclose(rescans[0]["phase"], rescans[1]["phase"])
  np.testing.assert_array_equal(rescans[0]["phase"], rescans[2]["phase"])
  with pytest.raises(ValueError, match="acquisition_seed must be >= 0"):
    example_pipeline.generate_example(rng(), 32, acquisition_seed=-1)


def _rescans(
    anatomy, redraw, params=synthetic_params.DEFAULT_PARAMS, seeds=range(3)
):
  """(original, rescan) pairs of 32 x 32 examples with their components."""
  pairs = []
  for seed in seeds:
    rng = lambda: example_seeds.example_rng(2, "train", seed)
    kwargs = dict(anatomy=anatomy, params=params, return_components=True)
    pairs.append((
        example_pipeline.generate_example(rng(), 32, **kwargs),
        example_pipeline.generate_example(
            rng(), 32, acquisition_seed=seed + 10, redraw=redraw, **kwargs
        ),
    ))
  return pairs


@pytest.mark.parametrize("anatomy", sorted(cross_sections.ANATOMIES))
def test_oracle_a_rescan_keeps_the_scan_and_the_magnitude(anatomy):
  for original, rescan in _rescans(anatomy, "hidden"):
    for key in (
        "labels",
        "susceptibility_ppm",
        "field_strength_t",
        "sequence",
        "echo_time_ms",
        "accrual_time_ms",
        "phase_per_ppm",
        "fat_shift_px",
    ):
      np.testing.assert_array_equal(rescan[key], original[key], err_msg=key)
    # The tilt is kept; an axial slice's azimuth is redrawn.
    b0, b0_original = rescan["b0_direction"], original["b0_direction"]
    assert b0[2] == pytest.approx(b0_original[2], abs=1e-6)
    if anatomy == "knee":  # coronal: B0 is the original's
      np.testing.assert_allclose(b0, b0_original, atol=1e-6)
    else:
      assert not np.allclose(b0, b0_original, atol=1e-3)
    # New hidden phase.
    assert not np.allclose(
        rescan["background_phase"], original["background_phase"]
    )
    tissue = (original["labels"] > 0) & (original["magnitude"] > 0.2)
    change = example_analysis.circular_diff(rescan["phase"], original["phase"])[
        tissue
    ]
    assert np.median(np.abs(change)) > 0.1
    # The magnitude is the original's up to the partial-volume mixing of the
    # new phase by blur and fat shift. Measured on 180 rescans at 32 x 32:
    # mean |difference| <= 0.018, 95th percentile <= 0.099 (full rescans:
    # 0.076 and 0.64 median, 0.18 and 0.64 max).
    difference = np.abs(rescan["magnitude"] - original["magnitude"])
    assert difference.mean() < 0.03
    assert np.percentile(difference, 95) < 0.15


def test_oracle_a_magnitude_is_exact_without_partial_volume_mixing():
  # Without blur and fat displacement no pixel mixes phases, and the noise
  # is drawn in the image's phase frame: the magnitude is the same bits.
  params = synthetic_params.SyntheticParams(
      blur_sigma_px=(0.0, 0.0), fat_shift_px=(0.0, 0.0)
  )
  for anatomy in sorted(cross_sections.ANATOMIES):
    for original, rescan in _rescans(anatomy, "hidden", params, range(2)):
      np.testing.assert_array_equal(rescan["magnitude"], original["magnitude"])
      assert not np.allclose(rescan["phase"], original["phase"])


@pytest.mark.parametrize("anatomy", sorted(cross_sections.ANATOMIES))
def test_unrevealed_rescan_adds_what_neither_magnitude_nor_header_shows(
    anatomy,
):
  hidden = [rescan for _, rescan in _rescans(anatomy, "hidden")]
  pairs = _rescans(anatomy, "unrevealed", seeds=range(6))
  for (original, rescan), oracle_a in zip(pairs, hidden):
    # Oracle-A's redraw, from the same seed, plus the unrevealed parts.
    np.testing.assert_array_equal(
        rescan["background_phase"], oracle_a["background_phase"]
    )
    np.testing.assert_array_equal(
        rescan["b0_direction"], oracle_a["b0_direction"]
    )
    # What the header states is kept.
    for key in (
        "labels",
        "fat_fraction",
        "field_strength_t",
        "sequence",
        "echo_time_ms",
        "fat_shift_px",
    ):
      np.testing.assert_array_equal(rescan[key], original[key], err_msg=key)
    # What it does not: a spin echo's residual accrual (a gradient echo's is
    # its stated echo time).
    same_accrual = rescan["accrual_time_ms"] == original["accrual_time_ms"]
    assert same_accrual == (original["sequence"] == sequences.GRADIENT_ECHO)
    # Each class's susceptibility is redrawn; air's is fixed.
    labels = original["labels"]
    air = labels == tissues.BACKGROUND
    moved = rescan["susceptibility_ppm"] != original["susceptibility_ppm"]
    assert not moved[air].any() and moved[~air].mean() > 0.5
    assert not np.array_equal(rescan["phase"], oracle_a["phase"])
    # The magnitude stays close (quadrature noise moves it to second order).
    difference = np.abs(rescan["magnitude"] - original["magnitude"])
    assert difference.mean() < 0.03
    assert np.percentile(difference, 95) < 0.15


def test_oracle_b_rescan_redraws_the_scan():
  pairs = [
      pair
      for anatomy in sorted(cross_sections.ANATOMIES)
      for pair in _rescans(anatomy, "acquisition")
  ]
  for original, rescan in pairs:
    np.testing.assert_array_equal(rescan["labels"], original["labels"])
    assert rescan["echo_time_ms"] != original["echo_time_ms"]
    assert rescan["fat_shift_px"] != original["fat_shift_px"]
    assert not np.allclose(rescan["b0_direction"], original["b0_direction"])
    assert np.abs(rescan["magnitude"] - original["magnitude"]).mean() > 0.01
  for key in ("field_strength_t", "sequence"):
    assert any(rescan[key] != original[key] for original, rescan in pairs), key


def test_rescan_streams_replace_what_each_redraw_names():
  own = rescans.ScanStreams(*np.random.default_rng(0).spawn(3))
  assert rescans.rescan_streams(own, None, rescans.REDRAW_ACQUISITION) is own
  full = rescans.rescan_streams(own, 1, rescans.REDRAW_ACQUISITION)
  assert all(a is not b for a, b in zip(full[:3], own[:3]))
  hidden = rescans.rescan_streams(own, 1, rescans.REDRAW_HIDDEN)
  assert (hidden.scan, hidden.noise) == (own.scan, own.noise)
  assert hidden.hidden is not own.hidden and hidden.susceptibility is None
  unrevealed = rescans.rescan_streams(own, 1, rescans.REDRAW_UNREVEALED)
  assert unrevealed.scan is own.scan and unrevealed.noise is own.noise
  assert None not in (
      unrevealed.susceptibility,
      unrevealed.quadrature,
      unrevealed.unstated,
  )


def test_bad_redraws_raise():
  with pytest.raises(ValueError, match="redraw must be one of"):
    example_pipeline.generate_example(0, 16, acquisition_seed=1, redraw="x")
  with pytest.raises(ValueError, match="needs an acquisition_seed"):
    example_pipeline.generate_example(0, 16, redraw="hidden")
