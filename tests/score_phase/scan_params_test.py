"""Tests for the optional scan-parameter condition of the SBDM
(score_phase.scan_params, the network's ScanEmbedding, training and
sampling with and without it)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import phase_sbdm
from kspace.simulator import generator
from kspace.simulator import physics
from runtime import parallel
from runtime import train_loop
from score_phase import batch_checks
from score_phase import loading
from score_phase import scan_params
from score_phase.sbdm import loading as sbdm_loading
from score_phase.sbdm import networks
from score_phase.sbdm import objective
from score_phase.sbdm import state as sbdm_state


def _records(count, size):
  return [
      generator.generate_example(generator.example_rng(0, "train", i), size)
      for i in range(count)
  ]


def _stack(records, keys):
  return {k: np.stack([r[k] for r in records]) for k in keys}


def test_encode_reads_known_fields_and_marks_unknown_ones():
  batch = {
      "magnitude": np.ones((5, 8, 8)),
      "field_strength_t": np.array([3.0, np.nan, 1.5, 1.5, 3.0], np.float32),
      "echo_time_ms": np.array([5.0, 5.0, 0.0, 20.0, 5.0], np.float32),
      "b0_direction": np.array(
          [[0, 0, 2.0], [np.nan, 0, 1], [1, 0, 0], [0, 0.6, 0.8], [0, 0, 1]],
          np.float32,
      ),
      "sequence": np.array([0, 1, -1, 1, -1]),
  }
  encoded = scan_params.encode(batch)
  values, present = encoded["scan_values"], encoded["scan_present"]
  assert (
      values.shape == (5, scan_params.NUM_VALUES) and values.dtype == np.float32
  )
  # (field_strength, accrual, b0_direction, sequence)
  np.testing.assert_array_equal(
      present,
      [
          [True, True, True, True],
          [False, False, False, True],
          [True, False, True, False],
          [True, True, True, True],
          [True, False, True, False],  # TE without a sequence: no accrual
      ],
  )
  column = lambda row, field: values[row, scan_params.SLICES[field]]
  np.testing.assert_allclose(column(0, "field_strength"), [np.log(2.0)])
  np.testing.assert_allclose(column(2, "field_strength"), [0.0], atol=1e-7)
  # A gradient echo accrues over its TE: radians per ppm, fat's phase.
  per_ppm = physics.phase_per_ppm(3.0, 5.0)
  fat = physics.FAT_SHIFT_PPM * per_ppm
  np.testing.assert_allclose(
      column(0, "accrual"),
      [per_ppm / scan_params.PHASE_PER_PPM_UNIT, np.cos(fat), np.sin(fat)],
      rtol=1e-5,
  )
  # A spin echo is refocused: no accrual, fat in phase, whatever its TE.
  np.testing.assert_allclose(column(3, "accrual"), [0, 1, 0], atol=1e-7)
  np.testing.assert_allclose(column(0, "b0_direction"), [0, 0, 1])
  np.testing.assert_array_equal(column(3, "sequence"), [0, 1])
  # Absent fields carry zeros, whatever the header said.
  np.testing.assert_array_equal(values[1, :7], 0.0)
  np.testing.assert_array_equal(column(2, "sequence"), 0.0)
  np.testing.assert_array_equal(column(4, "accrual"), 0.0)
  # A registry without any of the keys: nothing known.
  bare = scan_params.encode({"magnitude": np.ones((2, 8, 8))})
  assert not bare["scan_present"].any() and not bare["scan_values"].any()


def test_accrual_time_follows_the_sequence():
  np.testing.assert_array_equal(
      scan_params.accrual_time_ms(
          np.array([4.0, 80.0, 4.0]), np.array([0, 1, -1])
      ),
      [4.0, 0.0, np.nan],
  )


def test_drop_rates():
  present = jnp.ones((20000, 4), bool)
  kept = np.asarray(scan_params.drop(jax.random.key(0), present, 0.3, 0.2))
  assert kept.mean() == pytest.approx(0.7 * 0.8, abs=0.01)
  assert (~kept.any(axis=1)).mean() == pytest.approx(
      0.2 + 0.8 * 0.3**4, abs=0.01
  )
  np.testing.assert_array_equal(
      scan_params.drop(jax.random.key(1), present, 0.0, 0.0), present
  )
  assert not scan_params.drop(jax.random.key(1), present, 0.0, 1.0).any()


def _config():
  config = phase_sbdm.get_config("tiny")
  config.model.scan_conditioning = True
  config.model.preconditioning = "edm"
  config.loss.weighting = "edm"
  return config


def test_network_uses_known_fields_and_a_null_for_the_rest():
  config = _config()
  size = config.data.image_size
  sde = networks.sde_lib.get_sde(config.sde)
  score_fn = jax.jit(networks.get_model_score_fn(sde, config.model))
  params = jax.jit(sbdm_state.get_init_fn(config))(jax.random.key(0)).params
  # Break the zero-initialised output layer so the output depends on temb.
  # (One jitted map: eagerly, each leaf shape compiles its own draw.)
  params = jax.jit(
      lambda params: jax.tree.map(
          lambda p: p + 0.1 * jax.random.normal(jax.random.key(1), p.shape),
          params,
      )
  )(params)
  records = _records(2, size)
  magnitude = jnp.asarray(np.stack([r["magnitude"] for r in records]))
  x = jax.random.normal(jax.random.key(2), magnitude.shape + (2,))
  t = jnp.full((2,), 0.5)
  scan = scan_params.encode(
      _stack(records, scan_params.RECORD_KEYS + ("magnitude",))
  )
  # (Absent fields throughout, rather than scan=None, which the network
  # turns into them: one compilation serves every call.)
  told = score_fn(params, x, t, magnitude, scan=scan)
  untold = score_fn(params, x, t, magnitude, scan=scan_params.absent(2))
  assert float(jnp.max(jnp.abs(told - untold))) > 1e-3
  # Absent fields: their values do not matter, only the learned null.
  hidden = dict(scan, scan_present=np.zeros_like(scan["scan_present"]))
  np.testing.assert_allclose(
      score_fn(params, x, t, magnitude, scan=hidden),
      untold,
      rtol=1e-5,
      atol=1e-6,
  )
  # A network without scan conditioning ignores them.
  plain = phase_sbdm.get_config("tiny")
  plain_fn = jax.jit(networks.get_model_score_fn(sde, plain.model))
  plain_params = jax.jit(sbdm_state.get_init_fn(plain))(
      jax.random.key(0)
  ).params
  np.testing.assert_array_equal(
      plain_fn(plain_params, x, t, magnitude, scan=scan),
      plain_fn(plain_params, x, t, magnitude, scan=scan_params.absent(2)),
  )


@pytest.mark.slow  # compiles another train step and sampler
def test_scan_conditioned_training_and_sampling():
  config = _config()
  size = config.data.image_size
  mesh = parallel.create_mesh()
  records = _records(8, size)
  batch = batch_checks.check_batch(
      _stack(records, ("magnitude", "phase") + scan_params.RECORD_KEYS),
      size,
      scan=True,
  )
  assert batch["scan_present"].all()
  state = train_loop.compiled_init(sbdm_state.get_init_fn(config), mesh)(
      jax.random.key(0)
  )
  step = train_loop.compiled_step(objective.get_train_step(config), mesh)
  for i in range(3):
    state, metrics = step(
        state, parallel.shard_batch(batch, mesh), jax.random.key(i)
    )
    assert np.isfinite(float(metrics["loss"]))
  sample_phase, _ = sbdm_loading.get_phase_sampler(config, mesh)
  scan = {k: batch[k][:4] for k in ("scan_values", "scan_present")}
  magnitude = batch["magnitude"][:4]
  told = loading.sample_phases(
      sample_phase,
      jax.random.key(0),
      state.params,
      magnitude,
      2,
      mesh,
      scan=scan,
  )
  untold = loading.sample_phases(
      sample_phase, jax.random.key(0), state.params, magnitude, 2, mesh
  )
  assert told.shape == untold.shape == (2, 4, size, size)
  assert np.all(np.isfinite(told)) and not np.array_equal(told, untold)
  # The PhaseFn the experiment uses takes the same optional condition; an
  # all-absent one is the null condition.
  phase_fn = loading.as_phase_fn(sample_phase, state.params, size, mesh)
  key = jax.random.key(3)
  plain = np.asarray(phase_fn(key, magnitude))
  assert not np.array_equal(np.asarray(phase_fn(key, magnitude, scan)), plain)
  np.testing.assert_allclose(
      np.asarray(phase_fn(key, magnitude, scan_params.absent(4))),
      plain,
      atol=1e-4,
  )
