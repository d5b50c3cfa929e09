"""The recon train step, data-parallel over 4 devices, equals the 1-device
step up to float32 reassociation."""

import jax
import numpy as np
import pytest

from configs import recon as recon_config
from recon import input_pipeline
from recon import state as state_lib
from recon import train
from runtime import parallel
from runtime import train_loop

# Tolerance for the sharded vs single-device step. The two programs compute
# the same sums in another order (per-device partial sums, then an
# all-reduce). The largest reductions are the conv weight gradients, one
# term per pixel and example: n = 4 * 32 * 32 = 4096 terms. Reassociating an
# n-term float32 sum moves it by at most about n * u * sum|terms| (Higham),
# u = 2^-24: 4096 * 6e-8 = 2.4e-4; we allow 4x that. A real sharding bug
# changes the step by O(1): a device scoring only its own example, a missing
# mean over devices (4x the gradient), another example's mask or coils.
pytestmark = pytest.mark.slow

NUM_TERMS = 4 * 32 * 32
RTOL = 4 * NUM_TERMS * np.finfo(np.float32).eps / 2


def _config():
  config = recon_config.get_config("tiny,model=varnet")
  config.loss.name = "ssim"
  config.model.num_cascades = 1  # one cascade shows it; compiles faster
  # Adam's update is g / (sqrt(v) + eps). With the default eps (1e-8) the
  # first update is lr * sign(g): scale-free (a missing mean over devices
  # would not show), and gradients that are zero up to rounding (biases
  # before an instance norm) flip a whole lr on float noise. eps = 1 makes
  # the update lr * g / (|g| + 1), about linear in the gradient, so the
  # parameter change measures the gradient itself.
  config.optim.eps = 1.0
  return config


def _single_device_mesh():
  return jax.make_mesh(
      (1,),
      (parallel.DATA_AXIS,),
      devices=jax.devices()[:1],
      axis_types=(jax.sharding.AxisType.Auto,),
  )


def _run_steps(mesh, train_step, state, batch, num_steps):
  """Host copies of the state after each step, and each step's metrics."""
  step_fn = train_loop.compiled_step(train_step, mesh)
  state = parallel.replicate(state, mesh)
  batch = parallel.shard_batch(batch, mesh)
  base_key = jax.random.key(7)
  states, history = [], []
  for step in range(num_steps):
    state, metrics = step_fn(state, batch, jax.random.fold_in(base_key, step))
    states.append(jax.device_get(state))  # before the next step donates it
    history.append(jax.device_get(metrics))
  return states, history


def _flat(params):
  return np.concatenate([np.ravel(x) for x in jax.tree.leaves(params)])


def _update_error(after, reference_after, before):
  """|Δ - Δ_ref| and |Δ_ref| (L2 over all parameters), Δ = after - before.

  Adds one float32 spacing per parameter to the allowed error: each run
  rounds before + Δ to the nearest float32 on its own.
  """
  before = _flat(before)
  delta = _flat(after) - before
  reference = _flat(reference_after) - before
  rounding = np.linalg.norm(np.spacing(np.abs(_flat(reference_after))))
  return np.linalg.norm(delta - reference), np.linalg.norm(reference), rounding


def test_sharded_varnet_step_equals_single_device(count_traces):
  assert jax.device_count() == 4  # tests/conftest.py forces 4 CPU devices
  config = _config()
  init = state_lib.get_init_fn(config)
  state = jax.device_get(jax.jit(init)(jax.random.key(0)))
  train_step = train.get_train_step(config, None)
  records = input_pipeline.fake_records(4, config.data.image_size, seed=2)
  batch = input_pipeline.image_inputs(
      {k: np.stack([r[k] for r in records]) for k in records[0]},
      config,
      "phase",
  )
  with count_traces("train_step") as traces:
    sharded, sharded_metrics = _run_steps(
        parallel.create_mesh(), train_step, state, batch, 2
    )
  assert traces() == 1  # the second step reuses the compiled step
  single_mesh = _single_device_mesh()
  single, single_metrics = _run_steps(single_mesh, train_step, state, batch, 2)
  assert int(sharded[-1].step) == int(single[-1].step) == 2

  for a, b in zip(sharded_metrics, single_metrics):
    np.testing.assert_allclose(a["loss"], b["loss"], rtol=RTOL)
    np.testing.assert_allclose(a["grad_norm"], b["grad_norm"], rtol=RTOL)
  # After each step, the parameter change agrees relative to its size.
  for a, b in zip(sharded, single):
    error, size, rounding = _update_error(a.params, b.params, state.params)
    assert error <= RTOL * size + rounding, (error, size, rounding)
  # ... and that tolerance is far below what a wrong batch split gives: one
  # device training on its own example alone (four copies of example 0)
  # moves the parameters elsewhere.
  alone = {
      name: np.repeat(value[:1], 4, axis=0) for name, value in batch.items()
  }
  wrong, _ = _run_steps(single_mesh, train_step, state, alone, 1)
  error, size, rounding = _update_error(
      wrong[0].params, single[0].params, state.params
  )
  assert error > 100 * (RTOL * size + rounding), (error, size, rounding)
