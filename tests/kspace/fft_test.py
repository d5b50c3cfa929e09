"""fft2c / ifft2c against NumPy's centered orthonormal FFT."""

import jax.numpy as jnp
import numpy as np
import pytest

from kspace import fft


def _numpy_fft2c(x):
  axes = (-2, -1)
  return np.fft.fftshift(
      np.fft.fft2(np.fft.ifftshift(x, axes=axes), axes=axes, norm="ortho"),
      axes=axes,
  )


def _random_complex(shape, seed):
  rng = np.random.default_rng(seed)
  return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(
      np.complex64
  )


@pytest.mark.parametrize("backend", fft.BACKENDS)
@pytest.mark.parametrize("shape", [(16, 16), (3, 17, 12), (2, 1, 9, 33)])
def test_fft2c_matches_numpy(backend, shape):
  x = _random_complex(shape, seed=sum(shape))
  expected = _numpy_fft2c(x.astype(np.complex128))
  actual = np.asarray(fft.fft2c(x, backend=backend))
  assert actual.dtype == np.complex64
  np.testing.assert_allclose(
      actual, expected, atol=2e-5 * np.abs(expected).max()
  )


@pytest.mark.parametrize("backend", fft.BACKENDS)
@pytest.mark.parametrize("shape", [(16, 16), (15, 21)])
def test_ifft2c_inverts_and_preserves_energy(backend, shape):
  x = _random_complex(shape, seed=1)
  k = fft.fft2c(x, backend=backend)
  np.testing.assert_allclose(
      np.asarray(fft.ifft2c(k, backend=backend)), x, atol=1e-5
  )
  # Orthonormal: Parseval holds exactly, no 1/N factors.
  np.testing.assert_allclose(
      jnp.sum(jnp.abs(k) ** 2), np.sum(np.abs(x) ** 2), rtol=1e-5
  )


@pytest.mark.parametrize("shape", [(8, 8), (9, 7)])
def test_dc_is_at_center(shape):
  k = np.array(fft.fft2c(np.ones(shape, np.float32)))
  center = (shape[0] // 2, shape[1] // 2)
  assert np.abs(k[center]) == pytest.approx(np.sqrt(np.prod(shape)), rel=1e-5)
  k[center] = 0
  assert np.abs(k).max() < 1e-4


def test_backends_agree():
  x = _random_complex((4, 32, 24), seed=3)
  np.testing.assert_allclose(
      fft.fft2c(x, backend="matmul"), fft.fft2c(x, backend="fft"), atol=1e-5
  )


def test_unknown_backend_is_rejected():
  with pytest.raises(ValueError, match="Unknown FFT backend"):
    fft.fft2c(np.ones((4, 4)), backend="cufft")
