"""Orbax checkpointing with exact resume and fallback to an older step.

A checkpoint holds the whole train state pytree (step, params, optimizer
state, EMA, PRNG key) plus a small JSON record (e.g. the data position).
Orbax writes each step to a temporary directory and renames it when complete,
so an interrupted save never shadows the last good checkpoint.
"""

import logging

import jax
import numpy as np
import orbax.checkpoint as ocp
from etils import epath


class CheckpointError(RuntimeError):
  """A checkpoint is missing, unreadable or incompatible with the config."""


def create_manager(
    directory: str | epath.Path, max_to_keep: int = 3, async_save: bool = True
) -> ocp.CheckpointManager:
  """A CheckpointManager keeping the newest `max_to_keep` (>= 2) steps."""
  if max_to_keep < 2:
    raise ValueError(
        f"max_to_keep={max_to_keep}: keep at least 2 checkpoints so a corrupt"
        " newest one can fall back to the previous."
    )
  options = ocp.CheckpointManagerOptions(
      max_to_keep=max_to_keep,
      create=True,
      enable_async_checkpointing=async_save,
  )
  return ocp.CheckpointManager(
      epath.Path(directory).absolute(),
      options=options,
      # Declared up front so metadata can be read before any restore.
      item_handlers={
          "state": ocp.StandardCheckpointHandler(),
          "metadata": ocp.JsonCheckpointHandler(),
      },
  )


def _replicated_to_host(leaf):
  """A fully replicated jax.Array as this process's numpy copy.

  Data-parallel state is replicated, and orbax writes numpy leaves from the
  primary host in about a quarter of the time it spends serialising
  per-device jax.Array shards (0.9 s against 3.1-9.7 s per save of the
  640-leaf tiny SBDM state on 4 CPU devices). Sharded arrays and PRNG keys
  stay as they are; restore still returns arrays on the target shardings.
  """
  if (
      isinstance(leaf, jax.Array)
      and leaf.is_fully_replicated
      and not jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)
  ):
    return np.asarray(leaf.addressable_data(0))
  return leaf


def save(
    manager: ocp.CheckpointManager,
    step: int,
    state,
    metadata: dict | None = None,
) -> None:
  """Saves `state` (a pytree) and a JSON `metadata` dict at `step`."""
  manager.save(
      step,
      args=ocp.args.Composite(
          state=ocp.args.StandardSave(jax.tree.map(_replicated_to_host, state)),
          metadata=ocp.args.JsonSave(metadata or {}),
      ),
  )


def _path_names(path) -> tuple[str, ...]:
  """Key path -> names, the same for a dataclass field and a dict key."""
  return tuple(
      str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k))))
      for k in path
  )


def _shape_mismatches(
    manager: ocp.CheckpointManager, step: int, abstract_state, limit: int = 5
) -> list[str]:
  """Arrays whose stored shape differs from `abstract_state` (first `limit`).

  Only arrays found under the same path on both sides are compared; typed
  PRNG keys are skipped (stored as their uint32 data).
  """
  try:
    stored = manager.item_metadata(step)["state"]
  except Exception:  # pylint: disable=broad-except
    return []  # No readable metadata: let the restore itself decide.
  stored_shapes = {
      _path_names(path): tuple(leaf.shape)
      for path, leaf in jax.tree_util.tree_leaves_with_path(stored)
      if hasattr(leaf, "shape")
  }
  mismatches = []
  for path, leaf in jax.tree_util.tree_leaves_with_path(abstract_state):
    if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
      continue
    name = _path_names(path)
    if name in stored_shapes and stored_shapes[name] != tuple(leaf.shape):
      mismatches.append(
          f"{'/'.join(name)}: checkpoint {stored_shapes[name]}, config"
          f" {tuple(leaf.shape)}"
      )
  return mismatches[:limit]


def restore_latest(
    manager: ocp.CheckpointManager,
    abstract_state,
) -> tuple[int, object, dict] | None:
  """Restores the newest readable checkpoint into the layout of `abstract_state`.

  Args:
    manager: the checkpoint manager.
    abstract_state: pytree of jax.ShapeDtypeStruct (with shardings) or arrays
      describing the state to restore into, e.g. `jax.eval_shape(init_fn)`;
      this lets a checkpoint move between device counts.

  Returns:
    (step, state, metadata) of the newest step that restores, or None when the
    directory has no checkpoint.

  Raises:
    CheckpointError: checkpoints exist but none restores into this layout
      (e.g. a different model size or image shape in the config).
  """
  steps = sorted(manager.all_steps(), reverse=True)
  abstract_state = jax.tree.map(ocp.utils.to_shape_dtype_struct, abstract_state)
  errors = []
  for step in steps:
    mismatches = _shape_mismatches(manager, step, abstract_state)
    if mismatches:
      # Checked before reading: a failed orbax read floods the log with
      # asyncio tracebacks and names no config field.
      errors.append(f"step {step}: shapes differ: " + "; ".join(mismatches))
      continue
    try:
      restored = manager.restore(
          step,
          args=ocp.args.Composite(
              state=ocp.args.StandardRestore(abstract_state),
              metadata=ocp.args.JsonRestore(),
          ),
      )
    except Exception as error:  # pylint: disable=broad-except
      # Orbax raises many types (ValueError, KeyError, OSError...); keep
      # trying older steps and report all reasons if none works.
      logging.warning(
          "Checkpoint step %d in %s does not restore: %s",
          step,
          manager.directory,
          error,
      )
      errors.append(f"step {step}: {type(error).__name__}: {error}")
      continue
    return step, restored.state, dict(restored.metadata or {})
  if not steps:
    return None
  raise CheckpointError(
      f"No checkpoint in {manager.directory} matches the current config (model"
      " size, image shape, channels). Use the config the checkpoints were"
      " written with, or a fresh --workdir. Reasons:\n  "
      + "\n  ".join(error[:500] for error in errors)
  )
