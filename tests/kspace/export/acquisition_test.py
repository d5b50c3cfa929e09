"""A volume's exported k-space: the training forward model, and our reader
getting the drawn magnitude and phase back."""

import jax
import numpy as np
import pytest

from kspace import fft
from kspace.datasets import fastmri_files
from kspace.export import acquisition

SHAPE = (16, 20)


def _volume(num_slices=3, seed=0):
  rng = np.random.default_rng(seed)
  y, x = np.meshgrid(
      np.linspace(-1, 1, SHAPE[0]), np.linspace(-1, 1, SHAPE[1]), indexing="ij"
  )
  disc = (x**2 + y**2 < 0.7).astype(np.float32)
  magnitude = disc * rng.uniform(0.5, 1.0, (num_slices,) + SHAPE)
  phase = np.angle(
      np.exp(1j * (2.0 * x * y + rng.normal(size=(num_slices, 1, 1))))
  )
  return magnitude.astype(np.float32), phase.astype(np.float32)


def test_reference_alignment_only_rotates_the_maps():
  magnitude, _ = _volume()
  maps = acquisition.coil_maps(SHAPE, 6, rotation=0.7, coil_radius=1.5)
  aligned = acquisition.reference_aligned(maps, magnitude)
  assert aligned.shape == (3, 6) + SHAPE
  np.testing.assert_allclose(
      np.abs(aligned), np.abs(maps)[None] + 0 * aligned.real, rtol=1e-5
  )
  # The strongest coil's map is real and positive: its phase is the
  # reader's reference.
  energy = np.einsum("schw,shw->sc", np.abs(aligned) ** 2, magnitude**2)
  for s, reference in enumerate(np.argmax(energy, axis=1)):
    np.testing.assert_allclose(np.angle(aligned[s, reference]), 0, atol=1e-5)


def test_single_coil_kspace_is_the_centered_fft_of_the_image():
  magnitude, phase = _volume()
  maps = acquisition.coil_maps(SHAPE, 1, rotation=0.0, coil_radius=1.5)
  kspace, rss = acquisition.acquire(magnitude, phase, maps)
  expected = np.fft.fftshift(
      np.fft.fft2(
          np.fft.ifftshift(magnitude * np.exp(1j * phase), axes=(-2, -1)),
          norm="ortho",
      ),
      axes=(-2, -1),
  )
  np.testing.assert_allclose(kspace[:, 0], expected, atol=1e-5)
  np.testing.assert_allclose(rss, magnitude, atol=1e-5)


def test_our_reader_combines_the_coils_back_to_the_drawn_image():
  magnitude, phase = _volume()
  maps = acquisition.coil_maps(SHAPE, 8, rotation=2.1, coil_radius=1.5)
  kspace, rss = acquisition.acquire(magnitude, phase, maps)
  assert kspace.shape == (3, 8) + SHAPE and kspace.dtype == np.complex64
  np.testing.assert_allclose(rss, magnitude, atol=1e-5)
  inside = magnitude > 0.1
  for s in range(3):
    # With every column as calibration the map estimate is exact.
    image, _, _ = fastmri_files.coil_combine(kspace[s], SHAPE[1])
    np.testing.assert_allclose(np.abs(image), magnitude[s], atol=1e-4)
    error = np.angle(image * np.exp(-1j * phase[s]))[inside[s]]
    assert np.max(np.abs(error)) < 1e-3
  # Without the reference alignment the reader's phase would be off by the
  # reference map's phase.
  plain = np.asarray(
      fft.fft2c(maps[None] * (magnitude * np.exp(1j * phase))[:, None])
  )
  image, _, _ = fastmri_files.coil_combine(plain[0], SHAPE[1])
  error = np.angle(image * np.exp(-1j * phase[0]))[inside[0]]
  assert np.max(np.abs(error)) > 0.1


def test_noise_is_drawn_from_the_key_at_the_snr():
  magnitude, phase = _volume(num_slices=2)
  maps = acquisition.coil_maps(SHAPE, 4, rotation=0.0, coil_radius=1.5)
  clean, _ = acquisition.acquire(magnitude, phase, maps)
  noisy, rss = acquisition.acquire(
      magnitude, phase, maps, noise_key=jax.random.key(3), snr_db=20.0
  )
  again, _ = acquisition.acquire(
      magnitude, phase, maps, noise_key=jax.random.key(3), snr_db=20.0
  )
  np.testing.assert_array_equal(noisy, again)
  for s in range(2):
    snr = np.mean(np.abs(clean[s]) ** 2) / np.mean(
        np.abs(noisy[s] - clean[s]) ** 2
    )
    assert 10 * np.log10(snr) == pytest.approx(20.0, abs=1.0)
  assert not np.allclose(rss, magnitude, atol=1e-3)
