"""A data-parallel train step over 4 devices equals the 1-device step."""

import jax
import numpy as np

from configs import recon as recon_config
from launch import parallel
from recon import input_pipeline
from recon import losses
from recon import simulate
from recon import train


def _run_steps(mesh, step_fn, state, batch, num_steps):
  repl = parallel.replicated(mesh)
  jitted = jax.jit(
      step_fn,
      in_shardings=(repl, parallel.batch_sharding(mesh)),
      out_shardings=(repl, repl),
  )
  state = jax.device_put(state, repl)
  batch = parallel.shard_batch(batch, mesh)
  history = []
  for _ in range(num_steps):
    state, metrics = jitted(state, batch)
    history.append(jax.device_get(metrics))
  return jax.device_get(state), history


def test_sharded_varnet_step_equals_single_device():
  assert jax.device_count() == 4  # tests/conftest.py forces 4 CPU devices
  config = recon_config.get_config("tiny,model=varnet")
  config.train.loss = "ssim"
  config.model.num_cascades = 1  # one cascade shows it; compiles faster
  model, tx, lr_fn, init_fn = train._setup(config)
  state = jax.device_get(jax.jit(init_fn)(jax.random.key(0)))
  step_fn = train.get_train_step(
      model,
      tx,
      simulate.get_simulate_fn(config),
      losses.get_loss_fn(config.train.loss),
      lr_fn,
  )
  records = input_pipeline.fake_records(4, config.data.image_size, seed=2)
  batch = input_pipeline.model_inputs(
      {k: np.stack([r[k] for r in records]) for k in records[0]}, config
  )

  sharded_mesh = parallel.create_mesh()
  single_mesh = jax.make_mesh(
      (1,),
      (parallel.DATA_AXIS,),
      devices=jax.devices()[:1],
      axis_types=(jax.sharding.AxisType.Auto,),
  )
  sharded, sharded_metrics = _run_steps(sharded_mesh, step_fn, state, batch, 2)
  single, single_metrics = _run_steps(single_mesh, step_fn, state, batch, 2)
  assert int(sharded.step) == int(single.step) == 2
  for a, b in zip(sharded_metrics, single_metrics):
    np.testing.assert_allclose(a["loss"], b["loss"], rtol=1e-5)
    np.testing.assert_allclose(a["grad_norm"], b["grad_norm"], rtol=1e-4)
  # Adam divides by sqrt(v): a parameter with a near-zero gradient can move
  # by a visible fraction of lr on float noise, so allow 0.1 lr absolute.
  for a, b in zip(
      jax.tree.leaves(sharded.params), jax.tree.leaves(single.params)
  ):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=0.1 * config.optim.lr)
  # The two steps differed (fresh masks per step), and params moved.
  assert sharded_metrics[0]["loss"] != sharded_metrics[1]["loss"]
  moved = max(
      float(np.abs(a - b).max())
      for a, b in zip(
          jax.tree.leaves(sharded.params), jax.tree.leaves(state.params)
      )
  )
  assert moved > 1e-4
