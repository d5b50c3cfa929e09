"""Tests of kspace.datasets.image_files.registry_folder: the registry's files
and their splits."""

import os

import pytest

from kspace import datasets
from kspace.datasets.image_files import registry_folder


def _touch(root, *names):
  for name in names:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def test_list_images_finds_supported_files_sorted(tmp_path):
  _touch(tmp_path, "b.png", "a/z.dcm", "a/y.nii.gz", ".hidden.png", "notes.txt")
  found = registry_folder.list_images(str(tmp_path))
  assert [os.path.relpath(p, tmp_path) for p in found] == [
      "b.png",
      os.path.join("a", "y.nii.gz"),
      os.path.join("a", "z.dcm"),
  ]
  with pytest.raises(datasets.DatasetError, match="no DICOM, NIfTI"):
    registry_folder.list_images(str(tmp_path / "a" / "empty"))


def test_hash_splits_are_deterministic_and_cover_every_volume(tmp_path):
  names = [f"v{i}.png" for i in range(10)]
  splits = registry_folder.assign_splits(str(tmp_path), names, 0.2, 0.1)
  assert sorted(sum(splits.values(), [])) == sorted(names)
  assert [len(splits[s]) for s in ("validation", "test", "train")] == [2, 1, 7]
  shuffled = registry_folder.assign_splits(str(tmp_path), names[::-1], 0.2, 0.1)
  assert shuffled == splits


def test_split_subfolders_define_the_splits(tmp_path):
  _touch(tmp_path, "train/a.png", "val/b.png")
  names = [os.path.join("train", "a.png"), os.path.join("val", "b.png")]
  splits = registry_folder.assign_splits(str(tmp_path), names, 0.5, 0.5)
  assert splits == {"train": [names[0]], "validation": [names[1]]}
  with pytest.raises(datasets.DatasetError, match="outside the train/val"):
    registry_folder.assign_splits(str(tmp_path), names + ["c.png"], 0, 0)
