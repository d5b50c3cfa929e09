"""Mask functions: fastMRI semantics, acceleration, center lines, purity."""

import jax
import numpy as np
import pytest

from kspace import masks


def _lines(mask):
  mask = np.asarray(mask)
  # 1-D masks are constant along rows: every row is the column pattern.
  assert (mask == mask[:1]).all()
  return mask[0].astype(bool)


def _center_is_sampled(lines, center_fraction):
  num_cols = lines.shape[0]
  num_low = round(num_cols * center_fraction)
  pad = (num_cols - num_low + 1) // 2
  return lines[pad : pad + num_low].all(), num_low


@pytest.mark.parametrize("center_fraction,acceleration", [(0.08, 4), (0.04, 8)])
def test_random_mask_acceleration_and_center(center_fraction, acceleration):
  shape = (8, 368)
  keys = jax.random.split(jax.random.key(0), 200)
  batch = jax.vmap(
      lambda k: masks.random_mask(k, shape, center_fraction, acceleration)
  )(keys)
  all_lines = np.stack([_lines(mask) for mask in batch])
  for lines in all_lines:
    ok, _ = _center_is_sampled(lines, center_fraction)
    assert ok
  # Expected number of sampled lines is num_cols / acceleration.
  assert all_lines.sum(1).mean() == pytest.approx(
      shape[1] / acceleration, rel=0.03
  )
  # Different keys give different masks; the same key the same mask.
  assert len({lines.tobytes() for lines in all_lines}) > 150
  np.testing.assert_array_equal(
      masks.random_mask(keys[0], shape, center_fraction, acceleration),
      masks.random_mask(keys[0], shape, center_fraction, acceleration),
  )


@pytest.mark.parametrize("num_cols", [320, 368, 37])
def test_equispaced_mask_matches_fastmri(num_cols):
  center_fraction, acceleration = 0.08, 4
  for seed in range(6):
    lines = _lines(
        masks.equispaced_mask(
            jax.random.key(seed), (4, num_cols), center_fraction, acceleration
        )
    )
    ok, num_low = _center_is_sampled(lines, center_fraction)
    assert ok
    # fastMRI: mask[offset::acceleration] = 1, offset in [0, acceleration).
    offsets = [o for o in range(acceleration) if lines[o::acceleration].all()]
    assert offsets
    expected = np.zeros(num_cols, bool)
    expected[offsets[0] :: acceleration] = True
    pad = (num_cols - num_low + 1) // 2
    expected[pad : pad + num_low] = True
    np.testing.assert_array_equal(lines, expected)


def test_equispaced_fraction_mask_matches_fastmri_formula():
  num_cols, center_fraction, acceleration = 368, 0.08, 4
  num_low = round(num_cols * center_fraction)
  # fastMRI EquispacedMaskFractionFunc: the offset is drawn from
  # range(round(adjusted_accel)), here 5 values (adjusted_accel = 5.45),
  # not range(acceleration).
  adjusted_accel = (acceleration * (num_low - num_cols)) / (
      num_low * acceleration - num_cols
  )
  num_offsets = round(adjusted_accel)
  assert num_offsets > acceleration
  expected_masks = []
  for offset in range(num_offsets):
    expected = np.zeros(num_cols, bool)
    samples = np.arange(offset, num_cols - 1, adjusted_accel)
    expected[np.around(samples).astype(np.uint)] = True
    pad = (num_cols - num_low + 1) // 2
    expected[pad : pad + num_low] = True
    expected_masks.append(expected)
  keys = jax.random.split(jax.random.key(0), 48)
  batch = jax.vmap(
      lambda k: masks.equispaced_fraction_mask(
          k, (2, num_cols), center_fraction, acceleration
      )
  )(keys)
  seen_offsets = set()
  for seed, mask in enumerate(batch):
    lines = _lines(mask)
    matches = [o for o, e in enumerate(expected_masks) if (e == lines).all()]
    assert matches, f"key {seed}: no fastMRI offset reproduces the mask"
    seen_offsets.update(matches)
    assert lines.sum() == pytest.approx(num_cols / acceleration, rel=0.05)
  assert seen_offsets == set(range(num_offsets))


