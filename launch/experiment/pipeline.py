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
  4. recon and     one net per arm per seed, the same budget, masks and data
     evaluation    order for every arm (the GT arm trains on recon_train's
                   own complex images), each scored on the test role's
                   ground truth at each acceleration, with the same masks
                   for every arm, as soon as it is trained; the GT nets
                   come first: the hallucination threshold is fixed on val
                   from them. A net whose scores are written is done (its
                   checkpoint and its arm's training phases are not read
                   again), so a run carried to another machine as its
                   small files (`layout.DURABLE`) trains only what is left;
  5. report        `report.md`, `results.json` and figures
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
  # A net whose test scores are all written is done: its checkpoint and
  # its arm's training phases are no longer needed (a run carried to a new
  # machine as its small files, `layout.DURABLE`, trains nothing again).
  # The ground-truth nets come first: the hallucination threshold is fixed
  # from them, and every net is scored on test as soon as it is trained.
  order = [arms_lib.GROUND_TRUTH] * (arms_lib.GROUND_TRUTH in arms) + [
      a for a in arms if a != arms_lib.GROUND_TRUTH
  ]
  pending = {
      net: [
          (arm, seed)
          for arm in order
          for seed in seeds
          if not stages.evaluated(config, workdir, arm, seed, net)
          or (
              arm == arms_lib.GROUND_TRUTH
              and not stages.threshold_ready(workdir, seed, net)
          )
      ]
      for net in nets
  }
  # Without phase scores drawn apart the report reads the training phases.
  needed = {arm for todo in pending.values() for arm, _ in todo}
  stored = [a for a in presynthesized if a in needed or not scored]
  net_kinds = []
  for todo in pending.values():
    net_kinds += ["recon"] * sum(a == arms_lib.GROUND_TRUTH for a, _ in todo)
    net_kinds += ["threshold"]
    for arm, _ in todo:
      net_kinds += ["recon"] * (arm != arms_lib.GROUND_TRUTH) + ["evaluation"]
  tracker = progress.Progress(
      ["data"]
      + ["phase model"] * len(learned)
      + ["presynthesis"] * len(stored)
      + ["phase scores"] * len(scored)
      + net_kinds
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
      for arm in stored
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
  thresholds = {}
  for net in nets:
    todo = pending[net]
    ground_truth = [t for t in todo if t[0] == arms_lib.GROUND_TRUTH]
    for arm, seed in ground_truth:
      tracker.step(
          f"{net}: {arm} seed {seed}",
          lambda arm=arm, seed=seed, net=net: stages.recon_stage(
              config, workdir, arm, seed, roles, stores, net
          ),
      )
    thresholds[net] = tracker.step(
        f"evaluation: hallucination threshold on val ({net}, ground_truth arm)",
        lambda net=net: stages.threshold_stage(config, workdir, roles, net),
    )
    for arm, seed in todo:
      if (arm, seed) not in ground_truth:
        tracker.step(
            f"{net}: {arm} seed {seed}",
            lambda arm=arm, seed=seed, net=net: stages.recon_stage(
                config, workdir, arm, seed, roles, stores, net
            ),
        )
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
