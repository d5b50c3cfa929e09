"""The experiment (--mode=experiment): every arm, end to end, resumable.

Stages, in order; each is skipped when its outputs exist and resumes from
its checkpoint when it was interrupted, so rerunning the same command after
a crash, a kill or a preemption continues where it stopped:

  1. data          build the dataset; cut the disjoint roles phase_train,
                   recon_train, val, test (`kspace.datasets.roles`); with
                   `registry.manual_dir`, also build the user's registry,
                   whose volumes (role registry_train) replace recon_train
                   for the pre-synthesized arms;
  2. phase models  train the SBDM and the GAN on phase_train (or use the
                   runs named by `sbdm_workdir` / `gan_workdir`);
  3. presynthesis  per arm, K phases per recon_train magnitude, written once
                   as an array_record store keyed by (arm, phase-model
                   checkpoint, seed, K, data) (`kspace.datasets.phase_store`);
  4. recon         one net per arm per seed, the same budget, masks and data
                   order for every arm (the GT arm trains on recon_train's
                   own complex images);
  5. evaluation    every net on the test role's ground truth at each
                   acceleration, with the same masks for every arm; the
                   hallucination threshold is fixed on val from the GT arm;
  6. report        `report.md`, `results.json` and figures (`launch.report`).

Layout of `workdir`: data_examples.png, phase/{sbdm,gan}/, presynthesis/,
recon/<arm>/seed<s>/ (a recon run; eval/test_R<R>.npz), val_thresholds.json,
report.md, results.json, figures/.
"""

import dataclasses
import functools
import hashlib
import json
import time
from collections.abc import Callable, Sequence

import jax
import ml_collections
import numpy as np
from etils import epath

from kspace.common import config_errors
from kspace import datasets
from kspace.common import normalize
from kspace.datasets import magnitude_registry
from kspace.datasets import phase_store
from kspace.datasets import roles as roles_lib
from kspace.simulator import phantom
from launch import prepare_data
from launch import report as report_lib
from recon import evaluation as recon_evaluation
from recon import hallucination
from recon import losses as recon_losses
from recon import models as recon_models
from recon import state as recon_state
from recon import train as recon_train
from runtime import atomic
from runtime import checkpoints
from runtime import optimizers
from runtime import parallel
from runtime import train_loop
from score_phase import gan
from score_phase import gan_model
from score_phase import inference
from score_phase import phase_sources
from score_phase import scan_params
from score_phase import train as phase_train
from score_phase.models import utils as score_models

GROUND_TRUTH = recon_train.GROUND_TRUTH
LEARNED = ("sbdm", "gan")
RECORD_BOUND = ("oracle", GROUND_TRUTH)
KNOWN_ARMS = tuple(phase_sources.PHASE_SOURCES.names()) + LEARNED + RECORD_BOUND
THRESHOLDS = "val_thresholds.json"


class ExperimentError(ValueError):
  """A config or a stage output the experiment cannot use (says the fix)."""


@dataclasses.dataclass
class Progress:
  """Prints `[experiment] k/n what (elapsed, ETA)` lines.

  `kinds` lists the kind of every step in order ("recon", "evaluation",
  ...); the ETA adds, over the steps left, the mean time of the
  steps of the same kind done in this sitting (the recon runs and
  evaluations dominate; one-offs count as 0 until seen).
  """

  kinds: list[str]
  done: int = 0
  start: float = dataclasses.field(default_factory=time.monotonic)
  seconds: dict = dataclasses.field(default_factory=dict)

  def step(self, what: str, fn: Callable[[], object]):
    kind = self.kinds[self.done]
    self.done += 1
    elapsed = time.monotonic() - self.start
    left = self.kinds[self.done - 1 :]
    if "recon" in self.seconds or "recon" not in left:
      eta = sum(np.mean(self.seconds.get(k, [0.0])) for k in left)
      eta = f"ETA {_minutes(eta)}"
    else:
      eta = "ETA after the first recon run"
    print(
        f"[experiment] {self.done}/{len(self.kinds)} {what}"
        f" (elapsed {_minutes(elapsed)}, {eta})",
        flush=True,
    )
    began = time.monotonic()
    out = fn()
    self.seconds.setdefault(kind, []).append(time.monotonic() - began)
    return out


def _minutes(seconds: float) -> str:
  return f"{seconds / 60:.1f} min"


def _hash(obj) -> str:
  return hashlib.sha1(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:10]


