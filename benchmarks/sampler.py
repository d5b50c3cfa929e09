r"""Phase samplers: speed (score evaluations/s, images/s) and quality vs steps.

Loads a trained phase model (a `train_phase` workdir), then for each sampler
setting samples `--num_samples` phases for each of `--num_images` validation
images and reports its score evaluations per sample (NFE), the wall time
per call after compilation, score evaluations per second, images per second
and the phase metrics of score_phase/scoring/point_metrics.py against the ground truth.
The reference is the paper's sampler (PC, reverse diffusion + 1 Langevin
corrector step, 1000 steps = 2000 NFE); the curve shows how many NFE each
sampler needs to reach its quality. Prints a Markdown table for
benchmarks/RESULTS.md (also written to --out).

  python benchmarks/sampler.py --workdir=/work/sp_runs/cpu32 \
      --config=cpu32 --num_images=16 --num_samples=4 \
      --out=/tmp/sampler.md
"""

import argparse
import platform
import sys
import time

import jax
import numpy as np

from configs import phase_sbdm
from runtime import parallel
from score_phase import evaluation
from score_phase import input_pipeline
from score_phase.sbdm import loading as sbdm_loading
from score_phase.sbdm import state as sbdm_state
from score_phase.sources import baselines

# (label, sampler overrides): the quality-vs-steps grid.
SETTINGS = (
    ("pc 1000 (paper)", dict(name="pc", num_steps=1000)),
    ("pc 100", dict(name="pc", num_steps=100)),
    ("pc 25", dict(name="pc", num_steps=25)),
    ("ode 200", dict(name="ode", num_steps=200)),
    ("ode 50", dict(name="ode", num_steps=50)),
    ("heun 35", dict(name="heun", num_steps=35)),
    ("heun 18", dict(name="heun", num_steps=18)),
    ("heun 10", dict(name="heun", num_steps=10)),
    ("heun 5", dict(name="heun", num_steps=5)),
)
COLUMNS = (
    "mean_error_aligned",
    "sample_error_aligned",
    "gradient_error",
    "gradient_diversity_foreground",
    "gradient_diversity_background",
    "kspace_nmse",
)


def main(argv):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--config", default="cpu32")
  parser.add_argument("--num_images", type=int, default=16)
  parser.add_argument("--num_samples", type=int, default=4)
  parser.add_argument("--only", default="", help="comma-separated labels")
  parser.add_argument("--out", default="")
  parser.add_argument(
      "--use_ema",
      type=int,
      default=1,
      help="sample with the EMA (1) or raw (0) parameters",
  )
  args = parser.parse_args(argv)

  config = phase_sbdm.get_config(args.config)
  config.eval.num_examples = args.num_images
  config.eval.num_samples = args.num_samples
  config.eval.batch_size = args.num_images
  mesh = parallel.create_mesh()
  step, state = sbdm_state.restore_state(config, args.workdir, mesh)
  params = state.ema_params if args.use_ema else state.params
  source = input_pipeline.get_source(config.data, config.data.val_split)
  batch = next(
      input_pipeline.eval_batches(source, args.num_images, args.num_images)
  )
  magnitude = input_pipeline.prepare_magnitude(
      batch["magnitude"], config.data.image_size
  )
  images = args.num_images * args.num_samples
  score = evaluation.get_metrics_fn(
      config.eval.background_threshold, config.eval.center_fraction
  )
  phase = batch["phase"].astype(np.float32)
  tiled = np.concatenate([magnitude] * args.num_samples, axis=0)
  sharded = parallel.shard_batch(tiled, mesh)
  rows = []
  for label, overrides in SETTINGS:
    if args.only and label not in args.only.split(","):
      continue
    setting = config.copy_and_resolve_references()
    setting.sampling.update(overrides)
    sample_phase, nfe = sbdm_loading.get_phase_sampler(setting, mesh)
    rng = jax.random.key(1)
    compiled = sample_phase.lower(rng, params, sharded).compile()
    start = time.perf_counter()
    samples = jax.block_until_ready(compiled(rng, params, sharded))
    seconds = time.perf_counter() - start
    samples = np.asarray(samples).reshape((args.num_samples,) + magnitude.shape)
    summary = {
        k: float(np.mean(v))
        for k, v in score(samples, phase, magnitude).items()
    }
    rows.append(
        (label, nfe, seconds, nfe * images / seconds, images / seconds, summary)
    )
    print(
        f"{label:18s} nfe {nfe:5d}  {seconds:8.2f} s  "
        f"{nfe * images / seconds:8.1f} evals/s  {images / seconds:7.2f} "
        "img/s  "
        + "  ".join(f"{c} {summary[c]:.3f}" for c in COLUMNS),
        flush=True,
    )

  baseline = {}
  for name in config.eval.baselines:
    phase_fn = baselines.get_baseline(name)
    guesses = np.stack([
        phase_fn(jax.random.key(k), magnitude) for k in range(args.num_samples)
    ])
    for key, value in score(guesses, phase, magnitude).items():
      baseline[f"baseline/{name}/{key}"] = float(np.mean(value))
  lines = [
      (
          f"machine: {platform.machine()} {jax.device_count()} devices"
          f" ({jax.default_backend()}), jax {jax.__version__}; checkpoint step"
          f" {step} ({'EMA' if args.use_ema else 'raw'} parameters);"
          f" {args.num_images} val images x {args.num_samples} samples ="
          f" {images} images per call, {config.data.image_size}^2"
      ),
      "",
      "| sampler | NFE | s/call | score evals/s | images/s | "
      + " | ".join(COLUMNS)
      + " |",
      "|---" * (5 + len(COLUMNS)) + "|",
  ]
  for label, nfe, seconds, evals, ips, summary in rows:
    lines.append(
        f"| {label} | {nfe} | {seconds:.2f} | {evals:.0f} | {ips:.2f} | "
        + " | ".join(f"{summary[c]:.3f}" for c in COLUMNS)
        + " |"
    )
  lines.append("")
  lines.append("Naive guesses on the same images (no sampling):")
  lines.append("")
  for name in config.eval.baselines:
    lines.append(
        f"- {name}: "
        + ", ".join(
            f"{c} {baseline[f'baseline/{name}/{c}']:.3f}" for c in COLUMNS
        )
    )
  text = "\n".join(lines)
  print(text)
  if args.out:
    with open(args.out, "w") as f:
      f.write(
          "# Phase sampler benchmark (`benchmarks/sampler.py`)\n\n```\n$ "
          "python benchmarks/sampler.py "
          + " ".join(argv)
          + "\n```\n\n"
          + text
          + "\n"
      )


if __name__ == "__main__":
  main(sys.argv[1:])
