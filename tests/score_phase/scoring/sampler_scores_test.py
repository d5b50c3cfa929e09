"""Tests for the distribution matches in score_phase.scoring.distributions (spectrum,
neighbour-difference W1, tissue regions) and score_phase.scoring.sampler_scores's table.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kspace.simulator import phantom
from score_phase.scoring import distributions
from score_phase.scoring import sampler_scores
from tests.helpers import phase_problems as problems

SIZE = problems.SIZE


def _ramp(slope_y, slope_x, size=SIZE):
  y, x = np.mgrid[:size, :size].astype(np.float32)
  return slope_y * y + slope_x * x


def test_radial_spectrum_ignores_a_constant_and_sees_a_ramp():
  magnitude = jnp.ones((1, SIZE, SIZE))
  zero = distributions.radial_log_spectrum(
      jnp.zeros((1, SIZE, SIZE)), magnitude
  )
  offset = distributions.radial_log_spectrum(
      jnp.full((1, SIZE, SIZE), 1.3), magnitude
  )
  np.testing.assert_allclose(offset, zero, atol=1e-5)
  assert zero.shape == (1, SIZE // 2)
  # A flat image is all DC; a linear phase of 2 pi * 4 / SIZE per pixel
  # moves all its power to |k| = 4.
  assert int(jnp.argmax(zero[0])) == 0
  ramp = jnp.asarray(_ramp(0.0, 2 * math.pi * 4 / SIZE))[None]
  assert (
      int(jnp.argmax(distributions.radial_log_spectrum(ramp, magnitude)[0]))
      == 4
  )


def test_spectral_distance_is_zero_for_the_truth_and_grows_with_noise():
  samples, truth, magnitude, mu = problems.problem(0, 4, 4, problems.SPREAD)
  exact = distributions.spectral_distance(
      jnp.broadcast_to(truth, samples.shape), truth, magnitude
  )
  np.testing.assert_allclose(exact, 0.0, atol=1e-5)
  noise = jax.random.uniform(
      jax.random.key(1), samples.shape, minval=-math.pi, maxval=math.pi
  )
  calibrated = distributions.spectral_distance(samples, truth, magnitude)
  noisy = distributions.spectral_distance(noise, truth, magnitude)
  assert np.all(noisy > calibrated)


def test_wasserstein_of_shifted_histograms_is_the_shift():
  bins = 64
  width = math.pi / bins
  a, b = np.zeros(bins), np.zeros(bins)
  a[3], b[13] = 2.0, 5.0  # mass is normalised
  assert distributions.wasserstein_1(a, b) == pytest.approx(10 * width)
  assert distributions.wasserstein_1(a, a) == 0.0
  assert np.isnan(distributions.wasserstein_1(np.zeros(bins), a))


def test_difference_histograms_split_boundary_and_interior():
  # Left half muscle, right half fat: the pairs along W that cross column
  # 15|16 are the boundary; every other pair is interior.
  labels = np.full((1, SIZE, SIZE), phantom.MUSCLE, np.int32)
  labels[..., SIZE // 2 :] = phantom.FAT
  magnitude = jnp.ones((1, SIZE, SIZE))
  phase = jnp.asarray(_ramp(0.25, 1.0))[None]  # d along H 0.25, along W 1.0
  histograms = distributions.difference_histograms(
      phase, magnitude, jnp.asarray(labels), num_bins=64
  )
  boundary, interior = np.asarray(histograms)
  assert boundary.sum() == SIZE  # one crossing pair per row
  assert interior.sum() == SIZE * (SIZE - 1) + SIZE * (SIZE - 2)
  assert np.argmax(boundary) == int(1.0 / math.pi * 64)
  # The truth with both slopes 0.25: interior mass at 1.0 moves to 0.25.
  truth = distributions.difference_histograms(
      jnp.asarray(_ramp(0.25, 0.25))[None], magnitude, jnp.asarray(labels)
  )
  distance = distributions.wasserstein_1(histograms, truth)
  assert distance[0] == pytest.approx(0.75, abs=math.pi / 64)
  share = SIZE * (SIZE - 2) / interior.sum()  # interior pairs along W
  assert distance[1] == pytest.approx(0.75 * share, abs=math.pi / 64)


def test_tissue_regions_order_air_bone_fat():
  labels = np.full((1, 16, 16), phantom.MUSCLE, np.int32)
  labels[0, :, 0] = phantom.BACKGROUND
  labels[0, 8, 8] = phantom.BONE
  labels[0, 8, 12] = phantom.FAT
  regions = np.asarray(distributions.tissue_regions(jnp.asarray(labels), 2))
  names = distributions.TISSUE_REGIONS
  assert regions[0, 0, 0] == -1  # air itself
  assert names[regions[0, 5, 2]] == "near_air"
  assert names[regions[0, 5, 3]] == "elsewhere"
  assert names[regions[0, 8, 8]] == "near_bone"
  assert names[regions[0, 10, 10]] == "near_bone"  # Chebyshev distance 2
  assert names[regions[0, 8, 10]] == "near_bone"  # near both: bone first
  assert names[regions[0, 8, 14]] == "near_fat"
  assert names[regions[0, 8, 15]] == "elsewhere"
  assert names[regions[0, 1, 13]] == "elsewhere"


def test_summary_tells_the_calibrated_sampler_from_a_point_guess():
  samples, truth, magnitude, mu = problems.problem(4, 24, 8, problems.SPREAD)
  labels = jnp.where(magnitude > 0.6, phantom.FAT, phantom.MUSCLE)
  deltas = sampler_scores.deltas_for(truth.shape)
  assert deltas == (1, 4, 16)
  accumulator = sampler_scores.Accumulator()
  sources = {
      "sampler": samples,
      "point": jnp.broadcast_to(mu, samples.shape),
      "also_sampler": (
          mu
          + problems.SPREAD * problems.smooth_fields(jax.random.key(5), (8, 24))
      ),
  }
  for name, phases in sources.items():
    for half in (slice(0, 12), slice(12, 24)):  # two batches
      scores, histograms = sampler_scores.score_batch(
          phases[:, half], truth[half], magnitude[half], labels[half], deltas
      )
      accumulator.add(name, scores, histograms)
  accumulator.add_truth(
      distributions.difference_histograms(truth[None], magnitude, labels)
  )
  summary = sampler_scores.summarize(accumulator, reference="sampler")
  table = summary["sources"]
  assert summary["num_images"] == 24
  for key in ("d1", "d4", "d16", "total"):
    assert table["sampler"][f"spread_skill_{key}"]["mean"] == pytest.approx(
        1.0, abs=0.1
    )
    assert table["point"][f"spread_skill_{key}"]["mean"] == 0.0
  assert "skill_d1" not in table["sampler"]
  for region in distributions.TISSUE_REGIONS:
    assert f"crps_{region}" in table["sampler"]
  # The point guess loses every paired proper score; a second calibrated
  # sampler of the same conditional does not.
  for name in sampler_scores.PAIRED:
    assert summary["paired"]["point"][name]["high"] < 0, name
    interval = summary["paired"]["also_sampler"][name]
    assert interval["low"] < 0 < interval["high"], name
  # ... and is nearer the truth's neighbour differences.
  for region in distributions.DIFFERENCE_REGIONS:
    assert (
        table["sampler"][f"w1_{region}"]["mean"]
        < table["point"][f"w1_{region}"]["mean"]
    )
  # The markdown table lists the scales in order, then the tables below.
  text = sampler_scores.markdown(summary, reference="sampler")
  header = next(line for line in text.splitlines() if line.startswith("|"))
  assert header.startswith(
      "| source | energy_d1 | energy_d4 | energy_d16 | energy_total |"
      " spread_skill_d1 | spread_skill_d4 | spread_skill_d16 |"
      " spread_skill_total | crps |"
  )
  assert text.count("| point |") == 3  # scores, CRPS by region, paired


def test_summary_rejects_sources_scored_on_different_images():
  samples, truth, magnitude, _ = problems.problem(6, 4, 2, problems.SPREAD)
  accumulator = sampler_scores.Accumulator()
  scores, _ = sampler_scores.score_batch(samples, truth, magnitude, None, (1,))
  accumulator.add("a", scores)
  accumulator.add("b", {k: v[:2] for k, v in scores.items()})
  with pytest.raises(ValueError, match="different images"):
    sampler_scores.summarize(accumulator, reference="a")