def check_config(config: ml_collections.ConfigDict) -> None:
  """Raises ExperimentError for unknown arms, too few seeds or samples,
  ConfigError for a misspelt network, loss or optimizer."""
  unknown = sorted(set(config.arms) - set(KNOWN_ARMS))
  if unknown:
    raise ExperimentError(
        f"Unknown arms {unknown} in config.arms; known: {sorted(KNOWN_ARMS)}."
    )
  if len(config.arms) != len(set(config.arms)):
    raise ExperimentError(f"config.arms lists an arm twice: {config.arms}.")
  if config.num_phase_samples < 2:
    raise ExperimentError(
        f"num_phase_samples is {config.num_phase_samples}; K >= 2 phases per"
        " image, the same for every arm."
    )
  if not config.recon_seeds:
    raise ExperimentError("config.recon_seeds is empty.")
  if "oracle" in config.arms and config.data.name != "synthetic_mri":
    raise ExperimentError(
        "The oracle arm rescans synthetic anatomy; drop it from config.arms"
        f" for data.name={config.data.name!r}."
    )
  if config.variant == "registry" and not config.registry.manual_dir:
    raise ExperimentError(
        "The registry variant trains on your images: pass"
        " --config.registry.manual_dir=<folder of DICOM / NIfTI / PNG files>."
    )
  if "oracle" in config.arms and config.registry.manual_dir:
    raise ExperimentError(
        "The oracle arm rescans synthetic anatomy, which a registry does not"
        " have; drop it from config.arms."
    )
  _check_choices(config)


def _check_choices(config: ml_collections.ConfigDict) -> None:
  """Builds what the stages' configs name (networks, losses, optimizers):
  a misspelt choice (config_errors.ConfigError) fails before the first
  stage, not hours into the run."""
  recon_models.get_model(config.recon.model, num_low_frequencies=0)
  recon_losses.get_loss_fn(config.recon.loss.name)
  score_models.get_model(config.sbdm.model)
  config_errors.check_choice(
      "gan.loss.gan", config.gan.loss.gan, gan_model.GAN_LOSSES
  )
  for block in (config.recon, config.sbdm, config.gan):
    optimizers.create_optimizer(block.optim)


def _with_data(
    sub: ml_collections.ConfigDict, config
) -> ml_collections.ConfigDict:
  """A copy of a sub-config whose dataset fields are the experiment's."""
  sub = ml_collections.ConfigDict(sub.to_dict())
  for key, value in config.data.items():
    sub.data[key] = value
  return sub


# ---------------------------------------------------------------- stages --


def registry_data(config) -> ml_collections.ConfigDict:
  """The data block of the user's registry, at the experiment's size."""
  data = ml_collections.ConfigDict(config.data.to_dict())
  data.name = magnitude_registry.NAME
  data.manual_dir = config.registry.manual_dir
  data.registry = {
      k: v for k, v in config.registry.items() if k != "manual_dir"
  }
  return data


def data_stage(config, workdir: epath.Path) -> dict[str, roles_lib.Subset]:
  """Builds the dataset (and registry), draws its figure, cuts the roles."""
  if not (workdir / "data_examples.png").exists():
    prepare_data.prepare_data(config, str(workdir))
  builder = datasets.build_from_config(config.data)
  field = config.recon.data.volume_field
  roles = roles_lib.assign(
      lambda split: datasets.data_source(builder, split),
      {role: tuple(spec) for role, spec in config.roles.items()},
      field,
      builder.info.full_name,
  )
  if config.registry.manual_dir:
    registry = datasets.build_from_config(registry_data(config))
    prepare_data.describe(registry)
    source = datasets.data_source(registry, "train")
    roles["registry_train"] = roles_lib.Subset(
        source,
        np.arange(len(source)),
        "train",
        "registry_train",
        registry.info.full_name,
    )
  return roles


def phase_model_stage(config, workdir, arm, roles) -> str:
  """Trains (or resumes, or finds) the learned arm's phase model."""
  named = config[f"{arm}_workdir"]
  if named:
    mode = "train_phase" if arm == "sbdm" else "train_gan"
    if _checkpoint_step(named) is None:
      raise ExperimentError(
          f"{arm}_workdir={named!r} has no checkpoint; train it first"
          f" (--mode={mode}), or set --config.{arm}_workdir='' to train it"
          " in the pipeline."
      )
    if not config.registry.manual_dir:
      _check_no_leak(config, arm, named, inference.read_config(named, mode))
    return named
  run_dir = str(workdir / "phase" / arm)
  sub = _with_data(config[arm], config)
  trainer = phase_train if arm == "sbdm" else gan
  trainer.train_and_evaluate(
      sub, run_dir, train_source=roles["phase_train"], val_source=roles["val"]
  )
  return run_dir


