"""`generate_example`: one example, the stages in order on split streams.

The example's Generator is split into independent streams (anatomy,
tissue, scan, hidden, noise, coils), so e.g. adding coil maps leaves
magnitude and phase unchanged; a rescan replaces some of them (`rescans`).
The stages: `subject` (1-2), `scan_draws` (3), `image_formation` (4-6),
`example_features` (7). `image_shape` checks the image size.
"""

from collections.abc import Sequence

import numpy as np

from kspace.simulator.generator import example_features
from kspace.simulator.generator import image_formation
from kspace.simulator.generator import rescans
from kspace.simulator.generator import scan_draws
from kspace.simulator.generator import subject
from kspace.simulator.generator import synthetic_params


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


def generate_example(
    rng: np.random.Generator | int | Sequence[int],
    image_size: int | Sequence[int] = 128,
    *,
    num_coils: int = 0,
    anatomy: str | None = None,
    params: synthetic_params.SyntheticParams = synthetic_params.DEFAULT_PARAMS,
    return_components: bool = False,
    acquisition_seed: int | None = None,
    redraw: str = rescans.REDRAW_ACQUISITION,
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
    params: the distributions, see `synthetic_params.SyntheticParams`.
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
      `scan_draws.draw_b0_direction`); everything else is the original
      scan's, so the magnitude is nearly the original's (blur and fat shift
      mix the new phase into it slightly: at 32 x 32, mean |difference| <=
      0.02 and 95th percentile <= 0.1; bit-identical without them). Needs an
      `acquisition_seed`. "unrevealed": as "hidden", and also each tissue
      class's susceptibility (its texture, which the magnitude shares, is
      kept), the noise's quadrature part and a spin echo's residual
      accrual time: nothing the magnitude or a header
      (`score_phase.scan_params`) shows is redrawn (the last touches the
      magnitude slightly, through fat-water mixing).

  Returns:
    dict with
      magnitude: (H, W) float32 in [0, 1], max 1;
      phase: (H, W) float32 in (-pi, pi];
      labels: (H, W) uint8;
      anatomy: str;
      field_strength_t: float32 scalar, tesla;
      sequence: int32 scalar, `sequences.GRADIENT_ECHO` (0) or
        `sequences.SPIN_ECHO` (1);
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
  streams = rescans.rescan_streams(
      rescans.ScanStreams(*scan_streams), acquisition_seed, redraw
  )
  anatomy, labels = subject.draw_labels(anatomy_rng, shape, anatomy, params)
  tissue = subject.tissue_maps(
      tissue_rng, labels, params, streams.susceptibility
  )
  acquisition = scan_draws.draw_acquisition(
      streams.scan,
      streams.hidden,
      streams.noise,
      shape,
      params.orientation(anatomy),
      params,
      streams.quadrature,
      streams.unstated,
  )
  resonance = image_formation.off_resonance(tissue, acquisition, params)
  image = image_formation.acquire(
      image_formation.ideal_image(labels, tissue, acquisition, resonance),
      acquisition,
  )
  example = example_features.to_record(anatomy, labels, image, acquisition)
  if num_coils > 0:
    example["sens"] = example_features.coil_maps(
        coil_rng, shape, num_coils, params.coil_radius
    )
  if return_components:
    example.update(example_features.components(tissue, acquisition, resonance))
  return example
