"""The one training loop: every trainer (SBDM, GAN, recon) supplies a `Task`.

The loop owns what is the same for every model: the data mesh, abstract
init, restore-or-init with one compatibility rule, the jitted step (cached,
so a second run in the same process does not recompile), per-step PRNG keys,
metric averaging and logging, the NaN stop, checkpoints, the preemption save
(SIGTERM), periodic hooks (validation, figures) and cleanup.

Resume is exact: the state holds the step and the base PRNG key, the step
key is fold_in(base, step), and `Task.batches(start_step, ...)` yields at
step s the batch an uninterrupted run would have seen.

Config: the `train` block (configs/base.get_train_config): batch_size,
num_steps, log_every, checkpoint_every, max_to_keep, async_checkpoint.
Metric keys: `train/<name>` for the step's metrics (averaged over the steps
since the last log) and `train/steps_per_second`.
"""

import contextlib
import dataclasses
import functools
import json
import logging
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jax
import ml_collections
import numpy as np
from etils import epath

from runtime import checkpoints
from runtime import metric_writers
from runtime import parallel

CHECKPOINT_DIR = "checkpoints"
# Checkpoint metadata key: SIGTERM saved this step before its due hooks ran.
HOOKS_SKIPPED = "hooks_skipped"
# Exit status of a run stopped by SIGTERM after saving (sysexits' TEMPFAIL:
# "try again later"); launchers and job arrays requeue on it.
PREEMPTED_EXIT_CODE = 75


class Preempted(Exception):
  """SIGTERM arrived; the state at `step` was saved. Rerun to resume."""

  def __init__(self, step: int):
    super().__init__(
        f"Stopped by SIGTERM; checkpoint saved at step {step}. Run the same"
        " command again to resume."
    )
    self.step = step


@dataclasses.dataclass(frozen=True)
class Hook:
  """Runs `fn(state, step, writer)` every `every` steps and at the end.

  `every = 0` runs it only after the last step.
  """

  every: int
  fn: Callable[[Any, int, metric_writers.MetricWriter], None]

  def is_due(self, step: int, num_steps: int) -> bool:
    return step == num_steps or bool(self.every and step % self.every == 0)


@dataclasses.dataclass(frozen=True)
class Task:
  """What a trainer supplies; the loop does the rest.

  Attributes:
    name: label of the progress bar ("train_phase", "train_recon").
    init_fn: pure `init_fn(key) -> state`. The state is a pytree with `step`
      (int32 scalar) and `rng` (uint32 key data of the run's base key).
      Build it once per config (the loop caches compilation by identity).
    train_step: pure `train_step(state, batch, key) -> (state, metrics)`,
      metrics a dict of float32 scalars; same caching rule as `init_fn`.
    batches: `batches(start_step, batch_size) -> iterator` of this
      process's host batches (dicts of numpy arrays) from `start_step` on.
    check_batch: host-side validation of one batch before it is sharded;
      returns the arrays the step needs (clear errors, never XLA's).
    compatibility: JSON-able config fields a checkpoint must agree with
      (model, shapes, ...); stored with every checkpoint.
    metadata: more JSON stored with every checkpoint (e.g. the config).
    hooks: periodic callbacks (validation, figures).
  """

  name: str
  init_fn: Callable[[jax.Array], Any]
  train_step: Callable[..., tuple[Any, Mapping[str, jax.Array]]]
  batches: Callable[[int, int], Iterator[Mapping[str, np.ndarray]]]
  check_batch: Callable[[Mapping[str, np.ndarray]], Mapping[str, np.ndarray]]
  compatibility: Mapping[str, Any]
  metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  hooks: tuple[Hook, ...] = ()


def as_json(config: ml_collections.ConfigDict) -> Any:
  """A config (block) as plain JSON values, for metadata and comparisons."""
  return json.loads(config.to_json())


# Model fields that change how the parameters are used, not what they are.
RUNTIME_ONLY_MODEL_FIELDS = ("compute_dtype", "remat")


def model_identity(model_config: ml_collections.ConfigDict) -> dict:
  """A model block as JSON without RUNTIME_ONLY_MODEL_FIELDS: what a
  checkpoint's model must match (it restores under any compute dtype or
  remat setting)."""
  identity = as_json(model_config)
  for field in RUNTIME_ONLY_MODEL_FIELDS:
    identity.pop(field, None)
  return identity


