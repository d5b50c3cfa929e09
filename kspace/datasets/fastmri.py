"""`fastmri`: slices of the official fastMRI .h5 files (manual download).

Builder configs: {singlecoil, multicoil} x {knee, brain}, plus the crop size
(default 320, as fastMRI), for multi-coil the ACS fraction used to
estimate sensitivities, and max_skipped_fraction; a fingerprint of the
files enters the config name.

The files are read by `fastmri_files` (manual_dir layout, schema checks,
the reconSpace crop that removes readout oversampling, encoding limits,
per-slice coil combination and cropping). TFDS splits: train, val ->
"validation", test. At least one split must exist. Matrix sizes and coil
counts may differ between the files of a split (fastMRI brain): every
record is cropped to S x S, and `kspace` / `sens` keep the file's coils.

A bad file (truncated or corrupt download, wrong schema or challenge, a
header whose limits do not fit, NaN/inf values, test data outside the test
split: `fastmri_files.REASONS`) is skipped, not a stop: it is listed with
its reason in `manifest.json` beside the dataset (`read_manifest`,
`skipped_files`), found before any of its slices is written. The build
fails, with one error holding that table, only when more than
`max_skipped_fraction` (default 0.05: official files, so more is a broken
download) of the files are skipped, or a split has no usable file left;
max_skipped_fraction=0 fails at any bad file.

Feature dict (S = crop size):
  magnitude: (S, S) float32 |image| (scanner units, not normalised; divide
    by `max_value` for fastMRI's scale).
  phase: (S, S) float32 angle(image) in (-pi, pi] (atan2, not
    arctan(imag / real)).
  kspace: (C, S, S) complex64, fft2c of the cropped coil images (C = 1 for
    single-coil: the cropped image's k-space). Not the raw acquired k-space,
    which is 2-40x larger per slice. Stored as raw bytes.
  sens: (C, S, S) complex64 sensitivity maps (multi-coil configs only),
    sum_c |S_c|^2 = 1 where there is signal.
  target: (S, S) float32 fastMRI reconstruction (reconstruction_esc /
    reconstruction_rss) center-cropped to S; zeros when the file has none.
  has_target: bool.
  undersampled: bool, the file has a `mask` (challenge test data): then the
    image is zero-filled and the ACS is the mask's center run.
  volume_id (file stem), file_name, acquisition, patient_id: text.
  slice_index, num_slices: int32.
  max_value: float32 attrs['max']; if absent, the max of the file's target
    volume; 0 when neither exists. norm: float32 attrs['norm'] or 0.
  encoding_size, recon_size: (3,) int32 matrix sizes from ismrmrd_header
    (zeros when the header is absent).
  padding_left, padding_right: int32, the acquired phase-encode columns
    [padding_left, padding_right) of the file's k-space, from the header's
    encodingLimits as fastMRI computes them (0 and W without a header).
  field_strength_t, echo_time_ms, b0_direction, sequence: scan parameters
    from ismrmrd_header (`scan_headers.from_ismrmrd`); the B0 direction, and
    fields the header lacks, are NaN / -1.
"""

import dataclasses
import os

import numpy as np
import tensorflow_datasets as tfds

from kspace.datasets import errors
from kspace.datasets import fastmri_files
from kspace.datasets import files
from kspace.datasets import scan_headers
from kspace.datasets import skipped_files

NAME = "fastmri"


@dataclasses.dataclass(repr=False)
class FastMriConfig(tfds.core.BuilderConfig):
  """A fastMRI variant.

  Attributes:
    challenge: "singlecoil" | "multicoil".
    anatomy: "knee" | "brain".
    crop_size: S, the stored image size.
    acs_fraction: fraction of center columns used for sensitivity maps of
      fully sampled multi-coil data.
    max_skipped_fraction: fail when more than this share of files is bad.
    files_fingerprint: hash of the manual_dir files the config was made for
      ("" accepts any); generation fails if the files changed.
  """

  challenge: str = "singlecoil"
  anatomy: str = "knee"
  crop_size: int = 320
  acs_fraction: float = 0.08
  max_skipped_fraction: float = 0.05
  files_fingerprint: str = ""

  def __repr__(self) -> str:
    # TFDS logs custom configs; the name already encodes every field.
    return f"{type(self).__name__}({self.name!r})"


