"""Records grouped into volumes, slices in order, shares disjoint."""

import pytest

from kspace.export import volumes


def test_named_volumes_keep_their_slices_together_and_in_order():
  # Records in TFDS's shuffled order.
  keys = [
      {"volume_id": "b/ser", "slice_index": 2},
      {"volume_id": "a", "slice_index": 1},
      {"volume_id": "b/ser", "slice_index": 0},
      {"volume_id": "a", "slice_index": 0},
      {"volume_id": "b/ser", "slice_index": 1},
  ]
  plan = volumes.group(keys, "train", slices_per_volume=8, prefix="x")
  assert [(v.volume_id, v.stem, v.rows) for v in plan] == [
      ("a", "a", (3, 1)),
      ("b/ser", "b_ser", (2, 4, 0)),
  ]
  assert plan[1].num_slices == 3 and plan[1].split == "train"


def test_loose_records_form_volumes_by_index():
  keys = [{"index": i} for i in (5, 0, 3, 1, 4, 2, 6)]
  plan = volumes.group(keys, "validation", slices_per_volume=3, prefix="syn")
  assert [v.volume_id for v in plan] == [
      "syn_validation_00000",
      "syn_validation_00001",
      "syn_validation_00002",
  ]
  # Indices 0-2, 3-5, 6, as rows of the source.
  assert [v.rows for v in plan] == [(1, 3, 5), (2, 4, 0), (6,)]
  assert sorted(r for v in plan for r in v.rows) == list(range(7))
  with pytest.raises(ValueError, match="slices_per_volume"):
    volumes.group(keys, "train", 0, "syn")


def test_colliding_file_stems_get_a_hash():
  keys = [{"volume_id": "a/b"}, {"volume_id": "a_b"}, {"volume_id": "c"}]
  stems = [v.stem for v in volumes.group(keys, "train", 1, "x")]
  assert stems[2] == "c"
  assert stems[0] != stems[1]
  assert all(s.startswith("a_b_") for s in stems[:2])


def test_shares_are_disjoint_and_cover_the_plan():
  plan = volumes.group([{"index": i} for i in range(10)], "train", 1, "x")
  shares = [volumes.share(plan, i, 3) for i in range(3)]
  names = [v.volume_id for s in shares for v in s]
  assert sorted(names) == sorted(v.volume_id for v in plan)
  assert len(set(names)) == len(names)
  assert [len(s) for s in shares] == [4, 3, 3]
  with pytest.raises(ValueError, match="process_index"):
    volumes.share(plan, 3, 3)


def test_a_volumes_stable_index_depends_on_it_alone():
  one = volumes.group([{"volume_id": "a"}, {"volume_id": "b"}], "train", 1, "x")
  other = volumes.group([{"volume_id": "b"}], "train", 1, "x")
  assert volumes.stable_index(one[1]) == volumes.stable_index(other[0])
  assert volumes.stable_index(one[0]) != volumes.stable_index(one[1])
  moved = volumes.group([{"volume_id": "b"}], "test", 1, "x")[0]
  assert volumes.stable_index(moved) != volumes.stable_index(other[0])
  assert 0 <= volumes.stable_index(one[0]) < 2**31
