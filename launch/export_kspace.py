"""--mode=export_kspace: a k-space training set in fastMRI's HDF5 schema.

  python -m launch.main --mode=export_kspace \
      --config=configs/export.py:quicktest --workdir=runs/export_quicktest

Every volume of `config.data` (`kspace.export.volumes`) gets
`export.num_phase_samples` phases from `export.phase_source`, drawn for
its magnitudes normalised as every phase model sees them
(`kspace.common.normalize`); each draw becomes one file of multi-coil
k-space of the records' magnitudes at their own scale
(`kspace.export.acquisition`, `fastmri_schema`) under
`DIR/<challenge>_<split>/`, written to a temporary name and renamed, and
`DIR/manifest.json` lists them. A volume's draws, coil rotation and noise
depend only on `config.seed` and the volume's name, so a rerun skips the
complete files and writes the rest exactly as an uninterrupted run would,
and processes that each export their share (`export.process_index` of
`export.process_count`) write disjoint files of the same set.

Bad input is refused before the first file is written: an unknown source,
a phase model missing, of the wrong kind or trained at another image size,
a source without phase for ground_truth, a bad or empty dataset, a
--workdir holding other files or another export's.
"""

import hashlib
import importlib.metadata

import jax
import ml_collections
import numpy as np
import tqdm
from etils import epath

from kspace import datasets
from kspace.common import config_errors
from kspace.common import normalize
from kspace.datasets import loader
from kspace.datasets import synthetic_mri
from kspace.export import acquisition
from kspace.export import fastmri_schema
from kspace.export import ismrmrd_header
from kspace.export import manifest as manifest_lib
from kspace.export import volumes as volumes_lib
from launch import export_phases
from runtime import atomic
from runtime import train_loop

# PRNG streams of a volume's key.
_PHASE, _COILS, _NOISE = range(3)
_KEY_READ_CHUNK = 256


class ExportError(ValueError):
  """An export that cannot run as configured (the message says why)."""


