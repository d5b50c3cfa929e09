"""Writing outputs so that a crash never leaves a half-written file."""

import contextlib
from collections.abc import Iterator

from etils import epath


def temporary_path(path: str | epath.Path) -> epath.Path:
  """The temporary name `replacing` writes `path` under: beside it, with
  the suffix kept."""
  path = epath.Path(path)
  return path.with_name(path.name + ".tmp" + path.suffix)


@contextlib.contextmanager
def replacing(path: str | epath.Path) -> Iterator[epath.Path]:
  """Yields a temporary path beside `path`, renamed onto it on success.

    with atomic.replacing(workdir / "metrics.json") as tmp:
      tmp.write_text(text)

  The temporary name keeps the suffix (matplotlib picks the format from it).
  If the block raises, the temporary file is removed and `path` is left as
  it was.
  """
  path = epath.Path(path)
  tmp = temporary_path(path)
  try:
    yield tmp
  except BaseException:
    if tmp.exists():
      tmp.unlink()
    raise
  tmp.replace(path)
