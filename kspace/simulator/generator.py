"""`generate_example`: procedural complex MR images with anatomy-dependent phase.

One example is a short pipeline of pure stages (DESIGN.md, "Phase: what
realistic means"):

  1. `draw_labels`: tissue labels of a random brain, knee or body
     cross-section (`phantom`);
  2. `tissue_maps`: class signals with smooth multiplicative texture and a
     smooth receive bias; the susceptibility map from the classes (+ smooth
     within-class variation); the fat fraction;
  3. `draw_acquisition`: B0 strength and direction (tilted out of the slice
     plane by a random elevation and azimuth), echo time, a smooth background
     phase (random constant, low-order polynomial, broad Gaussians), blur
     width and complex noise;
  4. `off_resonance`: the field map (2-D dipole kernel, `physics`) and fat's
     chemical shift: fat-containing voxels get the complex fat-water signal
     (1 - f) + f exp(i theta_fat), theta_fat = 2 pi (-3.4 ppm) f0 TE;
  5. `ideal_image`: signal * fat-water * exp(i (background + field phase)) in
     tissue, 0 in air;
  6. `acquire`: slight blur (finite resolution / partial volume), complex
     Gaussian noise, scaled to max magnitude 1. Background pixels carry only
     noise, so their phase is uniform on the circle;
  7. `to_record`: magnitude, and phase = angle(image) wrapped to (-pi, pi]
     (atan2 semantics, `kspace.phase.wrap_phase`).

Randomness: the example's Generator is split into independent streams
(anatomy, tissue, scan, noise, coils), so e.g. adding coil maps leaves
magnitude and phase unchanged, and `acquisition_seed` redraws only the scan
and noise streams. `example_rng(seed, split, index)` seeds a dataset's
examples, so an example never depends on which others were generated or in
what order.

The physical ranges are the fields of `SyntheticParams`; the tissue table is
`phantom.TISSUES`.
"""

import dataclasses
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from kspace import coils
from kspace import phase
from kspace.simulator import phantom
from kspace.simulator import physics

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
  fat_shift_ppm: float = physics.FAT_SHIFT_PPM
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
  """The Generator of example `index` of `split` in the dataset `seed`.

  Args:
    seed: dataset seed, >= 0.
    split: "train" | "validation" | "test" (`SPLIT_KEYS`).
    index: example index within the split, >= 0.

  Returns:
    A numpy Generator seeded by (seed, split key, index).
  """
  if split not in SPLIT_KEYS:
    raise ValueError(f"Unknown split {split!r}; use one of {list(SPLIT_KEYS)}.")
  if seed < 0 or index < 0:
    raise ValueError(f"seed and index must be >= 0, got {seed}, {index}.")
  return np.random.default_rng([seed, SPLIT_KEYS[split], index])


def image_shape(image_size: int | Sequence[int]) -> tuple[int, int]:
  """(H, W) from an int (square) or a pair; validates the sides.

  Args:
    image_size: int or (H, W), sides >= 8.

  Returns:
    (H, W) as Python ints.
  """
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


class TissueMaps(NamedTuple):
  """Per-pixel tissue properties of one anatomy.

  Attributes:
    signal: (H, W) float64 magnitude before phase, blur and noise: class
      signal x (1 + texture) x receive bias.
    susceptibility_ppm: (H, W) float64, relative to water.
    fat_fraction: (H, W) float64 in [0, 1].
    air_ppm: float64 susceptibility of air in this example, assumed outside
      the image by the field computation.
  """

  signal: np.ndarray
  susceptibility_ppm: np.ndarray
  fat_fraction: np.ndarray
  air_ppm: float


class Acquisition(NamedTuple):
  """Everything one scan adds that the anatomy does not determine.

  Attributes:
    field_strength_t: B0 in tesla.
    echo_time_ms: off-resonance accrual time, milliseconds.
    b0_direction: (3,) float64 unit B0 vector (x, y, slice normal).
    background_phase: (H, W) float64 smooth phase, radians, not wrapped.
    blur_sigma_px: point-spread width, pixels.
    noise_level: complex noise std relative to the blurred image's peak.
    noise: (H, W) complex128 with standard normal real and imaginary parts.
  """

  field_strength_t: float
  echo_time_ms: float
  b0_direction: np.ndarray
  background_phase: np.ndarray
  blur_sigma_px: float
  noise_level: float
  noise: np.ndarray


class OffResonance(NamedTuple):
  """The tissue-dependent phase of one scan.

  Attributes:
    field_ppm: (H, W) float64 field perturbation from the susceptibility.
    phase_per_ppm: radians accrued per ppm at this B0 and echo time.
    fat_water: (H, W) complex128 relative fat-water signal; its angle is the
      chemical-shift phase.
  """

  field_ppm: np.ndarray
  phase_per_ppm: float
  fat_water: np.ndarray


