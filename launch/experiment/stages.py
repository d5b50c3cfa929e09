"""The experiment's stages (data, phase models, pre-synthesis, recon,
thresholds, evaluation), each skipped when its outputs exist; the order
and the progress lines are `launch.experiment.pipeline`'s, the folders
`launch.experiment.layout`'s."""

import functools
import json
import time
from collections.abc import Sequence

import jax
import ml_collections
import numpy as np
from etils import epath

from kspace import datasets
from kspace.common import normalize
from kspace.datasets import magnitude_registry
from kspace.simulator import phantom
from launch import prepare_data
from launch.experiment import arms as arms_lib
from launch.experiment import checks
from launch.experiment import layout
from launch.experiment import phase_store
from launch.experiment import progress
from launch.experiment import roles as roles_lib
from recon import evaluation as recon_evaluation
from recon import hallucination
from recon import state as recon_state
from recon import train as recon_train
from runtime import atomic
from runtime import parallel
from runtime import train_loop
from score_phase import evaluation as phase_evaluation
from score_phase import loading
from score_phase import scan_params
from score_phase.gan import model as gan_model
from score_phase.gan import trainer as gan_trainer
from score_phase.sbdm import loading as sbdm_loading
from score_phase.sbdm import state as sbdm_state
from score_phase.sbdm import trainer as sbdm_trainer
from score_phase.sources import lookup

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
    mode = sbdm_state.TRAIN_MODE if arm == "sbdm" else gan_model.TRAIN_MODE
    if layout.checkpoint_step(named) is None:
      raise checks.ExperimentError(
          f"{arm}_workdir={named!r} has no checkpoint; train it first"
          f" (--mode={mode}), or set --config.{arm}_workdir='' to train it"
          " in the pipeline."
      )
    if not config.registry.manual_dir:
      checks.check_no_leak(config, arm, named, loading.read_config(named, mode))
    return named
  run_dir = str(layout.phase_model_dir(workdir, arm))
  sub = checks.with_data(config[arm], config)
  trainer = sbdm_trainer if arm == "sbdm" else gan_trainer
  trainer.train_and_evaluate(
      sub, run_dir, train_source=roles["phase_train"], val_source=roles["val"]
  )
  return run_dir


def normalized_magnitudes(records: Sequence[dict]) -> np.ndarray:
  """(B, H, W) magnitudes of records (or of their complex `image`), each
  normalised as every phase source and recon net sees them."""
  return normalize.normalize_magnitude(
      np.stack([
          r["magnitude"] if "magnitude" in r else np.abs(r["image"])
          for r in records
      ])
  )


def _phase_fn_factory(config, arm, phase_dirs, split):
  """records -> PhaseFn for `arm` (or a phase reference); only the
  record-bound ones (oracles, ground truth) need the records, the others
  are built once."""
  if arm == "oracle" or arm in phase_evaluation.ORACLES:
    redraw = phase_evaluation.ORACLES.get(arm, "acquisition")
    return lambda records: lookup.get_phase_fn(
        "oracle",
        records=records,
        split=split,
        dataset_seed=config.data.seed,
        redraw=redraw,
    )
  if arm == arms_lib.GROUND_TRUTH:
    return lambda records: lookup.get_phase_fn(arm, records=records)
  kwargs = source_kwargs(config, arm)
  if arm in arms_lib.LEARNED:
    model = arms_lib.phase_model(arm)
    phase_fn = _get_phase_fn(model, workdir=phase_dirs[model], **kwargs)
    if arms_lib.told_header(arm):
      checks.check_told_header(
          arm, phase_dirs[model], loading.read_config(phase_dirs[model])
      )
      # Told each record's header (unknown fields stay absent, as the model
      # learned with its condition dropout).
      return lambda records: functools.partial(
          phase_fn, scan=scan_params.encode_records(records)
      )
  else:
    phase_fn = jax.jit(_get_phase_fn(arm, **kwargs))
  return lambda records: phase_fn


