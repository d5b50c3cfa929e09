"""The files a build skipped, listed in `manifest.json` beside the dataset.

A builder that reads the user's files (`magnitude_registry`) or a download
(`fastmri`) skips a bad file instead of stopping at it: each one is listed
with its reason (`DatasetError.reason`) and message, and the build fails
only when more than `max_skipped_fraction` of the files are skipped, with
one error that holds the table and the first message of each reason
(`check`). TFDS prepares into a temporary folder renamed when complete, so
the manifest appears together with the dataset.

Manifest fields: num_files, num_used, num_skipped, num_volumes,
skipped_by_reason (reason -> count), skipped ([{file, reason, detail}], file
names relative to the folder), plus what a builder adds (the registry's
clipped_negative, num_clipped_pixels).
"""

import collections
import json
from collections.abc import Callable

from kspace.datasets import errors

MANIFEST = "manifest.json"


def entry(
    path: str, error: errors.DatasetError, relative: Callable[[str], str]
) -> dict:
  """One skipped file: its name as `relative` gives it, reason, message.

  The message names the file by its absolute path; the manifest holds only
  the relative name (no folder of the user's machine).
  """
  name = relative(path)
  return {
      "file": name,
      "reason": error.reason,
      "detail": str(error).replace(path, name),
  }


def summarize(
    num_files: int, num_used: int, num_volumes: int, skipped: list[dict]
) -> dict:
  """The manifest of a build from its counts and skipped `entry`s."""
  skipped = sorted(skipped, key=lambda e: e["file"])
  reasons = collections.Counter(e["reason"] for e in skipped)
  return {
      "num_files": num_files,
      "num_used": num_used,
      "num_skipped": len(skipped),
      "num_volumes": num_volumes,
      "skipped_by_reason": dict(sorted(reasons.items())),
      "skipped": skipped,
  }


def format_table(manifest: dict, max_files: int = 5) -> str:
  """A short text table: files used, files skipped per reason, a few
  examples of each."""
  lines = [
      f"{manifest['num_used']} of {manifest['num_files']} files used"
      f" ({manifest['num_volumes']} volumes), {manifest['num_skipped']}"
      " skipped."
  ]
  if manifest["skipped"]:
    lines.append(f"  {'reason':<18} {'files':>6}  e.g.")
    for reason, count in manifest["skipped_by_reason"].items():
      examples = [
          e["file"] for e in manifest["skipped"] if e["reason"] == reason
      ][:max_files]
      lines.append(f"  {reason:<18} {count:>6}  {', '.join(examples)}")
  return "\n".join(lines)


def _first_details(manifest: dict) -> list[str]:
  """The message of the first skipped file of each reason (the table alone
  names the reason, not what to do about it)."""
  first = {}
  for e in manifest["skipped"]:
    first.setdefault(e["reason"], e["detail"])
  return [f"  {detail}" for _, detail in sorted(first.items())]


def check(folder: str, manifest: dict, limit: float) -> None:
  """Raises one DatasetError when more than `limit` of the files are
  skipped, or no volume is left; otherwise returns.

  Args:
    folder: the folder read (named in the message).
    manifest: from `summarize`.
    limit: max_skipped_fraction, in [0, 1].

  Raises:
    DatasetError: with the table and the first message of each reason.
  """
  fraction = manifest["num_skipped"] / max(manifest["num_files"], 1)
  if manifest["num_volumes"] and fraction <= limit:
    return
  share = (
      f"({fraction:.0%} > max_skipped_fraction {limit:g})"
      if fraction > limit
      else "(no volume is left)"
  )
  lines = [
      (
          f"{folder}: {manifest['num_skipped']} of {manifest['num_files']}"
          f" files are unusable {share}. Fix: fix or remove the files listed,"
          " or raise max_skipped_fraction."
      ),
      format_table(manifest),
      "First file of each reason:",
  ]
  raise errors.DatasetError(
      "\n".join(lines + _first_details(manifest)), reason="too_many_skipped"
  )


def write(builder, manifest: dict) -> None:
  """Writes the manifest into the dataset folder `builder` is preparing."""
  (builder.data_path / MANIFEST).write_text(json.dumps(manifest, indent=1))


def read(builder) -> dict:
  """The prepared dataset's manifest (its skipped files)."""
  return json.loads((builder.data_path / MANIFEST).read_text())