def _same_data(data, other) -> bool:
  """Whether two data blocks draw their train splits from the same
  anatomies: the same synthetic seed, or the same user folder."""
  if data.name != other.get("name"):
    return False
  if data.name == "synthetic_mri":
    return data.seed == other.get("seed")
  return data.manual_dir == other.get("manual_dir")


def _check_no_leak(config, arm, run_dir, run_config) -> None:
  """A phase model trained elsewhere must not have seen recon_train: its
  samples would carry those images' true phase into its arm."""
  if _same_data(config.data, run_config.get("data", {})):
    raise ExperimentError(
        f"The {arm} run in {run_dir} trained on the train split of"
        f" {config.data.name} (seed {config.data.seed}), which also holds"
        " this experiment's recon_train images: its phases would leak their"
        " ground truth into the arm. Fix: run the experiment on other"
        f" anatomies (--config.data.seed={config.data.seed + 1}), or leave"
        f" --config.{arm}_workdir empty to train it on phase_train here."
    )


def _checkpoint_step(run_dir) -> int | None:
  directory = epath.Path(run_dir) / train_loop.CHECKPOINT_DIR
  if not directory.exists():
    return None
  manager = checkpoints.create_manager(directory, async_save=False)
  try:
    return manager.latest_step()
  finally:
    manager.close()


def _magnitudes(records: Sequence[dict]) -> np.ndarray:
  return normalize.normalize_magnitude(
      np.stack([
          r["magnitude"] if "magnitude" in r else np.abs(r["image"])
          for r in records
      ])
  )


def _phase_fn_factory(config, arm, phase_dirs, split):
  """records -> PhaseFn for `arm`; only the record-bound arms (oracle,
  ground truth) need the records, the others are built once."""
  if arm == "oracle":
    return lambda records: inference.get_phase_fn(
        arm, records=records, split=split, dataset_seed=config.data.seed
    )
  if arm == GROUND_TRUTH:
    return lambda records: inference.get_phase_fn(arm, records=records)
  if arm == "sbdm" and config.sbdm_scan_parameters:
    # A scan-conditioned SBDM told each record's header (unknown fields
    # stay absent, as the model learned with its condition dropout).
    phase_fn = inference.get_phase_fn(arm, workdir=phase_dirs[arm])
    return lambda records: functools.partial(
        phase_fn, scan=scan_params.encode_records(records)
    )
  if arm in LEARNED:
    phase_fn = inference.get_phase_fn(arm, workdir=phase_dirs[arm])
  else:
    kwargs = config.phase_kwargs.get(arm, ml_collections.ConfigDict())
    phase_fn = jax.jit(inference.get_phase_fn(arm, **kwargs.to_dict()))
  return lambda records: phase_fn


def _phase_targets(roles) -> roles_lib.Subset:
  """The magnitudes the pre-synthesized arms train on."""
  return roles.get("registry_train", roles["recon_train"])


def store_key(config, arm, phase_dirs, source: roles_lib.Subset) -> dict:
  """What identifies an arm's pre-synthesized phases for `source`."""
  checkpoint = None
  if arm in LEARNED:
    run = epath.Path(phase_dirs[arm]).resolve()
    checkpoint = {"run": str(run), "step": _checkpoint_step(run)}
  kwargs = config.phase_kwargs.get(arm, ml_collections.ConfigDict())
  return {
      "arm": arm,
      "checkpoint": checkpoint,
      "kwargs": kwargs.to_dict(),
      "scan_parameters": arm == "sbdm" and config.sbdm_scan_parameters,
      "seed": config.seed,
      "num_samples": config.num_phase_samples,
      "data": train_loop.as_json(config.data),
      "role": [source.name, source.dataset, len(source)],
  }