def export(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Writes this process's share of the export; returns the manifest."""
  settings = config.export
  _check_settings(config)
  process_index, process_count = _process_share(settings)
  root = epath.Path(workdir)
  _check_folder_entries(root)
  model = export_phases.check_phase_model(config)
  builder = datasets.build_from_config(config.data)
  sources, plan = _plan(config, builder)
  key = _manifest_key(config, builder, model)
  _check_same_export(root, key)
  paths = {
      volume: manifest_lib.relative_paths(
          volume, settings.num_coils, settings.num_phase_samples
      )
      for volume in plan
  }
  _check_output_files(root, {p for ps in paths.values() for p in ps})
  share = volumes_lib.share(plan, process_index, process_count)
  todo = {}  # volume -> {draw: relative path} of the files to write
  for volume in share:
    for path in paths[volume]:
      _remove_stale_temporary(root / path)
    missing = {
        k: p for k, p in enumerate(paths[volume]) if not (root / p).exists()
    }
    if missing:
      todo[volume] = missing
  factory = export_phases.phase_factory(config) if todo else None
  _write_manifest(root, key, plan, settings)
  provenance = _provenance(config, builder, model)
  with tqdm.tqdm(
      total=sum(v.num_slices * len(m) for v, m in todo.items()),
      desc=f"export {process_index + 1}/{process_count}",
      unit="slice",
      dynamic_ncols=True,
  ) as bar:
    for volume, missing in todo.items():
      _export_volume(
          config,
          volume,
          sources[volume.split],
          factory,
          root,
          missing,
          provenance,
          bar,
      )
  manifest = _write_manifest(root, key, plan, settings)
  written = sum(len(m) for m in todo.values())
  complete = len(share) * settings.num_phase_samples - written
  print(
      f"Exported {written} files ({complete} already complete);"
      f" {manifest['num_written']} of the set's"
      f" {manifest['num_files']} files are in {root}, listed in"
      f" {manifest_lib.NAME}.",
      flush=True,
  )
  return manifest


def _plan(config, builder):
  """({split: source}, the volumes of every exported split)."""
  sources = {
      split: datasets.data_source(builder, split)
      for split in _splits(config.export.splits, builder)
  }
  plan = [
      volume
      for split, source in sources.items()
      for volume in volumes_lib.group(
          _placement_keys(source),
          split,
          config.export.slices_per_volume,
          config.data.name.partition("/")[0],
      )
  ]
  if not plan:
    raise ExportError(
        f"{builder.info.full_name} has no records in the splits"
        f" {list(sources)}. Fix: export a split that has records"
        " (--config.export.splits)."
    )
  export_phases.check_records(config, next(iter(sources.values()))[0])
  return sources, plan


# ---------------------------------------------------------------- checks --


def _check_settings(config) -> None:
  settings = config.export
  config_errors.check_choice(
      "phase source", settings.phase_source, export_phases.SOURCES
  )
  for field, minimum in (
      ("num_phase_samples", 1),
      ("num_coils", 1),
      ("slices_per_volume", 1),
      ("batch_size", 1),
  ):
    if settings[field] < minimum:
      raise config_errors.ConfigError(
          f"export.{field}={settings[field]} must be >= {minimum}. Fix: pass"
          f" --config.export.{field}=<{minimum} or more>."
      )
  if settings.coil_radius <= 2**0.5:
    raise config_errors.ConfigError(
        f"export.coil_radius={settings.coil_radius} puts coils inside the"
        " image. Fix: pass a radius above 1.415 (half-FOV units)."
    )
  if settings.phase_source == "oracle" and (
      config.data.name != synthetic_mri.NAME
  ):
    raise config_errors.ConfigError(
        "export.phase_source=oracle rescans synthetic anatomy; the data are"
        f" {config.data.name}. Fix: use another phase source."
    )


def _process_share(settings) -> tuple[int, int]:
  """(this process, process count): the config's, else jax's."""
  if settings.process_count:
    index, count = settings.process_index, settings.process_count
  else:
    index, count = jax.process_index(), jax.process_count()
  if not 0 <= index < count:
    raise config_errors.ConfigError(
        f"export.process_index={index} is not in [0, {count}). Fix: number"
        " the processes 0 .. process_count - 1."
    )
  if jax.process_count() > 1 and settings.phase_source in export_phases.LEARNED:
    raise config_errors.ConfigError(
        "A multi-host JAX run samples the phase model over every host's"
        " devices, so the hosts cannot export different volumes. Fix: run"
        " independent processes (no PHASESYNTH_DISTRIBUTED) with"
        " --config.export.process_index=i --config.export.process_count=n."
    )
  return index, count


def _output_folders() -> set[str]:
  return {
      fastmri_schema.folder(coils, split)
      for coils in (1, 2)
      for split in fastmri_schema.SPLIT_FOLDERS
  }


def _check_folder_entries(root: epath.Path) -> None:
  """Refuses a --workdir holding anything an export does not write."""
  if not root.exists():
    return
  allowed = _output_folders() | {
      manifest_lib.NAME,
      _temporary(manifest_lib.NAME),
  }
  foreign = sorted(p.name for p in root.iterdir() if p.name not in allowed)
  if foreign:
    raise ExportError(
        f"--workdir={root} holds files an export does not write"
        f" ({', '.join(foreign[:5])}). Fix: pass a new or empty folder, or an"
        " earlier export's folder to resume it."
    )


def _check_same_export(root: epath.Path, key: dict) -> None:
  """Refuses a --workdir holding an export made with other settings."""
  previous = manifest_lib.read(root / manifest_lib.NAME)
  if previous is None:
    return
  changed = manifest_lib.differences(previous["key"], key)
  if changed:
    raise ExportError(
        f"--workdir={root} holds an export made with other settings"
        f" ({', '.join(changed[:4])} differ). Fix: pass a new --workdir, or"
        " the same settings to resume that export."
    )


def _check_output_files(root: epath.Path, planned: set[str]) -> None:
  """Refuses .h5 files in the output folders that this plan does not
  write (a reader of the folder would take them for part of the set)."""
  known = planned | {_temporary(p) for p in planned}
  for name in _output_folders():
    folder = root / name
    if not folder.exists():
      continue
    for path in folder.iterdir():
      if f"{name}/{path.name}" in known:
        continue
      raise ExportError(
          f"{path} is not a file of this export, and readers of {folder}"
          " would take it for one. Fix: move it away, or pass a new"
          " --workdir."
      )


def _splits(splits: str, builder) -> list[str]:
  """The TFDS split names to export, in train, validation, test order."""
  available = list(builder.info.splits.keys())
  if not splits:
    wanted = available
  else:
    wanted = [
        loader.SPLIT_ALIASES.get(s.strip(), s.strip())
        for s in splits.split(",")
        if s.strip()
    ]
    for split in wanted:
      config_errors.check_choice(
          f"split of {builder.info.full_name}", split, available
      )
  order = list(fastmri_schema.SPLIT_FOLDERS)
  return sorted((s for s in set(wanted) if s in order), key=order.index)


# ------------------------------------------------------------------ plan --


def _placement_keys(source) -> list[dict]:
  """Per record the fields that place it in a volume."""
  keys = []
  for start in range(0, len(source), _KEY_READ_CHUNK):
    rows = range(start, min(start + _KEY_READ_CHUNK, len(source)))
    for record in source.__getitems__(list(rows)):
      keys.append({
          k: record[k]
          for k in ("volume_id", "slice_index", "index")
          if k in record
      })
  return keys


def _temporary(path: str) -> str:
  """The temporary name `runtime.atomic.replacing` writes `path` under."""
  return str(atomic.temporary_path(path))


def _remove_stale_temporary(path: epath.Path) -> None:
  """Deletes the temporary file an interrupted run left for `path` (shares
  are disjoint, so no other process writes it)."""
  stale = atomic.temporary_path(path)
  if stale.exists():
    stale.unlink()


def _salt_digest(salt: str) -> str:
  return hashlib.sha256(salt.encode()).hexdigest()[:10] if salt else ""


def _version() -> str:
  try:
    return importlib.metadata.version("phasesynth")
  except importlib.metadata.PackageNotFoundError:
    return "unknown"


def _manifest_key(config, builder, model) -> dict:
  """What makes the files (no secret: the salts only as hashes)."""
  data = train_loop.as_json(config.data)
  data.pop("data_dir", None)
  data.get("registry", {}).pop("source_salt", None)
  settings = train_loop.as_json(config.export)
  for field in ("process_index", "process_count", "patient_id_salt"):
    settings.pop(field)
  settings["patient_id_salt_sha256"] = _salt_digest(
      config.export.patient_id_salt
  )
  return {
      "data": data,
      "dataset": builder.info.full_name,
      "export": settings,
      "phase_model": model,
      "seed": config.seed,
      "version": _version(),
  }


def _write_manifest(root: epath.Path, key, plan, settings) -> dict:
  root.mkdir(parents=True, exist_ok=True)
  manifest = manifest_lib.build(
      key, plan, settings.num_coils, settings.num_phase_samples, root
  )
  with atomic.replacing(root / manifest_lib.NAME) as tmp:
    tmp.write_text(manifest_lib.dumps(manifest))
  return manifest


# ---------------------------------------------------------------- volume --


def _provenance(config, builder, model) -> dict:
  settings = config.export
  return {
      "phasesynth_version": _version(),
      "source_dataset": builder.info.full_name,
      "phase_source": settings.phase_source,
      "phase_workdir": model["workdir"] if model else "",
      "phase_checkpoint_step": (
          -1
          if not model or model["checkpoint_step"] is None
          else int(model["checkpoint_step"])
      ),
      "num_phase_draws": int(settings.num_phase_samples),
      "seed": int(config.seed),
      "snr_db": np.nan if settings.snr_db is None else float(settings.snr_db),
  }


def _export_volume(
    config, volume, source, factory, root, paths: dict, provenance, bar
) -> None:
  """Draws a volume's phases and writes the files of `paths` (draw ->
  relative path) that are missing."""
  settings = config.export
  records = source.__getitems__(list(volume.rows))
  magnitude = np.stack([r["magnitude"] for r in records]).astype(np.float32)
  key = jax.random.fold_in(
      jax.random.key(config.seed), volumes_lib.stable_index(volume)
  )
  phases = export_phases.draw_phases(
      factory,
      records,
      volume.split,
      jax.random.fold_in(key, _PHASE),
      normalize.normalize_magnitude(magnitude),
      settings.num_phase_samples,
      settings.batch_size,
  )
  rotation = (
      float(jax.random.uniform(jax.random.fold_in(key, _COILS))) * 2 * np.pi
  )
  maps = acquisition.coil_maps(
      magnitude.shape[1:], settings.num_coils, rotation, settings.coil_radius
  )
  header = ismrmrd_header.build(
      ismrmrd_header.from_records(
          records,
          settings.num_coils,
          settings.pixel_spacing_mm,
          settings.slice_thickness_mm,
      )
  )
  acquisition_name = records[0].get("acquisition") or config.data.name
  for draw, path in paths.items():
    kspace, rss = acquisition.acquire(
        magnitude,
        phases[draw],
        maps,
        noise_key=jax.random.fold_in(jax.random.fold_in(key, _NOISE), draw),
        snr_db=settings.snr_db,
    )
    if settings.num_coils == 1:
      kspace = kspace[:, 0]
    attrs = {
        **provenance,
        "acquisition": acquisition_name,
        "patient_id": fastmri_schema.patient_id(
            volume.volume_id, settings.patient_id_salt
        ),
        "phase_draw": int(draw),
        "coil_rotation_rad": rotation,
    }
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    with atomic.replacing(root / path) as tmp:
      fastmri_schema.write_volume(tmp, kspace, rss, header, attrs)
    bar.update(volume.num_slices)
