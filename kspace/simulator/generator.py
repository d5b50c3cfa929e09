"""`generate_example`: procedural complex MR images with anatomy-dependent phase.

One example is a short pipeline of pure stages (DESIGN.md, "Phase: what
realistic means"):

  1. `draw_labels`: tissue labels of a random brain, knee or body
     cross-section (`phantom`);
  2. `tissue_maps`: class signals with smooth multiplicative texture and a
     smooth receive bias; the susceptibility map from the classes (+ smooth
     within-class variation); the fat fraction;
  3. `draw_acquisition`: one scan of that slice.
     - B0 strength;
     - B0 direction from the anatomy's slice orientation
       (`SyntheticParams.slice_orientations`, as in fastMRI: brain and body
       axial, knee coronal): axial puts B0 within a small random oblique
       tilt of the slice normal, at a random in-plane azimuth; coronal and
       sagittal put it in the plane along the image rows (y, head-foot),
       with the same tilt out of the plane and a small in-plane jitter;
     - the sequence (`draw_sequence`): a gradient echo, whose off-resonance
       phase accrues over the whole echo time, or a spin echo, which
       refocuses off-resonance at the echo, leaving only a short residual
       accrual time (echo shift), so its phase is mostly the smooth
       background; the record stores the nominal echo time;
     - fat's displacement along the readout (image columns, x), a random
       sub-pixel shift whose sign is the readout polarity;
     - a smooth background phase (random constant, low-order polynomial,
       broad Gaussians: transmit and coil-combination phase);
     - blur width and complex noise;
  4. `off_resonance`: the field map (2-D dipole kernel, `physics`) and fat's
     chemical-shift phase theta_fat = 2 pi (-3.4 ppm) f0 t over the accrual
     time t;
  5. `ideal_image`: in tissue, carrier = signal * exp(i (background + field
     phase)); water (1 - f) * carrier stays in place, fat f * exp(i
     theta_fat) * carrier is displaced along x by the fat shift (a Fourier
     shift, so it may land in air, as the chemical-shift artifact does);
  6. `acquire`: slight blur (finite resolution / partial volume), complex
     Gaussian noise, scaled to max magnitude 1. Background pixels carry only
     noise, so their phase is uniform on the circle. The noise is drawn in
     the frame of the blurred image's phase (circularly symmetric, so its
     distribution is unchanged), which makes the magnitude independent of a
     change of phase that blur and fat shift do not mix;
  7. `to_record`: magnitude, and phase = angle(image) wrapped to (-pi, pi]
     (atan2 semantics, `kspace.common.phase.wrap_phase`), and the scan parameters a
     DICOM header would hold.

Randomness: the example's Generator is split into independent streams
(anatomy, tissue, scan, hidden, noise, coils), so e.g. adding coil maps
leaves magnitude and phase unchanged. The scan stream draws what shapes the
magnitude (B0 strength, tilt, a coronal slice's in-plane jitter, sequence,
echo and accrual times, fat shift), the hidden stream what the magnitude
does not reveal (the background phase and an axial slice's B0 azimuth), the
noise stream blur and noise. A rescan (`generate_example`'s
`acquisition_seed`) redraws the scan, hidden and noise streams
(`redraw="acquisition"`, oracle-B), only the hidden one (`redraw="hidden"`,
oracle-A: the phase a model told the scan parameters should match), or
everything neither the magnitude nor a header shows (`redraw="unrevealed"`:
the hidden stream, each tissue class's drawn susceptibility and the noise's
quadrature part, which moves the phase, not the magnitude).
`example_rng(seed, split, index)` seeds a dataset's examples, so an example
never depends on which others were generated or in what order.

The physical ranges are the fields of `SyntheticParams`; the tissue table is
`phantom.TISSUES`.
"""

import dataclasses
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from kspace import coils
from kspace.common import phase
from kspace.simulator import phantom
from kspace.simulator import physics

