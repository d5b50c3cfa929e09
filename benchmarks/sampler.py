r"""Phase samplers judged by proper scores: which is the fastest good one.

Loads a trained phase model (a `--mode=train_phase` workdir: its config is
read from the checkpoint), then for every row of the grid samples K =
`--num_samples` phases for each of the first N = `--num_images` validation
images, with the same noise for every row (the key of batch b is
fold_in(key(seed), b), as in --mode=sample_phase, so every sampler starts
from the same prior draws), and scores them with
`score_phase.scoring.sampler_scores` (`score_batch`, `Accumulator`,
`summarize`: the scorer of --mode=sample_phase; point errors are not the
judge, docs/design.md "How a phase sampler is judged"). Per row: the score
evaluations per sample (NFE), the seconds per sample (median wall time of a
call after compilation / samples per call), energy_total and energy_d1 with
their bootstrap intervals, spread/skill (total, d1), the circular CRPS, and
the paired difference row - best of energy_total over images
(`runtime.stats.paired_bootstrap`; > 0: the row is worse than the best).
Rows within 1% of the best row's energy_total are marked, and the chosen
sampler is the fastest marked row at <= 20 NFE. Prints a Markdown table
(also written to --out) and writes every number to --json.

  python benchmarks/sampler.py --workdir=/work/runs/phase_cpu64 \
      --num_images=96 --num_samples=8 --batch_images=16 \
      --out=/tmp/sampler.md --json=/tmp/sampler.json --cache=/tmp/sampler_rows

Cost: every row samples N x K phases; on the 2-core CPU the cpu64 network
runs about 100-150 score evaluations of a 64x64 image per second, so the
paper's PC-1000 (2000 NFE) at N = 96, K = 8 takes hours alone. `--only`
runs a subset of rows (comma-separated labels); `--cache` keeps each
finished row's per-image scores and, as they come, each batch's phases,
so a rerun (or an interrupted run) computes only the rows and batches it
lacks: a row longer than a sitting resumes. `--smoke` runs the same code on the
`tiny` network at random initialisation (16x16, 4 images x 2 samples, a few
steps per sampler; about 30 s on 2 cores).
"""

import argparse
import hashlib
import json
import math
import os
import pathlib
import platform
import statistics
import sys
import time

import jax
import ml_collections
import numpy as np

# Run as a script from the repository root.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

# pylint: disable=g-import-not-at-top
from benchmarks import outputs
from configs import phase_sbdm
from runtime import atomic
from runtime import parallel
from runtime import stats
from score_phase import batch_checks
from score_phase import input_pipeline
from score_phase import loading
from score_phase import scan_params
from score_phase.sbdm import loading as sbdm_loading
from score_phase.sbdm import state as sbdm_state
from score_phase.scoring import distributions
from score_phase.scoring import sampler_scores

# EDM's stochastic sampler as tuned for ImageNet-64 (Karras et al. 2022,
# Table 5): S_churn 40, S_tmin 0.05, S_tmax 50, S_noise 1.003.
CHURN = dict(churn=40.0, s_tmin=0.05, s_tmax=50.0, s_noise=1.003)
PAPER = dict(
    name="pc",
    num_steps=1000,
    predictor="reverse_diffusion",
    corrector="langevin",
    n_corrector_steps=1,
)

