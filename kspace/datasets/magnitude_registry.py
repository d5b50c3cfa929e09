"""`magnitude_registry`: a folder of the user's magnitude-only images.

DICOM (uncompressed or compressed), NIfTI, PNG, TIFF and JPEG files anywhere
under manual_dir are read by `image_files` (its docstring lists the readers)
and grouped into volumes by `registry_volumes` (DICOM series in slice order,
multi-frame files, the chosen volumes of 4-D NIfTI files). Each volume's
slices are normalised by the volume's `percentile`-th percentile and clipped
to [0, 1], center-cropped to a square and resized to image_size; slices
whose maximum is below `empty_threshold` are skipped.

Bad files (`image_files.slice_reading.REASONS`: corrupt, non-MR,
secondary capture, colour, localiser, phase/real/imaginary, projection
(MIP), a Siemens mosaic that cannot be cut apart, a missing decoder, wrong
dimensions, NaN, negative, blank) are skipped and listed with their reason
in `manifest.json` beside the dataset (`skipped_files`; `read_manifest`,
`format_manifest`), which also counts the negative pixels clipped from
interpolation undershoot; the rest of a bad file's volume is kept. Derived
DICOM images (ImageType DERIVED / SECONDARY, MPR: reformats, parameter maps,
subtractions) are skipped as "derived" unless `keep_derived=True`, which
keeps them with `derived` set in their records. Siemens mosaics are cut into
their slices, each mosaic a volume. The build fails only when more than
`max_skipped_fraction` of the files are skipped; `strict=True` fails at the
first bad file instead.

Splits: if manual_dir has subfolders named train / val (or validation) /
test, their volumes form those splits. Otherwise each volume is assigned to
a split by a hash of its name (`val_fraction`, `test_fraction`), so the
slices of one volume never straddle splits.

Privacy: records and the manifest hold pixels, scan parameters and names
of files relative to manual_dir, nothing else from the headers (no patient
names, IDs, dates, accession numbers or UIDs). When the file names
themselves carry identifiers, `hash_sources=True` replaces every name by a
salted hash (`source_salt`, kept out of the dataset: only a hash of it
enters the config name).

Feature dict (S = image_size):
  magnitude: (S, S) float32 in [0, 1].
  volume_id: text, the volume's name (`registry_volumes.Volume.name`).
  source: text, the slice's file relative to manual_dir.
  slice_index: int32, the slice's place in its volume.
  field_strength_t, echo_time_ms, b0_direction, sequence: the scan
    parameters of a DICOM header (`scan_headers.from_dicom`); NaN / -1
    where the header lacks them and for NIfTI and PNG/TIFF/JPEG files.
  repetition_time_ms, pixel_spacing_mm (2,), scanning_sequence,
    sequence_variant, image_type: further header fields
    (`scan_headers.dicom_extras`; NaN / empty text when absent); the spacing
    is the stored image's, after the crop to a square and the resize.
  derived: bool, a derived DICOM image (only with keep_derived; False for
    originals and for NIfTI and PNG/TIFF/JPEG files).
"""

import dataclasses
import hashlib
import os

import numpy as np
import tensorflow_datasets as tfds

from kspace.datasets import errors
from kspace.datasets import files
from kspace.datasets.image_files import registry_folder
from kspace.datasets.image_files import slice_reading
from kspace.datasets.image_files import volume_scaling
from kspace.datasets import registry_volumes
from kspace.datasets import scan_headers
from kspace.datasets import skipped_files

NAME = "magnitude_registry"


