"""Tests for score_phase.losses: DSM loss, optimizer, EMA, train step."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import phase_sbdm
from kspace.simulator import generator
from runtime import optimizers
from runtime import parallel
from runtime import train_loop
from score_phase import inference
from score_phase import losses
from score_phase import representation
from score_phase import sde as sde_lib
from score_phase import train
from score_phase.models import utils as model_utils

CONFIG = phase_sbdm.get_config("tiny")
SIZE = CONFIG.data.image_size


def _batch(count=8):
  examples = [
      generator.generate_example(generator.example_rng(0, "train", i), SIZE)
      for i in range(count)
  ]
  return {
      key: jnp.asarray(np.stack([e[key] for e in examples]))
      for key in ("magnitude", "phase")
  }


@pytest.fixture(scope="module")
def pieces():
  # The jitted init / step of score_phase.train on the 4-device mesh (shared
  # with the other test modules through train's compile cache).
  mesh = parallel.create_mesh()
  state = train_loop.compiled_init(inference.get_init_fn(CONFIG), mesh)(
      jax.random.key(0)
  )
  train_step = train_loop.compiled_step(train.get_train_step(CONFIG), mesh)
  model = model_utils.get_model(CONFIG.model)
  sde = sde_lib.get_sde(CONFIG.sde)
  loss_fn = losses.get_loss_fn(
      sde,
      model,
      eps=CONFIG.loss.eps,
      likelihood_weighting=False,
      magnitude_threshold=CONFIG.loss.magnitude_threshold,
      background_weight=CONFIG.loss.background_weight,
  )
  _, schedule = optimizers.create_optimizer(CONFIG.optim)
  return state, train_step, jax.jit(loss_fn), schedule


def test_loss_decreases_on_a_tiny_set(pieces):
  state, train_step, loss_fn, _ = pieces
  state = jax.tree.map(jnp.copy, state)  # the step donates its input
  batch = _batch()
  probe_keys = [jax.random.key(100 + i) for i in range(4)]

  def probe(params):
    return float(np.mean([loss_fn(params, batch, k) for k in probe_keys]))

  before = probe(state.params)
  for step in range(40):
    state, metrics = train_step(state, batch, jax.random.key(step))
    assert np.isfinite(float(metrics["loss"]))
  after = probe(state.params)
  assert int(state.step) == 40
  assert after < 0.7 * before, (before, after)
  # The EMA trails the parameters but has moved away from the init.
  assert probe(state.ema_params) < before


def test_train_step_metrics_and_warmup(pieces):
  state, train_step, _, schedule = pieces
  state = jax.tree.map(jnp.copy, state)  # the step donates its input
  _, metrics = train_step(state, _batch(), jax.random.key(0))
  assert set(metrics) == {"loss", "grad_norm", "lr"}
  assert float(metrics["lr"]) == 0.0  # step 0 of the warmup
  warmup = CONFIG.optim.warmup_steps
  lr = CONFIG.optim.lr
  assert float(schedule(warmup)) == pytest.approx(lr)
  assert 0 < float(schedule(warmup // 2)) < lr


def test_ema_update():
  ema = {"w": jnp.zeros(3)}
  params = {"w": jnp.ones(3)}
  np.testing.assert_allclose(
      losses.ema_update(ema, params, 0.9)["w"], 0.1, rtol=1e-6
  )


def test_pixel_weights_downweight_background():
  magnitude = jnp.array([[[0.0, 0.02], [0.5, 1.0]]])
  weights = representation.pixel_weights(magnitude, 0.1, 0.05)
  np.testing.assert_allclose(jnp.mean(weights), 1.0, rtol=1e-6)
  raw = np.array([0.05, 0.2, 1.0, 1.0])
  np.testing.assert_allclose(weights.ravel(), raw / raw.mean(), rtol=1e-5)


def test_phasor_round_trip():
  phase = jnp.linspace(-3.14, 3.14, 11).reshape(1, 1, 11)
  x = representation.phase_to_phasor(phase)
  assert x.shape == (1, 1, 11, 2)
  np.testing.assert_allclose(
      representation.phasor_to_phase(3.0 * x), phase, atol=1e-5
  )
