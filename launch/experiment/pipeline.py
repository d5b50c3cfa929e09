"""The experiment (--mode=experiment): every arm, end to end, resumable.

The stages (`launch.experiment.stages`); each is skipped when its outputs
exist and resumes from its checkpoint when it was interrupted, so rerunning
the same command after a crash, a kill or a preemption continues where it
stopped:

  data          build the dataset; cut the disjoint roles phase_train,
                recon_train, val, test (`launch.experiment.roles`); with
                `registry.manual_dir`, also build the user's registry, whose
                volumes (role registry_train) replace recon_train for the
                pre-synthesized arms;
  phase models  train the SBDM and the GAN on phase_train (or use the runs
                named by `sbdm_workdir` / `gan_workdir`); sbdm_scan samples
                the SBDM's, told each record's header;
  presynthesis  per arm, K phases per recon_train magnitude, written once as
                an array_record store keyed by (arm, phase-model checkpoint,
                seed, K, data) (`launch.experiment.phase_store`);
  recon         one net per arm per seed, the same budget, masks and data
                order for every arm (the GT arm trains on recon_train's own
                complex images);
  evaluation    each net on the test role's ground truth at each test mask,
                the same masks for every arm; the hallucination threshold
                is fixed on val from the GT arm's nets;
  phase scores  with `eval.phase_quality_samples`, that many phases per
                image of the first recon_train images, drawn apart, of every
                arm and phase reference;
  report        `report.md`, `results.json` and figures
                (`launch.experiment.report`).

In this order: data; the GT nets and the thresholds; then arm by arm, its
phase model and pre-synthesis when its first unfinished net needs them, and
each net scored on test as soon as it is trained; the phase scores; the
report. A net whose test scores are written is done (neither its checkpoint
nor its arm's training phases are read again), so a run taken over by
another machine as its small files (`layout.DURABLE`) trains only what is
left, and pays for an arm's phases only while the arm has nets to train.

The run folder's layout is `launch.experiment.layout`'s.
"""

import functools

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
  seeds = tuple(config.recon_seeds)
  nets = layout.nets(config)
  # (A registry's images have no true phase to score against.)
  presynthesized = [a for a in arms if a != arms_lib.GROUND_TRUTH]
  # What the report scores, drawn apart: every presynthesized arm and the
  # phase references (oracles no net trains on).
  scored = presynthesized + list(config.eval.phase_references)
  if not config.eval.phase_quality_samples or config.registry.manual_dir:
    scored = []
  # A net whose test scores are written is done: its checkpoint and its
  # arm's training phases are not read again, and a machine that takes the
  # run over as its small files (`layout.DURABLE`) trains it no more. The
  # ground-truth nets come first (the hallucination threshold is fixed from
  # them); then arm by arm, each net scored on test once trained, so an
  # arm's phase model and training phases are made when its first pending
  # net needs them, and only then.
  order = [arms_lib.GROUND_TRUTH] * (arms_lib.GROUND_TRUTH in arms) + [
      a for a in arms if a != arms_lib.GROUND_TRUTH
  ]
  pending = [
      (arm, net, seed)
      for arm in order
      for net in nets
      for seed in seeds
      if not stages.evaluated(config, workdir, arm, seed, net)
      or (
          arm == arms_lib.GROUND_TRUTH
          and not stages.threshold_ready(workdir, seed, net)
      )
  ]

  # The plan, (kind, what, fn) in order; each fn keeps what it makes in
  # these (filled as the plan runs: roles first).
  roles, phase_dirs, stores, scoring, thresholds = {}, {}, {}, {}, {}
  plan = []
  planned = set()  # phase models and ("store", arm) already in the plan

  def cut_roles():
    roles.update(stages.data_stage(config, workdir))

  def train_phase_model(model):
    phase_dirs[model] = stages.phase_model_stage(config, workdir, model, roles)

  def presynthesize(arm):
    stores[arm] = stages.presynthesis_stage(
        config, workdir, arm, roles, phase_dirs
    )

  def score_phases(arm):
    scoring[arm] = stages.scoring_stage(config, workdir, arm, roles, phase_dirs)

  def fix_threshold(net):
    thresholds[net] = stages.threshold_stage(config, workdir, roles, net)

  def need_phase_models(for_arms):
    for model in arms_lib.phase_models(for_arms):
      if model not in planned:
        planned.add(model)
        plan.append((
            "phase model",
            f"phase model: {model}",
            functools.partial(train_phase_model, model),
        ))

  def need_store(arm):
    if ("store", arm) not in planned:
      planned.add(("store", arm))
      need_phase_models([arm])
      plan.append((
          "presynthesis",
          f"presynthesis: {arm} (K={config.num_phase_samples})",
          functools.partial(presynthesize, arm),
      ))

  def add_recon(arm, net, seed):
    plan.append((
        "recon",
        f"{net}: {arm} seed {seed}",
        functools.partial(
            stages.recon_stage, config, workdir, arm, seed, roles, stores, net
        ),
    ))

  plan.append(("data", "data: build and cut roles", cut_roles))
  for arm, net, seed in pending:
    if arm == arms_lib.GROUND_TRUTH:
      add_recon(arm, net, seed)
  for net in nets:
    plan.append((
        "threshold",
        f"evaluation: hallucination threshold on val ({net}, ground_truth arm)",
        functools.partial(fix_threshold, net),
    ))
  for arm, net, seed in pending:
    if arm != arms_lib.GROUND_TRUTH:
      need_store(arm)
      add_recon(arm, net, seed)
    plan.append((
        "evaluation",
        f"evaluation: {net} {arm} seed {seed} on test",
        lambda arm=arm, net=net, seed=seed: stages.evaluation_stage(
            config, workdir, arm, seed, roles, thresholds[net], net
        ),
    ))
  # The phases the report scores: drawn apart (more per image), or the
  # training ones.
  need_phase_models(arms)
  for arm in scored:
    plan.append((
        "phase scores",
        (
            f"phase scores: {arm} (K={config.eval.phase_quality_samples} on"
            f" {config.eval.phase_quality_images} images)"
        ),
        functools.partial(score_phases, arm),
    ))
  if not scored:
    for arm in presynthesized:
      need_store(arm)
  plan.append((
      "report",
      "report",
      lambda: report.write(
          config,
          workdir,
          scoring or stores,
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
  ))
  tracker = progress.Progress([kind for kind, _, _ in plan])
  for _, what, fn in plan:
    tracker.step(what, fn)
  path = layout.report_path(workdir)
  print(f"[experiment] done: {path}", flush=True)
  return path
