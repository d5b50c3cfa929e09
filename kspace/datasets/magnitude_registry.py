"""`magnitude_registry`: a folder of the user's magnitude-only images.

DICOM, NIfTI, PNG, TIFF and JPEG files anywhere under manual_dir are read by
`image_files` (its docstring lists the readers): each file's slices are
normalised by the file's `percentile`-th percentile and clipped to [0, 1],
center-cropped to a square and resized to image_size; slices whose maximum
is below `empty_threshold` are skipped.

Bad files (`image_files.REASONS`: corrupt, non-MR, secondary capture,
colour, localiser, phase/real/imaginary, wrong dimensions, NaN, negative,
empty) are skipped and listed with their reason in `manifest.json` beside the
dataset (`read_manifest`, `format_manifest`), which also counts the negative
pixels clipped from interpolation undershoot; the build fails only when more
than `max_skipped_fraction` of the files are skipped. `strict=True` fails at
the first bad file instead.

Splits: if manual_dir has subfolders named train / val (or validation) /
test, their files form those splits. Otherwise every file is assigned to a
split by a hash of its relative path (`val_fraction`, `test_fraction`;
whole files, so the slices of one volume never straddle splits).

Feature dict (S = image_size):
  magnitude: (S, S) float32 in [0, 1].
  source: text, the file path relative to manual_dir.
  slice_index: int32, slice (frame, page) within the file.
  field_strength_t, echo_time_ms, b0_direction, sequence: the scan
    parameters of a DICOM header (`scan_headers.from_dicom`); NaN / -1
    where the header lacks them and for NIfTI and PNG/TIFF/JPEG files.
"""

import collections
import dataclasses
import json
import os

import numpy as np
import tensorflow_datasets as tfds

from kspace.datasets import errors
from kspace.datasets import files
from kspace.datasets import image_files
from kspace.datasets import scan_headers

NAME = "magnitude_registry"


@dataclasses.dataclass(repr=False)
class MagnitudeRegistryConfig(tfds.core.BuilderConfig):
  """How the folder is turned into slices (all fields enter the name).

  Attributes:
    image_size: stored square side S.
    percentile: per-file normalisation percentile, in (0, 100].
    empty_threshold: slices with max below this (after normalisation) are
      skipped.
    val_fraction, test_fraction: hash split shares (no split subfolders).
    max_skipped_fraction: fail when more than this share of files is bad.
    max_negative_fraction: negative values up to this share of the positive
      total are clipped (interpolation undershoot), more refuse the file.
    strict: fail at the first bad file instead of skipping it.
    files_fingerprint: hash of the files the config was made for.
  """

  image_size: int = 128
  percentile: float = 99.5
  empty_threshold: float = 0.01
  val_fraction: float = 0.1
  test_fraction: float = 0.1
  max_skipped_fraction: float = 0.5
  max_negative_fraction: float = image_files.MAX_NEGATIVE_FRACTION
  strict: bool = False
  files_fingerprint: str = ""

  def __repr__(self) -> str:
    # TFDS logs custom configs; the name already encodes every field.
    return f"{type(self).__name__}({self.name!r})"


