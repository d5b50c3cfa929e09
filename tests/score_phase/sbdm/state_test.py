"""Data parallelism: the train step and a sampler on 4 forced CPU devices
equal the single-device results (conftest forces 4 host devices)."""

import jax
import numpy as np
import pytest

from configs import phase_sbdm
from kspace.simulator import generator
from runtime import parallel
from runtime import train_loop
from score_phase.sbdm import loading as sbdm_loading
from score_phase.sbdm import objective
from score_phase.sbdm import state as sbdm_state

pytestmark = pytest.mark.slow

CONFIG = phase_sbdm.get_config("tiny")
SIZE = CONFIG.data.image_size


def _single_device_mesh():
  return jax.make_mesh(
      (1,),
      (parallel.DATA_AXIS,),
      devices=jax.devices()[:1],
      axis_types=(jax.sharding.AxisType.Auto,),
  )


def _batch():
  examples = [
      generator.generate_example(generator.example_rng(0, "train", i), SIZE)
      for i in range(CONFIG.train.batch_size)
  ]
  return {
      key: np.stack([e[key] for e in examples])
      for key in ("magnitude", "phase")
  }


@pytest.fixture(scope="module")
def results():
  assert jax.device_count() == 4
  batch = _batch()
  key = jax.random.key(7)
  out = {}
  for name, mesh in (
      ("sharded", parallel.create_mesh()),
      ("single", _single_device_mesh()),
  ):
    init = train_loop.compiled_init(sbdm_state.get_init_fn(CONFIG), mesh)
    state = init(jax.random.key(0))
    step = train_loop.compiled_step(objective.get_train_step(CONFIG), mesh)
    state, metrics = step(state, parallel.shard_batch(batch, mesh), key)
    sample_phase, _ = sbdm_loading.get_phase_sampler(CONFIG, mesh)
    phase = sample_phase(
        jax.random.key(3),
        state.params,
        parallel.shard_batch(batch["magnitude"], mesh),
    )
    out[name] = (
        jax.device_get(state),
        jax.device_get(metrics),
        np.asarray(phase),
        phase.sharding,
    )
  return out


def test_batch_is_sharded_over_four_devices(results):
  sharding = results["sharded"][3]
  assert len(sharding.device_set) == 4
  assert results["single"][3].device_set == {jax.devices()[0]}


def test_train_step_sharded_equals_single_device(results):
  sharded, single = results["sharded"], results["single"]
  for key in ("loss", "grad_norm"):
    np.testing.assert_allclose(sharded[1][key], single[1][key], rtol=1e-5)
  jax.tree.map(
      lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6),
      sharded[0].params,
      single[0].params,
  )
  assert int(sharded[0].step) == int(single[0].step) == 1


def test_sampler_sharded_equals_single_device(results):
  sharded, single = results["sharded"][2], results["single"][2]
  assert sharded.shape == (CONFIG.train.batch_size, SIZE, SIZE)
  assert np.all(sharded > -np.pi) and np.all(sharded <= np.pi)
  np.testing.assert_allclose(
      np.exp(1j * sharded), np.exp(1j * single), atol=1e-4
  )