@dataclasses.dataclass(repr=False)
class MagnitudeRegistryConfig(tfds.core.BuilderConfig):
  """How the folder is turned into slices (all fields enter the name).

  Attributes:
    image_size: stored square side S.
    percentile: per-volume normalisation percentile, in (0, 100].
    empty_threshold: slices with max below this (after normalisation) are
      skipped.
    val_fraction, test_fraction: hash split shares (no split subfolders).
    max_skipped_fraction: fail when more than this share of files is bad.
    max_negative_fraction: negative values up to this share of the positive
      total are clipped (interpolation undershoot), more refuse the file.
    strict: fail at the first bad file instead of skipping it.
    keep_derived: keep derived DICOM images instead of skipping them.
    nifti_volumes: volumes of 4-D NIfTI files, "all" or indices "0,2".
    hash_sources: store salted hashes instead of file names.
    source_salt: the salt (not stored; its hash is in the name).
    files_fingerprint: hash of the files the config was made for.
  """

  image_size: int = 128
  percentile: float = 99.5
  empty_threshold: float = 0.01
  val_fraction: float = 0.1
  test_fraction: float = 0.1
  max_skipped_fraction: float = 0.5
  max_negative_fraction: float = slice_reading.MAX_NEGATIVE_FRACTION
  strict: bool = False
  keep_derived: bool = False
  nifti_volumes: str = "all"
  hash_sources: bool = False
  source_salt: str = ""
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
    max_negative_fraction: float = slice_reading.MAX_NEGATIVE_FRACTION,
    strict: bool = False,
    keep_derived: bool = False,
    nifti_volumes: str = "all",
    hash_sources: bool = False,
    source_salt: str = "",
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
    keep_derived: keep derived DICOM images (reformats, maps).
    nifti_volumes: "all" or comma-separated indices of 4-D NIfTI volumes.
    hash_sources: replace file names by salted hashes in the records.
    source_salt: the salt of those hashes.
    manual_dir: if given, its files are fingerprinted into the name.

  Returns:
    A MagnitudeRegistryConfig, e.g.
    "s128_p99.5_e0.01_v0.1_t0.1_k0.5_n0.01_volall_1a2b3c4d5e" ("_strict",
    "_derived" and "_h<hash of the salt>" before the fingerprint when set).
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
      + f"_vol{'-'.join(nifti_volumes.split(','))}"
      + "_derived" * bool(keep_derived)
  )
  registry_volumes.parse_volume_indices(nifti_volumes)  # Checks the value.
  if hash_sources:
    name += "_h" + hashlib.sha256(source_salt.encode()).hexdigest()[:8]
  fingerprint = ""
  if manual_dir is not None:
    manual_dir = files.check_folder(manual_dir, NAME)
    fingerprint = files.fingerprint(
        registry_folder.list_images(manual_dir), manual_dir
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
      keep_derived=bool(keep_derived),
      nifti_volumes=str(nifti_volumes),
      hash_sources=bool(hash_sources),
      source_salt=str(source_salt),
      files_fingerprint=fingerprint,
  )


class MagnitudeRegistry(tfds.core.GeneratorBasedBuilder):
  """The user's magnitude-only images, normalised and resized."""

  name = NAME
  VERSION = tfds.core.Version("1.2.0")
  RELEASE_NOTES = {
      "1.0.0": "Initial release.",
      "1.1.0": (
          "Volumes (DICOM series, multi-frame, 4-D NIfTI) with volume_id;"
          " scan parameters from DICOM headers (NaN / -1 if unknown); bad"
          " files skipped and listed in manifest.json; optional hashed"
          " sources."
      ),
      "1.2.0": (
          "Siemens mosaics cut into their slices; projections (MIP) and"
          " blank images skipped; derived images skipped unless"
          " keep_derived; image_type and derived fields; a missing JPEG"
          " decoder named in the manifest."
      ),
  }
  MANUAL_DOWNLOAD_INSTRUCTIONS = registry_folder.MANUAL_DOWNLOAD_INSTRUCTIONS
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
            "volume_id": tfds.features.Text(),
            "source": tfds.features.Text(),
            "slice_index": tfds.features.Scalar(dtype=np.int32),
            **scan_headers.features(),
            **scan_headers.dicom_extra_features(),
            "derived": tfds.features.Scalar(dtype=np.bool_),
        }),
    )

  def _split_generators(self, dl_manager):
    config = self.builder_config
    manual_dir = files.check_folder(dl_manager.manual_dir, NAME)
    paths = registry_folder.list_images(manual_dir)
    if (
        config.files_fingerprint
        and files.fingerprint(paths, manual_dir) != config.files_fingerprint
    ):
      raise errors.DatasetError(
          f"{manual_dir}: the files changed since this config was made. Fix:"
          " call kspace.datasets.build again (it makes a new config)."
      )
    # Every volume is read and checked before TFDS writes a record, so the
    # splits and the manifest know the usable ones; pixels are read again
    # while writing, which keeps memory flat for large folders.
    public = _public_name(config)
    volumes, manifest = _screen(manual_dir, paths, config, public)
    skipped_files.check(manual_dir, manifest, config.max_skipped_fraction)
    skipped_files.write(self, manifest)
    by_name = {volume.name: volume for volume in volumes}
    splits = registry_folder.assign_splits(
        manual_dir, list(by_name), config.val_fraction, config.test_fraction
    )
    return {
        split: self._generate_examples(
            manual_dir, split, [by_name[n] for n in names], public
        )
        for split, names in splits.items()
    }

  def _generate_examples(self, manual_dir, split, volumes, public):
    config = self.builder_config
    count = 0
    for volume in volumes:
      volume_id = public(volume.name)
      scan = registry_volumes.scan_fields(volume)
      found = registry_volumes.read(
          volume, config.percentile, config.max_negative_fraction
      )
      for index, (image, path) in enumerate(zip(found.slices, found.files)):
        if image.max() < config.empty_threshold:
          continue
        count += 1
        # The stored image's spacing: a square of the shorter side, resized.
        zoom = min(image.shape) / config.image_size
        yield f"{volume_id}:{index}", {
            "magnitude": volume_scaling.square_resize(image, config.image_size),
            "volume_id": volume_id,
            "source": public(os.path.relpath(path, manual_dir)),
            "slice_index": index,
            **scan,
            "pixel_spacing_mm": scan["pixel_spacing_mm"] * np.float32(zoom),
        }
    if not count:
      # TFDS would fail with a bare assertion on an empty split.
      raise errors.file_error(
          manual_dir,
          f"split {split!r} has no slices above empty_threshold.",
          "lower empty_threshold or add images to the split.",
      )


