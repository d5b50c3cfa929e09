"""`magnitude_registry`: a folder of the user's magnitude-only images.

DICOM, NIfTI, PNG, TIFF and JPEG files anywhere under manual_dir are read by
`image_files` (its docstring lists the readers): each file's slices are
normalised by the file's `percentile`-th percentile and clipped to [0, 1],
center-cropped to a square and resized to image_size; slices whose maximum
is below `empty_threshold` are skipped.

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

import dataclasses
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
    files_fingerprint: hash of the files the config was made for.
  """

  image_size: int = 128
  percentile: float = 99.5
  empty_threshold: float = 0.01
  val_fraction: float = 0.1
  test_fraction: float = 0.1
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
    manual_dir: str | None = None,
) -> MagnitudeRegistryConfig:
  """A config named after its fields and (with manual_dir) the files.

  Args:
    image_size: S >= 8.
    percentile: in (0, 100].
    empty_threshold: in [0, 1).
    val_fraction, test_fraction: >= 0, sum < 1.
    manual_dir: if given, its files are fingerprinted into the name.

  Returns:
    A MagnitudeRegistryConfig, e.g. "s128_p99.5_e0.01_v0.1_t0.1_1a2b3c4d5e".
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
  name = (
      f"s{image_size}_p{percentile:g}_e{empty_threshold:g}"
      f"_v{val_fraction:g}_t{test_fraction:g}"
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
      files_fingerprint=fingerprint,
  )


class MagnitudeRegistry(tfds.core.GeneratorBasedBuilder):
  """The user's magnitude-only images, normalised and resized."""

  name = NAME
  VERSION = tfds.core.Version("1.1.0")
  RELEASE_NOTES = {
      "1.0.0": "Initial release.",
      "1.1.0": "Scan parameters from DICOM headers (NaN / -1 if unknown).",
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
    # Check every file's header before TFDS writes a record, so a bad file
    # is named up front; pixel data is read (and checked) once, while
    # writing, which keeps memory flat for large folders.
    for path in paths:
      image_files.inspect_file(path)
    splits = image_files.assign_splits(
        manual_dir, paths, config.val_fraction, config.test_fraction
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
      for index, image in image_files.file_examples(
          path, config.image_size, config.percentile, config.empty_threshold
      ):
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
