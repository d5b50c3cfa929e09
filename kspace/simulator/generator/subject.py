"""Stages 1-2: the subject of a scan, its anatomy and tissue maps.

  1. `draw_labels`: tissue labels of a random brain, knee or body
     cross-section (`phantom`);
  2. `tissue_maps`: class signals with smooth multiplicative texture and a
     smooth receive bias; the susceptibility map from the classes (+ smooth
     within-class variation); the fat fraction (`TissueMaps`).

Drawn from the anatomy and tissue streams, so a rescan keeps them (only
`rescans.REDRAW_UNREVEALED` redraws each class's susceptibility).
"""

from typing import NamedTuple

import numpy as np

from kspace.simulator import physics
from kspace.simulator.generator import synthetic_params
from kspace.simulator.phantom import coordinates
from kspace.simulator.phantom import cross_sections
from kspace.simulator.phantom import texture_noise
from kspace.simulator.phantom import tissues


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


def draw_labels(
    rng: np.random.Generator,
    shape: tuple[int, int],
    anatomy: str | None,
    params: synthetic_params.SyntheticParams,
) -> tuple[str, np.ndarray]:
  """Stage 1: the anatomy and its tissue labels.

  Args:
    rng: the anatomy stream.
    shape: (H, W).
    anatomy: "brain" | "knee" | "body", or None to draw one of
      `params.anatomies`.
    params: the distributions.

  Returns:
    (anatomy name, labels (H, W) uint8, see `phantom.tissues.LABEL_NAMES`).
  """
  if anatomy is None:
    anatomy = params.anatomies[rng.integers(len(params.anatomies))]
  labels = cross_sections.draw_anatomy(
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
    params: synthetic_params.SyntheticParams,
    susceptibility_rng: np.random.Generator | None = None,
) -> TissueMaps:
  """Stage 2: signal, susceptibility and fat fraction of every pixel.

  Args:
    rng: the tissue stream.
    labels: (H, W) uint8 tissue classes.
    params: the distributions.
    susceptibility_rng: if given, each class's susceptibility is drawn from
      it instead (a rescan's, `rescans.REDRAW_UNREVEALED`); everything else,
      the texture that also shapes the susceptibility included, is the
      tissue stream's.

  Returns:
    TissueMaps of float64 (H, W) maps.
  """
  shape = labels.shape
  props = tissues.sample_class_properties(rng, params.tissues)
  if susceptibility_rng is not None:
    props["susceptibility_ppm"] = tissues.sample_class_properties(
        susceptibility_rng, params.tissues
    )["susceptibility_ppm"]
  fine = texture_noise.smooth_noise(rng, shape, params.texture_sigmas_px[0])
  coarse = texture_noise.smooth_noise(rng, shape, params.texture_sigmas_px[1])
  texture = (fine + coarse) / np.sqrt(2)
  y, x = coordinates.normalized_grid(shape)
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
      air_ppm=props["susceptibility_ppm"][tissues.BACKGROUND],
  )