def source_kwargs(config, arm) -> dict:
  """config.phase_kwargs of `arm`'s source: a baseline's options, or the
  sampler options of a learned arm's phase model (phase_kwargs.sbdm, e.g.
  {"sampler_name": "dpmpp_2m", "num_steps": 20}, serves sbdm and
  sbdm_scan alike); {} for the record-bound ones and the references."""
  if arm not in arms_lib.KNOWN_ARMS:
    return {}
  name = arms_lib.phase_model(arm) if arm in arms_lib.LEARNED else arm
  return config.phase_kwargs.get(name, ml_collections.ConfigDict()).to_dict()


def sampler_label(config, model: str, run) -> str | None:
  """The SBDM sampler that draws `model`'s phases, e.g. "heun, 18 steps"
  (the run's own `sampling` unless config.phase_kwargs names another);
  None for the GAN (one network call)."""
  if model != "sbdm":
    return None
  kwargs = source_kwargs(config, model)
  kwargs.pop("use_ema", None)
  sampling = sbdm_loading.resolve_sampling(
      loading.read_config(run).sampling, **kwargs
  )
  return f"{sampling.name}, {sampling.num_steps} steps"


def _get_phase_fn(name, **kwargs):
  try:
    return lookup.get_phase_fn(name, **kwargs)
  except (TypeError, ValueError) as e:  # an option the source lacks
    raise checks.ExperimentError(
        f"config.phase_kwargs.{name} does not fit the {name} source: {e}."
    ) from None


def _phase_targets(roles) -> roles_lib.Subset:
  """The magnitudes the pre-synthesized arms train on."""
  return roles.get("registry_train", roles["recon_train"])


def store_key(
    config, arm, phase_dirs, source: roles_lib.Subset, num_samples=None
) -> dict:
  """What identifies an arm's pre-synthesized phases for `source`."""
  checkpoint = None
  if arm in arms_lib.LEARNED:
    run = epath.Path(phase_dirs[arms_lib.phase_model(arm)]).resolve()
    checkpoint = {"run": str(run), "step": layout.checkpoint_step(run)}
  return {
      "arm": arm,
      "checkpoint": checkpoint,
      "kwargs": source_kwargs(config, arm),
      "scan_parameters": (
          arm in arms_lib.KNOWN_ARMS and arms_lib.told_header(arm)
      ),
      "seed": config.seed,
      "num_samples": num_samples or config.num_phase_samples,
      "data": train_loop.as_json(config.data),
      "role": [source.name, source.dataset, len(source)],
  }


# Folded into an arm's key for the phases drawn only to score it, so they
# are independent of the ones its recon nets train on.
SCORING_STREAM = 1 << 20
# The PRNG index of the phase references (no arm has one this large).
REFERENCE_STREAM = 1000


def presynthesis_stage(config, workdir, arm, roles, phase_dirs):
  """K phases per recon_train (or registry) magnitude for `arm`, written
  once: what the arm's recon nets train on."""
  return _presynthesize(
      config,
      workdir,
      arm,
      _phase_targets(roles),
      config.num_phase_samples,
      jax.random.fold_in(jax.random.key(config.seed), arms_lib.arm_index(arm)),
      phase_dirs,
  )


def scoring_stage(config, workdir, arm, roles, phase_dirs):
  """`eval.phase_quality_samples` phases per image of the first
  `eval.phase_quality_images` recon_train magnitudes, drawn apart from the
  training ones to score the arm's phase (more samples per image than the
  recon nets need); `arm` may also be one of `eval.phase_references` (an
  oracle of `score_phase.evaluation.ORACLES`, scored, not trained on)."""
  targets = _phase_targets(roles)
  source = targets.head(
      config.eval.phase_quality_images, f"{targets.name}_scored"
  )
  if arm in arms_lib.KNOWN_ARMS:
    index = arms_lib.arm_index(arm)
  else:
    index = REFERENCE_STREAM + list(phase_evaluation.ORACLES).index(arm)
  key = jax.random.fold_in(jax.random.key(config.seed), index)
  return _presynthesize(
      config,
      workdir,
      arm,
      source,
      config.eval.phase_quality_samples,
      jax.random.fold_in(key, SCORING_STREAM),
      phase_dirs,
  )