def make_config(
    image_size: int = 128,
    percentile: float = 99.5,
    empty_threshold: float = 0.01,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    max_skipped_fraction: float = 0.5,
    max_negative_fraction: float = image_files.MAX_NEGATIVE_FRACTION,
    strict: bool = False,
    manual_dir: str | None = None,
) -> MagnitudeRegistryConfig:
  """A config named after its fields and (with manual_dir) the files.

  Args:
    image_size: S >= 8.
    percentile: in (0, 100].
    empty_threshold: in [0, 1).
    val_fraction, test_fraction: >= 0, sum < 1.
    max_skipped_fraction: in [0, 1].
    max_negative_fraction: in [0, 1).
    strict: fail at the first bad file.
    manual_dir: if given, its files are fingerprinted into the name.

  Returns:
    A MagnitudeRegistryConfig, e.g.
    "s128_p99.5_e0.01_v0.1_t0.1_k0.5_n0.01_1a2b3c4d5e" ("_strict" before
    the fingerprint when strict).
  """
  if image_size < 8 or not 0 < percentile <= 100:
    raise ValueError(
        f"Need image_size >= 8 and percentile in (0, 100], got {image_size},"
        f" {percentile}."
    )
  if not 0 <= empty_threshold < 1:
    raise ValueError(
        f"empty_threshold must be in [0, 1), got {empty_threshold}."
    )
  if min(val_fraction, test_fraction) < 0 or val_fraction + test_fraction >= 1:
    raise ValueError(
        "val_fraction and test_fraction must be >= 0 with sum < 1, got"
        f" {val_fraction}, {test_fraction}."
    )
  if not 0 <= max_skipped_fraction <= 1 or not 0 <= max_negative_fraction < 1:
    raise ValueError(
        "max_skipped_fraction must be in [0, 1] and max_negative_fraction in"
        f" [0, 1), got {max_skipped_fraction}, {max_negative_fraction}."
    )
  name = (
      f"s{image_size}_p{percentile:g}_e{empty_threshold:g}"
      f"_v{val_fraction:g}_t{test_fraction:g}"
      f"_k{max_skipped_fraction:g}_n{max_negative_fraction:g}"
      + "_strict" * bool(strict)
  )
  fingerprint = ""
  if manual_dir is not None:
    manual_dir = files.check_folder(manual_dir, NAME)
    fingerprint = files.fingerprint(
        image_files.list_images(manual_dir), manual_dir
    )
    name += f"_{fingerprint}"
  return MagnitudeRegistryConfig(
      name=name,
      description=f"Magnitude images resized to {image_size}.",
      image_size=int(image_size),
      percentile=float(percentile),
      empty_threshold=float(empty_threshold),
      val_fraction=float(val_fraction),
      test_fraction=float(test_fraction),
      max_skipped_fraction=float(max_skipped_fraction),
      max_negative_fraction=float(max_negative_fraction),
      strict=bool(strict),
      files_fingerprint=fingerprint,
  )


class MagnitudeRegistry(tfds.core.GeneratorBasedBuilder):
  """The user's magnitude-only images, normalised and resized."""

  name = NAME
  VERSION = tfds.core.Version("1.1.0")
  RELEASE_NOTES = {
      "1.0.0": "Initial release.",
      "1.1.0": (
          "Scan parameters from DICOM headers (NaN / -1 if unknown); bad"
          " files skipped and listed in manifest.json."
      ),
  }
  MANUAL_DOWNLOAD_INSTRUCTIONS = image_files.MANUAL_DOWNLOAD_INSTRUCTIONS
  BUILDER_CONFIGS = [make_config()]

  def _info(self) -> tfds.core.DatasetInfo:
    size = self.builder_config.image_size
    return tfds.core.DatasetInfo(
        builder=self,
        description=__doc__,
        features=tfds.features.FeaturesDict({
            "magnitude": tfds.features.Tensor(
                shape=(size, size), dtype=np.float32
            ),
            "source": tfds.features.Text(),
            "slice_index": tfds.features.Scalar(dtype=np.int32),
            **scan_headers.features(),
        }),
    )

  def _split_generators(self, dl_manager):
    config = self.builder_config
    manual_dir = files.check_folder(dl_manager.manual_dir, NAME)
    paths = image_files.list_images(manual_dir)
    if (
        config.files_fingerprint
        and files.fingerprint(paths, manual_dir) != config.files_fingerprint
    ):
      raise errors.DatasetError(
          f"{manual_dir}: the files changed since this config was made. Fix:"
          " call kspace.datasets.build again (it makes a new config)."
      )
    # Every file is read and checked before TFDS writes a record, so the
    # splits and the manifest know the usable files; pixels are read again
    # while writing, which keeps memory flat for large folders.
    usable, manifest = _screen(manual_dir, paths, config)
    _check_skipped(manual_dir, manifest, config.max_skipped_fraction)
    # TFDS prepares in a temporary folder renamed when complete, so the
    # manifest appears together with the dataset.
    (self.data_path / MANIFEST).write_text(json.dumps(manifest, indent=1))
    splits = image_files.assign_splits(
        manual_dir, usable, config.val_fraction, config.test_fraction
    )
    return {
        split: self._generate_examples(manual_dir, split, split_paths)
        for split, split_paths in splits.items()
    }

  def _generate_examples(self, manual_dir, split, paths):
    config = self.builder_config
    count = 0
    for path in paths:
      source = os.path.relpath(path, manual_dir)
      scan = image_files.scan_fields(path)
      examples, _ = image_files.file_examples(
          path,
          config.image_size,
          config.percentile,
          config.empty_threshold,
          config.max_negative_fraction,
      )
      for index, image in examples:
        count += 1
        yield f"{source}:{index}", {
            "magnitude": image,
            "source": source,
            "slice_index": index,
            **scan,
        }
    if not count:
      # TFDS would fail with a bare assertion on an empty split.
      raise errors.file_error(
          manual_dir,
          f"split {split!r} has no slices above empty_threshold.",
          "lower empty_threshold or add images to the split.",
      )


