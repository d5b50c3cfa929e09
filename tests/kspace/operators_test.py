"""Forward / adjoint operators, noise and synthesis."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kspace import coils
from kspace import fft
from kspace import masks
from kspace import operators
from kspace import synthesize


def _complex(rng, shape):
  return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(
      np.complex64
  )


@pytest.mark.parametrize(
    "num_coils,shape", [(1, (16, 16)), (4, (24, 17)), (8, (32, 32))]
)
def test_adjoint_dot_product(num_coils, shape):
  """<A x, y> == <x, A^H y> on random complex data, batched."""
  rng = np.random.default_rng(num_coils)
  batch = 3
  x = _complex(rng, (batch,) + shape)
  y = _complex(rng, (batch, num_coils) + shape)
  sens = _complex(rng, (batch, num_coils) + shape)
  mask = jax.vmap(lambda k: masks.random_mask(k, shape, 0.1, 4))(
      jax.random.split(jax.random.key(0), batch)
  )
  ax = operators.forward_batch(x, sens, mask)
  ahy = operators.adjoint_batch(y, sens, mask)
  lhs = np.vdot(np.asarray(ax), y)
  rhs = np.vdot(x, np.asarray(ahy))
  assert abs(lhs - rhs) / abs(lhs) < 1e-5


def test_forward_matches_per_coil_fft():
  rng = np.random.default_rng(1)
  x = _complex(rng, (12, 10))
  sens = coils.birdcage_maps((12, 10), 3)
  mask = masks.equispaced_mask(jax.random.key(2), (12, 10), 0.2, 2)
  y = operators.forward(x, sens, mask)
  for c in range(3):
    np.testing.assert_allclose(y[c], mask * fft.fft2c(sens[c] * x), atol=1e-5)
  # Unsampled lines are exactly zero.
  assert (np.asarray(y)[:, mask == 0] == 0).all()


def test_single_coil_is_the_one_coil_case():
  rng = np.random.default_rng(2)
  x = _complex(rng, (10, 10))
  ones = jnp.ones((1, 10, 10), jnp.complex64)
  full = jnp.ones((10, 10))
  np.testing.assert_allclose(
      operators.forward(x, ones, full)[0], fft.fft2c(x), atol=1e-5
  )
  np.testing.assert_allclose(
      operators.adjoint(operators.forward(x, ones, full), ones, full),
      x,
      atol=1e-5,
  )


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 30.0])
def test_noise_has_the_requested_snr(snr_db):
  rng = np.random.default_rng(3)
  kspace = _complex(rng, (4, 64, 64))
  mask = masks.random_mask(jax.random.key(1), (64, 64), 0.08, 4)
  noisy = operators.add_noise(jax.random.key(5), mask * kspace, snr_db, mask)
  sampled = np.broadcast_to(np.asarray(mask) > 0, kspace.shape)
  noise = np.asarray(noisy - mask * kspace)[sampled]
  signal_power = np.mean(np.abs(kspace[sampled]) ** 2)
  measured = 10 * np.log10(signal_power / np.mean(np.abs(noise) ** 2))
  assert measured == pytest.approx(snr_db, abs=0.3)
  # Circular: real and imaginary parts carry equal power.
  assert np.var(noise.real) == pytest.approx(np.var(noise.imag), rel=0.1)
  assert (np.asarray(noisy)[~sampled] == 0).all()


def test_synthesize_batch_builds_consistent_examples():
  rng = np.random.default_rng(4)
  batch, shape, num_coils = 2, (16, 16), 4
  magnitude = rng.uniform(0, 1, (batch,) + shape).astype(np.float32)
  phase = rng.uniform(-np.pi, np.pi, (batch,) + shape).astype(np.float32)
  mask = np.stack([
      masks.random_mask(jax.random.key(i), shape, 0.25, 2) for i in range(batch)
  ])
  sens = np.stack(
      [coils.birdcage_maps(shape, num_coils, rotation=i) for i in range(batch)]
  )
  out = synthesize.synthesize_batch(magnitude, phase, mask, sens)
  assert out["kspace"].shape == (batch, num_coils) + shape
  np.testing.assert_allclose(
      out["image"], magnitude * np.exp(1j * phase), atol=1e-5
  )
  np.testing.assert_allclose(out["target"], magnitude, atol=1e-5)
  np.testing.assert_allclose(
      out["masked_kspace"], mask[:, None] * out["kspace"], atol=1e-6
  )
  # The fully sampled k-space inverts back to the coil images.
  np.testing.assert_allclose(
      fft.ifft2c(out["kspace"]), sens * out["image"][:, None], atol=1e-5
  )
  single = synthesize.synthesize_batch(magnitude, phase, mask)
  assert single["kspace"].shape == (batch, 1) + shape


def test_synthesize_with_noise_is_keyed():
  magnitude = np.ones((2, 8, 8), np.float32)
  zeros = np.zeros((2, 8, 8), np.float32)
  ones = np.ones((2, 8, 8), np.float32)
  a = synthesize.synthesize_batch(
      magnitude, zeros, ones, key=jax.random.key(0), snr_db=10.0
  )
  b = synthesize.synthesize_batch(
      magnitude, zeros, ones, key=jax.random.key(0), snr_db=10.0
  )
  c = synthesize.synthesize_batch(
      magnitude, zeros, ones, key=jax.random.key(1), snr_db=10.0
  )
  np.testing.assert_array_equal(a["kspace"], b["kspace"])
  assert float(jnp.abs(a["kspace"] - c["kspace"]).max()) > 0


@pytest.mark.parametrize(
    "args,match",
    [
        ((np.ones((8, 8)), np.ones((8, 8)), np.ones((8, 8))), "batch, H, W"),
        (
            (np.ones((1, 8, 8)), np.ones((1, 8, 9)), np.ones((1, 8, 8))),
            "phase shape",
        ),
        (
            (
                np.full((1, 8, 8), np.nan),
                np.ones((1, 8, 8)),
                np.ones((1, 8, 8)),
            ),
            "NaN",
        ),
    ],
)
def test_synthesize_batch_rejects_bad_input(args, match):
  with pytest.raises(ValueError, match=match):
    synthesize.synthesize_batch(*args)


def test_synthesize_batch_rejects_mismatched_sens():
  with pytest.raises(ValueError, match="sens must be"):
    synthesize.synthesize_batch(
        np.ones((1, 8, 8)),
        np.ones((1, 8, 8)),
        np.ones((1, 8, 8)),
        np.ones((1, 2, 8, 6), np.complex64),
    )
