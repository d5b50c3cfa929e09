r"""Pre-synthesis throughput: images/s of the phase sampler against batch size.

The experiment pre-synthesizes K phases for every magnitude of its training
roles (`launch.experiment.stages`, `config.presynthesis_batch` images per
call; `--mode=export_kspace`: `export.batch_size`), one sampler call per
draw. This measures that call: for each image size (default 64 and 128)
and batch (default 1, 4, 8, 16, 32) it builds the network of a
`configs/phase_sbdm.py` variant (default cpu64; random initialisation:
speed does not depend on the weights) at that size, compiles the chosen
sampler (default the config's `sampling` block) ahead of time, then reports
the median wall time of `--repeats` calls after one warm-up call as
images/s and score evaluations/s, with three memory figures:

  peak RSS     the process's maximum resident set (`resource.getrusage`),
               each setting run in a fresh subprocess so that it is that
               setting's own, beside the same maximum before compiling
               (Python, JAX and the parameters); the compiler's own memory
               is part of the peak.
  XLA buffers  XLA's compiled memory analysis of the call (arguments +
               outputs + temporaries, `compiled.memory_analysis()`).
  device peak  `jax.devices()[0].memory_stats()["peak_bytes_in_use"]`
               where the backend reports it (GPUs, TPUs; not the CPU).

Names the batch to use per size: the smallest batch within 5% of the
best images/s (a larger batch only costs memory there). Prints a Markdown
table (also to --out) and writes every number to --json.

  python benchmarks/presynthesis_throughput.py --config=cpu64 \
      --sizes=64,128 --batches=1,4,8,16,32 --out=/tmp/presynthesis.md \
      --json=/tmp/presynthesis.json

`--smoke`: the `tiny` network at 16x16, batches 1 and 2, one timed call
each (about 25 s, mostly starting the two processes). One device (the
first); on a GPU machine it measures the GPU.
"""

import argparse
import json
import os
import pathlib
import platform
import resource
import statistics
import subprocess
import sys
import time

# Run as a script from the repository root.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

# pylint: disable=g-import-not-at-top
from benchmarks import outputs

# Within this fraction of the best images/s a smaller batch is as good.
TOLERANCE = 0.05
_RESULT = "RESULT "


def _parse_ints(text: str) -> tuple[int, ...]:
  return tuple(int(v) for v in text.split(",") if v)