# Split name -> the integer that enters every example's seed.
SPLIT_KEYS = {"train": 0, "validation": 1, "test": 2}

# The `sequence` record feature.
GRADIENT_ECHO, SPIN_ECHO = 0, 1

# `generate_example`'s `redraw`: what a rescan (`acquisition_seed`) redraws.
REDRAW_ACQUISITION = "acquisition"  # oracle-B: the whole scan, a full rescan.
REDRAW_HIDDEN = "hidden"  # oracle-A: only what the magnitude does not reveal.
# Oracle-A that also redraws what "hidden" keeps though neither the magnitude
# nor the header shows it: each tissue class's susceptibility and the
# noise's quadrature part.
REDRAW_UNREVEALED = "unrevealed"
REDRAWS = (REDRAW_ACQUISITION, REDRAW_HIDDEN, REDRAW_UNREVEALED)

# As in fastMRI: axial brain and abdomen, coronal knee.
DEFAULT_SLICE_ORIENTATIONS = (
    ("brain", physics.AXIAL),
    ("knee", physics.CORONAL),
    ("body", physics.AXIAL),
)


@dataclasses.dataclass(frozen=True)
class SyntheticParams:
  """Distributions of the synthetic set; each range is (low, high), uniform.

  Attributes:
    anatomies: anatomies drawn with equal probability (`phantom.ANATOMIES`).
    slice_orientations: anatomy -> "axial" | "coronal" | "sagittal"
      (`physics.ORIENTATIONS`), the slice plane relative to B0; needed for
      every anatomy in `anatomies`. Given as a mapping or (anatomy,
      orientation) pairs; stored as pairs sorted by anatomy (hashable).
    tissues: one `phantom.Tissue` per label.
    scale_range: global size factor of the anatomy.
    max_rotation: largest global in-plane rotation, radians.
    max_shift: largest global shift, normalised units (half the short side).
    texture_sigmas_px: widths (pixels) of the fine and coarse texture noise.
    bias_std: std of the quadratic log receive-bias coefficients.
    field_strengths_t: B0 values (tesla) drawn with equal probability.
    spin_echo_probability: probability of a spin echo (else gradient echo).
    echo_time_ms: a gradient echo's TE, milliseconds; its off-resonance
      (field and chemical shift) accrues over all of it.
    spin_echo_time_ms: a spin echo's nominal TE, milliseconds (the record's
      `echo_time_ms`); off-resonance is refocused at the echo.
    spin_echo_shift_ms: a spin echo's residual off-resonance accrual time
      (echo shift, refocusing imperfection), milliseconds.
    oblique_tilt_std: the slice's oblique tilt is |Normal(0, std)|, radians:
      B0's angle from an axial slice's normal, or out of a coronal /
      sagittal slice's plane.
    in_plane_jitter_std: std (radians) of B0's in-plane deviation from the
      rows (y) of a coronal or sagittal slice.
    fat_shift_ppm: fat resonance relative to water.
    fat_shift_px: size of fat's displacement along the readout (image
      columns, x), pixels; its sign (readout polarity) is random.
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
  slice_orientations: tuple[tuple[str, str], ...] = DEFAULT_SLICE_ORIENTATIONS
  tissues: tuple[phantom.Tissue, ...] = phantom.TISSUES
  scale_range: tuple[float, float] = (0.85, 1.08)
  max_rotation: float = 0.3
  max_shift: float = 0.05
  texture_sigmas_px: tuple[float, float] = (1.0, 4.0)
  bias_std: float = 0.15
  field_strengths_t: tuple[float, ...] = (1.5, 3.0)
  spin_echo_probability: float = 0.5
  echo_time_ms: tuple[float, float] = (1.0, 10.0)
  spin_echo_time_ms: tuple[float, float] = (15.0, 100.0)
  spin_echo_shift_ms: tuple[float, float] = (0.0, 0.5)
  oblique_tilt_std: float = np.pi / 18  # 10 degrees
  in_plane_jitter_std: float = np.pi / 36  # 5 degrees
  fat_shift_ppm: float = physics.FAT_SHIFT_PPM
  fat_shift_px: tuple[float, float] = (0.3, 1.5)
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
    # Frozen: normalise a mapping to sorted pairs, so params stay hashable
    # and equal whatever the order they were given in.
    orientations = tuple(sorted(dict(self.slice_orientations).items()))
    object.__setattr__(self, "slice_orientations", orientations)
    table = dict(orientations)
    if set(table) - set(phantom.ANATOMIES) or set(self.anatomies) - set(table):
      raise ValueError(
          "slice_orientations must map every anatomy drawn"
          f" {sorted(self.anatomies)} (and no unknown one) to an orientation,"
          f" got {table}."
      )
    if set(table.values()) - set(physics.ORIENTATIONS):
      raise ValueError(
          f"slice_orientations values must be in {physics.ORIENTATIONS}, got"
          f" {table}."
      )
    for name in (
        "scale_range",
        "texture_sigmas_px",
        "echo_time_ms",
        "spin_echo_time_ms",
        "spin_echo_shift_ms",
        "fat_shift_px",
        "num_gaussians",
        "gaussian_width",
        "blur_sigma_px",
        "noise_std",
    ):
      low, high = getattr(self, name)
      if low > high:
        raise ValueError(f"SyntheticParams.{name}: low {low} > high {high}.")
    for name in ("echo_time_ms", "spin_echo_shift_ms", "fat_shift_px"):
      if getattr(self, name)[0] < 0:
        raise ValueError(f"SyntheticParams.{name} must be >= 0.")
    if not 0 <= self.spin_echo_probability <= 1:
      raise ValueError(
          "spin_echo_probability must be in [0, 1], got"
          f" {self.spin_echo_probability}."
      )
    if min(self.oblique_tilt_std, self.in_plane_jitter_std) < 0:
      raise ValueError("oblique_tilt_std and in_plane_jitter_std must be >= 0.")
    if self.noise_std[0] <= 0:
      raise ValueError(
          "SyntheticParams.noise_std must be > 0: background phase is the"
          " phase of the noise."
      )
    if not self.field_strengths_t or min(self.field_strengths_t) <= 0:
      raise ValueError("field_strengths_t must hold positive values.")

  def orientation(self, anatomy: str) -> str:
    """The slice orientation of `anatomy` ("axial" | "coronal" | ...)."""
    table = dict(self.slice_orientations)
    if anatomy not in table:
      raise ValueError(
          f"No slice orientation for anatomy {anatomy!r} in"
          f" slice_orientations {table}."
      )
    return table[anatomy]


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
    sequence: GRADIENT_ECHO or SPIN_ECHO.
    echo_time_ms: nominal echo time (what a DICOM header says), ms.
    accrual_time_ms: off-resonance accrual time, ms: the echo time of a
      gradient echo, the residual echo shift of a spin echo.
    b0_direction: (3,) float64 unit B0 vector (x, y, slice normal).
    fat_shift_px: fat's displacement along x (columns), signed pixels.
    background_phase: (H, W) float64 smooth phase, radians, not wrapped.
    blur_sigma_px: point-spread width, pixels.
    noise_level: complex noise std relative to the blurred image's peak.
    noise: (H, W) complex128 with standard normal real and imaginary parts.
  """

  field_strength_t: float
  sequence: int
  echo_time_ms: float
  accrual_time_ms: float
  b0_direction: np.ndarray
  fat_shift_px: float
  background_phase: np.ndarray
  blur_sigma_px: float
  noise_level: float
  noise: np.ndarray


