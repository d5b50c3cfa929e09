"""Data parallelism with jit over a 1-D device mesh, single or multi host.

The batch is sharded along a `data` mesh axis and everything else is
replicated; algorithm code never names the axis, so the same jitted step runs
on 1 CPU, 8 GPUs or a TPU pod slice.
"""

import os

import jax
import numpy as np
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding, PartitionSpec as P

from kspace.common import config_errors

DATA_AXIS = "data"


# Explicit jax.distributed.initialize arguments, for launches that JAX's
# cluster detection does not know (e.g. several processes on one machine).
DISTRIBUTED_ENV = {
    "coordinator_address": ("PHASESYNTH_COORDINATOR", str),
    "num_processes": ("PHASESYNTH_NUM_PROCESSES", int),
    "process_id": ("PHASESYNTH_PROCESS_ID", int),
}


def distributed_args(environ) -> dict:
  """The jax.distributed.initialize keyword arguments set in `environ`."""
  return {
      arg: cast(environ[name])
      for arg, (name, cast) in DISTRIBUTED_ENV.items()
      if name in environ
  }


def maybe_initialize_distributed() -> None:
  """Calls jax.distributed.initialize() when a multi-host launcher asks.

  SLURM and TPU-VM pod launches set the coordinator environment; our launch
  scripts export PHASESYNTH_DISTRIBUTED=1 there. Elsewhere name the
  coordinator ("host:port"), process count and this process's id with
  PHASESYNTH_COORDINATOR, PHASESYNTH_NUM_PROCESSES, PHASESYNTH_PROCESS_ID.
  Single-host runs skip it.
  """
  if os.environ.get("PHASESYNTH_DISTRIBUTED") == "1":
    jax.distributed.initialize(**distributed_args(os.environ))


def create_mesh() -> jax.sharding.Mesh:
  """A 1-D mesh over all devices (of all processes) named `data`."""
  return jax.make_mesh(
      (jax.device_count(),),
      (DATA_AXIS,),
      axis_types=(jax.sharding.AxisType.Auto,),
  )


def batch_sharding(mesh: jax.sharding.Mesh) -> NamedSharding:
  """Leading (batch) axis split over `data`, other axes whole."""
  return NamedSharding(mesh, P(DATA_AXIS))


def replicated(mesh: jax.sharding.Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def check_batch_size(global_batch_size: int) -> int:
  """The per-process batch size; the global one must split over devices."""
  if global_batch_size % jax.device_count():
    raise config_errors.ConfigError(
        f"Batch size {global_batch_size} is not divisible by the"
        f" {jax.device_count()} devices. Fix: pick a multiple of"
        f" {jax.device_count()}."
    )
  return global_batch_size // jax.process_count()


def shard_batch(batch, mesh: jax.sharding.Mesh):
  """Places this process's slice of a global batch onto the mesh.

  Args:
    batch: pytree of host numpy arrays with the per-process batch leading.
    mesh: the data mesh.

  Returns:
    The same pytree of global jax.Arrays sharded along `data`.
  """
  sharding = batch_sharding(mesh)
  return jax.tree.map(
      lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)),
      batch,
  )


def shard_global_batch(batch, mesh: jax.sharding.Mesh):
  """Places a global batch that every process holds whole onto the mesh.

  For work every process can read in full (evaluation splits, images to
  sample phases for); each process contributes its equal share, in process
  order. The leading size must split over the devices.
  """
  return shard_batch(
      jax.tree.map(
          lambda x: np.split(np.asarray(x), jax.process_count())[
              jax.process_index()
          ],
          batch,
      ),
      mesh,
  )


def gather(tree):
  """Host numpy copies of (possibly multi-process) global arrays.

  A device_get cannot read the shards of other processes; with several,
  every process receives the whole array.
  """
  if jax.process_count() == 1:
    return jax.device_get(tree)
  return multihost_utils.process_allgather(tree, tiled=True)


def sync_processes(name: str, timeout_s: int = 3600) -> None:
  """Waits until every process reaches the barrier `name` (one: no-op).

  Through the coordination service, not a device collective, so a slow
  process has `timeout_s` to arrive.
  """
  if jax.process_count() > 1:
    ocp.multihost.get_barrier_sync_fn()(key=name, timeout_ms=timeout_s * 1000)


def compile_together(jitted, *args) -> None:
  """Compiles `jitted` for `args` on every process, then waits for all.

  CPU (gloo) collectives give the other processes 30 s to join a program's
  first collective, less than a compile can differ between processes on a
  busy machine: compiling first starts every first run together. A no-op
  with one process; the compiled program is cached for the next call.
  """
  if jax.process_count() > 1:
    jitted.lower(*args).compile()
    sync_processes(f"compiled {getattr(jitted, '__name__', 'step')}")


def pad_to_multiple(batch, multiple: int):
  """Pads the leading axis of every array by repeating the last row.

  Jitted steps shard the batch over devices, so a short batch (the last one
  of an evaluation split, or a few images for a sampler) is padded to a
  multiple of the device count and the padding dropped from the results.

  Args:
    batch: pytree of host arrays sharing their leading (batch) size B.
    multiple: e.g. `jax.device_count()` or a per-process batch size.

  Returns:
    (padded pytree with leading size ceil(B / multiple) * multiple, B).
  """
  count = jax.tree.leaves(batch)[0].shape[0]
  pad = -count % multiple
  if not pad:
    return batch, count
  return (
      jax.tree.map(
          lambda x: np.concatenate([x, np.repeat(x[-1:], pad, axis=0)]), batch
      ),
      count,
  )


def replicate(tree, mesh: jax.sharding.Mesh):
  """Copies a pytree (e.g. parameters) to every device of the mesh."""
  return jax.device_put(tree, replicated(mesh))