def _arguments(argv):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--config", default="cpu64", help="phase_sbdm variant")
  parser.add_argument("--sampler", default="", help="default: the config's")
  parser.add_argument("--num_steps", type=int, default=0)
  parser.add_argument("--sizes", default="64,128")
  parser.add_argument("--batches", default="1,4,8,16,32")
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--out", default="")
  parser.add_argument("--json", default="")
  parser.add_argument("--smoke", action="store_true")
  parser.add_argument("--timeout_s", type=int, default=3600)
  # One setting in this process, its result printed as a JSON line.
  parser.add_argument("--child", default="", help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.smoke:
    args.config, args.sizes, args.batches = "tiny", "16", "1,2"
    args.repeats = 1
  return args


def _config(args, size: int):
  # JAX and the model code are imported by the child processes only: the
  # parent's memory is not part of any measurement.
  from configs import phase_sbdm

  config = phase_sbdm.get_config(args.config)
  config.data.image_size = size
  if args.sampler:
    config.sampling.name = args.sampler
  if args.num_steps:
    config.sampling.num_steps = args.num_steps
  return config


def measure(args, size: int, batch: int) -> dict:
  """One setting in this process (call it in a fresh one: `--child`)."""
  import jax
  import numpy as np

  from score_phase import batch_checks
  from score_phase import representation
  from score_phase.sbdm import networks
  from score_phase.sbdm import sampling
  from score_phase.sbdm import sde as sde_lib

  config = _config(args, size)
  device = jax.devices()[0]
  model = networks.get_model(config.model)
  params = jax.device_put(
      jax.jit(lambda key: networks.init_params(model, key, size))(
          jax.random.key(0)
      ),
      device,
  )
  num_params = sum(p.size for p in jax.tree.leaves(params))
  sde = sde_lib.get_sde(config.sde)
  score_fn = networks.get_model_score_fn(sde, config.model)
  sample_fn, nfe = sampling.get_sampler(config.sampling, sde, score_fn)

  def sample_phase(rng, params, magnitude):
    return representation.phasor_to_phase(sample_fn(rng, params, magnitude))

  magnitude = jax.device_put(
      batch_checks.prepare_magnitude(
          np.random.default_rng(0).random((batch, size, size), np.float32)
      ),
      device,
  )
  base_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  start = time.perf_counter()
  compiled = (
      jax.jit(sample_phase)
      .lower(jax.random.key(0), params, magnitude)
      .compile()
  )
  compile_s = time.perf_counter() - start
  analysis = compiled.memory_analysis()
  xla_bytes = None
  if analysis is not None:
    xla_bytes = int(
        analysis.argument_size_in_bytes
        + analysis.output_size_in_bytes
        + analysis.temp_size_in_bytes
    )
  jax.block_until_ready(compiled(jax.random.key(1), params, magnitude))
  seconds = []
  for repeat in range(args.repeats):
    start = time.perf_counter()
    jax.block_until_ready(
        compiled(jax.random.key(2 + repeat), params, magnitude)
    )
    seconds.append(time.perf_counter() - start)
  stats = device.memory_stats() or {}
  call_s = statistics.median(seconds)
  return {
      "size": size,
      "batch": batch,
      "sampler": f"{config.sampling.name} {config.sampling.num_steps}",
      "nfe": nfe,
      "num_params": int(num_params),
      "compile_s": compile_s,
      "call_seconds": seconds,
      "images_per_s": batch / call_s,
      "score_evals_per_s": batch * nfe / call_s,
      # ru_maxrss is in KiB on Linux.
      "peak_rss_bytes": (
          resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
      ),
      "base_rss_bytes": base_rss_kb * 1024,
      "xla_buffer_bytes": xla_bytes,
      "device_peak_bytes": stats.get("peak_bytes_in_use"),
      "device": device.device_kind,
  }


def run_child(argv, size: int, batch: int, args) -> dict:
  """`measure(size, batch)` in a fresh Python process."""
  command = [
      sys.executable,
      str(pathlib.Path(__file__).resolve()),
      *argv,
      f"--child={size},{batch}",
  ]
  root = str(pathlib.Path(__file__).resolve().parents[1])
  env = dict(os.environ)
  env["PYTHONPATH"] = os.pathsep.join(
      p for p in (root, env.get("PYTHONPATH", "")) if p
  )
  if args.smoke and "XLA_FLAGS" not in env:
    # Tiny shapes run once: LLVM's optimisations cost more compile time
    # than they save (as the tests' conftest).
    env["XLA_FLAGS"] = (
        "--xla_backend_optimization_level=0"
        " --xla_llvm_disable_expensive_passes=true"
    )
  done = subprocess.run(
      command,
      capture_output=True,
      text=True,
      timeout=args.timeout_s,
      env=env,
      check=False,
  )
  for line in done.stdout.splitlines():
    if line.startswith(_RESULT):
      return json.loads(line.removeprefix(_RESULT))
  raise RuntimeError(
      f"size {size} batch {batch} failed (status {done.returncode}):\n"
      + done.stderr[-3000:]
  )


def choose(results: list[dict]) -> dict[int, int]:
  """Per size, the smallest batch within TOLERANCE of the best images/s."""
  chosen = {}
  for size in sorted({r["size"] for r in results}):
    rows = [r for r in results if r["size"] == size]
    best = max(r["images_per_s"] for r in rows)
    chosen[size] = min(
        r["batch"] for r in rows if r["images_per_s"] >= (1 - TOLERANCE) * best
    )
  return chosen


def _mib(value) -> str:
  return "-" if value is None else f"{value / 2**20:.0f}"


def markdown(results: list[dict], chosen: dict[int, int], header: str) -> str:
  lines = [
      header,
      "",
      (
          "| size | batch | images/s | score evals/s | s/call | compile s |"
          " peak RSS MiB | RSS before compiling MiB | XLA buffers MiB |"
          " device peak MiB |"
      ),
      "|---" * 10 + "|",
  ]
  for r in results:
    mark = " (chosen)" if chosen[r["size"]] == r["batch"] else ""
    lines.append(
        f"| {r['size']} | {r['batch']}{mark} | {r['images_per_s']:.2f} |"
        f" {r['score_evals_per_s']:.0f} |"
        f" {statistics.median(r['call_seconds']):.3f} |"
        f" {r['compile_s']:.1f} | {_mib(r['peak_rss_bytes'])} |"
        f" {_mib(r['base_rss_bytes'])} |"
        f" {_mib(r['xla_buffer_bytes'])} | {_mib(r['device_peak_bytes'])} |"
    )
  lines.append("")
  for size, batch in chosen.items():
    best = max(r["images_per_s"] for r in results if r["size"] == size)
    lines.append(
        f"Pre-synthesis at {size}x{size}: batch {batch}"
        f" (`--config.presynthesis_batch={batch}`, export:"
        f" `--config.export.batch_size={batch}`), the smallest within"
        f" {TOLERANCE:.0%} of the best {best:.2f} images/s."
    )
  return "\n".join(lines) + "\n"


def main(argv):
  args = _arguments(argv)
  if args.child:
    size, batch = _parse_ints(args.child)
    print(_RESULT + json.dumps(measure(args, size, batch)), flush=True)
    return None
  results = []
  for size in _parse_ints(args.sizes):
    for batch in _parse_ints(args.batches):
      result = run_child(argv, size, batch, args)
      results.append(result)
      print(
          f"{size}x{size} batch {batch:3d}: {result['images_per_s']:8.2f}"
          f" images/s, peak RSS {_mib(result['peak_rss_bytes'])} MiB",
          flush=True,
      )
  chosen = choose(results)
  first = results[0]
  header = (
      f"machine: {platform.machine()}, {os.cpu_count()} CPUs,"
      f" {first['device']} (one device); phase_sbdm.py:{args.config}"
      f" network ({first['num_params']} parameters at random"
      f" initialisation), sampler {first['sampler']} ({first['nfe']} NFE);"
      f" median of {args.repeats} calls after a warm-up call; memory: peak"
      " RSS of a fresh process per setting (resource.getrusage; and before"
      " compiling), XLA's compiled memory analysis"
      " (arguments + outputs + temporaries), the device's peak_bytes_in_use"
      " where reported."
  )
  text = markdown(results, chosen, header)
  print(text)
  outputs.write(
      __file__,
      argv,
      "Pre-synthesis throughput",
      text,
      args.out,
      args.json,
      {
          "header": header,
          "tolerance": TOLERANCE,
          "chosen_batch": {str(k): v for k, v in chosen.items()},
          "results": results,
      },
  )
  return results, chosen


if __name__ == "__main__":
  main(sys.argv[1:])
