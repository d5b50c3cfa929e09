"""`DIR/manifest.json`: what an export writes and from what.

  {"kind": "phasesynth.export_kspace",
   "key": {...},          what makes the files: data, phase source and its
                          checkpoint, seed, coils, noise, draws, version
   "files": [{"path", "split", "volume_id", "num_slices", "phase_draw",
              "written"}, ...],
   "num_files", "num_written"}

Every process of an export computes the same plan and writes the manifest
before its first file (so a rerun, or another process, recognises the
folder) and again after its last, with `written` read from the disk: a file
exists only once complete (it is renamed into place). A folder whose
manifest has another `key` holds another export (`differences` names the
fields), which the exporter refuses to mix in.
"""

import json
import math
import os
from collections.abc import Sequence

from kspace.export import fastmri_schema
from kspace.export import volumes as volumes_lib

NAME = "manifest.json"
KIND = "phasesynth.export_kspace"


def relative_paths(
    volume: volumes_lib.Volume, num_coils: int, num_draws: int
) -> list[str]:
  """The files of a volume relative to the export folder, one per draw."""
  folder = fastmri_schema.folder(num_coils, volume.split)
  return [
      f"{folder}/{fastmri_schema.file_name(volume.stem, k, num_draws)}"
      for k in range(num_draws)
  ]


def build(
    key: dict,
    plan: Sequence[volumes_lib.Volume],
    num_coils: int,
    num_draws: int,
    root: str | os.PathLike,
) -> dict:
  """The manifest of `plan`, each file's `written` read from `root`."""
  files = []
  for volume in plan:
    for draw, path in enumerate(relative_paths(volume, num_coils, num_draws)):
      files.append({
          "path": path,
          "split": volume.split,
          "volume_id": volume.volume_id,
          "num_slices": volume.num_slices,
          "phase_draw": draw,
          "written": os.path.isfile(os.path.join(root, path)),
      })
  return {
      "kind": KIND,
      "key": key,
      "files": files,
      "num_files": len(files),
      "num_written": sum(f["written"] for f in files),
  }


def dumps(manifest: dict) -> str:
  """The manifest as JSON text (NaN/inf written as null)."""
  return json.dumps(_finite(manifest), indent=1, sort_keys=True) + "\n"


def _finite(value):
  if isinstance(value, float) and not math.isfinite(value):
    return None
  if isinstance(value, dict):
    return {k: _finite(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [_finite(v) for v in value]
  return value


def read(path: str | os.PathLike) -> dict | None:
  """The manifest at `path`, or None if it is not an export manifest."""
  try:
    with open(path) as f:
      manifest = json.load(f)
  except (OSError, json.JSONDecodeError):
    return None
  if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
    return None
  return manifest


def differences(old_key: dict, new_key: dict) -> list[str]:
  """The dotted fields in which two keys differ (JSON-normalised)."""
  old, new = _finite(old_key), json.loads(json.dumps(_finite(new_key)))
  out = []

  def walk(a, b, prefix):
    if isinstance(a, dict) and isinstance(b, dict):
      for k in sorted(set(a) | set(b)):
        walk(a.get(k), b.get(k), f"{prefix}{k}.")
    elif a != b:
      out.append(prefix.rstrip("."))

  walk(old, new, "")
  return out