class OffResonance(NamedTuple):
  """The tissue-dependent phase of one scan.

  Attributes:
    field_ppm: (H, W) float64 field perturbation from the susceptibility.
    phase_per_ppm: radians accrued per ppm at this B0 and accrual time.
    fat_phase: fat's chemical-shift phase relative to water, radians.
  """

  field_ppm: np.ndarray
  phase_per_ppm: float
  fat_phase: float


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
    rng: np.random.Generator,
    labels: np.ndarray,
    params: SyntheticParams,
    susceptibility_rng: np.random.Generator | None = None,
) -> TissueMaps:
  """Stage 2: signal, susceptibility and fat fraction of every pixel.

  Args:
    rng: the tissue stream.
    labels: (H, W) uint8 tissue classes.
    params: the distributions.
    susceptibility_rng: if given, each class's susceptibility is drawn from
      it instead (a rescan's, `REDRAW_UNREVEALED`); everything else,
      the texture that also shapes the susceptibility included, is the
      tissue stream's.

  Returns:
    TissueMaps of float64 (H, W) maps.
  """
  shape = labels.shape
  props = phantom.sample_class_properties(rng, params.tissues)
  if susceptibility_rng is not None:
    props["susceptibility_ppm"] = phantom.sample_class_properties(
        susceptibility_rng, params.tissues
    )["susceptibility_ppm"]
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