MANIFEST = skipped_files.MANIFEST


def _public_name(config: MagnitudeRegistryConfig):
  """name -> what the records and manifest store: the relative name, or
  its salted hash with hash_sources."""
  if not config.hash_sources:
    return lambda name: name
  salt = config.source_salt.encode()
  return lambda name: hashlib.sha256(salt + name.encode()).hexdigest()[:20]


def _screen(manual_dir: str, paths: list[str], config, public):
  """The usable volumes and the manifest of the skipped files."""
  volumes, refused = registry_volumes.plan(
      manual_dir,
      paths,
      config.nifti_volumes,
      config.strict,
      config.keep_derived,
  )
  relative = lambda path: public(os.path.relpath(path, manual_dir))
  # path -> entry of every file that is skipped (the first reason found).
  bad_files = {
      path: skipped_files.entry(path, e, relative) for path, e in refused
  }
  usable, clipped, used = [], [], set()
  for volume in volumes:
    found = registry_volumes.read(
        volume, config.percentile, config.max_negative_fraction, config.strict
    )
    for path, e in found.bad_files:
      bad_files.setdefault(path, skipped_files.entry(path, e, relative))
    if not found.files:
      continue
    usable.append(volume)
    used.update(found.files)
    if found.num_clipped:
      clipped.append(
          {"volume": public(volume.name), "pixels": found.num_clipped}
      )
  skipped = [
      e
      for path, e in bad_files.items()
      if path not in used  # a 4-D NIfTI with a usable volume is used
  ]
  manifest = skipped_files.summarize(
      len(paths), len(used), len(usable), skipped
  )
  manifest.update(
      clipped_negative=clipped,
      num_clipped_pixels=sum(entry["pixels"] for entry in clipped),
  )
  return usable, manifest


def read_manifest(builder) -> dict:
  """The prepared registry's manifest (skipped and clipped files)."""
  return skipped_files.read(builder)


def format_manifest(manifest: dict, max_files: int = 5) -> str:
  """A short text table: files skipped per reason, a few examples each, and
  the negative pixels clipped."""
  lines = [skipped_files.format_table(manifest, max_files)]
  if manifest["clipped_negative"]:
    lines.append(
        f"  Clipped {manifest['num_clipped_pixels']} negative pixels"
        " (interpolation undershoot) in"
        f" {len(manifest['clipped_negative'])} volume(s)."
    )
  return "\n".join(lines)
