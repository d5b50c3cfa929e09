"""Disjoint data roles of an experiment, cut from a dataset's splits.

  roles = roles.assign(get_source, {
      "phase_train": ("train", 0.0, 0.5),   # the phase models learn here
      "recon_train": ("train", 0.5, 1.0),   # the recon arms' magnitudes
      "val": ("validation", 0.0, 1.0),
      "test": ("test", 0.0, 1.0),           # ground truth, scored once
  }, volume_field="volume_id")

A role is a contiguous range [start, stop) of the fractions of a split's
*volumes* (in the order they first appear), so the slices of one volume
never land in two roles; records without a volume field are their own
volume. Two roles on the same split must not overlap, so no image, volume
or (for the synthetic set, whose examples are seeded by split and index)
anatomy seed is shared between roles.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

ROLES = ("phase_train", "recon_train", "val", "test")

RoleSpec = tuple[str, float, float]


class Subset(Sequence):
  """A random-access view of `source` at `indices` (len, [i], getitems).

  Attributes:
    split: the split the records come from.
    indices: (N,) int64 record indices into that split.
    name: the role.
    dataset: what the records are (a TFDS full name, which holds every
      field of the data and, for user files, their fingerprint).
  """

  def __init__(
      self,
      source: Any,
      indices: np.ndarray,
      split: str,
      name: str,
      dataset: str = "",
  ):
    self._source = source
    self.indices = np.asarray(indices, np.int64)
    self.split = split
    self.name = name
    self.dataset = dataset

  def __len__(self) -> int:
    return len(self.indices)

  def head(self, count: int, name: str) -> "Subset":
    """The first `count` records, as role `name`."""
    return Subset(
        self._source, self.indices[:count], self.split, name, self.dataset
    )

  def __getitem__(self, index: int) -> dict[str, Any]:
    return self._source[int(self.indices[int(index)])]

  def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
    return [self[i] for i in indices]

  def __repr__(self) -> str:
    return f"Subset({self.name}: {self.split}, {len(self)} records)"


def volume_groups(source: Sequence, volume_field: str) -> list[np.ndarray]:
  """Record indices per volume, volumes in order of first appearance.

  Reads `volume_field` of every record (once) when the records have it;
  otherwise every record is its own volume and nothing is read.
  """
  count = len(source)
  if count == 0:
    return []
  if volume_field not in source[0]:
    return [np.array([i]) for i in range(count)]
  ids = [str(source[i][volume_field]) for i in range(count)]
  order, groups = [], {}
  for index, volume in enumerate(ids):
    if volume not in groups:
      order.append(volume)
      groups[volume] = []
    groups[volume].append(index)
  return [np.array(groups[volume]) for volume in order]


def _check_specs(specs: Mapping[str, RoleSpec]) -> None:
  unknown = sorted(set(specs) - set(ROLES))
  if unknown:
    raise ValueError(f"Unknown data roles {unknown}; use {ROLES}.")
  for role, (split, start, stop) in specs.items():
    if not 0.0 <= start < stop <= 1.0:
      raise ValueError(
          f"Role {role!r} covers [{start}, {stop}) of {split!r}; need"
          " 0 <= start < stop <= 1 (fractions of the split's volumes)."
      )
  items = sorted(specs.items())
  for i, (role, (split, start, stop)) in enumerate(items):
    for other, (other_split, other_start, other_stop) in items[i + 1 :]:
      if split == other_split and start < other_stop and other_start < stop:
        raise ValueError(
            f"Roles {role!r} [{start}, {stop}) and {other!r}"
            f" [{other_start}, {other_stop}) overlap on split {split!r};"
            " roles must be disjoint."
        )


def assign(
    get_source: Callable[[str], Sequence],
    specs: Mapping[str, RoleSpec],
    volume_field: str,
    dataset: str = "",
) -> dict[str, Subset]:
  """{role: Subset} from {role: (split, start, stop)} volume fractions.

  Args:
    get_source: split name -> random-access records.
    specs: the roles wanted (a subset of `ROLES`).
    volume_field: record key of the volume id (e.g. "volume_id").
    dataset: the records' dataset name (`Subset.dataset`).

  Raises:
    ValueError: an unknown role, a bad or overlapping range, or a role
      with no volume (the message says which).
  """
  _check_specs(specs)
  sources, groups, out = {}, {}, {}
  for role, (split, start, stop) in specs.items():
    if split not in sources:
      sources[split] = get_source(split)
      groups[split] = volume_groups(sources[split], volume_field)
    volumes = groups[split]
    first = int(np.floor(start * len(volumes) + 1e-9))
    last = int(np.floor(stop * len(volumes) + 1e-9))
    if last <= first:
      raise ValueError(
          f"Role {role!r} gets no volume: [{start}, {stop}) of the"
          f" {len(volumes)} volumes of split {split!r}; make the dataset or"
          " the range larger."
      )
    indices = np.concatenate(volumes[first:last])
    out[role] = Subset(sources[split], indices, split, role, dataset)
  return out
