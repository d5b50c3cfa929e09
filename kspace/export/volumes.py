"""Records grouped into the volumes an export writes, one file per draw.

A fastMRI file is one volume: its slices together and in order. Records
that name their volume (`volume_id` and `slice_index`: the registry's DICOM
series and NIfTI volumes, fastMRI's files) are grouped by it and ordered by
slice; records that do not (the synthetic set's independent slices) form
volumes of `slices_per_volume` consecutive records (by `index` where they
have one), named `<prefix>_<split>_<n>`.

The plan is a pure function of the records, so every process of a
multi-process export computes the same one and `share` hands each process
a disjoint part of it.
"""

import collections
import dataclasses
import hashlib
from collections.abc import Sequence

from kspace.export import fastmri_schema


@dataclasses.dataclass(frozen=True)
class Volume:
  """One volume of a split.

  Attributes:
    split: TFDS split ("train", "validation", "test").
    volume_id: its name in the records (or the made-up name).
    stem: the file stem (`fastmri_schema.file_stem`, made unique within
      the split).
    rows: record indices in the split's source, in slice order.
  """

  split: str
  volume_id: str
  stem: str
  rows: tuple[int, ...]

  @property
  def num_slices(self) -> int:
    return len(self.rows)


def group(
    keys: Sequence[dict],
    split: str,
    slices_per_volume: int,
    prefix: str,
) -> list[Volume]:
  """The volumes of one split.

  Args:
    keys: per record (in source order) the fields that place it: any of
      `volume_id`, `slice_index`, `index`.
    split: the split's name.
    slices_per_volume: records per made-up volume (records without a
      `volume_id`); >= 1.
    prefix: the made-up volumes' name prefix (e.g. the dataset's name).

  Returns:
    Volumes sorted by name; each record in exactly one.
  """
  if slices_per_volume < 1:
    raise ValueError(
        f"slices_per_volume must be >= 1, got {slices_per_volume}."
    )
  named = collections.defaultdict(list)
  loose = []
  for row, key in enumerate(keys):
    if key.get("volume_id"):
      named[str(key["volume_id"])].append((int(key.get("slice_index", 0)), row))
    else:
      loose.append((int(key.get("index", row)), row))
  volumes = {
      volume_id: tuple(row for _, row in sorted(slices))
      for volume_id, slices in named.items()
  }
  loose.sort()
  for number, start in enumerate(range(0, len(loose), slices_per_volume)):
    chunk = loose[start : start + slices_per_volume]
    volumes[f"{prefix}_{split}_{number:05d}"] = tuple(row for _, row in chunk)
  stems = _unique_stems(sorted(volumes))
  return [
      Volume(split, volume_id, stems[volume_id], volumes[volume_id])
      for volume_id in sorted(volumes)
  ]


def _unique_stems(volume_ids: Sequence[str]) -> dict[str, str]:
  """File stems, with a short hash of the name appended where two names
  map to the same stem ("a/b" and "a_b")."""
  stems = {v: fastmri_schema.file_stem(v) for v in volume_ids}
  counts = collections.Counter(stems.values())
  for volume_id, stem in stems.items():
    if counts[stem] > 1:
      digest = hashlib.sha1(volume_id.encode()).hexdigest()[:8]
      stems[volume_id] = f"{stem}_{digest}"
  return stems


def stable_index(volume: Volume) -> int:
  """A 31-bit integer of (split, volume_id): folded into the export's PRNG
  key, so a volume's draws depend on it alone, not on which others are
  exported or by which process."""
  digest = hashlib.sha256(f"{volume.split}\0{volume.volume_id}".encode())
  return int.from_bytes(digest.digest()[:4], "little") & 0x7FFFFFFF


def share(
    volumes: Sequence[Volume], process_index: int, process_count: int
) -> list[Volume]:
  """Process `process_index`'s volumes of `process_count`: every
  `process_count`-th one (round robin over the sorted plan, so shares are
  disjoint, cover the plan and are balanced in count)."""
  if not 0 <= process_index < process_count:
    raise ValueError(
        f"process_index must be in [0, {process_count}), got {process_index}."
    )
  return list(volumes[process_index::process_count])
