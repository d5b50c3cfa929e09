"""Smooth random texture (`smooth_noise`): Gaussian-filtered white noise.

The generator's tissue stage (`generator.subject.tissue_maps`) multiplies
each class's signal by 1 + `tissues.Tissue.texture` x this noise, and adds
the coarse noise, scaled by `tissues.Tissue.susceptibility_texture_ppm`, to
the susceptibility.
"""

import numpy as np


def smooth_noise(
    rng: np.random.Generator, shape: tuple[int, int], sigma_px: float
) -> np.ndarray:
  """Gaussian-filtered white noise, rescaled to zero mean and unit std.

  Filtered in the Fourier domain (periodic), which is fine for texture.

  Args:
    rng: numpy Generator.
    shape: (H, W).
    sigma_px: Gaussian filter width in pixels.

  Returns:
    float64 array of shape (H, W).
  """
  white = rng.standard_normal(shape)
  ky = np.fft.fftfreq(shape[0])[:, None]
  kx = np.fft.rfftfreq(shape[1])[None, :]
  gain = np.exp(-2 * (np.pi * sigma_px) ** 2 * (ky**2 + kx**2))
  field = np.fft.irfft2(np.fft.rfft2(white) * gain, s=shape)
  field -= field.mean()
  return field / max(field.std(), np.finfo(np.float64).tiny)
