"""Tests for the conditional NCSN++ network and the pure score function."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import phase_sbdm
from runtime import parallel
from runtime import train_loop
from score_phase.sbdm import layers
from score_phase.sbdm import networks
from score_phase.sbdm import sde as sde_lib
from score_phase.sbdm import state as sbdm_state
from tests.helpers import mixed_precision

CONFIG = phase_sbdm.get_config("tiny")
SIZE = CONFIG.data.image_size
TINY_PARAMETER_COUNT = 45_906


def _perturb(params, rng):
  """Random weights for the zero-initialised output conv."""
  last = max(
      (n for n in params if n.startswith("Conv_")),
      key=lambda n: int(n.split("_")[1]),
  )
  kernel = params[last]["kernel"]
  return {
      **params,
      last: {
          **params[last],
          "kernel": (
              0.1
              * jax.random.uniform(rng, kernel.shape, minval=-1.0, maxval=1.0)
          ),
      },
  }


@pytest.fixture(scope="module")
def setup():
  model = networks.get_model(CONFIG.model)
  # The jitted init of score_phase.sbdm.trainer (compiled once for all modules).
  mesh = parallel.create_mesh()
  params = train_loop.compiled_init(sbdm_state.get_init_fn(CONFIG), mesh)(
      jax.random.key(0)
  ).params
  # The last conv is zero-initialised (score 0 at init); randomise it so the
  # conditioning paths are visible in the output.
  params = jax.jit(_perturb)(params, jax.random.key(1, impl="rbg"))
  sde = sde_lib.get_sde(CONFIG.sde)
  score_fn = jax.jit(networks.get_score_fn(sde, model))
  return model, params, sde, score_fn


def _inputs(seed=0, batch=4):
  keys = jax.random.split(jax.random.key(seed), 3)
  x = jax.random.normal(keys[0], (batch, SIZE, SIZE, 2))
  t = jax.random.uniform(keys[1], (batch,), minval=0.01, maxval=1.0)
  magnitude = jax.random.uniform(keys[2], (batch, SIZE, SIZE))
  return x, t, magnitude


def test_parameter_count_and_structure(setup):
  model, params, _, _ = setup
  count = sum(p.size for p in jax.tree.leaves(params))
  # nf=8, ch_mult (1, 2), 1 res block per level, attention at 8x8, Fourier
  # embedding, magnitude pyramid: any change to the layout changes this.
  assert count == TINY_PARAMETER_COUNT, count
  names = set(params)
  assert "GaussianFourierProjection_0" in names
  assert any(n.startswith("AttentionBlock") for n in names)
  # Down: 1 per level; middle: 2; up: 2 per level.
  assert sum(n.startswith("ResnetBlock") for n in names) == 2 + 2 + 4
  assert model.out_channels == 2


def test_score_shape_dtype_and_purity(setup):
  _, params, _, score_fn = setup
  x, t, magnitude = _inputs()
  score = score_fn(params, x, t, magnitude)
  assert score.shape == x.shape and score.dtype == jnp.float32
  assert np.all(np.isfinite(score))
  np.testing.assert_array_equal(score, score_fn(params, x, t, magnitude))


def test_score_is_network_output_over_std(setup):
  """score(x, t) = net(x, log sigma(t), m) / std(t), per example."""
  model, params, sde, score_fn = setup
  x, t, magnitude = _inputs()
  score = score_fn(params, x, t, magnitude)
  _, std = sde.marginal_prob(x, t)
  raw = jax.jit(model.apply)(
      {"params": params}, x, jnp.log(sde.noise_level(t)), magnitude
  )
  np.testing.assert_allclose(
      score * std[:, None, None, None], raw, rtol=1e-5, atol=1e-6
  )
  # The std varies over the batch, so a missing or global scaling fails.
  assert float(std.max() / std.min()) > 2


def test_conditioning_and_time_change_the_output(setup):
  _, params, _, score_fn = setup
  x, t, magnitude = _inputs()
  base = score_fn(params, x, t, magnitude)
  other_magnitude = score_fn(params, x, t, 1.0 - magnitude)
  other_time = score_fn(params, x, jnp.clip(t * 0.5, 0.01), magnitude)
  assert not np.allclose(base, other_magnitude, atol=1e-4)
  assert not np.allclose(base, other_time, atol=1e-4)
  # Per-example: changing example 0's magnitude leaves example 1 unchanged.
  changed = magnitude.at[0].set(0.0)
  out = score_fn(params, x, t, changed)
  np.testing.assert_allclose(out[1:], base[1:], rtol=1e-4, atol=1e-4)
  assert not np.allclose(out[0], base[0], atol=1e-4)


def test_sinusoidal_embedding():
  emb = layers.sinusoidal_embedding(jnp.array([0.0, 1.0, 2.0]), 8, 100.0)
  assert emb.shape == (3, 8)
  np.testing.assert_allclose(emb[0, :4], 0.0)  # sin(0)
  np.testing.assert_allclose(emb[0, 4:], 1.0)  # cos(0)
  np.testing.assert_allclose(emb[:, 0], np.sin([0.0, 1.0, 2.0]), rtol=1e-6)


def test_bad_image_size_raises(setup):
  model, params, sde, _ = setup
  with pytest.raises(ValueError, match="divisible"):
    jax.eval_shape(
        lambda r: networks.init_params(model, r, 15), jax.random.key(0)
    )
  with pytest.raises(ValueError, match="embedding_type"):
    bad = model.clone(embedding_type="nope")
    jax.eval_shape(
        lambda r: networks.init_params(bad, r, SIZE), jax.random.key(0)
    )
  del params, sde


@pytest.mark.parametrize(
    "channels, groups", [(6, 1), (8, 2), (16, 4), (24, 6), (64, 16), (256, 32)]
)
def test_group_norm_keeps_four_channels_per_group(channels, groups):
  assert layers.group_norm(channels, 32).num_groups == groups


def test_network_sees_the_noise_level(setup):
  # The noise-level embedding is a per-channel bias inside each residual
  # block; a one-channel group norm after it would subtract it and the
  # output would not depend on the level (the old gcd(32, C) groups did so
  # for every C <= 32).
  model, params, _, _ = setup
  x, _, magnitude = _inputs(3)
  apply = jax.jit(
      lambda labels: model.apply({"params": params}, x, labels, magnitude)
  )
  low = apply(jnp.full((x.shape[0],), jnp.log(0.05)))
  high = apply(jnp.full((x.shape[0],), jnp.log(20.0)))
  change = float(jnp.linalg.norm(high - low) / jnp.linalg.norm(low))
  assert change > 0.05, change


def _variant(**fields):
  model_config = CONFIG.model.copy_and_resolve_references()
  for name, value in fields.items():
    setattr(model_config, name, value)
  return networks.get_model(model_config)


def _network_loss(model, seed=5):
  """Squared error of the network's output against a fixed random target."""
  x, t, magnitude = _inputs(seed)
  labels = jnp.log(t)
  target = jax.random.normal(jax.random.key(seed + 1), x.shape)

  def loss_fn(params):
    output = model.apply({"params": params}, x, labels, magnitude)
    return jnp.mean((output - target) ** 2)

  return loss_fn


