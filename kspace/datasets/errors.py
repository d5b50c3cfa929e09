"""The error raised for bad dataset input, and host-side checks that raise it.

Every message names the offending file (or setting) and says how to fix it,
so a user never has to read a traceback from deep inside numpy or TFDS.
"""

import os

import numpy as np


class DatasetError(ValueError):
  """Bad dataset input: missing/corrupt files, wrong shapes, non-finite data.

  Attributes:
    reason: a short name of what is wrong (e.g. "non_finite"), under which
      a registry's manifest counts the files it skipped.
  """

  def __init__(self, message: str, reason: str = "invalid"):
    super().__init__(message)
    self.reason = reason


def file_error(
    path: str | os.PathLike, problem: str, fix: str, reason: str = "invalid"
) -> DatasetError:
  """A DatasetError that names `path`, what is wrong and the fix."""
  return DatasetError(f"{os.fspath(path)}: {problem} Fix: {fix}", reason)


def check_finite(array: np.ndarray, path: str | os.PathLike, what: str) -> None:
  """Raises a DatasetError naming `path` if `array` has NaN or inf values.

  Args:
    array: any numeric array (real or complex).
    path: the file the values came from (for the message).
    what: which values, e.g. "k-space of slice 3".
  """
  finite = np.isfinite(array)
  if not finite.all():
    count = int(finite.size - np.count_nonzero(finite))
    raise file_error(
        path,
        f"{what} has {count} NaN/inf value(s) of {finite.size}.",
        "re-export or re-download the file, or remove it from the folder.",
        reason="non_finite",
    )