def presynthesis_stage(config, workdir, arm, roles, phase_dirs):
  """K phases per recon_train (or registry) magnitude for `arm`, written
  once."""
  source = _phase_targets(roles)
  key = store_key(config, arm, phase_dirs, source)
  directory = workdir / "presynthesis" / f"{arm}_{_hash(key)}"
  shape = np.shape(
      source[0]["magnitude"] if "magnitude" in source[0] else source[0]["image"]
  )
  expected = {"phases": (config.num_phase_samples,) + shape}
  if not phase_store.exists(directory):
    factory = _phase_fn_factory(config, arm, phase_dirs, source.split)
    rng = jax.random.fold_in(jax.random.key(config.seed), _arm_index(arm))

    batch = config.presynthesis_batch
    starts = range(0, len(source), batch)
    began = time.monotonic()

    def chunk(start):
      rows = list(range(start, min(start + batch, len(source))))
      inputs = source.__getitems__(rows)
      magnitude = _magnitudes(inputs)
      phase_fn = factory(inputs)
      batch_key = jax.random.fold_in(rng, start)
      phases = np.moveaxis(
          inference.draw_phases(
              phase_fn, batch_key, magnitude, config.num_phase_samples
          ),
          0,
          1,
      )
      if phases.shape[2:] != magnitude.shape[1:]:
        raise ExperimentError(
            f"The {arm} phase source returned {phases.shape[2:]} phases for"
            f" {magnitude.shape[1:]} magnitudes."
        )
      records = []
      for i, row in enumerate(rows):
        out = {
            "magnitude": magnitude[i],
            "phases": phases[i],
            "role_index": np.int64(row),
        }
        for field in ("sens", "labels", "phase"):
          if field in inputs[i]:
            # `phase` is kept as `true_phase` for the phase-quality table.
            out["true_phase" if field == "phase" else field] = inputs[i][field]
        records.append(out)
      if arm in LEARNED:  # the slow ones: say how far they are
        print(
            f"  {arm}: {rows[-1] + 1}/{len(source)} magnitudes"
            f" ({_minutes(time.monotonic() - began)} in this sitting)",
            flush=True,
        )
      return records

    phase_store.write(
        directory,
        [functools.partial(chunk, start) for start in starts],
        key,
    )
  return phase_store.read(directory, count=len(source), shapes=expected)


def _arm_index(arm: str) -> int:
  return KNOWN_ARMS.index(arm)


def recon_config(config, arm: str, seed: int) -> ml_collections.ConfigDict:
  """The recon config of one arm and seed."""
  rc = _with_data(config.recon, config)
  rc.seed = seed
  rc.data.val_split = "validation"
  rc.eval.after_training = False
  if arm == GROUND_TRUTH:
    rc.data.phase_source, rc.data.phase_field = GROUND_TRUTH, "phase"
  else:
    rc.data.phase_source = recon_train.PRESYNTHESIZED
    rc.data.phase_field = "phases"
  return rc


def recon_stage(config, workdir, arm, seed, roles, stores):
  rc = recon_config(config, arm, seed)
  train_source = roles["recon_train"] if arm == GROUND_TRUTH else stores[arm]
  recon_train.train_and_evaluate(
      rc,
      str(_recon_dir(workdir, arm, seed)),
      sources={
          "train": train_source,
          "validation": roles["val"],
          "test": roles["test"],
      },
  )


def _recon_dir(workdir, arm, seed) -> epath.Path:
  return workdir / "recon" / arm / f"seed{seed}"


def _eval_config(config, arm, seed, acceleration, center_fraction):
  rc = recon_config(config, arm, seed)
  rc.forward.accelerations = (float(acceleration),)
  rc.forward.center_fractions = (float(center_fraction),)
  return rc


def _restore_params(rc, run_dir):
  _, state, _ = train_loop.restore(
      run_dir,
      recon_state.get_init_fn(rc),
      recon_state.compatibility(rc),
      parallel.create_mesh(),
      recon_state.TRAIN_MODE,
  )
  return state.params


def _near_labels(config) -> tuple[int, ...]:
  return tuple(
      phantom.LABEL_NAMES.index(name) for name in config.eval.near_labels
  )


def threshold_stage(config, workdir, roles) -> dict[str, float]:
  """Per acceleration, the 99.9th percentile of the GT arm's blob response
  on val (pooled over seeds); written once to val_thresholds.json."""
  path = workdir / THRESHOLDS
  if path.exists():
    return json.loads(path.read_text())
  if GROUND_TRUTH not in config.arms:
    raise ExperimentError(
        "The hallucination threshold is fixed on val from the ground_truth"
        " arm; keep it in config.arms."
    )
  out = {}
  for acceleration, fraction in config.eval.accelerations:
    responses = []
    for seed in config.recon_seeds:
      rc = _eval_config(config, GROUND_TRUTH, seed, acceleration, fraction)
      params = _restore_params(rc, str(_recon_dir(workdir, GROUND_TRUTH, seed)))
      outputs, _ = recon_evaluation.score(rc, params, roles["val"], None)
      responses.append(
          hallucination.region_responses(
              outputs["pred"], outputs["target"], outputs.get("labels")
          )
      )
    out[_r_key(acceleration)] = hallucination.threshold(
        np.concatenate(responses)
    )
  with atomic.replacing(path) as tmp:
    tmp.write_text(json.dumps(out, indent=2))
  return out


