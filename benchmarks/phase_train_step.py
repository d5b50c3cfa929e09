r"""Phase-model training step: where the time goes, and what a 2-hour CPU budget buys.

For each setting (a `configs/phase_sbdm.py` variant plus overrides) this
builds the jitted train step of `score_phase.sbdm.trainer` on random 64x64 data and
reports the parameter count, XLA's FLOP estimate of one step, the median
wall time per step after compilation, the FLOP rate it achieves, steps/s,
training pixels/s (crop or image pixels x batch), and the
steps that fit in `--budget_minutes`. The reference is the first setting
(cpu32 as it stands: whole 64x64 images, batch 32), measured in the same
run; settings alternate step by step so that load on the shared machine
hits them alike.

  python benchmarks/phase_train_step.py --size=64 --repeats=6 \
      --out=/tmp/phase_train_step.md
"""

import argparse
import platform
import statistics
import sys
import time

import jax
import numpy as np

from configs import phase_sbdm
from runtime import parallel
from runtime import train_loop
from score_phase.sbdm import objective
from score_phase.sbdm import state as sbdm_state

# (label, overrides of the cpu32 config).
SETTINGS = (
    ("cpu32: nf 32, whole 64^2, batch 32", {}),
    ("nf 16, whole 64^2, batch 32", {"model.nf": 16}),
    (
        "nf 32, crops 32^2, batch 32, no level attention",
        {"loss.crop_size": 32, "model.attn_resolutions": ()},
    ),
    (
        "nf 32, crops 32^2, batch 16, no level attention",
        {
            "loss.crop_size": 32,
            "model.attn_resolutions": (),
            "train.batch_size": 16,
        },
    ),
    (
        "nf 24, ch (1,2,2,2), crops 32^2, batch 16",
        {
            "model.nf": 24,
            "model.ch_mult": (1, 2, 2, 2),
            "loss.crop_size": 32,
            "model.attn_resolutions": (),
            "train.batch_size": 16,
        },
    ),
)


def _config(size: int, overrides: dict):
  config = phase_sbdm.get_config("cpu32")
  config.data.image_size = size
  config.model.preconditioning = "edm"
  config.loss.weighting = "edm"
  config.loss.noise_sampling = "lognormal"
  for key, value in overrides.items():
    node = config
    *path, leaf = key.split(".")
    for name in path:
      node = node[name]
    node[leaf] = value
  return config


def main(argv):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--size", type=int, default=64)
  parser.add_argument("--repeats", type=int, default=6)
  parser.add_argument("--budget_minutes", type=float, default=120.0)
  parser.add_argument("--out", default="")
  args = parser.parse_args(argv)
  mesh = parallel.create_mesh()
  runs = []
  for label, overrides in SETTINGS:
    config = _config(args.size, overrides)
    state = train_loop.compiled_init(sbdm_state.get_init_fn(config), mesh)(
        jax.random.key(0)
    )
    step_fn = train_loop.compiled_step(objective.get_train_step(config), mesh)
    batch_size = config.train.batch_size
    rng = np.random.default_rng(0)
    batch = {
        "magnitude": rng.uniform(size=(batch_size, args.size, args.size)),
        "phase": rng.uniform(-np.pi, np.pi, (batch_size, args.size, args.size)),
    }
    batch = parallel.shard_batch(
        {k: v.astype(np.float32) for k, v in batch.items()}, mesh
    )
    cost = step_fn.lower(state, batch, jax.random.key(0)).compile()
    analysis = cost.cost_analysis()
    if isinstance(analysis, list):
      analysis = analysis[0]
    flops = float(analysis.get("flops", float("nan"))) if analysis else np.nan
    state, _ = step_fn(state, batch, jax.random.key(0))  # compile + warm up
    jax.block_until_ready(state)
    params = sum(x.size for x in jax.tree.leaves(state.params))
    crop = config.loss.crop_size or args.size
    runs.append(
        dict(
            label=label,
            state=state,
            step=step_fn,
            batch=batch,
            params=params,
            flops=flops,
            times=[],
            pixels=batch_size * crop * crop,
        )
    )
  for repeat in range(args.repeats):
    for run in runs:
      time.sleep(0.5)
      start = time.perf_counter()
      run["state"], metrics = run["step"](
          run["state"], run["batch"], jax.random.key(repeat + 1)
      )
      jax.block_until_ready(metrics)
      run["times"].append(time.perf_counter() - start)
  lines = [
      (
          f"machine: {platform.machine()}  {jax.device_count()} devices"
          f" (jax {jax.__version__} on {jax.default_backend()}); image"
          f" {args.size}^2, EDM preconditioning, median of {args.repeats} steps"
      ),
      "",
      (
          "| setting | params | GFLOP/step | ms/step | GFLOP/s | steps/s |"
          f" kpx/s | steps in {args.budget_minutes:.0f} min | speed vs first |"
      ),
      "|---|---|---|---|---|---|---|---|---|",
  ]
  reference = statistics.median(runs[0]["times"])
  for run in runs:
    median = statistics.median(run["times"])
    lines.append(
        f"| {run['label']} | {run['params'] / 1e6:.2f} M |"
        f" {run['flops'] / 1e9:.1f} | {1e3 * median:.0f} |"
        f" {run['flops'] / 1e9 / median:.1f} | {1 / median:.2f} |"
        f" {run['pixels'] / median / 1e3:.1f} |"
        f" {args.budget_minutes * 60 / median:,.0f} |"
        f" {reference / median:.2f}x |"
    )
  text = "\n".join(lines)
  print(text)
  if args.out:
    with open(args.out, "w") as f:
      f.write(text + "\n")


if __name__ == "__main__":
  main(sys.argv[1:])