def _presynthesize(config, workdir, arm, source, num_samples, rng, phase_dirs):
  """`num_samples` phases of `arm` per magnitude of `source`, drawn from
  `rng` and written once as a phase store (read back)."""
  key = store_key(config, arm, phase_dirs, source, num_samples)
  directory = layout.presynthesis_dir(workdir, arm, key)
  shape = np.shape(
      source[0]["magnitude"] if "magnitude" in source[0] else source[0]["image"]
  )
  expected = {"phases": (num_samples,) + shape}
  if not phase_store.exists(directory):
    factory = _phase_fn_factory(config, arm, phase_dirs, source.split)
    batch = config.presynthesis_batch
    starts = range(0, len(source), batch)
    began = time.monotonic()

    def chunk(start):
      rows = list(range(start, min(start + batch, len(source))))
      inputs = source.__getitems__(rows)
      magnitude = normalized_magnitudes(inputs)
      phase_fn = factory(inputs)
      batch_key = jax.random.fold_in(rng, start)
      phases = np.moveaxis(
          loading.draw_phases(phase_fn, batch_key, magnitude, num_samples),
          0,
          1,
      )
      if phases.shape[2:] != magnitude.shape[1:]:
        raise checks.ExperimentError(
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
        for field in ("sens", "labels", "phase", "sequence"):
          if field in inputs[i]:
            # `phase` is kept as `true_phase` for the phase-quality table.
            out["true_phase" if field == "phase" else field] = inputs[i][field]
        records.append(out)
      if arm in arms_lib.LEARNED:  # the slow ones: say how far they are
        print(
            f"  {arm}: {rows[-1] + 1}/{len(source)} magnitudes"
            f" ({progress.minutes(time.monotonic() - began)} in this sitting)",
            flush=True,
        )
      return records

    phase_store.write(
        directory,
        [functools.partial(chunk, start) for start in starts],
        key,
    )
  return phase_store.read(directory, count=len(source), shapes=expected)


def recon_config(
    config, arm: str, seed: int, net: str = layout.PRIMARY
) -> ml_collections.ConfigDict:
  """The recon config of one net, arm and seed."""
  rc = checks.with_data(config[net], config)
  rc.seed = seed
  rc.data.val_split = "validation"
  rc.eval.after_training = False
  if arm == arms_lib.GROUND_TRUTH:
    rc.data.phase_source, rc.data.phase_field = arms_lib.GROUND_TRUTH, "phase"
  else:
    rc.data.phase_source = recon_train.PRESYNTHESIZED
    rc.data.phase_field = "phases"
  return rc


def recon_stage(config, workdir, arm, seed, roles, stores, net=layout.PRIMARY):
  rc = recon_config(config, arm, seed, net)
  train_source = (
      roles["recon_train"] if arm == arms_lib.GROUND_TRUTH else stores[arm]
  )
  recon_train.train_and_evaluate(
      rc,
      str(layout.recon_dir(workdir, arm, seed, net)),
      sources={
          "train": train_source,
          "validation": roles["val"],
          "test": roles["test"],
      },
  )


def evaluated(config, workdir, arm, seed, net=layout.PRIMARY) -> bool:
  """Whether one net's test scores are written at every test mask (the
  net is done: neither its checkpoint nor its training phases are read
  again)."""
  return all(
      layout.eval_path(workdir, arm, seed, mask.key, net).exists()
      for mask in layout.test_masks(config)
  )


def threshold_ready(workdir, seed, net=layout.PRIMARY) -> bool:
  """Whether the hallucination threshold needs no retraining of this
  seed's ground-truth net: it is written, or that net's checkpoint is
  there to compute it from."""
  return layout.thresholds_path(workdir, net).exists() or (
      layout.checkpoint_step(
          layout.recon_dir(workdir, arms_lib.GROUND_TRUTH, seed, net)
      )
      is not None
  )


def eval_config(config, arm, seed, mask: layout.TestMask, net=layout.PRIMARY):
  """The recon config of one net, arm and seed at one test mask."""
  rc = recon_config(config, arm, seed, net)
  rc.forward.accelerations = (mask.acceleration,)
  rc.forward.center_fractions = (mask.center_fraction,)
  if mask.mask_type:
    rc.forward.mask_type = mask.mask_type
  return rc


def restore_params(rc, run_dir):
  """The parameters of the newest checkpoint of a recon run."""
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


def threshold_stage(config, workdir, roles, net=layout.PRIMARY):
  """Per test mask, the 99.9th percentile of the GT arm's blob response
  on val (pooled over seeds); written once per net."""
  path = layout.thresholds_path(workdir, net)
  if path.exists():
    return json.loads(path.read_text())
  if arms_lib.GROUND_TRUTH not in config.arms:
    raise checks.ExperimentError(
        "The hallucination threshold is fixed on val from the ground_truth"
        " arm; keep it in config.arms."
    )
  out = {}
  for mask in layout.test_masks(config):
    responses = []
    for seed in config.recon_seeds:
      rc = eval_config(config, arms_lib.GROUND_TRUTH, seed, mask, net)
      run_dir = layout.recon_dir(workdir, arms_lib.GROUND_TRUTH, seed, net)
      params = restore_params(rc, str(run_dir))
      outputs, _ = recon_evaluation.score(rc, params, roles["val"], None)
      responses.append(
          hallucination.region_responses(
              outputs["pred"], outputs["target"], outputs.get("labels")
          )
      )
    out[mask.key] = hallucination.threshold(np.concatenate(responses))
  with atomic.replacing(path) as tmp:
    tmp.write_text(json.dumps(out, indent=2))
  return out


def volume_sequences(outputs) -> np.ndarray:
  """Each test volume's sequence family (its first slice's;
  `kspace.simulator.sequences`, -1 unknown), in order of first appearance."""
  names, first = np.unique(outputs["volume"], return_index=True)
  first = np.sort(first)
  if "sequence" not in outputs:
    return np.full(len(first), -1, np.int32)
  return np.asarray(outputs["sequence"])[first].astype(np.int32)


def evaluation_stage(
    config, workdir, arm, seed, roles, thresholds, net=layout.PRIMARY
):
  """Scores one net on the test role at every test mask (npz each)."""
  for mask in layout.test_masks(config):
    path = layout.eval_path(workdir, arm, seed, mask.key, net)
    if path.exists():
      continue
    rc = eval_config(config, arm, seed, mask, net)
    params = restore_params(rc, str(layout.recon_dir(workdir, arm, seed, net)))
    outputs, _ = recon_evaluation.score(rc, params, roles["test"], None)
    _, per_volume = recon_evaluation.slice_and_volume_metrics(outputs)
    _, zero_filled = recon_evaluation.slice_and_volume_metrics(
        outputs, "zero_filled"
    )
    counts = hallucination.count_stack(
        outputs["pred"],
        outputs["target"],
        outputs.get("labels"),
        thresholds[mask.key],
        _near_labels(config) if outputs.get("labels") is not None else (),
        config.eval.near_distance,
    )
    arrays = {f"volume_{k}": v for k, v in per_volume.items()}
    arrays |= {f"zero_filled_{k}": v for k, v in zero_filled.items()}
    arrays |= {f"hallucination_{k}": v for k, v in counts.items()}
    if seed == config.recon_seeds[0]:  # The report's figures show this seed.
      arrays |= {
          f"figure_{k}": outputs[k][: config.eval.figure_images]
          for k in ("pred", "target", "zero_filled")
      }
    names, first = np.unique(outputs["volume"], return_index=True)
    arrays["volume_ids"] = names[np.argsort(first)]
    arrays["volume_sequence"] = volume_sequences(outputs)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.replacing(path) as tmp:
      with tmp.open("wb") as f:
        np.savez(f, **arrays)


# ------------------------------------------------------------- pipeline --
