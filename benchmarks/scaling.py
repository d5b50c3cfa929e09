r"""Train-step throughput per device: 1, 2, 4, 8 devices and 2 processes.

Weak scaling, as a data-parallel job grows: each run trains the same model
with the same per-device batch, launched as a user launches it
(`python -m launch.main --mode=train_recon`), on `n` devices of one process
(`--xla_force_host_platform_device_count=n` on CPU) or on 2 processes of
`n / 2` devices each (`jax.distributed` through PHASESYNTH_COORDINATOR /
PHASESYNTH_NUM_PROCESSES / PHASESYNTH_PROCESS_ID on 127.0.0.1). Throughput is
read from the trainer's own `train/steps_per_second` in metrics.jsonl
(median over the log intervals but the first, which holds compilation, and
the last, which holds the final checkpoint).
Per-device efficiency = per-device examples/s over the 1-device run's.

On a CPU host the forced devices share the host's cores, so total
throughput cannot grow past the core count: there the figures measure the
cost of partitioning (collectives, per-device dispatch), not speed-up, except
that one device may leave cores idle which more devices use (RESULTS.md,
"Host devices for one CPU run": 1.85x at the same batch on 4). On a
GPU/TPU host, run with `--devices` up to the accelerator count and no forced
host devices (`--accelerator`).

  python benchmarks/scaling.py --devices=1,2,4,8 --processes=2 \
      --per_device_batch=4 --steps=24
"""

import argparse
import json
import os
import pathlib
import platform
import socket
import statistics
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
FORCE = "--xla_force_host_platform_device_count"


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def trainer_command(args, workdir, global_batch) -> list[str]:
  """The train_recon command line of one run."""
  return [
      sys.executable,
      "-m",
      "launch.main",
      "--mode=train_recon",
      f"--workdir={workdir}",
      f"--config=configs/recon.py:tiny,model={args.model}",
      f"--config.data.image_size={args.size}",
      f"--config.data.num_train={max(256, 4 * global_batch)}",
      f"--config.data.data_dir={args.data_dir}",
      f"--config.forward.num_coils={args.coils}",
      f"--config.model.chans={args.chans}",
      f"--config.model.num_pools={args.pools}",
      f"--config.train.batch_size={global_batch}",
      f"--config.train.num_steps={args.steps}",
      f"--config.train.log_every={args.log_every}",
      f"--config.train.checkpoint_every={args.steps}",
      f"--config.train.eval_every={10 * args.steps}",
      "--config.eval.after_training=False",
      # The final validation shards its batch over the devices too.
      f"--config.eval.batch_size={global_batch}",
      "--config.eval.val_batches=1",
  ]


def run(args, num_devices: int, num_processes: int) -> dict:
  """Trains once on `num_devices` devices split over `num_processes`
  processes; returns its throughput figures."""
  global_batch = args.per_device_batch * num_devices
  workdir = pathlib.Path(
      tempfile.mkdtemp(prefix=f"scaling_{num_devices}x{num_processes}_")
  )
  command = trainer_command(args, workdir, global_batch)
  flags = " ".join(
      f for f in os.environ.get("XLA_FLAGS", "").split() if FORCE not in f
  )
  if not args.accelerator:
    flags += f" {FORCE}={num_devices // num_processes}"
  port = _free_port()
  processes = []
  for process_id in range(num_processes):
    env = dict(os.environ, XLA_FLAGS=flags.strip())
    if num_processes > 1:
      env.update(
          PHASESYNTH_DISTRIBUTED="1",
          PHASESYNTH_COORDINATOR=f"127.0.0.1:{port}",
          PHASESYNTH_NUM_PROCESSES=str(num_processes),
          PHASESYNTH_PROCESS_ID=str(process_id),
      )
    processes.append(
        subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    )
  for process in processes:
    output = process.communicate()[0]
    if process.returncode:
      sys.exit(f"run {num_devices}x{num_processes} failed:\n{output[-3000:]}")
  rates = [
      record["train/steps_per_second"]
      for record in map(json.loads, (workdir / "metrics.jsonl").open())
      if "train/steps_per_second" in record
  ][
      1:-1
  ]  # the first holds compilation, the last the final checkpoint
  steps_per_second = statistics.median(rates)
  examples_per_second = steps_per_second * global_batch
  return {
      "devices": num_devices,
      "processes": num_processes,
      "global_batch": global_batch,
      "steps_per_second": steps_per_second,
      "examples_per_second": examples_per_second,
      "per_device": examples_per_second / num_devices,
      "intervals": len(rates),
  }


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--devices", default="1,2,4,8")
  parser.add_argument("--processes", type=int, default=2)
  parser.add_argument("--per_device_batch", type=int, default=4)
  parser.add_argument("--model", default="unet", choices=("unet", "varnet"))
  parser.add_argument("--size", type=int, default=64)
  parser.add_argument("--coils", type=int, default=4)
  parser.add_argument("--chans", type=int, default=16)
  parser.add_argument("--pools", type=int, default=3)
  parser.add_argument("--steps", type=int, default=24)
  parser.add_argument("--log_every", type=int, default=4)
  parser.add_argument(
      "--data_dir", default=os.path.join(tempfile.gettempdir(), "scaling_tfds")
  )
  parser.add_argument(
      "--accelerator",
      action="store_true",
      help="use the real devices; do not force host devices",
  )
  args = parser.parse_args()

  devices = [int(n) for n in args.devices.split(",")]
  points = [(n, 1) for n in devices]
  if args.processes > 1:
    points.append((args.processes, args.processes))
  print(
      f"machine: {platform.machine()}, {os.cpu_count()} CPUs;"
      f" train_recon {args.model} chans {args.chans}, {args.pools} pools,"
      f" {args.size}^2 x {args.coils} coils, {args.per_device_batch} examples"
      f" per device, {args.steps} steps (log every {args.log_every})"
  )
  results = [run(args, n, p) for n, p in points]
  base = results[0]["per_device"]
  print(
      "\n| devices | processes | global batch | steps/s | examples/s |"
      " examples/s per device | per-device efficiency |"
  )
  print("|---|---|---|---|---|---|---|")
  for r in results:
    print(
        f"| {r['devices']} | {r['processes']} | {r['global_batch']} |"
        f" {r['steps_per_second']:.3f} | {r['examples_per_second']:.2f} |"
        f" {r['per_device']:.2f} | {r['per_device'] / base:.2f} |"
    )


if __name__ == "__main__":
  main()