def draw_sequence(
    rng: np.random.Generator, params: SyntheticParams
) -> tuple[int, float, float]:
  """The sequence family, its nominal echo time and its accrual time.

  Args:
    rng: the scan stream.
    params: `spin_echo_probability` and the echo-time ranges.

  Returns:
    (GRADIENT_ECHO or SPIN_ECHO, echo time ms, off-resonance accrual time
    ms). A gradient echo accrues over its echo time; a spin echo refocuses
    off-resonance at the echo and accrues only over its echo shift.
  """
  if rng.uniform() < params.spin_echo_probability:
    echo_time = float(rng.uniform(*params.spin_echo_time_ms))
    return SPIN_ECHO, echo_time, float(rng.uniform(*params.spin_echo_shift_ms))
  echo_time = float(rng.uniform(*params.echo_time_ms))
  return GRADIENT_ECHO, echo_time, echo_time


def draw_b0_direction(
    scan_rng: np.random.Generator,
    hidden_rng: np.random.Generator,
    orientation: str,
    params: SyntheticParams,
) -> np.ndarray:
  """B0's direction for a slice of `orientation` (`physics.slice_b0_direction`).

  The oblique tilt comes from the scan stream (a protocol fixes it). An
  axial slice's in-plane azimuth comes from the hidden stream: the tilt
  keeps B0's in-plane part weak (sin(tilt)^2 of the dipole pattern), so the
  azimuth leaves the magnitude as it is. A coronal or sagittal slice's
  in-plane jitter comes from the scan stream: B0 in the plane gives the full
  dipole pattern, and rotating it by even a few degrees moves the steep
  field next to air and bone enough that a gradient echo's intravoxel
  dephasing (through the blur) changes the magnitude visibly (measured: up
  to 0.5 of the peak at a pixel, 99th percentile 0.18, at 64 x 64, against
  0.05 and 0.03 with the jitter kept), so the magnitude does reveal it.

  Args:
    scan_rng: the scan stream (tilt; coronal / sagittal in-plane jitter).
    hidden_rng: the hidden stream (axial azimuth).
    orientation: "axial" | "coronal" | "sagittal".
    params: `oblique_tilt_std`, `in_plane_jitter_std`.

  Returns:
    float64 unit vector (3,).
  """
  tilt = abs(scan_rng.normal(0, params.oblique_tilt_std))
  if orientation == physics.AXIAL:
    in_plane_angle = hidden_rng.uniform(0, 2 * np.pi)
  else:
    in_plane_angle = scan_rng.normal(0, params.in_plane_jitter_std)
  return physics.slice_b0_direction(orientation, tilt, in_plane_angle)