@pytest.mark.parametrize("acceleration", [4, 8])
def test_variable_density_mask(acceleration):
  shape, center_fraction = (64, 48), 0.08
  keys = jax.random.split(jax.random.key(0), 20)
  sampled = np.asarray(
      jax.vmap(
          lambda k: masks.variable_density_mask(
              k, shape, center_fraction, acceleration
          )
      )(keys)
  )
  assert sampled.mean() == pytest.approx(1 / acceleration, rel=0.05)
  # Fully sampled center box (round(0.08 * 64) = 5 rows, 4 columns around
  # DC); density falls off away from DC.
  assert sampled[:, 30:35, 22:26].all()
  center_density = sampled[:, 24:40, 16:32].mean()
  edge_density = sampled[:, :8, :].mean()
  assert center_density > 2 * edge_density


def test_sample_mask_draws_from_the_pairs():
  shape = (4, 200)
  keys = jax.random.split(jax.random.key(0), 40)
  batch = jax.vmap(
      lambda k: masks.sample_mask(k, shape, "equispaced", (0.08, 0.04), (4, 8))
  )(keys)
  fractions = [_lines(mask).mean() for mask in batch]
  # 4x masks keep ~1/4 + center, 8x ~1/8 + center: both pairs occur.
  assert min(fractions) < 0.2 < max(fractions)


def test_sample_mask_is_jittable_and_vmappable():
  keys = jax.random.split(jax.random.key(1), 8)
  batch = jax.jit(
      jax.vmap(
          lambda k: masks.sample_mask(
              k, (16, 32), "random", (0.08, 0.04), (4, 8)
          )
      )
  )(keys)
  assert batch.shape == (8, 16, 32)
  # The same masks as one eager call per key: jit and vmap change nothing.
  for key, mask in zip(keys, batch):
    eager = masks.sample_mask(key, (16, 32), "random", (0.08, 0.04), (4, 8))
    np.testing.assert_array_equal(mask, eager)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(center_fraction=0.0, acceleration=4), "center_fraction"),
        (dict(center_fraction=0.5, acceleration=4), "lower one"),
        (dict(center_fraction=0.08, acceleration=0.5), "acceleration"),
    ],
)
def test_bad_mask_arguments(kwargs, match):
  with pytest.raises(ValueError, match=match):
    masks.random_mask(jax.random.key(0), (8, 64), **kwargs)


def test_unknown_mask_type():
  with pytest.raises(ValueError, match="Unknown mask type"):
    masks.get_mask_fn("radial")


def test_equispaced_needs_integer_acceleration():
  with pytest.raises(ValueError, match="integer"):
    masks.equispaced_mask(jax.random.key(0), (8, 64), 0.08, 2.5)


def _fastmri_num_low_frequencies(mask):
  """fastMRI SensitivityModel.get_pad_and_num_low_freqs (no count given)."""
  squeezed = np.asarray(mask)[:, 0, :].astype(np.int8)
  center = squeezed.shape[1] // 2
  left = np.argmin(squeezed[:, :center][:, ::-1], axis=1)
  right = np.argmin(squeezed[:, center:], axis=1)
  return np.maximum(2 * np.minimum(left, right), 1)


@pytest.mark.parametrize("mask_type", ["random", "equispaced"])
@pytest.mark.parametrize("num_cols", [32, 37])
def test_num_low_frequencies_from_mask_matches_fastmri(mask_type, num_cols):
  keys = jax.random.split(jax.random.key(3), 32)
  batch = jax.vmap(
      lambda k: masks.sample_mask(
          k, (4, num_cols), mask_type, (0.16, 0.08), (2, 4)
      )
  )(keys)
  got = np.asarray(masks.num_low_frequencies_from_mask(batch))
  np.testing.assert_array_equal(got, _fastmri_num_low_frequencies(batch))
  # More widths than the two drawn center fractions: sampled lines next to
  # the center widen the run, as in fastMRI.
  assert len(np.unique(got)) > 2


def test_num_low_frequencies_from_mask_edge_cases():
  # A lone center line gives 1; a fully sampled mask its whole (even) width,
  # where fastMRI's argmin would give 1.
  lone = np.zeros((2, 10), np.float32)
  lone[:, 5] = 1
  full = np.ones((2, 10), np.float32)
  got = masks.num_low_frequencies_from_mask(np.stack([lone, full]))
  np.testing.assert_array_equal(got, [1, 10])