MANIFEST = "manifest.json"


def _screen(
    manual_dir: str, paths: list[str], config: MagnitudeRegistryConfig
) -> tuple[list[str], dict]:
  """The usable files and the manifest of the others (see module doc)."""
  usable, skipped, clipped = [], [], []
  for path in paths:
    source = os.path.relpath(path, manual_dir)
    try:
      image_files.inspect_file(path)
      _, num_clipped = image_files.file_examples(
          path,
          config.image_size,
          config.percentile,
          config.empty_threshold,
          config.max_negative_fraction,
      )
    except errors.DatasetError as e:
      if config.strict:
        raise
      # The message starts with the absolute path; keep only the relative.
      detail = str(e).replace(path, source)
      skipped.append({"file": source, "reason": e.reason, "detail": detail})
      continue
    usable.append(path)
    if num_clipped:
      clipped.append({"file": source, "pixels": num_clipped})
  reasons = collections.Counter(entry["reason"] for entry in skipped)
  manifest = {
      "num_files": len(paths),
      "num_used": len(usable),
      "num_skipped": len(skipped),
      "skipped_by_reason": dict(sorted(reasons.items())),
      "skipped": skipped,
      "clipped_negative": clipped,
      "num_clipped_pixels": sum(entry["pixels"] for entry in clipped),
  }
  return usable, manifest


def _check_skipped(manual_dir: str, manifest: dict, limit: float) -> None:
  fraction = manifest["num_skipped"] / max(manifest["num_files"], 1)
  if manifest["num_used"] and fraction <= limit:
    return
  raise errors.file_error(
      manual_dir,
      f"{manifest['num_skipped']} of {manifest['num_files']} files are"
      f" unusable ({fraction:.0%} > max_skipped_fraction {limit:g}):\n"
      + format_manifest(manifest),
      "fix or remove the files listed, or raise max_skipped_fraction.",
  )


def read_manifest(builder) -> dict:
  """The prepared registry's manifest (skipped and clipped files)."""
  return json.loads((builder.data_path / MANIFEST).read_text())


def format_manifest(manifest: dict, max_files: int = 5) -> str:
  """A short text table: files skipped per reason, a few examples each, and
  the negative pixels clipped."""
  lines = [
      f"{manifest['num_used']} of {manifest['num_files']} files used,"
      f" {manifest['num_skipped']} skipped."
  ]
  if manifest["skipped"]:
    lines.append(f"  {'reason':<18} {'files':>6}  e.g.")
    for reason, count in manifest["skipped_by_reason"].items():
      examples = [
          e["file"] for e in manifest["skipped"] if e["reason"] == reason
      ][:max_files]
      lines.append(f"  {reason:<18} {count:>6}  {', '.join(examples)}")
  if manifest["clipped_negative"]:
    lines.append(
        f"  Clipped {manifest['num_clipped_pixels']} negative pixels"
        " (interpolation undershoot) in"
        f" {len(manifest['clipped_negative'])} file(s)."
    )
  return "\n".join(lines)