# (label, `sampling` overrides): the grid, the paper's sampler first.
ROWS = (
    ("pc 1000 (paper)", PAPER),
    ("ode 50", dict(name="ode", num_steps=50)),
    ("ode 100", dict(name="ode", num_steps=100)),
    ("ode 200", dict(name="ode", num_steps=200)),
    ("heun 5", dict(name="heun", num_steps=5, churn=0.0)),
    ("heun 8", dict(name="heun", num_steps=8, churn=0.0)),
    ("heun 10", dict(name="heun", num_steps=10, churn=0.0)),
    ("heun 18", dict(name="heun", num_steps=18, churn=0.0)),
    ("heun 35", dict(name="heun", num_steps=35, churn=0.0)),
    ("heun 10 churn", dict(name="heun", num_steps=10, **CHURN)),
    ("heun 18 churn", dict(name="heun", num_steps=18, **CHURN)),
    ("heun 35 churn", dict(name="heun", num_steps=35, **CHURN)),
    *(
        (f"dpmpp_2m {n}", dict(name="dpmpp_2m", num_steps=n))
        for n in (5, 8, 10, 15, 20, 30)
    ),
)
# The same kinds of rows at a few steps, for --smoke.
SMOKE_ROWS = (
    ("pc 4", dict(PAPER, num_steps=4)),
    ("ode 4", dict(name="ode", num_steps=4)),
    ("heun 3", dict(name="heun", num_steps=3, churn=0.0)),
    ("heun 3 churn", dict(name="heun", num_steps=3, **CHURN)),
    ("dpmpp_2m 4", dict(name="dpmpp_2m", num_steps=4)),
)
# A row within this fraction of the best energy_total counts as as good.
TOLERANCE = 0.01
# The chosen sampler is the fastest good row with at most this many NFE.
MAX_CHOSEN_NFE = 20


def row_config(config: ml_collections.ConfigDict, overrides: dict):
  """The run's config with its `sampling` block completed by the current
  defaults (fields added since it was saved) and the row's `overrides`."""
  setting = ml_collections.ConfigDict(config.to_dict())
  block = phase_sbdm.get_config().sampling
  block.update(config.sampling.to_dict())
  setting.sampling = sbdm_loading.resolve_sampling(block, **overrides)
  return setting


def compile_sampler(setting, params, inputs, mesh):
  """(compiled call(rng, params, inputs), NFE, compile seconds): the
  sampler jitted over the mesh as `score_phase.loading.compile_sampler`
  does, compiled ahead of time for the shapes of `inputs` so that no timed
  call compiles."""
  sample_phase, nfe = sbdm_loading.sample_phase_fn(setting)
  jitted = jax.jit(
      lambda rng, params, inputs: sample_phase(rng, params, *inputs),
      in_shardings=(
          parallel.replicated(mesh),
          parallel.replicated(mesh),
          parallel.batch_sharding(mesh),
      ),
      out_shardings=parallel.batch_sharding(mesh),
  )
  start = time.perf_counter()
  compiled = jitted.lower(jax.random.key(0), params, inputs).compile()
  return compiled, nfe, time.perf_counter() - start


def tiled_inputs(magnitude, scan, num_samples, mesh):
  """K copies of the batch as one call, padded to the device count (as
  `score_phase.loading.sample_phases`): (sharded inputs, real count)."""
  inputs = (magnitude,) if scan is None else (magnitude, scan)
  tiled, count = parallel.pad_to_multiple(
      jax.tree.map(lambda a: np.concatenate([a] * num_samples, axis=0), inputs),
      jax.device_count(),
  )
  return parallel.shard_global_batch(tiled, mesh), count


def eval_batches(config, source, num_images, batch_images, scan):
  """[(magnitude, phase, labels or None, scan or None)] of the first
  `num_images` records in batches of `batch_images`."""
  batches = []
  for records in input_pipeline.eval_records(source, batch_images, num_images):
    magnitude = batch_checks.prepare_magnitude(
        np.stack([r["magnitude"] for r in records]), config.data.image_size
    )
    phase = np.stack([r["phase"] for r in records]).astype(np.float32)
    labels = None
    if all("labels" in r for r in records):
      labels = np.stack([r["labels"] for r in records]).astype(np.int32)
    condition = scan_params.encode_records(records) if scan else None
    batches.append((magnitude, phase, labels, condition))
  return batches