def cached_by_config(*fields: str):
  """Memoizes a factory `fn(config)` on the JSON of the named fields.

  Equal configs then give the very same function objects, so the jitted
  steps and samplers built from them compile once per process (tests,
  in-process sweeps, resume). `fn` receives a ConfigDict holding only
  `fields` (dotted paths such as "data.image_size"), so it cannot depend on
  a field that is not part of the key. JSON turns tuples into lists. More
  positional arguments (hashable, e.g. an injected function) are passed
  through and are part of the key.

  Args:
    *fields: top-level blocks ("model") or dotted leaves ("train.num_steps").

  Returns:
    The decorator.
  """

  def decorator(fn):
    @functools.lru_cache(maxsize=16)
    def from_json(key: str, *args):
      return fn(ml_collections.ConfigDict(json.loads(key)), *args)

    @functools.wraps(fn)
    def wrapper(config: ml_collections.ConfigDict, *args):
      subset = {}
      for field in fields:
        *parents, leaf = field.split(".")
        node, target = config, subset
        for name in parents:
          node, target = node[name], target.setdefault(name, {})
        value = node[leaf]
        target[leaf] = (
            as_json(value)
            if isinstance(value, ml_collections.ConfigDict)
            else value
        )
      return from_json(json.dumps(subset, sort_keys=True), *args)

    return wrapper

  return decorator


@functools.lru_cache(maxsize=16)
def compiled_init(init_fn, mesh: jax.sharding.Mesh):
  """`init_fn` jitted with a replicated output (cached per function)."""
  return jax.jit(init_fn, out_shardings=parallel.replicated(mesh))


@functools.lru_cache(maxsize=16)
def compiled_step(train_step, mesh: jax.sharding.Mesh):
  """The jitted step: state replicated and donated, batch sharded."""
  repl = parallel.replicated(mesh)
  return jax.jit(
      train_step,
      in_shardings=(repl, parallel.batch_sharding(mesh), repl),
      out_shardings=(repl, repl),
      donate_argnums=0,
  )


def abstract_state(init_fn, mesh: jax.sharding.Mesh):
  """Shapes, dtypes and replicated shardings of `init_fn`'s state."""
  repl = parallel.replicated(mesh)
  return jax.tree.map(
      lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=repl),
      jax.eval_shape(init_fn, jax.random.key(0)),
  )


def check_compatible(
    saved: Mapping[str, Any], current: Mapping[str, Any], directory
) -> None:
  """Raises CheckpointError naming every field that differs."""
  saved = saved.get("compatibility", {})
  problems = [
      f"{name}: checkpoint {saved.get(name)} vs config {value}"
      for name, value in current.items()
      if saved.get(name) != value
  ]
  if problems:
    raise checkpoints.CheckpointError(
        f"The checkpoint in {directory} was trained with another config:\n  "
        + "\n  ".join(problems)
        + "\nUse the same config (or a fresh --workdir)."
    )


def restore(
    workdir: str | epath.Path,
    init_fn,
    compatibility: Mapping[str, Any],
    mesh: jax.sharding.Mesh,
    train_mode: str,
) -> tuple[int, Any, dict]:
  """(step, state, metadata) of the newest compatible checkpoint in workdir.

  Args:
    workdir: the training run's folder.
    init_fn: the task's init function (gives the state's layout).
    compatibility: what the checkpoint must agree with.
    mesh: the data mesh (the state is restored replicated on it).
    train_mode: the --mode that writes such checkpoints (for the message).

  Raises:
    CheckpointError: no checkpoint, or none compatible with the config.
  """
  directory = epath.Path(workdir) / CHECKPOINT_DIR
  restored = None
  if directory.exists():
    manager = checkpoints.create_manager(directory, async_save=False)
    try:
      restored = checkpoints.restore_latest(
          manager, abstract_state(init_fn, mesh)
      )
    finally:
      manager.close()
  if restored is None:
    raise checkpoints.CheckpointError(
        f"No checkpoint in {directory}; run --mode={train_mode} with this"
        " --workdir first (or point --workdir at a training run)."
    )
  check_compatible(restored[2], compatibility, directory)
  return restored


@contextlib.contextmanager
def _sigterm_flag():
  """Yields an Event set when SIGTERM arrives (main thread only)."""
  event = threading.Event()
  if threading.current_thread() is not threading.main_thread():
    yield event
    return
  previous = signal.signal(signal.SIGTERM, lambda *_: event.set())
  try:
    yield event
  finally:
    signal.signal(signal.SIGTERM, previous)


def _run_due_hooks(hooks, state, step: int, num_steps: int, writer):
  for hook in hooks:
    if hook.is_due(step, num_steps):
      hook.fn(state, step, writer)


