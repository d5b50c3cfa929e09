"""`synthetic_mri`: procedural complex MR images with anatomy-dependent phase.

Built in, no download. Example `index` of a split is
`kspace.simulator.generate_example(example_rng(seed, split, index), ...)`,
so an example never depends on which others were generated or in what
order. How an image is made (anatomy, slice orientation and B0 direction,
gradient or spin echo, tissue susceptibility through the dipole kernel, fat
chemical shift and readout displacement, smooth background phase, blur and
noise) is documented in `kspace.simulator.generator`; the physical ranges
are the fields of `SyntheticParams`, the tissue table is `phantom.TISSUES`.

Feature dict of the TFDS dataset (image size H x W from the config):
  magnitude: (H, W) float32 in [0, 1], max 1 per image.
  phase: (H, W) float32 in (-pi, pi].
  labels: (H, W) uint8 tissue class, see `phantom.LABEL_NAMES`.
  sens: (C, H, W) complex64 birdcage coil maps (unit RSS) with a random
    rotation per example; only when the config has num_coils > 0. Stored as
    raw bytes (TFDS Tensor `encoding="bytes"`), read back as complex64.
  index: int64 example index within its split (the generator seed).
  anatomy: text, "brain" | "knee" | "body".
  field_strength_t: float32 scalar, B0 in tesla.
  sequence: int32 scalar, 0 gradient echo, 1 spin echo
    (`generator.GRADIENT_ECHO`, `generator.SPIN_ECHO`).
  echo_time_ms: float32 scalar, the nominal echo time (a DICOM header's
    TE): 1-10 ms for a gradient echo, 15-100 ms for a spin echo with the
    default params. Since 1.2.0 it is not the off-resonance accrual time
    for a spin echo (that is a sub-millisecond echo shift, available from
    `generate_example(..., return_components=True)["accrual_time_ms"]`).
  b0_direction: (3,) float32 unit B0 vector (x, y, slice normal): near the
    normal for axial slices (brain, body), in the plane along y for coronal
    ones (knee).
"""

import dataclasses
import hashlib
from collections.abc import Sequence

import numpy as np
import tensorflow_datasets as tfds

from kspace.datasets import scan_headers
from kspace.simulator.generator import example_pipeline
from kspace.simulator.generator import example_seeds
from kspace.simulator.generator import synthetic_params

NAME = "synthetic_mri"


@dataclasses.dataclass(repr=False)
class SyntheticMriConfig(tfds.core.BuilderConfig):
  """What to generate; all fields are encoded in the config name.

  Attributes:
    image_size: (H, W).
    num_train, num_val, num_test: examples per split (0 omits the split).
    num_coils: coil maps stored per example (0: none).
    seed: dataset seed; with the split and index it seeds every example.
    params: the distributions (a hash enters the name when not default).
  """

  image_size: tuple[int, int] = (128, 128)
  num_train: int = 2000
  num_val: int = 200
  num_test: int = 200
  num_coils: int = 0
  seed: int = 0
  params: synthetic_params.SyntheticParams = synthetic_params.DEFAULT_PARAMS

  def __repr__(self) -> str:
    # TFDS logs custom configs; the name already encodes every field.
    return f"{type(self).__name__}({self.name!r})"


def _params_tag(params: synthetic_params.SyntheticParams) -> str:
  if params == synthetic_params.DEFAULT_PARAMS:
    return ""
  digest = hashlib.sha1(repr(params).encode()).hexdigest()[:10]
  return f"_p{digest}"


