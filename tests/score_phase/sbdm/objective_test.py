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
from score_phase import loading
from score_phase import representation
from score_phase.sbdm import loading as sbdm_loading
from score_phase.sbdm import networks
from score_phase.sbdm import objective
from score_phase.sbdm import sde as sde_lib
from score_phase.sbdm import state as sbdm_state

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
  # The jitted init / step of score_phase.sbdm.trainer on the 4-device mesh (shared
  # with the other test modules through train's compile cache).
  mesh = parallel.create_mesh()
  state = train_loop.compiled_init(sbdm_state.get_init_fn(CONFIG), mesh)(
      jax.random.key(0)
  )
  train_step = train_loop.compiled_step(objective.get_train_step(CONFIG), mesh)
  sde = sde_lib.get_sde(CONFIG.sde)
  loss_fn = objective.get_loss_fn(
      sde,
      networks.get_model_score_fn(sde, CONFIG.model),
      eps=CONFIG.loss.eps,
      weighting="std2",
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
  loss = jax.jit(loss_fn)

  def probe(params):
    return float(np.mean([loss(params, batch, k) for k in probe_keys]))

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
      sbdm_state.ema_update(ema, params, 0.9)["w"], 0.1, rtol=1e-6
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


def _edm_config():
  config = phase_sbdm.get_config("tiny")
  config.model.preconditioning = "edm"
  config.loss.weighting = "edm"
  config.loss.noise_sampling = "lognormal"
  config.loss.crop_size = 8
  config.model.attn_resolutions = ()
  return config


def test_edm_score_at_init_is_the_gaussian_data_score():
  # The last conv is zero-initialised, so F = 0 and D = c_skip y: the score
  # of data ~ N(0, sigma_data^2) blurred by sigma, -y / (sigma^2 + sd^2).
  config = _edm_config()
  sde = sde_lib.get_sde(config.sde)
  score_fn = jax.jit(networks.get_model_score_fn(sde, config.model))
  params = jax.jit(sbdm_state.get_init_fn(config))(jax.random.key(0)).params
  x = 3.0 * jax.random.normal(jax.random.key(1), (2, SIZE, SIZE, 2))
  t = jnp.array([0.2, 0.9])
  sigma = sde.noise_level(t)[:, None, None, None]
  want = -x / (sigma**2 + config.model.sigma_data**2)
  got = score_fn(params, x, t, jnp.ones((2, SIZE, SIZE)))
  # c_skip - 1 cancels in float32 at small sigma.
  np.testing.assert_allclose(got, want, rtol=1e-4)


def test_edm_weighting_is_the_denoiser_error_over_c_out_squared():
  config = _edm_config()
  config.loss.crop_size = 0
  sde = sde_lib.get_sde(config.sde)
  score_fn = networks.get_model_score_fn(sde, config.model)
  state = jax.jit(sbdm_state.get_init_fn(config))(jax.random.key(0))
  # Perturb the zero-initialised output layer so F != 0.
  # (One jitted map: eagerly, each leaf shape compiles its own draw.)
  params = jax.jit(
      lambda params: jax.tree.map(
          lambda p: p + 0.05 * jax.random.normal(jax.random.key(2), p.shape),
          params,
      )
  )(state.params)
  batch = _batch(2)
  weights_one = dict(magnitude_threshold=1e-9, background_weight=1.0)
  loss_fn = objective.get_loss_fn(
      sde,
      score_fn,
      eps=1e-5,
      weighting="edm",
      sigma_data=config.model.sigma_data,
      **weights_one,
  )
  key = jax.random.key(3)
  # Redo the loss's draws by hand: x_t, then D = x_t + sigma^2 score.
  t_rng, z_rng, _, _ = jax.random.split(key, 4)
  t = jax.random.uniform(t_rng, (2,), jnp.float32, 1e-5, sde.T)
  x0 = representation.phase_to_phasor(batch["phase"])
  z = jax.random.normal(z_rng, x0.shape, jnp.float32)
  sigma = sde.noise_level(t)[:, None, None, None]
  x_t = x0 + sigma * z
  denoised = x_t + sigma**2 * jax.jit(score_fn)(
      params, x_t, t, batch["magnitude"]
  )
  _, _, c_out = networks.edm_coefficients(sigma, config.model.sigma_data)
  want = jnp.mean(jnp.sum(jnp.square(denoised - x0) / c_out**2, axis=-1))
  np.testing.assert_allclose(
      jax.jit(loss_fn)(params, batch, key), want, rtol=1e-4
  )


def test_random_crops_cut_the_same_window_of_every_array():
  image = jnp.arange(2 * 16 * 12, dtype=jnp.float32).reshape(2, 16, 12)
  stacked = jnp.stack([image, -image], axis=-1)
  first, second = objective.random_crops(jax.random.key(0), (image, stacked), 8)
  assert first.shape == (2, 8, 8) and second.shape == (2, 8, 8, 2)
  np.testing.assert_array_equal(second[..., 0], first)
  for b in range(2):
    row, col = np.argwhere(np.asarray(image[b]) == float(first[b, 0, 0]))[0]
    np.testing.assert_array_equal(
        first[b], image[b, row : row + 8, col : col + 8]
    )
  with pytest.raises(ValueError, match="crop_size 13"):
    objective.random_crops(jax.random.key(0), (image,), 13)


def test_lognormal_times_follow_the_noise_level_distribution():
  sde = sde_lib.get_sde(CONFIG.sde)
  t = objective.sample_times(
      jax.random.key(0),
      sde,
      20000,
      eps=1e-5,
      noise_sampling="lognormal",
      p_mean=-1.2,
      p_std=1.2,
  )
  log_sigma = np.log(np.asarray(sde.noise_level(t)))
  # Clipped to [sigma_min, sigma_max] = [0.01, 32]: the median survives.
  assert np.median(log_sigma) == pytest.approx(-1.2, abs=0.05)
  assert log_sigma.min() >= np.log(CONFIG.sde.sigma_min) - 1e-4
  with pytest.raises(ValueError, match="noise_sampling"):
    objective.sample_times(
        jax.random.key(0),
        sde,
        4,
        eps=1e-5,
        noise_sampling="beta",
        p_mean=0.0,
        p_std=1.0,
    )


@pytest.mark.slow  # compiles another train step and sampler
def test_edm_crop_training_learns_and_samples_full_images():
  config = _edm_config()
  mesh = parallel.create_mesh()
  state = train_loop.compiled_init(sbdm_state.get_init_fn(config), mesh)(
      jax.random.key(0)
  )
  train_step = train_loop.compiled_step(objective.get_train_step(config), mesh)
  batch = _batch()
  sde = sde_lib.get_sde(config.sde)
  loss_fn = jax.jit(
      objective.get_loss_fn(
          sde,
          networks.get_model_score_fn(sde, config.model),
          eps=config.loss.eps,
          weighting="edm",
          magnitude_threshold=config.loss.magnitude_threshold,
          background_weight=config.loss.background_weight,
          noise_sampling="lognormal",
          sigma_data=config.model.sigma_data,
          crop_size=8,
      )
  )
  probe = lambda params: np.mean(
      [loss_fn(params, batch, jax.random.key(100 + i)) for i in range(16)]
  )
  before = probe(state.params)
  for step in range(40):
    state, _ = train_step(state, batch, jax.random.key(step))
  after = probe(state.params)
  # Measured 2.05 -> 1.55: F = 0 scores 2 (one per channel) on Gaussian
  # data; part of the rest is the conditional's irreducible spread.
  assert after < 0.85 * before, (before, after)
  sample_phase, _ = sbdm_loading.get_phase_sampler(config, mesh)
  phases = loading.sample_phases(
      sample_phase,
      jax.random.key(0),
      state.ema_params,
      np.asarray(batch["magnitude"][:4]),
      2,
      mesh,
  )
  assert phases.shape == (2, 4, SIZE, SIZE) and np.all(np.isfinite(phases))
  with_attention = _edm_config()
  with_attention.model.attn_resolutions = (8,)
  with pytest.raises(ValueError, match="attn_resolutions"):
    objective.get_train_step(with_attention)