def _r_key(acceleration) -> str:
  return f"R{float(acceleration):g}"


def eval_path(workdir, arm, seed, acceleration) -> epath.Path:
  return (
      _recon_dir(workdir, arm, seed)
      / "eval"
      / f"test_{_r_key(acceleration)}.npz"
  )


def evaluation_stage(config, workdir, arm, seed, roles, thresholds):
  """Scores one net on the test role at every acceleration (npz each)."""
  for acceleration, fraction in config.eval.accelerations:
    path = eval_path(workdir, arm, seed, acceleration)
    if path.exists():
      continue
    rc = _eval_config(config, arm, seed, acceleration, fraction)
    params = _restore_params(rc, str(_recon_dir(workdir, arm, seed)))
    outputs, _ = recon_evaluation.score(rc, params, roles["test"], None)
    _, per_volume = recon_evaluation.slice_and_volume_metrics(outputs)
    _, zero_filled = recon_evaluation.slice_and_volume_metrics(
        outputs, "zero_filled"
    )
    counts = hallucination.count_stack(
        outputs["pred"],
        outputs["target"],
        outputs.get("labels"),
        thresholds[_r_key(acceleration)],
        _near_labels(config) if outputs.get("labels") is not None else (),
        config.eval.near_distance,
    )
    shown = config.eval.figure_images
    arrays = {f"volume_{k}": v for k, v in per_volume.items()}
    arrays |= {f"zero_filled_{k}": v for k, v in zero_filled.items()}
    arrays |= {f"hallucination_{k}": v for k, v in counts.items()}
    arrays |= {
        f"figure_{k}": outputs[k][:shown]
        for k in ("pred", "target", "zero_filled")
    }
    names, first = np.unique(outputs["volume"], return_index=True)
    arrays["volume_ids"] = names[np.argsort(first)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.replacing(path) as tmp:
      with tmp.open("wb") as f:
        np.savez(f, **arrays)


# ------------------------------------------------------------- pipeline --


def run(config: ml_collections.ConfigDict, workdir: str) -> epath.Path:
  """Runs (or resumes) every stage; returns the path of report.md."""
  check_config(config)
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  arms = tuple(config.arms)
  learned = [a for a in arms if a in LEARNED]
  seeds = tuple(config.recon_seeds)
  presynthesized = [a for a in arms if a != GROUND_TRUTH]
  runs = len(arms) * len(seeds)
  progress = Progress(
      ["data"]
      + ["phase model"] * len(learned)
      + ["presynthesis"] * len(presynthesized)
      + ["recon"] * runs
      + ["threshold"]
      + ["evaluation"] * runs
      + ["report"]
  )
  roles = progress.step(
      "data: build and cut roles", lambda: data_stage(config, workdir)
  )
  phase_dirs = {
      arm: progress.step(
          f"phase model: {arm}",
          lambda arm=arm: phase_model_stage(config, workdir, arm, roles),
      )
      for arm in learned
  }
  stores = {
      arm: progress.step(
          f"presynthesis: {arm} (K={config.num_phase_samples})",
          lambda arm=arm: presynthesis_stage(
              config, workdir, arm, roles, phase_dirs
          ),
      )
      for arm in presynthesized
  }
  for arm in arms:
    for seed in seeds:
      progress.step(
          f"recon: {arm} seed {seed}",
          lambda arm=arm, seed=seed: recon_stage(
              config, workdir, arm, seed, roles, stores
          ),
      )
  thresholds = progress.step(
      "evaluation: hallucination threshold on val (ground_truth arm)",
      lambda: threshold_stage(config, workdir, roles),
  )
  for arm in arms:
    for seed in seeds:
      progress.step(
          f"evaluation: {arm} seed {seed} on test",
          lambda arm=arm, seed=seed: evaluation_stage(
              config, workdir, arm, seed, roles, thresholds
          ),
      )
  path = progress.step(
      "report",
      lambda: report_lib.write(
          config,
          workdir,
          stores,
          roles,
          thresholds,
          eval_path,
          phase_models={
              arm: {"run": str(run), "step": _checkpoint_step(run)}
              for arm, run in phase_dirs.items()
          },
      ),
  )
  print(f"[experiment] done: {path}", flush=True)
  return path