def _mean_metrics(pending: list) -> dict[str, float]:
  values = jax.device_get(pending)
  return {key: float(np.mean([v[key] for v in values])) for key in values[0]}


def train(
    task: Task,
    train_config: ml_collections.ConfigDict,
    workdir: str | epath.Path,
    seed: int,
):
  """Trains `task` for `train_config.num_steps`, resuming from `workdir`.

  Args:
    task: the trainer's pieces.
    train_config: the `train` block.
    workdir: checkpoints/, metrics.jsonl and tensorboard/ go here.
    seed: seeds the initial state (parameters and base PRNG key).

  Returns:
    The final state (replicated over the mesh).

  Raises:
    NonFiniteLossError: a NaN/inf metric; the last good checkpoint is kept.
    CheckpointError: the checkpoints in workdir do not fit the config.
    Preempted: SIGTERM arrived; the current step was saved first.
  """
  workdir = epath.Path(workdir)
  mesh = parallel.create_mesh()
  per_process_batch = parallel.check_batch_size(train_config.batch_size)
  num_steps = train_config.num_steps
  manager = checkpoints.create_manager(
      workdir / CHECKPOINT_DIR,
      train_config.max_to_keep,
      train_config.async_checkpoint,
  )
  writer = None
  try:
    restored = checkpoints.restore_latest(
        manager, abstract_state(task.init_fn, mesh)
    )
    if restored is None:
      state = compiled_init(task.init_fn, mesh)(jax.random.key(seed))
      last_checkpoint = None
    else:
      last_checkpoint, state, metadata = restored
      check_compatible(metadata, task.compatibility, manager.directory)
      logging.info("Resuming %s from step %d.", task.name, last_checkpoint)
    start_step = int(jax.device_get(state.step))
    # Also from scratch: a run killed before its first checkpoint was
    # complete logged steps that are now run again.
    writer = metric_writers.MetricWriter(workdir, resume_step=start_step)
    if restored is not None and metadata.get(HOOKS_SKIPPED):
      # SIGTERM saved this step without its due hooks: run them now, so the
      # resumed metrics (validation curves) equal an uninterrupted run's.
      _run_due_hooks(task.hooks, state, start_step, num_steps, writer)
    train_step = compiled_step(task.train_step, mesh)
    base_key = jax.random.wrap_key_data(jax.device_get(state.rng))
    batches = task.batches(start_step, per_process_batch)
    timer = metric_writers.StepTimer(start_step)
    pending = []
    with (
        _sigterm_flag() as preempted,
        metric_writers.progress_bar(num_steps, start_step, task.name) as bar,
    ):
      for step in range(start_step, num_steps):
        batch = parallel.shard_batch(task.check_batch(next(batches)), mesh)
        key = jax.random.fold_in(base_key, step)
        if step == start_step:
          parallel.compile_together(train_step, state, batch, key)
        state, metrics = train_step(state, batch, key)
        pending.append(metrics)
        done = step + 1
        stop = preempted.is_set()
        save = stop or done == num_steps
        save = save or done % train_config.checkpoint_every == 0
        if save or done % train_config.log_every == 0:
          summary = _mean_metrics(pending)
          pending = []
          # Checked before any save: a NaN step never reaches a checkpoint.
          metric_writers.check_finite(summary, done, last_checkpoint)
          writer.write_scalars(
              done,
              {f"train/{key}": value for key, value in summary.items()}
              | {"train/steps_per_second": timer.rate(done)},
          )
          bar.set_postfix(loss=f"{summary['loss']:.4g}")
        # Hooks (validation, figures) before the save: a run killed once its
        # checkpoint is written has already logged them, so its resumed
        # metrics equal an uninterrupted run's. On SIGTERM there is no time
        # for them: the checkpoint says so and the resumed run runs them.
        skipped = stop and any(h.is_due(done, num_steps) for h in task.hooks)
        if not stop:
          _run_due_hooks(task.hooks, state, done, num_steps, writer)
        if save:
          checkpoints.save(
              manager,
              done,
              state,
              {"compatibility": dict(task.compatibility), **task.metadata}
              | ({HOOKS_SKIPPED: True} if skipped else {}),
          )
          last_checkpoint = done
        if stop:
          manager.wait_until_finished()
          raise Preempted(done)
        bar.update(1)
  finally:
    manager.wait_until_finished()
    manager.close()
    if writer is not None:
      writer.close()
  return state
