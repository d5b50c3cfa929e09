"""`synthetic_mri`: procedural complex MR images with anatomy-dependent phase.

Built in, no download. Each example is drawn by `generate_example` from its
own numpy Generator, seeded by (seed, split, index) (`example_rng`), so an
example never depends on which others were generated or in what order.

Per example (DESIGN.md, "Phase: what realistic means"):
  1. anatomy: tissue labels of a random brain, knee or body cross-section
     (`phantom`), class signals with smooth multiplicative texture and a
     smooth receive-bias field;
  2. susceptibility map from the classes (+ smooth within-class variation),
     turned into a field map by the 2-D dipole kernel with B0 tilted out of
     the slice plane by a random elevation and azimuth (`phase_model`);
  3. fat chemical shift: fat-containing voxels get the complex fat-water
     signal (1 - f) + f exp(i theta_fat), theta_fat = 2 pi (-3.4 ppm) f0 TE;
  4. smooth background phase: random constant, low-order polynomial and broad
     Gaussians;
  5. the complex image signal * exp(i (background + field phase)) is blurred
     slightly (finite resolution / partial volume), complex Gaussian noise is
     added, and it is scaled to max magnitude 1. Background pixels carry only
     noise, so their phase is uniform on the circle;
  6. phase = angle(image), wrapped to (-pi, pi] (atan2 semantics).

The physical ranges are the fields of `SyntheticParams`; the tissue table is
`phantom.TISSUES`.

Feature dict of the TFDS dataset (image size H x W from the config):
  magnitude: (H, W) float32 in [0, 1], max 1 per image.
  phase: (H, W) float32 in (-pi, pi].
  labels: (H, W) uint8 tissue class, see `phantom.LABEL_NAMES`.
  sens: (C, H, W) complex64 birdcage coil maps (unit RSS) with a random
    rotation per example; only when the config has num_coils > 0. Stored as
    raw bytes (TFDS Tensor `encoding="bytes"`), read back as complex64.
  index: int64 example index within its split (the generator seed).
  anatomy: text, "brain" | "knee" | "body".
  field_strength_t, echo_time_ms: float32 scalars of the phase model.
  b0_direction: (3,) float32 unit B0 vector (x, y, slice normal).
"""

import dataclasses
import hashlib
from collections.abc import Sequence

import numpy as np
import tensorflow_datasets as tfds

from kspace import coils
from kspace.datasets import phantom
from kspace.datasets import phase_model

NAME = "synthetic_mri"
# Split name -> the integer that enters every example's seed.
SPLIT_KEYS = {"train": 0, "validation": 1, "test": 2}