def draw_acquisition(
    scan_rng: np.random.Generator,
    hidden_rng: np.random.Generator,
    noise_rng: np.random.Generator,
    shape: tuple[int, int],
    orientation: str,
    params: SyntheticParams,
    quadrature_rng: np.random.Generator | None = None,
) -> Acquisition:
  """Stage 3: the scan parameters, background phase, blur and noise.

  Three streams, so that a rescan (`acquisition_seed`) can redraw all of
  them (oracle-B) or only the hidden one (oracle-A) without touching the
  anatomy.

  Args:
    scan_rng: draws B0 strength, tilt (and a coronal slice's in-plane
      jitter), the sequence and its times, and the fat shift: what shapes
      the magnitude.
    hidden_rng: draws an axial slice's B0 azimuth and the background phase:
      what the magnitude does not reveal.
    noise_rng: draws the blur width, the noise level and the noise.
    shape: (H, W).
    orientation: the slice orientation, "axial" | "coronal" | "sagittal".
    params: the distributions.
    quadrature_rng: if given, draws the noise's imaginary part instead of
      `noise_rng` (a rescan's, `REDRAW_UNREVEALED`): `acquire` adds it in
      the image's phase frame, so it moves the phase, not (to first order)
      the magnitude.

  Returns:
    An Acquisition.
  """
  field_strength = float(scan_rng.choice(params.field_strengths_t))
  sequence, echo_time, accrual_time = draw_sequence(scan_rng, params)
  b0 = draw_b0_direction(scan_rng, hidden_rng, orientation, params)
  polarity = 1.0 if scan_rng.uniform() < 0.5 else -1.0
  fat_shift = polarity * scan_rng.uniform(*params.fat_shift_px)
  y, x = phantom.normalized_grid(shape)
  background = physics.background_phase(
      hidden_rng,
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
  imag = (quadrature_rng or noise_rng).standard_normal(shape)
  return Acquisition(
      field_strength_t=field_strength,
      sequence=sequence,
      echo_time_ms=echo_time,
      accrual_time_ms=accrual_time,
      b0_direction=b0,
      fat_shift_px=float(fat_shift),
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
    acquisition: B0, its direction and the accrual time.
    params: `field_pad_factor` and `fat_shift_ppm`.

  Returns:
    OffResonance with the float64 (H, W) field map.
  """
  field = physics.field_map(
      tissue.susceptibility_ppm,
      acquisition.b0_direction,
      params.field_pad_factor,
      reference_ppm=tissue.air_ppm,
  )
  radians_per_ppm = physics.phase_per_ppm(
      acquisition.field_strength_t, acquisition.accrual_time_ms
  )
  return OffResonance(
      field, radians_per_ppm, radians_per_ppm * params.fat_shift_ppm
  )


def ideal_image(
    labels: np.ndarray,
    tissue: TissueMaps,
    acquisition: Acquisition,
    resonance: OffResonance,
) -> np.ndarray:
  """Stage 5: the noiseless complex image at infinite resolution.

  Water stays in place; fat, with its chemical-shift phase and the field and
  background phase of where it is, appears displaced along the readout
  (x) by `acquisition.fat_shift_px`. Tissue is masked before the shift, so
  displaced fat may land in air.

  Args:
    labels: (H, W) uint8; background pixels get no signal.
    tissue: the tissue maps.
    acquisition: its background phase and fat shift.
    resonance: field, phase per ppm and fat phase.

  Returns:
    complex128 (H, W).
  """
  carrier = np.where(
      labels != phantom.BACKGROUND,
      tissue.signal
      * np.exp(
          1j
          * (
              acquisition.background_phase
              + resonance.phase_per_ppm * resonance.field_ppm
          )
      ),
      0,
  )
  water = (1 - tissue.fat_fraction) * carrier
  fat = tissue.fat_fraction * np.exp(1j * resonance.fat_phase) * carrier
  return water + physics.fourier_shift(fat, acquisition.fat_shift_px, axis=1)


def acquire(image: np.ndarray, acquisition: Acquisition) -> np.ndarray:
  """Stage 6: point spread, complex noise, scaled to max magnitude 1.

  The noise is added in the frame of the blurred image's phase: |image| + n
  rotated by angle(image). Circularly symmetric noise rotated by any phase
  is the same distribution, and the magnitude then does not depend on the
  image's phase, so an oracle-A rescan (same noise, new hidden phase) keeps
  the magnitude except where blur and fat shift mix phases.

  Args:
    image: complex (H, W) noiseless image.
    acquisition: blur width, noise level and noise.

  Returns:
    complex128 (H, W) with max |image| = 1.
  """
  image = physics.gaussian_blur(image, acquisition.blur_sigma_px)
  peak = max(np.abs(image).max(), np.finfo(np.float32).tiny)
  noise_std = acquisition.noise_level * peak / np.sqrt(2)
  image = (np.abs(image) + noise_std * acquisition.noise) * np.exp(
      1j * np.angle(image)
  )
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
    (-pi, pi], labels, anatomy, field_strength_t and echo_time_ms (nominal)
    float32 scalars, sequence int32 scalar (GRADIENT_ECHO | SPIN_ECHO),
    b0_direction (3,) float32.
  """
  return {
      "magnitude": np.abs(image).astype(np.float32),
      "phase": np.asarray(phase.wrap_phase(np.angle(image))),
      "labels": labels,
      "anatomy": anatomy,
      "field_strength_t": np.float32(acquisition.field_strength_t),
      "sequence": np.int32(acquisition.sequence),
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
    chemical_shift_phase (radians, the angle of (1 - f) + f exp(i
    theta_fat) before fat's displacement), and the float32 scalars
    phase_per_ppm, accrual_time_ms and fat_shift_px.
  """
  fat_water = physics.fat_water_signal(tissue.fat_fraction, resonance.fat_phase)
  return {
      "susceptibility_ppm": tissue.susceptibility_ppm.astype(np.float32),
      "field_ppm": resonance.field_ppm.astype(np.float32),
      "background_phase": acquisition.background_phase.astype(np.float32),
      "fat_fraction": tissue.fat_fraction.astype(np.float32),
      "chemical_shift_phase": np.angle(fat_water).astype(np.float32),
      "phase_per_ppm": np.float32(resonance.phase_per_ppm),
      "accrual_time_ms": np.float32(acquisition.accrual_time_ms),
      "fat_shift_px": np.float32(acquisition.fat_shift_px),
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


class ScanStreams(NamedTuple):
  """The random streams of one scan (see the module docstring)."""

  scan: np.random.Generator
  hidden: np.random.Generator
  noise: np.random.Generator
  # A rescan's own under REDRAW_UNREVEALED; None: the example's streams.
  susceptibility: np.random.Generator | None = None
  quadrature: np.random.Generator | None = None


def rescan_streams(
    streams: ScanStreams, acquisition_seed: int | None, redraw: str
) -> ScanStreams:
  """The streams of a scan or of a rescan.

  Args:
    streams: the example's own (scan, hidden, noise) streams.
    acquisition_seed: None for the example's own scan, else the rescan's
      seed, >= 0.
    redraw: `REDRAW_ACQUISITION` (scan, hidden and noise streams from the
      seed, a full rescan, oracle-B), `REDRAW_HIDDEN` (only the hidden
      stream, oracle-A) or `REDRAW_UNREVEALED` (the hidden stream, the
      classes' susceptibilities and the noise's quadrature part).

  Returns:
    ScanStreams.
  """
  if redraw not in REDRAWS:
    raise ValueError(f"redraw must be one of {REDRAWS}, got {redraw!r}.")
  if acquisition_seed is None:
    if redraw != REDRAW_ACQUISITION:
      raise ValueError(
          f"redraw={redraw!r} needs an acquisition_seed: it says what a"
          " rescan redraws."
      )
    return streams
  if acquisition_seed < 0:
    raise ValueError(f"acquisition_seed must be >= 0, got {acquisition_seed}.")
  # Children 4 and 5 leave the first three (so every earlier rescan) as they
  # were: a SeedSequence child depends on its index only.
  rescan = np.random.default_rng(acquisition_seed).spawn(5)
  if redraw == REDRAW_ACQUISITION:
    return ScanStreams(*rescan[:3])
  if redraw == REDRAW_HIDDEN:
    return streams._replace(hidden=rescan[1])
  return streams._replace(
      hidden=rescan[1], susceptibility=rescan[3], quadrature=rescan[4]
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
    redraw: str = REDRAW_ACQUISITION,
) -> dict[str, np.ndarray | str]:
  """One synthetic complex MR image with anatomy-dependent phase.

  Pure given the generator state. The generator is split into independent
  streams (anatomy, tissue, scan, hidden, noise, coils), so e.g. adding coil
  maps leaves magnitude and phase unchanged.

  Args:
    rng: a numpy Generator, or a seed (int or tuple of ints) for one.
    image_size: int (square) or (H, W).
    num_coils: number of birdcage coil maps to return (0 for none).
    anatomy: "brain" | "knee" | "body", or None to draw one of
      `params.anatomies`.
    params: the distributions, see `SyntheticParams`.
    return_components: also return the phase components (for analysis and
      tests).
    acquisition_seed: if given, the same anatomy and tissues scanned again,
      with what `redraw` names drawn from this seed instead of from `rng`.
      Redraws are samples of the phase given the anatomy, i.e. an oracle
      conditional phase model.
    redraw: what a rescan redraws. "acquisition" (oracle-B, a full rescan):
      B0 strength and direction, sequence, echo and accrual times, fat
      shift, background phase, blur and noise. "hidden" (oracle-A): only what
      the magnitude does not reveal, the background phase (global offset
      included) and an axial slice's B0 azimuth (a coronal / sagittal
      slice's in-plane jitter is kept: it shows in the magnitude, see
      `draw_b0_direction`); everything else is the original scan's, so the
      magnitude is nearly the original's (blur and fat shift mix the new
      phase into it slightly: at 32 x 32, mean |difference| <= 0.02 and
      95th percentile <= 0.1; bit-identical without them). Needs an
      `acquisition_seed`. "unrevealed": as "hidden", and also each tissue
      class's susceptibility (its texture, which the magnitude shares, is
      kept) and the noise's quadrature part: nothing the magnitude or the
      header shows is redrawn.

  Returns:
    dict with
      magnitude: (H, W) float32 in [0, 1], max 1;
      phase: (H, W) float32 in (-pi, pi];
      labels: (H, W) uint8;
      anatomy: str;
      field_strength_t: float32 scalar, tesla;
      sequence: int32 scalar, GRADIENT_ECHO (0) or SPIN_ECHO (1);
      echo_time_ms: float32 scalar, the nominal echo time;
      b0_direction: (3,) float32;
      sens: (num_coils, H, W) complex64, only if num_coils > 0;
    and with `return_components`, float32 (H, W) maps: susceptibility_ppm,
    field_ppm, background_phase (unwrapped radians), fat_fraction,
    chemical_shift_phase (radians), plus the scalars phase_per_ppm,
    accrual_time_ms (off-resonance accrual time) and fat_shift_px.
  """
  # default_rng returns a Generator unaltered.
  generator = np.random.default_rng(rng)
  shape = image_shape(image_size)
  if num_coils < 0:
    raise ValueError(f"num_coils must be >= 0, got {num_coils}.")
  anatomy_rng, tissue_rng, *scan_streams, coil_rng = generator.spawn(6)
  streams = rescan_streams(ScanStreams(*scan_streams), acquisition_seed, redraw)
  anatomy, labels = draw_labels(anatomy_rng, shape, anatomy, params)
  tissue = tissue_maps(tissue_rng, labels, params, streams.susceptibility)
  acquisition = draw_acquisition(
      streams.scan,
      streams.hidden,
      streams.noise,
      shape,
      params.orientation(anatomy),
      params,
      streams.quadrature,
  )
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
