"""Helpers shared by the manual_dir builders: file listings and cropping."""

import hashlib
import os
from collections.abc import Sequence

import numpy as np

from kspace.datasets import errors


def fingerprint(paths: Sequence[str | os.PathLike], root: str) -> str:
  """A short hash of file names (relative to `root`), sizes and mtimes.

  It enters the builder config name, so a folder whose contents changed is
  prepared again instead of silently reusing the old dataset.

  Args:
    paths: the files.
    root: folder the names are taken relative to.

  Returns:
    10 hex characters.
  """
  digest = hashlib.sha1()
  for path in sorted(os.fspath(p) for p in paths):
    stat = os.stat(path)
    entry = f"{os.path.relpath(path, root)}|{stat.st_size}|{stat.st_mtime_ns}"
    digest.update(entry.encode())
    digest.update(b"\0")
  return digest.hexdigest()[:10]


def check_folder(path: str | os.PathLike | None, what: str) -> str:
  """Returns `path` as an absolute string; raises if it is not a folder."""
  if not path:
    raise errors.DatasetError(
        f"{what} needs manual_dir: the folder that holds your files."
    )
  path = os.path.abspath(os.path.expanduser(os.fspath(path)))
  if not os.path.isdir(path):
    raise errors.DatasetError(
        f"{path}: manual_dir for {what} does not exist or is not a folder."
        " Fix: pass the folder that holds your files."
    )
  return path


def center_crop_or_pad(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
  """Center crop (or zero-pad) the last two axes to `size`.

  The crop offset is (n - size) // 2, as fastMRI's `center_crop`; padding
  puts the extra zero on the same side, so crop and pad are inverse.

  Args:
    array: (..., H, W).
    size: (h, w) wanted.

  Returns:
    array of shape (..., h, w), same dtype.
  """
  out = array
  for axis, want in zip((-2, -1), size):
    have = out.shape[axis]
    if have >= want:
      start = (have - want) // 2
      out = np.take(out, np.arange(start, start + want), axis=axis)
    else:
      before = (want - have) // 2
      pad = [(0, 0)] * out.ndim
      pad[axis] = (before, want - have - before)
      out = np.pad(out, pad)
  return out