@dataclasses.dataclass(frozen=True)
class SyntheticParams:
  """Distributions of the synthetic set; each range is (low, high), uniform.

  Attributes:
    anatomies: anatomies drawn with equal probability (`phantom.ANATOMIES`).
    tissues: one `phantom.Tissue` per label.
    scale_range: global size factor of the anatomy.
    max_rotation: largest global in-plane rotation, radians.
    max_shift: largest global shift, normalised units (half the short side).
    texture_sigmas_px: widths (pixels) of the fine and coarse texture noise.
    bias_std: std of the quadratic log receive-bias coefficients.
    field_strengths_t: B0 values (tesla) drawn with equal probability.
    echo_time_ms: effective off-resonance accrual time (a gradient echo's
      TE; much shorter for a spin echo's echo shift), milliseconds.
    b0_elevation: angle between B0 and the slice plane, radians; pi/2 is B0
      along the slice normal (no in-plane dipole pattern).
    fat_shift_ppm: fat resonance relative to water.
    field_pad_factor: zero-padding factor of the dipole convolution.
    linear_phase_std: std of the background's linear phase coefficients
      (radians at the edge of the short side).
    quadratic_phase_std: std of its quadratic coefficients.
    num_gaussians: inclusive range of the number of broad phase bumps.
    gaussian_amplitude: bump amplitudes uniform in [-a, a], radians.
    gaussian_width: bump standard deviation, normalised units.
    blur_sigma_px: Gaussian point-spread width (pixels), partial volume.
    noise_std: complex noise std relative to the maximum magnitude; must be
      > 0 so that background phase is noise.
    coil_radius: birdcage coil distance from the center (half-FOV units).
  """

  anatomies: tuple[str, ...] = tuple(phantom.ANATOMIES)
  tissues: tuple[phantom.Tissue, ...] = phantom.TISSUES
  scale_range: tuple[float, float] = (0.85, 1.08)
  max_rotation: float = 0.3
  max_shift: float = 0.05
  texture_sigmas_px: tuple[float, float] = (1.0, 4.0)
  bias_std: float = 0.15
  field_strengths_t: tuple[float, ...] = (1.5, 3.0)
  echo_time_ms: tuple[float, float] = (1.0, 10.0)
  b0_elevation: tuple[float, float] = (0.0, np.pi / 2)
  fat_shift_ppm: float = phase_model.FAT_SHIFT_PPM
  field_pad_factor: int = 2
  linear_phase_std: float = 1.5
  quadratic_phase_std: float = 0.75
  num_gaussians: tuple[int, int] = (1, 3)
  gaussian_amplitude: float = 2.0
  gaussian_width: tuple[float, float] = (0.3, 0.8)
  blur_sigma_px: tuple[float, float] = (0.3, 0.8)
  noise_std: tuple[float, float] = (0.005, 0.02)
  coil_radius: float = 1.5

  def __post_init__(self):
    unknown = set(self.anatomies) - set(phantom.ANATOMIES)
    if not self.anatomies or unknown:
      raise ValueError(
          "anatomies must be a non-empty subset of"
          f" {sorted(phantom.ANATOMIES)}, got {self.anatomies}."
      )
    for name in (
        "scale_range",
        "texture_sigmas_px",
        "echo_time_ms",
        "b0_elevation",
        "num_gaussians",
        "gaussian_width",
        "blur_sigma_px",
        "noise_std",
    ):
      low, high = getattr(self, name)
      if low > high:
        raise ValueError(f"SyntheticParams.{name}: low {low} > high {high}.")
    if self.noise_std[0] <= 0:
      raise ValueError(
          "SyntheticParams.noise_std must be > 0: background phase is the"
          " phase of the noise."
      )
    if not self.field_strengths_t or min(self.field_strengths_t) <= 0:
      raise ValueError("field_strengths_t must hold positive values.")


DEFAULT_PARAMS = SyntheticParams()


def example_rng(seed: int, split: str, index: int) -> np.random.Generator:
  """The Generator of example `index` of `split` in the dataset `seed`."""
  if split not in SPLIT_KEYS:
    raise ValueError(f"Unknown split {split!r}; use one of {list(SPLIT_KEYS)}.")
  if seed < 0 or index < 0:
    raise ValueError(f"seed and index must be >= 0, got {seed}, {index}.")
  return np.random.default_rng([seed, SPLIT_KEYS[split], index])


def image_shape(image_size: int | Sequence[int]) -> tuple[int, int]:
  """(H, W) from an int (square) or a pair; validates positivity."""
  if isinstance(image_size, (int, np.integer)):
    shape = (int(image_size), int(image_size))
  else:
    shape = tuple(int(s) for s in image_size)
  if len(shape) != 2 or min(shape) < 8:
    raise ValueError(
        "image_size must be an int or (H, W) with sides >= 8, got"
        f" {image_size!r}."
    )
  return shape


def _as_generator(
    rng: np.random.Generator | int | Sequence[int],
) -> np.random.Generator:
  if isinstance(rng, np.random.Generator):
    return rng
  return np.random.default_rng(rng)


