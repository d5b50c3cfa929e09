"""The experiment (--mode=experiment): every arm, end to end, resumable.

Stages, in order (`launch.experiment.stages`); each is skipped when its
outputs exist and resumes from its checkpoint when it was interrupted, so
rerunning the same command after a crash, a kill or a preemption continues
where it stopped:

  1. data          build the dataset; cut the disjoint roles phase_train,
                   recon_train, val, test (`launch.experiment.roles`); with
                   `registry.manual_dir`, also build the user's registry,
                   whose volumes (role registry_train) replace recon_train
                   for the pre-synthesized arms;
  2. phase models  train the SBDM and the GAN on phase_train (or use the
                   runs named by `sbdm_workdir` / `gan_workdir`); sbdm_scan
                   samples the SBDM's, told each record's header;
  3. presynthesis  per arm, K phases per recon_train magnitude, written once
                   as an array_record store keyed by (arm, phase-model
                   checkpoint, seed, K, data) (`launch.experiment.phase_store`);
                   with `eval.phase_quality_samples`, also that many per
                   image of the scored recon_train images, drawn apart;
  4. recon         one net per arm per seed, the same budget, masks and data
                   order for every arm (the GT arm trains on recon_train's
                   own complex images);
  5. evaluation    every net on the test role's ground truth at each
                   acceleration, with the same masks for every arm; the
                   hallucination threshold is fixed on val from the GT arm;
  6. report        `report.md`, `results.json` and figures
                   (`launch.experiment.report`).

The run folder's layout is `launch.experiment.layout`'s.
"""

import ml_collections
from etils import epath

from launch.experiment import arms as arms_lib
from launch.experiment import checks
from launch.experiment import layout
from launch.experiment import progress
from launch.experiment import report
from launch.experiment import stages


def run(config: ml_collections.ConfigDict, workdir: str) -> epath.Path:
  """Runs (or resumes) every stage; returns the path of report.md."""
  checks.check_config(config)
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  arms = tuple(config.arms)
  learned = arms_lib.phase_models(arms)
  seeds = tuple(config.recon_seeds)
  nets = layout.nets(config)
  # (A registry's images have no true phase to score against.)
  presynthesized = [a for a in arms if a != arms_lib.GROUND_TRUTH]
  # What the report scores, drawn apart: every presynthesized arm and the
  # phase references (oracles no net trains on).
  scored = presynthesized + list(config.eval.phase_references)
  if not config.eval.phase_quality_samples or config.registry.manual_dir:
    scored = []
  runs = len(arms) * len(seeds) * len(nets)
  tracker = progress.Progress(
      ["data"]
      + ["phase model"] * len(learned)
      + ["presynthesis"] * len(presynthesized)
      + ["phase scores"] * len(scored)
      + ["recon"] * runs
      + ["threshold"] * len(nets)
      + ["evaluation"] * runs
      + ["report"]
  )
  roles = tracker.step(
      "data: build and cut roles", lambda: stages.data_stage(config, workdir)
  )
  phase_dirs = {
      arm: tracker.step(
          f"phase model: {arm}",
          lambda arm=arm: stages.phase_model_stage(config, workdir, arm, roles),
      )
      for arm in learned
  }
  stores = {
      arm: tracker.step(
          f"presynthesis: {arm} (K={config.num_phase_samples})",
          lambda arm=arm: stages.presynthesis_stage(
              config, workdir, arm, roles, phase_dirs
          ),
      )
      for arm in presynthesized
  }
  # The phases the report scores: drawn apart (more per image), or the
  # training ones.
  scoring = {
      arm: tracker.step(
          f"phase scores: {arm} (K={config.eval.phase_quality_samples} on"
          f" {config.eval.phase_quality_images} images)",
          lambda arm=arm: stages.scoring_stage(
              config, workdir, arm, roles, phase_dirs
          ),
      )
      for arm in scored
  } or stores
  for net in nets:
    for arm in arms:
      for seed in seeds:
        tracker.step(
            f"{net}: {arm} seed {seed}",
            lambda arm=arm, seed=seed, net=net: stages.recon_stage(
                config, workdir, arm, seed, roles, stores, net
            ),
        )
  thresholds = {}
  for net in nets:
    thresholds[net] = tracker.step(
        f"evaluation: hallucination threshold on val ({net}, ground_truth arm)",
        lambda net=net: stages.threshold_stage(config, workdir, roles, net),
    )
    for arm in arms:
      for seed in seeds:
        tracker.step(
            f"evaluation: {net} {arm} seed {seed} on test",
            lambda arm=arm, seed=seed, net=net: stages.evaluation_stage(
                config, workdir, arm, seed, roles, thresholds[net], net
            ),
        )
  path = tracker.step(
      "report",
      lambda: report.write(
          config,
          workdir,
          scoring,
          roles,
          thresholds,
          phase_models={
              model: {
                  "run": str(run),
                  "step": layout.checkpoint_step(run),
                  "sampler": stages.sampler_label(config, model, run),
              }
              for model, run in phase_dirs.items()
          },
      ),
  )
  print(f"[experiment] done: {path}", flush=True)
  return path