def make_config(
    challenge: str = "singlecoil",
    anatomy: str = "knee",
    crop_size: int = 320,
    acs_fraction: float = 0.08,
    max_skipped_fraction: float = 0.05,
    manual_dir: str | None = None,
) -> FastMriConfig:
  """A config named after its fields (and the files, if manual_dir is given).

  Args:
    challenge: "singlecoil" | "multicoil".
    anatomy: "knee" | "brain".
    crop_size: stored image size S (>= 1).
    acs_fraction: in (0, 1], multi-coil only.
    max_skipped_fraction: in [0, 1].
    manual_dir: if given, its files are fingerprinted into the name.

  Returns:
    A FastMriConfig, e.g. "multicoil_knee_crop320_acs0.08_k0.05_1a2b3c4d5e".
  """
  fastmri_files.check_variant(challenge, anatomy)
  if crop_size < 1 or not 0 < acs_fraction <= 1:
    raise ValueError(
        f"Need crop_size >= 1 and acs_fraction in (0, 1], got {crop_size},"
        f" {acs_fraction}."
    )
  if not 0 <= max_skipped_fraction <= 1:
    raise ValueError(
        f"max_skipped_fraction must be in [0, 1], got {max_skipped_fraction}."
    )
  name = f"{challenge}_{anatomy}_crop{crop_size}"
  if challenge == "multicoil":
    name += f"_acs{acs_fraction:g}"
  name += f"_k{max_skipped_fraction:g}"
  fingerprint = ""
  if manual_dir is not None:
    manual_dir = files.check_folder(manual_dir, NAME)
    splits = fastmri_files.split_files(manual_dir, challenge, anatomy)
    fingerprint = files.fingerprint(
        [p for paths in splits.values() for p in paths], manual_dir
    )
    name += f"_{fingerprint}"
  return FastMriConfig(
      name=name,
      description=f"fastMRI {challenge} {anatomy}, center crop {crop_size}.",
      challenge=challenge,
      anatomy=anatomy,
      crop_size=int(crop_size),
      acs_fraction=float(acs_fraction),
      max_skipped_fraction=float(max_skipped_fraction),
      files_fingerprint=fingerprint,
  )


class FastMri(tfds.core.GeneratorBasedBuilder):
  """fastMRI slices: complex coil-combined image, k-space, target, metadata."""

  name = NAME
  VERSION = tfds.core.Version("1.2.0")
  RELEASE_NOTES = {
      "1.0.0": "Initial release.",
      "1.1.0": "Scan parameters from the ISMRMRD header (NaN / -1 if absent).",
      "1.2.0": (
          "Images cropped to the reconSpace matrix first (readout"
          " oversampling removed, as fastMRI); padding_left / padding_right"
          " from encodingLimits, the ACS columns kept inside them; bad files"
          " skipped and listed in manifest.json."
      ),
  }
  MANUAL_DOWNLOAD_INSTRUCTIONS = fastmri_files.MANUAL_DOWNLOAD_INSTRUCTIONS
  BUILDER_CONFIGS = [
      make_config(challenge, anatomy)
      for anatomy in fastmri_files.ANATOMIES
      for challenge in fastmri_files.CHALLENGES
  ]

  def _info(self) -> tfds.core.DatasetInfo:
    config = self.builder_config
    size = (config.crop_size, config.crop_size)
    num_coils = 1 if config.challenge == "singlecoil" else None
    complex_maps = tfds.features.Tensor(
        shape=(num_coils,) + size,
        dtype=np.complex64,
        encoding=tfds.features.Encoding.BYTES,
    )
    features = {
        "magnitude": tfds.features.Tensor(shape=size, dtype=np.float32),
        "phase": tfds.features.Tensor(shape=size, dtype=np.float32),
        "kspace": complex_maps,
        "target": tfds.features.Tensor(shape=size, dtype=np.float32),
        "has_target": tfds.features.Scalar(dtype=np.bool_),
        "undersampled": tfds.features.Scalar(dtype=np.bool_),
        "volume_id": tfds.features.Text(),
        "file_name": tfds.features.Text(),
        "acquisition": tfds.features.Text(),
        "patient_id": tfds.features.Text(),
        "slice_index": tfds.features.Scalar(dtype=np.int32),
        "num_slices": tfds.features.Scalar(dtype=np.int32),
        "max_value": tfds.features.Scalar(dtype=np.float32),
        "norm": tfds.features.Scalar(dtype=np.float32),
        "encoding_size": tfds.features.Tensor(shape=(3,), dtype=np.int32),
        "recon_size": tfds.features.Tensor(shape=(3,), dtype=np.int32),
        "padding_left": tfds.features.Scalar(dtype=np.int32),
        "padding_right": tfds.features.Scalar(dtype=np.int32),
        **scan_headers.features(),
    }
    if config.challenge == "multicoil":
      features["sens"] = complex_maps
    return tfds.core.DatasetInfo(
        builder=self,
        description=__doc__,
        features=tfds.features.FeaturesDict(features),
        homepage="https://fastmri.med.nyu.edu/",
    )

  def _split_generators(self, dl_manager):
    config = self.builder_config
    manual_dir = files.check_folder(dl_manager.manual_dir, NAME)
    splits = fastmri_files.split_files(
        manual_dir, config.challenge, config.anatomy
    )
    all_paths = [p for paths in splits.values() for p in paths]
    if (
        config.files_fingerprint
        and files.fingerprint(all_paths, manual_dir) != config.files_fingerprint
    ):
      raise errors.DatasetError(
          f"{manual_dir}: the fastMRI files changed since this config was"
          " made. Fix: call kspace.datasets.build again (it makes a new"
          " config for the current files)."
      )
    # Every file's schema and header are checked before anything is
    # written; a bad one is skipped unless too many are.
    volumes, refused = _screen(splits, config)
    self._skips = _Skips(manual_dir, len(all_paths), config)
    for path, error in refused:
      self._skips.add(path, error)
    self._skips.check()
    self._skips.write(self)
    _check_every_split_is_left(manual_dir, splits, volumes, self._skips)
    return {
        split: self._generate_examples(split, split_volumes)
        for split, split_volumes in volumes.items()
    }

  def _generate_examples(self, split, volumes: list[fastmri_files.Volume]):
    config = self.builder_config
    count = 0
    for volume in volumes:
      try:
        # Read once before the first slice is written: a bad file is
        # skipped whole, never left half in the dataset.
        fastmri_files.check_values(
            volume, config.challenge, config.acs_fraction
        )
      except errors.DatasetError as error:
        self._skips.add(volume.path, error)
        self._skips.write(self)
        continue
      file_name = os.path.basename(volume.path)
      for index, example in fastmri_files.read_volume(
          volume, config.challenge, config.crop_size, config.acs_fraction
      ):
        count += 1
        example.update(
            has_target=volume.has_target,
            undersampled=volume.has_mask,
            volume_id=os.path.splitext(file_name)[0],
            file_name=file_name,
            acquisition=volume.acquisition,
            patient_id=volume.patient_id,
            slice_index=index,
            num_slices=volume.num_slices,
            max_value=volume.max_value,
            norm=volume.norm,
            encoding_size=np.array(volume.encoding_size, np.int32),
            recon_size=np.array(volume.recon_size, np.int32),
            padding_left=volume.padding[0],
            padding_right=volume.padding[1],
            **volume.scan,
        )
        yield f"{file_name}:{index}", example
    # Checked when the split is written, so the error lists every bad file
    # of it, not only those found before the limit was passed.
    self._skips.check()
    if not count:
      # TFDS would fail with a bare assertion on an empty split.
      raise _no_file_left(self._skips.manual_dir, split, self._skips)


