"""Coil maps: normalisation, combination, estimation from the ACS lines."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kspace import coils
from kspace import fft
from kspace import masks


@pytest.mark.parametrize("num_coils", [1, 2, 8, 15])
def test_birdcage_maps_are_normalised_and_distinct(num_coils):
  maps = np.asarray(coils.birdcage_maps((24, 20), num_coils))
  assert maps.shape == (num_coils, 24, 20) and maps.dtype == np.complex64
  np.testing.assert_allclose(np.sum(np.abs(maps) ** 2, 0), 1.0, rtol=1e-5)
  if num_coils > 1:
    # Each coil is most sensitive on its own side of the image.
    peaks = {np.unravel_index(np.abs(m).argmax(), m.shape) for m in maps}
    assert len(peaks) == num_coils or num_coils > 8
    assert np.abs(np.angle(maps[0])).max() > 1.0  # complex, not real


def test_rotation_by_one_coil_step_relabels_the_coils():
  # Coil c sits at angle 2 pi c / N + rotation: turning the array by one
  # coil step puts coil c where coil c + 1 was, with the same map.
  step = 2 * np.pi / 4
  base = np.asarray(coils.birdcage_maps((16, 16), 4))
  turned = np.asarray(coils.birdcage_maps((16, 16), 4, rotation=step))
  np.testing.assert_allclose(turned, np.roll(base, -1, axis=0), atol=1e-5)
  # Half a step is no relabelling: every coil's peak moves off the grid of
  # peaks the unrotated array has.
  half = np.asarray(coils.birdcage_maps((16, 16), 4, rotation=step / 2))
  peaks = lambda maps: {
      np.unravel_index(np.abs(m).argmax(), m.shape) for m in maps
  }
  assert not peaks(half) & peaks(base)


def test_bad_coil_arguments():
  with pytest.raises(ValueError, match="num_coils"):
    coils.birdcage_maps((8, 8), 0)
  with pytest.raises(ValueError, match="coil_radius"):
    coils.birdcage_maps((8, 8), 4, coil_radius=1.0)


def test_rss_and_sens_combine_recover_the_image():
  rng = np.random.default_rng(0)
  image = (
      rng.standard_normal((20, 20)) + 1j * rng.standard_normal((20, 20))
  ).astype(np.complex64)
  maps = coils.birdcage_maps((20, 20), 6)
  coil_images = maps * image
  np.testing.assert_allclose(
      coils.sens_combine(coil_images, maps), image, atol=1e-5
  )
  np.testing.assert_allclose(coils.rss(coil_images), np.abs(image), atol=1e-5)


def test_estimated_sensitivities_match_the_truth_in_the_object():
  size, num_coils = 64, 8
  yy, xx = np.mgrid[:size, :size] - size / 2
  obj = ((yy / 24) ** 2 + (xx / 20) ** 2 < 1).astype(np.float32)
  maps = coils.birdcage_maps((size, size), num_coils)
  kspace = fft.fft2c(maps * obj)
  mask = masks.equispaced_mask(jax.random.key(0), (size, size), 0.16, 4)
  num_low = masks.num_low_frequencies(size, 0.16)
  estimate = coils.estimate_sensitivities(mask * kspace, num_low)
  inside = obj > 0
  # Unit RSS where there is signal, and close to the true (smooth) maps up to
  # the common phase the true maps' combination carries.
  np.testing.assert_allclose(coils.rss(estimate)[inside], 1.0, atol=1e-3)
  reference_phase = np.angle(coils.sens_combine(estimate, maps))
  aligned = estimate * np.exp(1j * reference_phase)
  error = np.abs(aligned - maps)[:, inside].mean()
  assert error < 0.1


def test_estimate_sensitivities_rejects_bad_acs():
  with pytest.raises(ValueError, match="num_low_frequencies"):
    coils.estimate_sensitivities(jnp.zeros((2, 8, 8), jnp.complex64), 0)


def test_acs_coil_images_keep_each_examples_center_columns():
  rng = np.random.default_rng(1)
  kspace = (
      rng.standard_normal((3, 2, 6, 11))
      + 1j * rng.standard_normal((3, 2, 6, 11))
  ).astype(np.complex64)
  widths = np.array([1, 4, 5])
  images = coils.acs_coil_images(kspace, jnp.asarray(widths))
  for example, width in zip(range(3), widths):
    # fastMRI's mask_center: columns [pad, pad + width), pad as the masks'.
    pad = (11 - width + 1) // 2
    center = np.zeros_like(kspace[example])
    center[..., pad : pad + width] = kspace[example][..., pad : pad + width]
    np.testing.assert_allclose(
        images[example], fft.ifft2c(center), rtol=1e-5, atol=1e-6
    )
    # A static width gives the same images.
    np.testing.assert_allclose(
        images[example],
        coils.acs_coil_images(kspace[example], int(width)),
        rtol=1e-5,
        atol=1e-6,
    )