def _gaussian_blur(image: np.ndarray, sigma_px: float) -> np.ndarray:
  ky = np.fft.fftfreq(image.shape[0])[:, None]
  kx = np.fft.fftfreq(image.shape[1])[None, :]
  gain = np.exp(-2 * (np.pi * sigma_px) ** 2 * (ky**2 + kx**2))
  return np.fft.ifft2(np.fft.fft2(image) * gain)


def _bias_field(
    rng: np.random.Generator, y: np.ndarray, x: np.ndarray, std: float
) -> np.ndarray:
  coeffs = rng.normal(0, std, 5)
  log_bias = (
      coeffs[0] * y
      + coeffs[1] * x
      + coeffs[2] * y**2
      + coeffs[3] * x * y
      + coeffs[4] * x**2
  )
  return np.exp(log_bias)


def generate_example(
    rng: np.random.Generator | int | Sequence[int],
    image_size: int | Sequence[int] = 128,
    *,
    num_coils: int = 0,
    anatomy: str | None = None,
    params: SyntheticParams = DEFAULT_PARAMS,
    return_components: bool = False,
    acquisition_seed: int | None = None,
) -> dict[str, np.ndarray | str]:
  """One synthetic complex MR image with anatomy-dependent phase.

  Pure given the generator state. The generator is split into independent
  streams (anatomy, tissue, phase, noise, coils), so e.g. adding coil maps
  leaves magnitude and phase unchanged.

  Args:
    rng: a numpy Generator, or a seed (int or tuple of ints) for one.
    image_size: int (square) or (H, W).
    num_coils: number of birdcage coil maps to return (0 for none).
    anatomy: "brain" | "knee" | "body", or None to draw one of
      `params.anatomies`.
    params: the distributions, see `SyntheticParams`.
    return_components: also return the phase components (for analysis and
      tests).
    acquisition_seed: if given, the acquisition (B0, echo time, background
      phase, blur, noise) is drawn from this seed instead of from `rng`: the
      same anatomy and tissues, scanned again. Redraws are samples of the
      phase given the anatomy, i.e. an oracle conditional phase model.

  Returns:
    dict with
      magnitude: (H, W) float32 in [0, 1], max 1;
      phase: (H, W) float32 in (-pi, pi];
      labels: (H, W) uint8;
      anatomy: str;
      field_strength_t, echo_time_ms: float32 scalars;
      b0_direction: (3,) float32;
      sens: (num_coils, H, W) complex64, only if num_coils > 0;
    and with `return_components`, float32 (H, W) maps: susceptibility_ppm,
    field_ppm, background_phase (unwrapped radians), fat_fraction,
    chemical_shift_phase (radians), plus the scalar phase_per_ppm.
  """
  generator = _as_generator(rng)
  shape = image_shape(image_size)
  if num_coils < 0:
    raise ValueError(f"num_coils must be >= 0, got {num_coils}.")
  anatomy_rng, tissue_rng, phase_rng, noise_rng, coil_rng = generator.spawn(5)
  if acquisition_seed is not None:
    if acquisition_seed < 0:
      raise ValueError(
          f"acquisition_seed must be >= 0, got {acquisition_seed}."
      )
    phase_rng, noise_rng = np.random.default_rng(acquisition_seed).spawn(2)
  if anatomy is None:
    anatomy = params.anatomies[anatomy_rng.integers(len(params.anatomies))]
  labels = phantom.draw_anatomy(
      anatomy_rng,
      shape,
      anatomy,
      params.scale_range,
      params.max_rotation,
      params.max_shift,
  )
  props = phantom.sample_class_properties(tissue_rng, params.tissues)
  fine = phantom.smooth_noise(tissue_rng, shape, params.texture_sigmas_px[0])
  coarse = phantom.smooth_noise(tissue_rng, shape, params.texture_sigmas_px[1])
  texture = (fine + coarse) / np.sqrt(2)
  y, x = phantom.normalized_grid(shape)
  signal = props["signal"][labels] * np.maximum(
      1 + props["texture"][labels] * texture, 0
  )
  signal *= _bias_field(tissue_rng, y, x, params.bias_std)
  susceptibility = (
      props["susceptibility_ppm"][labels]
      + props["susceptibility_texture_ppm"][labels] * coarse
  )

  field_strength = float(phase_rng.choice(params.field_strengths_t))
  echo_time = float(phase_rng.uniform(*params.echo_time_ms))
  b0 = phase_model.b0_direction(
      phase_rng.uniform(*params.b0_elevation), phase_rng.uniform(0, 2 * np.pi)
  )
  # Outside the image is air, whatever the labels at the border say.
  air_ppm = props["susceptibility_ppm"][phantom.BACKGROUND]
  field = phase_model.field_map(
      susceptibility, b0, params.field_pad_factor, reference_ppm=air_ppm
  )
  radians_per_ppm = phase_model.phase_per_ppm(field_strength, echo_time)
  fat_fraction = props["fat_fraction"][labels]
  fat_water = phase_model.fat_water_signal(
      fat_fraction, radians_per_ppm * params.fat_shift_ppm
  )
  background = phase_model.background_phase(
      phase_rng,
      y,
      x,
      params.linear_phase_std,
      params.quadratic_phase_std,
      params.num_gaussians,
      params.gaussian_amplitude,
      params.gaussian_width,
  )
  tissue = labels != phantom.BACKGROUND
  image = np.where(
      tissue,
      signal * fat_water * np.exp(1j * (background + radians_per_ppm * field)),
      0,
  )
  image = _gaussian_blur(image, noise_rng.uniform(*params.blur_sigma_px))
  peak = max(np.abs(image).max(), np.finfo(np.float32).tiny)
  noise_std = noise_rng.uniform(*params.noise_std) * peak / np.sqrt(2)
  image = image + noise_std * (
      noise_rng.standard_normal(shape) + 1j * noise_rng.standard_normal(shape)
  )
  image /= np.abs(image).max()

  example = {
      "magnitude": np.abs(image).astype(np.float32),
      "phase": phase_model.angle_to_float32(np.angle(image)),
      "labels": labels,
      "anatomy": anatomy,
      "field_strength_t": np.float32(field_strength),
      "echo_time_ms": np.float32(echo_time),
      "b0_direction": b0.astype(np.float32),
  }
  if num_coils > 0:
    rotation = coil_rng.uniform(0, 2 * np.pi)
    example["sens"] = np.asarray(
        coils.birdcage_maps(shape, num_coils, params.coil_radius, rotation),
        np.complex64,
    )
  if return_components:
    example.update(
        susceptibility_ppm=susceptibility.astype(np.float32),
        field_ppm=field.astype(np.float32),
        background_phase=background.astype(np.float32),
        fat_fraction=fat_fraction.astype(np.float32),
        chemical_shift_phase=np.angle(fat_water).astype(np.float32),
        phase_per_ppm=np.float32(radians_per_ppm),
    )
  return example


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
  params: SyntheticParams = DEFAULT_PARAMS

  def __repr__(self) -> str:
    # TFDS logs custom configs; the name already encodes every field.
    return f"{type(self).__name__}({self.name!r})"


def _params_tag(params: SyntheticParams) -> str:
  if params == DEFAULT_PARAMS:
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
    params: SyntheticParams = DEFAULT_PARAMS,
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
  shape = image_shape(image_size)
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
  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
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
        "field_strength_t": tfds.features.Scalar(dtype=np.float32),
        "echo_time_ms": tfds.features.Scalar(dtype=np.float32),
        "b0_direction": tfds.features.Tensor(shape=(3,), dtype=np.float32),
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
      example = generate_example(
          example_rng(config.seed, split, index),
          config.image_size,
          num_coils=config.num_coils,
          params=config.params,
      )
      example["index"] = index
      yield index, example
