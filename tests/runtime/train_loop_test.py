"""runtime.train_loop on a toy task: resume, logging, stops, compilation."""

import dataclasses
import json
import os
import signal

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from configs import base
from runtime import checkpoints
from runtime import metric_writers
from runtime import optimizers
from runtime import parallel
from runtime import train_loop

DIM = 3
TRUE_WEIGHTS = np.array([1.0, -2.0, 0.5], np.float32)


@flax.struct.dataclass
class State:
  step: jax.Array
  params: jax.Array
  opt_state: optax.OptState
  rng: jax.Array


def _optim():
  optim = base.get_optim_config()
  optim.lr = 0.1
  return optim


TX, LR_FN = optimizers.create_optimizer(_optim())


def init_fn(rng):
  params = jnp.zeros((DIM,), jnp.float32)
  return State(
      step=jnp.zeros((), jnp.int32),
      params=params,
      opt_state=TX.init(params),
      rng=jax.random.key_data(rng),
  )


def train_step(state, batch, key):
  # Noisy targets: the key changes the loss, so a wrong key stream breaks
  # exact resume.
  noise = 0.1 * jax.random.normal(key, batch["y"].shape)

  def loss_fn(params):
    return jnp.mean((batch["x"] @ params - batch["y"] - noise) ** 2)

  loss, grads = jax.value_and_grad(loss_fn)(state.params)
  updates, opt_state = TX.update(grads, state.opt_state, state.params)
  return (
      state.replace(
          step=state.step + 1,
          params=optax.apply_updates(state.params, updates),
          opt_state=opt_state,
      ),
      {"loss": loss, "lr": LR_FN(state.step)},
  )


def batches(start_step, batch_size):
  step = start_step
  while True:
    x = np.random.default_rng(step).normal(size=(batch_size, DIM))
    yield {
        "x": x.astype(np.float32),
        "y": (x @ TRUE_WEIGHTS).astype(np.float32),
    }
    step += 1


def _task(hooks=(), step_fn=train_step, compatibility=None):
  return train_loop.Task(
      name="toy",
      init_fn=init_fn,
      train_step=step_fn,
      batches=batches,
      check_batch=lambda batch: batch,
      compatibility=compatibility or {"dim": DIM},
      hooks=hooks,
  )


def _train_config(num_steps, **overrides):
  config = base.get_train_config()
  config.update(
      batch_size=8,
      num_steps=num_steps,
      log_every=1,
      checkpoint_every=2,
      async_checkpoint=False,
  )
  config.update(overrides)
  return config


def _logged_steps(workdir):
  lines = (workdir / "metrics.jsonl").read_text().splitlines()
  return [json.loads(line)["step"] for line in lines]


def test_learns_and_logs_every_step_once(tmp_path):
  state = train_loop.train(_task(), _train_config(40), tmp_path, seed=0)
  assert np.abs(state.params - TRUE_WEIGHTS).max() < 0.5
  assert _logged_steps(tmp_path) == list(range(1, 41))
  lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
  losses = [json.loads(line)["train/loss"] for line in lines]
  assert np.mean(losses[-5:]) < 0.1 * losses[0]
  first = json.loads(lines[0])
  assert set(first) == {
      "step",
      "train/loss",
      "train/lr",
      "train/steps_per_second",
  }


def test_a_rerun_from_scratch_drops_what_a_killed_run_logged(tmp_path):
  """Killed before its first checkpoint was complete: the rerun starts at
  step 0 and the steps it runs again are logged once."""
  (tmp_path / "metrics.jsonl").write_text(
      "".join(f'{{"step": {s}, "train/loss": 1.0}}\n' for s in (1, 2, 3))
  )
  train_loop.train(_task(), _train_config(4), tmp_path, seed=0)
  assert _logged_steps(tmp_path) == [1, 2, 3, 4]


def test_kill_and_rerun_equals_an_uninterrupted_run(tmp_path):
  straight = train_loop.train(
      _task(), _train_config(6), tmp_path / "straight", seed=0
  )

  def crash_at_5(state, step, writer):
    del state, writer
    if step == 5:
      raise KeyboardInterrupt("killed")

  workdir = tmp_path / "crashed"
  with pytest.raises(KeyboardInterrupt):
    train_loop.train(
        _task((train_loop.Hook(1, crash_at_5),)),
        _train_config(6),
        workdir,
        seed=0,
    )
  resumed = train_loop.train(_task(), _train_config(6), workdir, seed=0)
  assert int(resumed.step) == 6
  np.testing.assert_array_equal(resumed.params, straight.params)
  # Step 5 was logged before the crash and again after the resume at 4.
  assert _logged_steps(workdir) == [1, 2, 3, 4, 5, 6]