@pytest.mark.slow
def test_remat_keeps_parameters_outputs_and_gradients(setup):
  _, params, _, _ = setup
  remat = _variant(remat=True)
  x, t, magnitude = _inputs()
  remat_params = jax.jit(remat.init)(
      jax.random.key(0, impl="rbg"), x, jnp.log(t), magnitude
  )["params"]
  assert jax.tree.structure(remat_params) == jax.tree.structure(params)
  mixed_precision.assert_remat_equivalent(
      _network_loss(_variant()), _network_loss(remat), params
  )


@pytest.mark.slow
def test_bfloat16_compute_keeps_float32_parameters_and_tracks_float32(setup):
  """Blocks in bf16; parameters, gradients, output conv and output in
  float32; a short Adam run tracks the float32 network's."""
  model, params, _, _ = setup
  bf16 = _variant(compute_dtype="bfloat16")
  x, t, magnitude = _inputs()
  forward = lambda m: lambda p: m.apply({"params": p}, x, jnp.log(t), magnitude)
  assert mixed_precision.conv_dtypes(forward(model), params) == {
      (3, 3): {"float32"},
      (1, 1): {"float32"},
  }
  # Every conv in bf16 but the output conv (3x3, float32).
  assert mixed_precision.conv_dtypes(forward(bf16), params) == {
      (3, 3): {"bfloat16", "float32"},
      (1, 1): {"bfloat16"},
  }
  out, bf16_out = (jax.jit(forward(m))(params) for m in (model, bf16))
  assert bf16_out.dtype == jnp.float32
  relative = np.linalg.norm(bf16_out - out) / np.linalg.norm(out)
  assert 1e-5 < relative < 3e-2, relative
  bf16_loss = _network_loss(bf16)
  grads = jax.jit(jax.grad(bf16_loss))(params)
  assert all(g.dtype == jnp.float32 for g in jax.tree.leaves(grads))
  losses = mixed_precision.adam_losses(_network_loss(model), params)
  bf16_losses = mixed_precision.adam_losses(bf16_loss, params)
  assert losses[-1] < 0.9 * losses[0], losses
  np.testing.assert_allclose(bf16_losses, losses, rtol=0.02)


def test_checkpoints_restore_under_any_compute_dtype_and_remat():
  changed = CONFIG.copy_and_resolve_references()
  changed.model.compute_dtype, changed.model.remat = "bfloat16", True
  assert sbdm_state.compatibility(changed) == sbdm_state.compatibility(CONFIG)
  changed.model.nf += 1
  assert sbdm_state.compatibility(changed) != sbdm_state.compatibility(CONFIG)
