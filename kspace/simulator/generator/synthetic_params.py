"""`SyntheticParams`: the distributions the synthetic set is drawn from.

Each range is (low, high), uniform; `DEFAULT_PARAMS` are the defaults. Each
anatomy's slice orientation (`DEFAULT_SLICE_ORIENTATIONS`, as in fastMRI:
brain and body axial, knee coronal) sets where B0 points
(`scan_draws.draw_b0_direction`). The tissue table is
`phantom.tissues.TISSUES`.
"""

import dataclasses

import numpy as np

from kspace.simulator import physics
from kspace.simulator.phantom import cross_sections

# Aliased: SyntheticParams has a field named `tissues`.
from kspace.simulator.phantom import tissues as tissue_classes

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
    anatomies: anatomies drawn with equal probability
      (`phantom.cross_sections.ANATOMIES`).
    slice_orientations: anatomy -> "axial" | "coronal" | "sagittal"
      (`physics.ORIENTATIONS`), the slice plane relative to B0; needed for
      every anatomy in `anatomies`. Given as a mapping or (anatomy,
      orientation) pairs; stored as pairs sorted by anatomy (hashable).
    tissues: one `phantom.tissues.Tissue` per label.
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

  anatomies: tuple[str, ...] = tuple(cross_sections.ANATOMIES)
  slice_orientations: tuple[tuple[str, str], ...] = DEFAULT_SLICE_ORIENTATIONS
  tissues: tuple[tissue_classes.Tissue, ...] = tissue_classes.TISSUES
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
    unknown = set(self.anatomies) - set(cross_sections.ANATOMIES)
    if not self.anatomies or unknown:
      raise ValueError(
          "anatomies must be a non-empty subset of"
          f" {sorted(cross_sections.ANATOMIES)}, got {self.anatomies}."
      )
    # Frozen: normalise a mapping to sorted pairs, so params stay hashable
    # and equal whatever the order they were given in.
    orientations = tuple(sorted(dict(self.slice_orientations).items()))
    object.__setattr__(self, "slice_orientations", orientations)
    table = dict(orientations)
    if set(table) - set(cross_sections.ANATOMIES) or set(self.anatomies) - set(
        table
    ):
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