def read_manifest(builder) -> dict:
  """The prepared dataset's manifest (its skipped files)."""
  return skipped_files.read(builder)


def _screen(splits: dict[str, list[str]], config: FastMriConfig):
  """(split -> usable Volumes, [(path, error)] of the refused files)."""
  volumes, refused = {}, []
  for split, paths in splits.items():
    for path in paths:
      try:
        volume = fastmri_files.inspect_volume(
            path, config.challenge, config.crop_size
        )
        fastmri_files.check_split(volume, split)
      except errors.DatasetError as error:
        refused.append((path, error))
        continue
      volumes.setdefault(split, []).append(volume)
  return volumes, refused


class _Skips:
  """The files skipped so far, at screening and then while writing (each
  `write` rewrites the manifest; `check` fails past max_skipped_fraction)."""

  def __init__(self, manual_dir: str, num_files: int, config: FastMriConfig):
    self.manual_dir = manual_dir
    self.num_files = num_files
    self.limit = config.max_skipped_fraction
    self.entries = []

  def add(self, path: str, error: errors.DatasetError) -> None:
    relative = lambda p: os.path.relpath(p, self.manual_dir)
    self.entries.append(skipped_files.entry(path, error, relative))

  def manifest(self) -> dict:
    used = self.num_files - len(self.entries)
    return skipped_files.summarize(self.num_files, used, used, self.entries)

  def check(self) -> None:
    skipped_files.check(self.manual_dir, self.manifest(), self.limit)

  def write(self, builder) -> None:
    skipped_files.write(builder, self.manifest())


def _no_file_left(manual_dir: str, split: str, skips: _Skips):
  return errors.DatasetError(
      f"{manual_dir}: split {split!r} has no usable file left. Fix: fix or"
      " remove the files listed (or the split's folder).\n"
      + skipped_files.format_table(skips.manifest()),
      reason="too_many_skipped",
  )


def _check_every_split_is_left(manual_dir, splits, volumes, skips) -> None:
  """A split folder whose every file is skipped is an error, not a split
  silently missing (the experiment's roles name the splits)."""
  for split in splits:
    if split not in volumes:
      raise _no_file_left(manual_dir, split, skips)
