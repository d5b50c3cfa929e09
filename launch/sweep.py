r"""Turns a config file's `sweep()` into one command line per run.

A config module may define `sweep(arg) -> list[dict]`, each dict mapping a
dotted config field to a value. This prints (or runs one after another) the
matching `launch.main` commands; paste them into a cluster job array.

  python -m launch.sweep --mode=train_recon --config=configs/recon.py:tiny \
      --workdir=runs/sweep [--run | --summarize]

`--summarize` (and `--run`, once every point has run) writes
`<workdir>/summary.md` and `summary.json`: per point its overrides, last
step, the last logged value of every `metrics.jsonl` key and the volume
means of its `eval/*_metrics.json` reports.
"""

import importlib.util
import json
import math
import shlex
import subprocess
import sys

from absl import app
from absl import flags
from etils import epath

from runtime import atomic


def _define_flags():
  # Defined only when run as a script: launch.main owns --config/--mode/
  # --workdir in any process that imports both modules (e.g. the tests).
  flags.DEFINE_string("config", None, "configs/<file>.py[:arg]")
  flags.DEFINE_string("mode", None, "launch.main mode for every run.")
  flags.DEFINE_string("workdir", None, "Parent dir; one subdir a run.")
  flags.DEFINE_bool("run", False, "Run the commands instead of printing.")
  flags.DEFINE_bool(
      "summarize", False, "Write the summary table of the points that ran."
  )
  flags.mark_flags_as_required(["config", "mode", "workdir"])


def load_config_module(path: str):
  """Imports a config file by path, as ml_collections' --config does."""
  spec = importlib.util.spec_from_file_location("swept_config", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def load_sweep(config_spec: str) -> list[dict]:
  path, _, arg = config_spec.partition(":")
  module = load_config_module(path)
  if not hasattr(module, "sweep"):
    raise ValueError(f"{path} defines no sweep(arg); nothing to launch.")
  return list(module.sweep(arg or None))


def sweep_points(config_spec: str, workdir: str) -> list[tuple[dict, str]]:
  """(overrides, run folder) of every sweep point."""
  points = []
  for index, overrides in enumerate(load_sweep(config_spec)):
    name = "_".join(f"{k.split('.')[-1]}={v}" for k, v in overrides.items())
    points.append((overrides, f"{workdir}/{index:03d}_{name}"))
  return points


def sweep_commands(
    config_spec: str, mode: str, workdir: str
) -> list[list[str]]:
  """One `python -m launch.main ...` argv per sweep point."""
  return [
      [
          sys.executable,
          "-m",
          "launch.main",
          f"--mode={mode}",
          f"--config={config_spec}",
          f"--workdir={run_dir}",
      ]
      + [f"--config.{key}={value}" for key, value in overrides.items()]
      for overrides, run_dir in sweep_points(config_spec, workdir)
  ]


def final_metrics(run_dir: str | epath.Path) -> dict[str, float]:
  """The last logged value of each metric of a run, and its evaluations'
  volume means (`<report>/<metric>`); {} when it has not run."""
  run_dir = epath.Path(run_dir)
  values = {}
  jsonl = run_dir / "metrics.jsonl"
  if jsonl.exists():
    for line in jsonl.read_text().splitlines():
      values.update(json.loads(line))
  for report in sorted((run_dir / "eval").glob("*_metrics.json")):
    model = json.loads(report.read_text()).get("model", {}).get("volume", {})
    stem = report.name.removesuffix("_metrics.json")
    for metric, summary in model.items():
      values[f"{stem}/{metric}"] = summary["mean"]
  return values


def _cell(value) -> str:
  if isinstance(value, float):
    return "" if math.isnan(value) else f"{value:.4g}"
  return str(value)


def write_summary(config_spec: str, workdir: str) -> epath.Path:
  """Writes `summary.md` and `summary.json` of the sweep in `workdir`."""
  rows = []
  for overrides, run_dir in sweep_points(config_spec, workdir):
    values = final_metrics(run_dir)
    rows.append({
        "run": epath.Path(run_dir).name,
        **overrides,
        "status": "done" if values else "not run",
        **values,
    })
  columns = list(dict.fromkeys(key for row in rows for key in row))
  lines = [
      "| " + " | ".join(columns) + " |",
      "|" + "---|" * len(columns),
  ] + [
      "| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |"
      for row in rows
  ]
  directory = epath.Path(workdir)
  directory.mkdir(parents=True, exist_ok=True)
  with atomic.replacing(directory / "summary.json") as tmp:
    tmp.write_text(json.dumps(rows, indent=2))
  with atomic.replacing(directory / "summary.md") as tmp:
    tmp.write_text(
        f"Sweep {config_spec}: last logged values (step = the last step).\n\n"
        + "\n".join(lines)
        + "\n"
    )
  return directory / "summary.md"


def main(argv):
  del argv
  args = flags.FLAGS
  if not args.summarize:
    for command in sweep_commands(args.config, args.mode, args.workdir):
      print(shlex.join(command))
      if args.run:
        subprocess.run(command, check=True)
  if args.summarize or args.run:
    print(f"Summary: {write_summary(args.config, args.workdir)}")


if __name__ == "__main__":
  _define_flags()
  app.run(main)