def test_sigterm_saves_the_current_step_and_resumes_exactly(tmp_path):
  straight = train_loop.train(
      _task(), _train_config(6), tmp_path / "straight", seed=0
  )

  def preempt_at_3(state, step, writer):
    del state, writer
    if step == 3:
      os.kill(os.getpid(), signal.SIGTERM)

  workdir = tmp_path / "preempted"
  with pytest.raises(train_loop.Preempted, match="step 4") as stopped:
    train_loop.train(
        _task((train_loop.Hook(1, preempt_at_3),)),
        _train_config(6),
        workdir,
        seed=0,
    )
  # The signal lands after step 3's hook; step 4 (not a checkpoint step)
  # is saved before stopping.
  assert stopped.value.step == 4
  manager = checkpoints.create_manager(workdir / "checkpoints")
  assert manager.latest_step() == 4
  manager.close()
  assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
  resumed = train_loop.train(_task(), _train_config(6), workdir, seed=0)
  np.testing.assert_array_equal(resumed.params, straight.params)


def test_hooks_due_at_a_sigterm_step_run_once_on_resume(tmp_path):
  """SIGTERM during step 4, where a hook every 2 steps is due: the save
  skips it (no time) and the resumed run runs it at 4 before step 5."""
  calls = []

  def record(state, step, writer):
    del writer
    calls.append((step, int(state.step)))

  def preempt_in_step_4(start_step, batch_size):
    for step, batch in enumerate(batches(start_step, batch_size), start_step):
      if step == 3:  # the batch of the step that ends at 4
        os.kill(os.getpid(), signal.SIGTERM)
      yield batch

  hooks = (train_loop.Hook(2, record),)
  task = dataclasses.replace(_task(hooks), batches=preempt_in_step_4)
  with pytest.raises(train_loop.Preempted, match="step 4"):
    train_loop.train(task, _train_config(6), tmp_path, seed=0)
  assert calls == [(2, 2)]
  train_loop.train(_task(hooks), _train_config(6), tmp_path, seed=0)
  assert calls == [(2, 2), (4, 4), (6, 6)]
  # A resume from a checkpoint whose hooks did run does not repeat them.
  train_loop.train(_task(hooks), _train_config(8), tmp_path, seed=0)
  assert calls == [(2, 2), (4, 4), (6, 6), (8, 8)]


def test_nan_stops_and_keeps_the_last_good_checkpoint(tmp_path):
  def nan_after_3(state, batch, key):
    state, metrics = train_step(state, batch, key)
    loss = jnp.where(state.step > 3, jnp.nan, metrics["loss"])
    return state, dict(metrics, loss=loss)

  with pytest.raises(metric_writers.NonFiniteLossError, match="step 4"):
    train_loop.train(
        _task(step_fn=nan_after_3), _train_config(6), tmp_path, seed=0
    )
  manager = checkpoints.create_manager(tmp_path / "checkpoints")
  assert manager.all_steps() == [2]
  manager.close()


def test_incompatible_checkpoint_names_the_field(tmp_path):
  train_loop.train(_task(), _train_config(2), tmp_path, seed=0)
  with pytest.raises(checkpoints.CheckpointError, match="dim: checkpoint 3"):
    train_loop.train(
        _task(compatibility={"dim": 4}), _train_config(4), tmp_path, seed=0
    )
  with pytest.raises(checkpoints.CheckpointError, match="--mode=toy_mode"):
    train_loop.restore(
        tmp_path / "nothing", init_fn, {"dim": DIM}, None, "toy_mode"
    )


def test_the_step_compiles_once_across_runs(tmp_path, count_traces):
  def fresh_step(state, batch, key):  # not yet compiled in this process
    return train_step(state, batch, key)

  with count_traces("fresh_step") as traces:
    train_loop.train(
        _task(step_fn=fresh_step), _train_config(4), tmp_path, seed=0
    )
    train_loop.train(
        _task(step_fn=fresh_step), _train_config(8), tmp_path, seed=0
    )
  assert traces() == 1


def test_cached_by_config_keys_on_the_named_fields_only():
  calls = []

  @train_loop.cached_by_config("model", "data.image_size")
  def factory(config):
    calls.append(config)
    with pytest.raises(AttributeError):
      _ = config.data.name  # not part of the key, so not visible
    return object()

  config = ml_collections.ConfigDict(
      {"model": {"nf": 8}, "data": {"image_size": 16, "name": "a"}}
  )
  first = factory(config)
  config.data.name = "b"  # not a key field: same object
  assert factory(config) is first
  config.model.nf = 16
  assert factory(config) is not first
  assert len(calls) == 2


def test_the_step_donates_the_old_state():
  """The state's buffers are reused in place (no second copy of the
  parameters and optimiser state per step): XLA deletes the inputs."""
  mesh = parallel.create_mesh()
  state = train_loop.compiled_init(init_fn, mesh)(jax.random.key(0))
  batch = parallel.shard_batch(next(batches(0, 8)), mesh)
  step = train_loop.compiled_step(train_step, mesh)
  new_state, _ = step(state, batch, jax.random.key(1))
  assert all(leaf.is_deleted() for leaf in jax.tree.leaves(state))
  assert not any(leaf.is_deleted() for leaf in jax.tree.leaves(new_state))
  assert not any(leaf.is_deleted() for leaf in jax.tree.leaves(batch))
