"""Trained phase models shipped inside the package, installed by name.

A phase model trained for hours on a CPU is only worth its hours if it
outlives the machine that trained it. `save` keeps a train_phase run's EMA
parameters and config in one .npz of a few MB under `weights/`; `install`
writes them back as a train_phase checkpoint in a fresh --workdir, so every
consumer of a run (--mode=sample_phase, the experiment's sbdm_workdir,
benchmarks/sampler.py, export) takes it unchanged:

  python -m launch.pretrained save --workdir=runs/phase_cpu64 --name=cpu64
  python -m launch.pretrained install --name=cpu64 --workdir=runs/phase_cpu64

The installed checkpoint holds the EMA parameters as both `params` and
`ema_params`, at the saved step, with a fresh optimizer state: sampling
from it equals sampling the original run; training on from it is a warm
start (new Adam moments), not that run's resume.
"""

import json
import zipfile

import flax
import jax
import ml_collections
import numpy as np
from etils import epath

from runtime import atomic
from runtime import checkpoints
from runtime import parallel
from runtime import train_loop
from score_phase import loading
from score_phase.sbdm import state as sbdm_state

WEIGHTS_DIR = epath.Path(__file__).parent / "weights"
_PARAM_PREFIX = "params/"
_CONFIG_KEY = "config_json"
_INFO_KEY = "info_json"


def names() -> list[str]:
  """The models shipped in `WEIGHTS_DIR`."""
  return sorted(p.stem for p in WEIGHTS_DIR.glob("*.npz"))


def weights_path(name: str) -> epath.Path:
  """The file of a shipped model.

  Raises:
    CheckpointError: no shipped model of that name (the message lists them).
  """
  path = WEIGHTS_DIR / f"{name}.npz"
  if not path.exists():
    raise checkpoints.CheckpointError(
        f"No pretrained phase model {name!r}; shipped: {names() or 'none'}"
        " (python -m launch.pretrained save makes one from a train_phase run)."
    )
  return path


def save(
    workdir: str, path: str | epath.Path, info: dict | None = None
) -> dict:
  """Writes the newest checkpoint's EMA parameters and config to `path`.

  Args:
    workdir: a --mode=train_phase run.
    path: the .npz to write (atomically: a temporary file, then renamed).
    info: JSON-able provenance kept beside the weights (command, commit).

  Returns:
    The info stored: `info` with the run's step and parameter count.

  Raises:
    CheckpointError: no readable SBDM checkpoint in `workdir`.
  """
  config = loading.read_config(workdir, sbdm_state.TRAIN_MODE)
  step, state = sbdm_state.restore_state(
      config, workdir, parallel.create_mesh()
  )
  flat = flax.traverse_util.flatten_dict(
      jax.device_get(state.ema_params), sep="/"
  )
  stored = {
      **(info or {}),
      "step": int(step),
      "num_params": int(sum(np.size(v) for v in flat.values())),
  }
  arrays = {_PARAM_PREFIX + k: np.asarray(v) for k, v in flat.items()}
  arrays[_CONFIG_KEY] = np.array(config.to_json())
  arrays[_INFO_KEY] = np.array(json.dumps(stored, sort_keys=True))
  path = epath.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  with atomic.replacing(path) as tmp:
    with tmp.open("wb") as f:
      np.savez_compressed(f, **arrays)
  return stored


def read(
    path: str | epath.Path,
) -> tuple[ml_collections.ConfigDict, dict, dict]:
  """(config, params, info) of a saved model file.

  Raises:
    CheckpointError: the file is missing, torn or not one `save` wrote.
  """
  try:
    with np.load(epath.Path(path), allow_pickle=False) as stored:
      config = ml_collections.ConfigDict(
          json.loads(str(stored[_CONFIG_KEY]))
      )
      info = json.loads(str(stored[_INFO_KEY]))
      flat = {
          k[len(_PARAM_PREFIX) :]: stored[k]
          for k in stored.files
          if k.startswith(_PARAM_PREFIX)
      }
  # A torn zip, a file of another kind (numpy then refuses to unpickle
  # it), a missing key or broken JSON: one message, not numpy's traceback.
  except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
    raise checkpoints.CheckpointError(
        f"{path} is not a readable pretrained phase model ({e}); save it"
        " again with python -m launch.pretrained save, or reinstall the"
        " package if it is a shipped one."
    ) from e
  if not flat:
    raise checkpoints.CheckpointError(
        f"{path} holds no parameters; save it again with"
        " python -m launch.pretrained save."
    )
  return config, flax.traverse_util.unflatten_dict(flat, sep="/"), info


def _shapes(params) -> dict:
  return {
      k: np.shape(v)
      for k, v in flax.traverse_util.flatten_dict(params, sep="/").items()
  }


def install(name_or_path: str, workdir: str) -> int:
  """Writes a shipped (by name) or saved (by path) model as a train_phase
  checkpoint in `workdir`; returns its step.

  Raises:
    CheckpointError: unknown name, a `workdir` that already holds
      checkpoints, or a file whose parameters do not fit its own config.
  """
  path = (
      epath.Path(name_or_path)
      if name_or_path.endswith(".npz")
      else weights_path(name_or_path)
  )
  config, params, info = read(path)
  directory = epath.Path(workdir) / train_loop.CHECKPOINT_DIR
  if directory.exists() and any(directory.iterdir()):
    raise checkpoints.CheckpointError(
        f"{directory} already holds checkpoints; install into an empty"
        " --workdir."
    )
  fresh = sbdm_state.get_init_fn(config)(jax.random.key(config.seed))
  if _shapes(params) != _shapes(fresh.params):
    raise checkpoints.CheckpointError(
        f"The parameters in {path} do not fit the network of their own"
        " config; save the model again from its run."
    )
  params = jax.tree.map(
      lambda p, f: np.asarray(p, f.dtype), params, fresh.params
  )
  step = int(info["step"])
  state = fresh.replace(
      step=np.asarray(step, np.int32), params=params, ema_params=params
  )
  manager = checkpoints.create_manager(directory, async_save=False)
  try:
    checkpoints.save(
        manager,
        step,
        state,
        {
            "compatibility": sbdm_state.compatibility(config),
            "config": train_loop.as_json(config),
            "pretrained": {"source": str(path.name), **info},
        },
    )
  finally:
    manager.close()
  return step