def run_row(
    setting, params, batches, num_samples, seed, mesh, batch_dir=None
) -> dict:
  """Samples and scores one row: per-image scores, histograms, timings.

  With `batch_dir`, each batch's phases (and its call's seconds) are kept
  there as they come, and a rerun samples only the batches it lacks: a row
  longer than a sitting (the paper's PC-1000 at N = 96) resumes.
  """
  compiled = nfe = compile_s = None
  key = jax.random.key(seed)
  accumulator = sampler_scores.Accumulator()
  seconds = []
  for index, (magnitude, phase, labels, scan) in enumerate(batches):
    saved = batch_dir / f"batch_{index:04d}.npz" if batch_dir else None
    if saved is not None and saved.exists():
      with np.load(saved) as done:
        phases, call_s = done["phases"], float(done["seconds"])
        nfe, compile_s = int(done["nfe"]), float(done["compile_s"])
    else:
      inputs, count = tiled_inputs(magnitude, scan, num_samples, mesh)
      if compiled is None:
        compiled, nfe, compile_s = compile_sampler(
            setting, params, inputs, mesh
        )
      start = time.perf_counter()
      phases = jax.block_until_ready(
          compiled(jax.random.fold_in(key, index), params, inputs)
      )
      call_s = time.perf_counter() - start
      phases = np.asarray(parallel.gather(phases))[:count]
      phases = phases.reshape((num_samples,) + magnitude.shape)
      if saved is not None:
        saved.parent.mkdir(parents=True, exist_ok=True)
        with atomic.replacing(saved) as tmp:
          np.savez(
              tmp, phases=phases, seconds=call_s, nfe=nfe, compile_s=compile_s
          )
    seconds.append(call_s)
    scores, histograms = sampler_scores.score_batch(
        phases,
        phase,
        magnitude,
        labels,
        sampler_scores.deltas_for(phase.shape),
    )
    accumulator.add("row", scores, histograms)
  samples_per_call = magnitude.shape[0] * num_samples
  return {
      "nfe": nfe,
      "compile_s": compile_s,
      "call_seconds": seconds,
      "samples_per_call": samples_per_call,
      "seconds_per_sample": statistics.median(seconds) / samples_per_call,
      "per_image": {
          name: values.tolist()
          for name, values in accumulator.per_image()["row"].items()
      },
      "histograms": (
          accumulator.histograms["row"].tolist()
          if "row" in accumulator.histograms
          else None
      ),
  }


def truth_histograms(batches):
  """The true phases' neighbour-difference histograms (labelled data)."""
  accumulator = sampler_scores.Accumulator()
  for magnitude, phase, labels, _ in batches:
    if labels is None:
      return None
    accumulator.add_truth(
        distributions.difference_histograms(phase[None], magnitude, labels)
    )
  return accumulator.truth_histograms


def judge(rows: dict, truth, level: float, seed: int) -> dict:
  """The table of `rows` ({label: run_row's dict}): every score's mean and
  interval (`sampler_scores.summarize`), the paired energy_total
  difference of each row from the best one, the rows within TOLERANCE of
  the best and the chosen sampler."""
  accumulator = sampler_scores.Accumulator()
  if truth is not None:
    accumulator.add_truth(truth)
  for label, row in rows.items():
    accumulator.add(
        label,
        {k: np.asarray(v) for k, v in row["per_image"].items()},
        None if row["histograms"] is None else np.asarray(row["histograms"]),
    )
  summary = sampler_scores.summarize(accumulator, None, level, seed)
  per_image = accumulator.per_image()
  energy = {
      label: summary["sources"][label]["energy_total"]["mean"] for label in rows
  }
  # A row that diverged (NaN) is never the best nor as good.
  energy = {k: math.inf if math.isnan(v) else v for k, v in energy.items()}
  best = min(energy, key=energy.get)
  judged = {}
  for label, row in rows.items():
    paired = None
    if label != best:
      paired = stats.paired_bootstrap(
          per_image[label]["energy_total"],
          per_image[best]["energy_total"],
          level,
          seed=seed,
      ).as_difference_dict()
    judged[label] = {
        "scores": summary["sources"][label],
        "energy_total_minus_best": paired,
        "within_tolerance": bool(
            energy[label] <= energy[best] * (1 + TOLERANCE)
        ),
    }
  candidates = [
      label
      for label in rows
      if judged[label]["within_tolerance"]
      and rows[label]["nfe"] <= MAX_CHOSEN_NFE
  ]
  chosen = min(
      candidates,
      key=lambda l: (rows[l]["seconds_per_sample"], rows[l]["nfe"]),
      default=None,
  )
  return {
      "best": best,
      "chosen": chosen,
      "rows": judged,
      "num_images": summary["num_images"],
      "level": level,
  }


def _cell(interval: dict) -> str:
  return (
      f"{interval['mean']:.4f} [{interval['ci_low']:.4f},"
      f" {interval['ci_high']:.4f}]"
  )