def make_config(
    image_size: int | Sequence[int] = 128,
    num_train: int = 2000,
    num_val: int = 200,
    num_test: int = 200,
    num_coils: int = 0,
    seed: int = 0,
    params: synthetic_params.SyntheticParams = synthetic_params.DEFAULT_PARAMS,
) -> SyntheticMriConfig:
  """A validated config whose name encodes every field.

  So asking for 64 x 64 never silently reads a prepared 128 x 128 dataset,
  and changing counts, coils, seed or params prepares a new one.

  Args:
    image_size: int (square) or (H, W).
    num_train, num_val, num_test: examples per split; train must be > 0.
    num_coils: coil maps per example (0 for none).
    seed: dataset seed, >= 0.
    params: distributions.

  Returns:
    A SyntheticMriConfig named e.g. "128x128_n2000-200-200_c0_s0".
  """
  shape = example_pipeline.image_shape(image_size)
  counts = (int(num_train), int(num_val), int(num_test))
  if counts[0] < 1 or min(counts) < 0:
    raise ValueError(
        f"Need num_train >= 1 and num_val, num_test >= 0, got {counts}."
    )
  if num_coils < 0 or seed < 0:
    raise ValueError(
        f"num_coils and seed must be >= 0, got {num_coils}, {seed}."
    )
  name = (
      f"{shape[0]}x{shape[1]}_n{counts[0]}-{counts[1]}-{counts[2]}"
      f"_c{num_coils}_s{seed}{_params_tag(params)}"
  )
  return SyntheticMriConfig(
      name=name,
      description=(
          f"{shape[0]}x{shape[1]} synthetic images, {num_coils} coil maps,"
          f" seed {seed}."
      ),
      image_size=shape,
      num_train=counts[0],
      num_val=counts[1],
      num_test=counts[2],
      num_coils=int(num_coils),
      seed=int(seed),
      params=params,
  )


class SyntheticMri(tfds.core.GeneratorBasedBuilder):
  """Procedural complex MR images with anatomy-dependent phase."""

  name = NAME
  VERSION = tfds.core.Version("1.2.0")
  RELEASE_NOTES = {
      "1.0.0": "Initial release.",
      "1.1.0": (
          "phase wrapped by kspace.common.phase.wrap_phase (float32"
          " arithmetic): up to 1 ulp (2.4e-7 rad) from 1.0.0; all else"
          " identical."
      ),
      "1.2.0": (
          "Slice orientation per anatomy (brain, body axial; knee coronal)"
          " sets B0's direction; gradient and spin echoes (new `sequence`"
          " feature; echo_time_ms is the nominal echo time); fat displaced"
          " along the readout (x); noise in the image's phase frame; new"
          " random streams (hidden phase apart, for oracle-A rescans): every"
          " example's values differ from 1.1.0."
      ),
  }
  BUILDER_CONFIGS = [make_config()]

  def _info(self) -> tfds.core.DatasetInfo:
    config = self.builder_config
    shape = tuple(config.image_size)
    features = {
        "magnitude": tfds.features.Tensor(shape=shape, dtype=np.float32),
        "phase": tfds.features.Tensor(shape=shape, dtype=np.float32),
        "labels": tfds.features.Tensor(shape=shape, dtype=np.uint8),
        "index": tfds.features.Scalar(dtype=np.int64),
        "anatomy": tfds.features.Text(),
        **scan_headers.features(),
    }
    if config.num_coils > 0:
      # Complex tensors only serialise as raw bytes without TensorFlow.
      features["sens"] = tfds.features.Tensor(
          shape=(config.num_coils,) + shape,
          dtype=np.complex64,
          encoding=tfds.features.Encoding.BYTES,
      )
    return tfds.core.DatasetInfo(
        builder=self,
        description=__doc__,
        features=tfds.features.FeaturesDict(features),
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Nothing to download.
    config = self.builder_config
    counts = {
        "train": config.num_train,
        "validation": config.num_val,
        "test": config.num_test,
    }
    # TFDS cannot write an empty split, so 0 omits it.
    return {
        split: self._generate_examples(split, count)
        for split, count in counts.items()
        if count > 0
    }

  def _generate_examples(self, split: str, count: int):
    config = self.builder_config
    for index in range(count):
      example = example_pipeline.generate_example(
          example_seeds.example_rng(config.seed, split, index),
          config.image_size,
          num_coils=config.num_coils,
          params=config.params,
      )
      example["index"] = index
      yield index, example