def draw_labels(
    rng: np.random.Generator,
    shape: tuple[int, int],
    anatomy: str | None,
    params: SyntheticParams,
) -> tuple[str, np.ndarray]:
  """Stage 1: the anatomy and its tissue labels.

  Args:
    rng: the anatomy stream.
    shape: (H, W).
    anatomy: "brain" | "knee" | "body", or None to draw one of
      `params.anatomies`.
    params: the distributions.

  Returns:
    (anatomy name, labels (H, W) uint8, see `phantom.LABEL_NAMES`).
  """
  if anatomy is None:
    anatomy = params.anatomies[rng.integers(len(params.anatomies))]
  labels = phantom.draw_anatomy(
      rng,
      shape,
      anatomy,
      params.scale_range,
      params.max_rotation,
      params.max_shift,
  )
  return anatomy, labels


def tissue_maps(
    rng: np.random.Generator, labels: np.ndarray, params: SyntheticParams
) -> TissueMaps:
  """Stage 2: signal, susceptibility and fat fraction of every pixel.

  Args:
    rng: the tissue stream.
    labels: (H, W) uint8 tissue classes.
    params: the distributions.

  Returns:
    TissueMaps of float64 (H, W) maps.
  """
  shape = labels.shape
  props = phantom.sample_class_properties(rng, params.tissues)
  fine = phantom.smooth_noise(rng, shape, params.texture_sigmas_px[0])
  coarse = phantom.smooth_noise(rng, shape, params.texture_sigmas_px[1])
  texture = (fine + coarse) / np.sqrt(2)
  y, x = phantom.normalized_grid(shape)
  signal = props["signal"][labels] * np.maximum(
      1 + props["texture"][labels] * texture, 0
  )
  signal = signal * physics.receive_bias(rng, y, x, params.bias_std)
  susceptibility = (
      props["susceptibility_ppm"][labels]
      + props["susceptibility_texture_ppm"][labels] * coarse
  )
  return TissueMaps(
      signal=signal,
      susceptibility_ppm=susceptibility,
      fat_fraction=props["fat_fraction"][labels],
      # Outside the image is air, whatever the labels at the border say.
      air_ppm=props["susceptibility_ppm"][phantom.BACKGROUND],
  )


def draw_acquisition(
    scan_rng: np.random.Generator,
    noise_rng: np.random.Generator,
    shape: tuple[int, int],
    params: SyntheticParams,
) -> Acquisition:
  """Stage 3: the scan parameters, background phase, blur and noise.

  Two streams, so that the scan parameters and the noise can be redrawn
  together (`acquisition_seed`) without touching the anatomy.

  Args:
    scan_rng: draws B0, echo time, B0 direction and the background phase.
    noise_rng: draws the blur width, the noise level and the noise.
    shape: (H, W).
    params: the distributions.

  Returns:
    An Acquisition.
  """
  field_strength = float(scan_rng.choice(params.field_strengths_t))
  echo_time = float(scan_rng.uniform(*params.echo_time_ms))
  b0 = physics.b0_direction(
      scan_rng.uniform(*params.b0_elevation), scan_rng.uniform(0, 2 * np.pi)
  )
  y, x = phantom.normalized_grid(shape)
  background = physics.background_phase(
      scan_rng,
      y,
      x,
      params.linear_phase_std,
      params.quadratic_phase_std,
      params.num_gaussians,
      params.gaussian_amplitude,
      params.gaussian_width,
  )
  blur_sigma = noise_rng.uniform(*params.blur_sigma_px)
  noise_level = noise_rng.uniform(*params.noise_std)
  real = noise_rng.standard_normal(shape)
  imag = noise_rng.standard_normal(shape)
  return Acquisition(
      field_strength_t=field_strength,
      echo_time_ms=echo_time,
      b0_direction=b0,
      background_phase=background,
      blur_sigma_px=blur_sigma,
      noise_level=noise_level,
      noise=real + 1j * imag,
  )


def off_resonance(
    tissue: TissueMaps, acquisition: Acquisition, params: SyntheticParams
) -> OffResonance:
  """Stage 4: the susceptibility field and the chemical shift of this scan.

  Args:
    tissue: the tissue maps.
    acquisition: B0, its direction and the echo time.
    params: `field_pad_factor` and `fat_shift_ppm`.

  Returns:
    OffResonance with float64 / complex128 (H, W) maps.
  """
  field = physics.field_map(
      tissue.susceptibility_ppm,
      acquisition.b0_direction,
      params.field_pad_factor,
      reference_ppm=tissue.air_ppm,
  )
  radians_per_ppm = physics.phase_per_ppm(
      acquisition.field_strength_t, acquisition.echo_time_ms
  )
  fat_water = physics.fat_water_signal(
      tissue.fat_fraction, radians_per_ppm * params.fat_shift_ppm
  )
  return OffResonance(field, radians_per_ppm, fat_water)


def ideal_image(
    labels: np.ndarray,
    tissue: TissueMaps,
    acquisition: Acquisition,
    resonance: OffResonance,
) -> np.ndarray:
  """Stage 5: the noiseless complex image at infinite resolution.

  Args:
    labels: (H, W) uint8; background pixels get no signal.
    tissue: the tissue maps.
    acquisition: its background phase.
    resonance: field, phase per ppm and fat-water signal.

  Returns:
    complex128 (H, W).
  """
  return np.where(
      labels != phantom.BACKGROUND,
      tissue.signal
      * resonance.fat_water
      * np.exp(
          1j
          * (
              acquisition.background_phase
              + resonance.phase_per_ppm * resonance.field_ppm
          )
      ),
      0,
  )


