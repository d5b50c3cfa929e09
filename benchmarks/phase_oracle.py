r"""What a perfect conditional phase model would score on the synthetic set.

The synthetic phase depends on the anatomy (tissue susceptibility through the
dipole kernel, fat chemical shift) but also on the acquisition: B0 strength
and direction, echo time, a random smooth background phase and noise, none of
which the magnitude image reveals. A model of p(phase | magnitude) can at best
draw new acquisitions of the same anatomy. This script scores exactly that:
for each validation image (the records `sample_phase` scores) it regenerates
the same anatomy and tissues with K fresh acquisitions
(`generate_example(..., acquisition_seed=k)`) and scores them with
score_phase/scoring/point_metrics.py like the SBDM's K samples, next to the naive guesses.
The oracle's numbers are the floor the quality bar must be read against.
Prints a Markdown table (also written to --out). These are the single-sample
metrics; `--mode=sample_phase` scores the same oracles with proper scores.

  python benchmarks/phase_oracle.py --config=cpu32 --out=/tmp/oracle.md
"""

import argparse
import sys

import jax
import jax.numpy as jnp
import numpy as np

from configs import phase_sbdm
from kspace.simulator import generator
from score_phase import input_pipeline
from score_phase import loading
from score_phase.scoring import point_metrics
from score_phase.sources import baselines

COLUMNS = (
    "mean_error_aligned",
    "sample_error_aligned",
    "gradient_error",
    "gradient_diversity_foreground",
    "gradient_diversity_background",
    "kspace_nmse",
    "kspace_nmse_center",
)


def validation_records(data, split: str, num_images: int) -> list[dict]:
  """The first `num_images` records of the split, as `sample_phase` reads."""
  source = input_pipeline.get_source(data, split)
  return [source[i] for i in range(min(num_images, len(source)))]


def regenerate(
    data,
    record: dict,
    acquisition_seed: int | None = None,
    redraw: str = "acquisition",
):
  """The record's example, with components, from its seed (or rescanned:
  `redraw` as in `generator.generate_example`)."""
  return generator.generate_example(
      generator.example_rng(data.seed, "validation", int(record["index"])),
      data.image_size,
      return_components=True,
      acquisition_seed=acquisition_seed,
      redraw=redraw,
  )


def oracle_phases(data, records, num_samples: int) -> dict[str, np.ndarray]:
  """(K, B, H, W) oracle samples for the records' anatomies.

  "oracle-B": the anatomy under K new acquisitions (every scan parameter,
  background phase and noise redrawn): a perfect sampler of p(phase |
  anatomy). "oracle-A": only what the magnitude does not reveal redrawn
  (`redraw="hidden"`: the smooth background phase and the axial B0
  azimuth; B0, TE, sequence, noise kept): what a model told the scan
  parameters (DICOM header fields) could reach at best.
  """
  sources = {}
  for name, redraw in (("oracle-B", "acquisition"), ("oracle-A", "hidden")):
    sources[name] = np.stack([
        np.stack([
            regenerate(data, r, r["index"] * num_samples + k, redraw)["phase"]
            for r in records
        ])
        for k in range(num_samples)
    ])
  return sources


def main(argv):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--config", default="cpu32")
  parser.add_argument("--num_images", type=int, default=0, help="0: config")
  parser.add_argument("--num_samples", type=int, default=0, help="0: config")
  parser.add_argument("--out", default="")
  args = parser.parse_args(argv)

  config = phase_sbdm.get_config(args.config)
  if config.data.name != "synthetic_mri":
    raise SystemExit(
        f"--config={args.config} uses {config.data.name!r}; the oracle needs"
        " the synthetic_mri generator."
    )
  evaluation = config.eval
  num_images = args.num_images or evaluation.num_examples
  num_samples = args.num_samples or evaluation.num_samples
  records = validation_records(config.data, config.data.val_split, num_images)
  if not records:
    raise SystemExit(
        f"The {config.data.val_split!r} split is empty; prepare it with"
        " data.num_val > 0."
    )
  truths = [regenerate(config.data, r) for r in records]
  if not all(
      np.array_equal(t["phase"], r["phase"]) for t, r in zip(truths, records)
  ):
    raise SystemExit(
        "The prepared dataset does not match generator.generate_example"
        " with the default parameters; rebuild it (--mode=prepare_data)."
    )
  magnitude = jnp.asarray(np.stack([r["magnitude"] for r in records]))
  target = jnp.asarray(np.stack([r["phase"] for r in records]))
  score = jax.jit(
      lambda samples: point_metrics.phase_metrics(
          samples,
          target,
          magnitude,
          background_threshold=evaluation.background_threshold,
          center_fraction=evaluation.center_fraction,
      )
  )

  sources = oracle_phases(config.data, records, num_samples)
  key = jax.random.key(config.seed)
  for name in evaluation.baselines:
    sources[name] = loading.draw_phases(
        baselines.get_baseline(name), key, magnitude, num_samples
    )

  lines = [
      (
          f"synthetic_mri {config.data.image_size}x{config.data.image_size},"
          f" first {len(records)} validation images x {num_samples} samples"
          " (radians; kspace NMSE unitless)"
      ),
      "",
      "| source | " + " | ".join(COLUMNS) + " |",
      "|---" * (len(COLUMNS) + 1) + "|",
  ]
  for name, samples in sources.items():
    values = {k: float(np.mean(v)) for k, v in score(samples).items()}
    lines.append(
        f"| {name} | " + " | ".join(f"{values[c]:.3f}" for c in COLUMNS) + " |"
    )
  table = "\n".join(lines)
  print(table)
  if args.out:
    with open(args.out, "w") as f:
      f.write(table + "\n")


if __name__ == "__main__":
  main(sys.argv[1:])
