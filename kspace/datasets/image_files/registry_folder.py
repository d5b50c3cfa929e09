"""The registry's folder (manual_dir): its files and their splits.

`list_images` lists the supported files (`file_kinds`) under manual_dir.
Splits (`assign_splits`): if manual_dir has subfolders named train / val (or
validation) / test, their volumes form those splits. Otherwise each volume
is assigned to a split by a hash of its name (whole volumes, so the slices
of one volume never straddle splits).
"""

import hashlib
import os

from kspace.datasets import errors
from kspace.datasets.image_files import file_kinds

SPLIT_FOLDERS = {
    "train": ("train",),
    "validation": ("val", "validation"),
    "test": ("test",),
}

MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Put magnitude images (DICOM .dcm, NIfTI .nii/.nii.gz, PNG/TIFF/JPEG) in
manual_dir (subfolders are searched). Optional subfolders train/, val/, test/
define the splits; otherwise files are split by a hash of their path."""


def list_images(manual_dir: str) -> list[str]:
  """Supported files under `manual_dir` (recursive), sorted.

  Args:
    manual_dir: the folder.

  Returns:
    Paths, sorted by folder then name; hidden files are skipped.

  Raises:
    DatasetError: when there are none.
  """
  found = []
  for folder, subfolders, names in os.walk(manual_dir):
    subfolders.sort()
    for name in sorted(names):
      if name.startswith("."):
        continue
      path = os.path.join(folder, name)
      if file_kinds.file_kind(path) is not None:
        found.append(path)
  if not found:
    raise errors.file_error(
        manual_dir,
        "has no DICOM, NIfTI, PNG, TIFF or JPEG files.",
        MANUAL_DOWNLOAD_INSTRUCTIONS,
    )
  return found


def assign_splits(
    manual_dir: str,
    names: list[str],
    val_fraction: float,
    test_fraction: float,
) -> dict[str, list[str]]:
  """Volumes per split: from split subfolders, else by a hash of the name.

  Hash order is deterministic and independent of listing order; the first
  round(val_fraction * n) volumes (at least one if the fraction is > 0 and
  there are >= 3) go to validation, the next to test, the rest to train.
  Empty splits are omitted.

  Args:
    manual_dir: root folder.
    names: the volumes' names, paths relative to manual_dir
      (`registry_volumes.Volume.name`).
    val_fraction, test_fraction: used only without split subfolders.

  Returns:
    dict split -> sorted names.
  """
  top = {n: n.split(os.sep)[0].lower() for n in names}
  has_folders = any(
      os.path.isdir(os.path.join(manual_dir, name))
      for folders in SPLIT_FOLDERS.values()
      for name in folders
  )
  if has_folders:
    splits = {
        split: sorted(n for n in names if top[n] in folders)
        for split, folders in SPLIT_FOLDERS.items()
    }
    outside = [n for n in names if not any(n in s for s in splits.values())]
    if outside:
      raise errors.file_error(
          os.path.join(manual_dir, outside[0]),
          "is outside the train/val/test subfolders that define the splits.",
          "move it into one of them (or remove the split subfolders).",
      )
  else:
    ordered = sorted(names, key=lambda n: hashlib.sha1(n.encode()).hexdigest())
    count = len(ordered)

    def share(fraction: float) -> int:
      num = int(round(fraction * count))
      return max(num, 1) if fraction > 0 and count >= 3 else num

    num_val, num_test = share(val_fraction), share(test_fraction)
    splits = {
        "validation": sorted(ordered[:num_val]),
        "test": sorted(ordered[num_val : num_val + num_test]),
        "train": sorted(ordered[num_val + num_test :]),
    }
  splits = {split: ns for split, ns in splits.items() if ns}
  if not splits:
    raise errors.file_error(
        manual_dir, "has no files in any split.", MANUAL_DOWNLOAD_INSTRUCTIONS
    )
  return splits
