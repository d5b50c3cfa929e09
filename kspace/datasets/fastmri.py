"""`fastmri`: slices of the official fastMRI .h5 files (manual download).

Builder configs: {singlecoil, multicoil} x {knee, brain}, plus the crop size
(default 320, as fastMRI) and, for multi-coil, the ACS fraction used to
estimate sensitivities; a fingerprint of the files enters the config name.

The files are read by `fastmri_files` (manual_dir layout, schema checks,
per-slice coil combination and cropping). TFDS splits: train, val ->
"validation", test. At least one split must exist.

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
    files_fingerprint: hash of the manual_dir files the config was made for
      ("" accepts any); generation fails if the files changed.
  """

  challenge: str = "singlecoil"
  anatomy: str = "knee"
  crop_size: int = 320
  acs_fraction: float = 0.08
  files_fingerprint: str = ""

  def __repr__(self) -> str:
    # TFDS logs custom configs; the name already encodes every field.
    return f"{type(self).__name__}({self.name!r})"


def make_config(
    challenge: str = "singlecoil",
    anatomy: str = "knee",
    crop_size: int = 320,
    acs_fraction: float = 0.08,
    manual_dir: str | None = None,
) -> FastMriConfig:
  """A config named after its fields (and the files, if manual_dir is given).

  Args:
    challenge: "singlecoil" | "multicoil".
    anatomy: "knee" | "brain".
    crop_size: stored image size S (>= 1).
    acs_fraction: in (0, 1], multi-coil only.
    manual_dir: if given, its files are fingerprinted into the name.

  Returns:
    A FastMriConfig, e.g. "multicoil_knee_crop320_acs0.08_1a2b3c4d5e".
  """
  fastmri_files.check_variant(challenge, anatomy)
  if crop_size < 1 or not 0 < acs_fraction <= 1:
    raise ValueError(
        f"Need crop_size >= 1 and acs_fraction in (0, 1], got {crop_size},"
        f" {acs_fraction}."
    )
  name = f"{challenge}_{anatomy}_crop{crop_size}"
  if challenge == "multicoil":
    name += f"_acs{acs_fraction:g}"
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
      files_fingerprint=fingerprint,
  )


class FastMri(tfds.core.GeneratorBasedBuilder):
  """fastMRI slices: complex coil-combined image, k-space, target, metadata."""

  name = NAME
  VERSION = tfds.core.Version("1.1.0")
  RELEASE_NOTES = {
      "1.0.0": "Initial release.",
      "1.1.0": "Scan parameters from the ISMRMRD header (NaN / -1 if absent).",
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
    # Validate every file before anything is written.
    volumes = {
        split: [
            fastmri_files.inspect_volume(p, config.challenge, config.crop_size)
            for p in paths
        ]
        for split, paths in splits.items()
    }
    return {
        split: self._generate_examples(split_volumes)
        for split, split_volumes in volumes.items()
    }

  def _generate_examples(self, volumes: list[fastmri_files.Volume]):
    config = self.builder_config
    for volume in volumes:
      file_name = os.path.basename(volume.path)
      for index, example in fastmri_files.read_volume(
          volume, config.challenge, config.crop_size, config.acs_fraction
      ):
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
            **volume.scan,
        )
        yield f"{file_name}:{index}", example