def markdown(rows: dict, verdict: dict, header: str) -> str:
  """The verdict as a Markdown table with a header line and the choice."""
  lines = [
      header,
      "",
      (
          "| sampler | NFE | s/sample | energy_total | energy_d1 |"
          " spread/skill total | spread/skill d1 | crps |"
          " energy_total - best | within 1% |"
      ),
      "|---" * 10 + "|",
  ]
  for label, row in rows.items():
    judged = verdict["rows"][label]
    scores = judged["scores"]
    paired = judged["energy_total_minus_best"]
    difference = (
        "best"
        if paired is None
        else (
            f"{paired['mean_difference']:+.4f} [{paired['low']:+.4f},"
            f" {paired['high']:+.4f}]"
        )
    )
    lines.append(
        f"| {label} | {row['nfe']} | {row['seconds_per_sample']:.4f} |"
        f" {_cell(scores['energy_total'])} | {_cell(scores['energy_d1'])} |"
        f" {scores['spread_skill_total']['mean']:.3f} |"
        f" {scores['spread_skill_d1']['mean']:.3f} |"
        f" {_cell(scores['crps'])} | {difference} |"
        f" {'yes' if judged['within_tolerance'] else ''} |"
    )
  best, chosen = verdict["best"], verdict["chosen"]
  lines.append("")
  lines.append(
      f"Best energy_total: {best}. Within {TOLERANCE:.0%} of it: "
      + ", ".join(l for l in rows if verdict["rows"][l]["within_tolerance"])
      + "."
  )
  if chosen is None:
    lines.append(
        f"The chosen sampler: none (no row within {TOLERANCE:.0%} of the"
        f" best at <= {MAX_CHOSEN_NFE} NFE)."
    )
  else:
    lines.append(
        f"The chosen sampler: **{chosen}** ({rows[chosen]['nfe']} NFE,"
        f" {rows[chosen]['seconds_per_sample']:.4f} s/sample), the fastest"
        f" row within {TOLERANCE:.0%} of the best at <= {MAX_CHOSEN_NFE} NFE."
    )
  return "\n".join(lines) + "\n"


def _cache_path(cache: str, key: dict) -> pathlib.Path:
  """`<cache>/row_<digest>.json`, a finished row; its batches as they come
  in the folder of the same name without the suffix."""
  digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[
      :16
  ]
  return pathlib.Path(cache) / f"row_{digest}.json"


def smoke_model():
  """(config, parameters, val records) of the `tiny` SBDM (EDM
  preconditioning) at random initialisation, on 4 in-memory synthetic
  16x16 validation records."""
  from kspace.simulator import generator  # pylint: disable=g-import-not-at-top

  config = phase_sbdm.get_config("tiny")
  # EDM's preconditioning (as cpu64): at initialisation (zero output layer)
  # the score is that of the skip connection, not 0, whose infinite
  # Langevin step would make the PC row NaN.
  config.model.preconditioning = "edm"
  state = sbdm_state.get_init_fn(config)(jax.random.key(config.seed))
  records = []
  for i in range(4):
    example = generator.generate_example(
        generator.example_rng(0, "validation", i), config.data.image_size
    )
    records.append({k: example[k] for k in ("magnitude", "phase", "labels")})
  return config, state.ema_params, records