def acquire(image: np.ndarray, acquisition: Acquisition) -> np.ndarray:
  """Stage 6: point spread, complex noise, scaled to max magnitude 1.

  Args:
    image: complex (H, W) noiseless image.
    acquisition: blur width, noise level and noise.

  Returns:
    complex128 (H, W) with max |image| = 1.
  """
  image = physics.gaussian_blur(image, acquisition.blur_sigma_px)
  peak = max(np.abs(image).max(), np.finfo(np.float32).tiny)
  noise_std = acquisition.noise_level * peak / np.sqrt(2)
  image = image + noise_std * acquisition.noise
  return image / np.abs(image).max()


def to_record(
    anatomy: str,
    labels: np.ndarray,
    image: np.ndarray,
    acquisition: Acquisition,
) -> dict[str, np.ndarray | str]:
  """Stage 7: the example's features.

  Args:
    anatomy: its name.
    labels: (H, W) uint8.
    image: complex (H, W), max magnitude 1.
    acquisition: the scan parameters that are stored.

  Returns:
    dict with magnitude (H, W) float32 in [0, 1], phase (H, W) float32 in
    (-pi, pi], labels, anatomy, field_strength_t and echo_time_ms float32
    scalars, b0_direction (3,) float32.
  """
  return {
      "magnitude": np.abs(image).astype(np.float32),
      "phase": np.asarray(phase.wrap_phase(np.angle(image))),
      "labels": labels,
      "anatomy": anatomy,
      "field_strength_t": np.float32(acquisition.field_strength_t),
      "echo_time_ms": np.float32(acquisition.echo_time_ms),
      "b0_direction": acquisition.b0_direction.astype(np.float32),
  }


def components(
    tissue: TissueMaps, acquisition: Acquisition, resonance: OffResonance
) -> dict[str, np.ndarray]:
  """The phase components behind an example, for analysis and tests.

  Args:
    tissue: its tissue maps.
    acquisition: its acquisition.
    resonance: its off-resonance.

  Returns:
    dict of float32 (H, W) maps susceptibility_ppm, field_ppm,
    background_phase (unwrapped radians), fat_fraction,
    chemical_shift_phase (radians), and the float32 scalar phase_per_ppm.
  """
  return {
      "susceptibility_ppm": tissue.susceptibility_ppm.astype(np.float32),
      "field_ppm": resonance.field_ppm.astype(np.float32),
      "background_phase": acquisition.background_phase.astype(np.float32),
      "fat_fraction": tissue.fat_fraction.astype(np.float32),
      "chemical_shift_phase": np.angle(resonance.fat_water).astype(np.float32),
      "phase_per_ppm": np.float32(resonance.phase_per_ppm),
  }


def coil_maps(
    rng: np.random.Generator,
    shape: tuple[int, int],
    num_coils: int,
    coil_radius: float,
) -> np.ndarray:
  """Birdcage coil maps with a random rotation.

  Args:
    rng: the coil stream.
    shape: (H, W).
    num_coils: C >= 1.
    coil_radius: coil distance from the center (half-FOV units).

  Returns:
    complex64 (C, H, W), unit root-sum-of-squares.
  """
  rotation = rng.uniform(0, 2 * np.pi)
  return np.asarray(
      coils.birdcage_maps(shape, num_coils, coil_radius, rotation),
      np.complex64,
  )


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
  streams (anatomy, tissue, scan, noise, coils), so e.g. adding coil maps
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
  # default_rng returns a Generator unaltered.
  generator = np.random.default_rng(rng)
  shape = image_shape(image_size)
  if num_coils < 0:
    raise ValueError(f"num_coils must be >= 0, got {num_coils}.")
  anatomy_rng, tissue_rng, scan_rng, noise_rng, coil_rng = generator.spawn(5)
  if acquisition_seed is not None:
    if acquisition_seed < 0:
      raise ValueError(
          f"acquisition_seed must be >= 0, got {acquisition_seed}."
      )
    scan_rng, noise_rng = np.random.default_rng(acquisition_seed).spawn(2)
  anatomy, labels = draw_labels(anatomy_rng, shape, anatomy, params)
  tissue = tissue_maps(tissue_rng, labels, params)
  acquisition = draw_acquisition(scan_rng, noise_rng, shape, params)
  resonance = off_resonance(tissue, acquisition, params)
  image = acquire(
      ideal_image(labels, tissue, acquisition, resonance), acquisition
  )
  example = to_record(anatomy, labels, image, acquisition)
  if num_coils > 0:
    example["sens"] = coil_maps(coil_rng, shape, num_coils, params.coil_radius)
  if return_components:
    example.update(components(tissue, acquisition, resonance))
  return example
