"""recon.hallucination: an added or lost small feature counts, noise at
the threshold's level does not, and the near/elsewhere split follows the
labels."""

import numpy as np

from recon import hallucination


def _scene():
  labels = np.zeros((48, 48), np.int32)
  labels[8:40, 8:40] = 2  # muscle-like tissue
  labels[8:40, 30:40] = 1  # a fat band on the right
  target = np.where(labels > 0, 1.0, 0.0)
  return labels, target


def test_an_inserted_spot_is_one_hallucination_and_is_placed_by_labels():
  labels, target = _scene()
  rng = np.random.default_rng(0)
  faithful = target + 0.01 * rng.normal(size=target.shape)
  threshold = hallucination.threshold(
      hallucination.region_responses(faithful[None], target[None], labels[None])
  )
  spot = faithful.copy()
  spot[14:17, 14:17] += 0.1  # far from fat: "elsewhere"
  spot[26:29, 23:26] -= 0.1  # a lost feature 5 px from the fat band: "near"
  counts = hallucination.count_stack(
      np.stack([faithful, spot]),
      np.stack([target, target]),
      np.stack([labels, labels]),
      threshold,
      near_labels=(1,),
      near_distance=6,
  )
  assert counts["total"][0] == 0
  assert counts["near"][1] == 1 and counts["elsewhere"][1] == 1
  assert counts["total"][1] == 2


def test_label_edges_and_air_are_outside_the_counting_region():
  labels, target = _scene()
  region = hallucination.counting_region(target, labels)
  assert not region[:8].any()  # air
  assert not region[20, 28:32].any()  # within 2 px of the muscle/fat edge
  assert region[20, 20]


def test_without_labels_the_region_is_the_eroded_object():
  _, target = _scene()
  region = hallucination.counting_region(target, None)
  assert region[20, 20] and not region[8, 20] and not region[0, 0]