def main(argv):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--workdir", default="", help="a train_phase run")
  parser.add_argument("--num_images", type=int, default=96)
  parser.add_argument("--num_samples", type=int, default=8)
  parser.add_argument(
      "--batch_images", type=int, default=16, help="images per call"
  )
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument(
      "--scan",
      type=int,
      default=0,
      help="tell a scan-conditioned model each record's scan parameters",
  )
  parser.add_argument("--use_ema", type=int, default=1)
  parser.add_argument("--level", type=float, default=0.95)
  parser.add_argument("--only", default="", help="comma-separated labels")
  parser.add_argument("--cache", default="", help="folder of finished rows")
  parser.add_argument("--out", default="")
  parser.add_argument("--json", default="")
  parser.add_argument("--smoke", action="store_true")
  args = parser.parse_args(argv)

  grid = SMOKE_ROWS if args.smoke else ROWS
  mesh = parallel.create_mesh()
  if args.smoke:
    config, params, val_source = smoke_model()
    params, step = parallel.replicate(params, mesh), 0
    args.workdir = "smoke"
    args.num_images, args.num_samples, args.batch_images = 4, 2, 2
  elif args.workdir:
    config = loading.read_config(args.workdir, sbdm_state.TRAIN_MODE)
    step, state = sbdm_state.restore_state(config, args.workdir, mesh)
    params = state.ema_params if args.use_ema else state.params
    val_source = input_pipeline.get_source(config.data, config.data.val_split)
  else:
    parser.error("--workdir (a train_phase run) or --smoke is needed")
  scan = bool(args.scan) and config.model.scan_conditioning
  batches = eval_batches(
      config, val_source, args.num_images, args.batch_images, scan
  )
  rows = {}
  for label, overrides in grid:
    if args.only and label not in args.only.split(","):
      continue
    setting = row_config(config, overrides)
    key = {
        "workdir": str(pathlib.Path(args.workdir).resolve()),
        "step": step,
        "sampling": setting.sampling.to_dict(),
        "images": [args.num_images, args.batch_images, args.num_samples],
        "seed": args.seed,
        "scan": scan,
        "use_ema": args.use_ema,
    }
    cached = _cache_path(args.cache, key) if args.cache else None
    if cached is not None and cached.exists():
      rows[label] = json.loads(cached.read_text())["row"]
      print(f"{label}: from {cached}", flush=True)
      continue
    rows[label] = row = run_row(
        setting,
        params,
        batches,
        args.num_samples,
        args.seed,
        mesh,
        cached.with_suffix("") if cached is not None else None,
    )
    rows[label]["overrides"] = overrides
    print(
        f"{label:18s} nfe {row['nfe']:5d}  compile {row['compile_s']:6.1f}"
        f" s  {row['seconds_per_sample']:.4f} s/sample  energy_total"
        f" {np.mean(row['per_image']['energy_total']):.4f}",
        flush=True,
    )
    if cached is not None:
      cached.parent.mkdir(parents=True, exist_ok=True)
      with atomic.replacing(cached) as tmp:  # a killed run: no half row
        tmp.write_text(json.dumps({"key": key, "row": row}))
  if not rows:
    raise SystemExit(f"No row matches --only={args.only!r}.")
  verdict = judge(rows, truth_histograms(batches), args.level, args.seed)
  model = (
      "smoke run (the tiny network at random initialisation)"
      if args.smoke
      else args.workdir
  )
  header = (
      f"machine: {platform.machine()} {jax.device_count()} devices"
      f" ({jax.default_backend()}), jax {jax.__version__};"
      f" {model} at step {step} ({'EMA' if args.use_ema else 'raw'} parameters,"
      f" {'told' if scan else 'not told'} the scan parameters);"
      f" {verdict['num_images']} val images x {args.num_samples} samples,"
      f" {config.data.image_size}^2, the same noise for every row; mean"
      f" [{args.level:.0%} bootstrap interval over images], lower is better"
      " except spread/skill (about 1 when calibrated); s/sample: median call"
      f" of {args.batch_images * args.num_samples} samples after compilation."
  )
  text = markdown(rows, verdict, header)
  print(text)
  outputs.write(
      __file__,
      argv,
      "Phase samplers by proper scores",
      text,
      args.out,
      args.json,
      {
          "header": header,
          "step": step,
          "tolerance": TOLERANCE,
          "max_chosen_nfe": MAX_CHOSEN_NFE,
          "verdict": verdict,
          "rows": {
              label: {k: v for k, v in row.items() if k != "histograms"}
              for label, row in rows.items()
          },
      },
  )
  return rows, verdict


if __name__ == "__main__":
  if "--smoke" in sys.argv and "XLA_FLAGS" not in os.environ:
    # Tiny shapes run once: LLVM's optimisations cost more compile time
    # than they save (as the tests' conftest); set before JAX starts.
    os.environ["XLA_FLAGS"] = (
        "--xla_backend_optimization_level=0"
        " --xla_llvm_disable_expensive_passes=true"
    )
  main(sys.argv[1:])
