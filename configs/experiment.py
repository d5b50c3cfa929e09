r"""The paper's experiment: recon nets trained on each phase source, scored on
ground truth.

  python -m launch.main --mode=experiment --config=configs/experiment.py \
      --workdir=runs/experiment

runs data -> phase models (SBDM, GAN) -> pre-synthesis (K phases per
recon_train magnitude per arm) -> one recon net per arm per seed -> test
evaluation at each acceleration -> `report.md`, `results.json`, figures.
Every stage is skipped when its outputs exist and resumes when interrupted.

Variants (`--config=configs/experiment.py:<variant>`):
  quicktest     the smallest run of every stage (< 3 min on 2 cores; CI).
  demo          (default; README command 1) every arm at 32x32, 3 seeds,
                small nets: honest but small, <= 15 min on a 2-core CPU.
  cpu64         64x64, larger sets and nets, resumable across sittings
                (the pre-synthesis chunk by chunk): measured on 2 cores,
                GAN 3000 steps 16-25 min, SBDM 3000 steps ~70 min; the
                pre-synthesis with the train_phase cpu64 model (1200 x K=4
                samples, Heun 18) 1.15 s a sample, ~92 min; 21 recon nets
                x 500 steps ~80 min more (estimated from the step cost,
                not yet run to the end) (phase
                models can also be named with --config.sbdm_workdir /
                --config.gan_workdir, trained elsewhere on other
                anatomies: a run on this data.seed is refused, as it has
                seen recon_train).
  synthetic128  128x128 on one GPU.
  registry      your own magnitude-only registry (the user's path): the
                phase arms pre-synthesize phases for the registry's images
                (--config.registry.manual_dir=<folder>) with the SBDM of
                --config.sbdm_workdir (a train_phase run; "" trains one
                here) and train a recon net on them; the ground-truth arm
                trains on synthetic complex images; every net is scored
                on the synthetic test split's ground truth (or fastMRI's,
                with --config.data.name=fastmri/multicoil_knee and
                data.manual_dir). 64x64 data as cpu64, one seed; its
                SBDM is phase_sbdm.py:cpu64 (3000 steps), its recon net
                recon.py:experiment_registry (a VarNet).
  fastmri_knee, fastmri_brain
                fastMRI multi-coil data in data.manual_dir (the .h5 files);
                the test role is measured k-space, the GT arm trains on the
                coil-combined complex images; no oracle arm.

The sub-configs config.sbdm, config.gan and config.recon are variants of
configs/phase_sbdm.py, phase_gan.py and recon.py, named per variant in
`_VARIANTS` (e.g. demo: phase_sbdm.py:experiment_demo, phase_gan.py:demo
at 600 steps, recon.py:experiment_demo). Their data blocks keep only their
own fields: the dataset is `config.data`, which the pipeline copies into
each at run time, so an override names it (--config.data.num_train;
--config.sbdm.data.num_train is refused as an unknown field).
"""

from typing import NamedTuple

import ml_collections

from configs import base
from configs import phase_gan
from configs import phase_sbdm
from configs import recon


class Arm(NamedTuple):
  """What the experiment knows of one arm."""

  # baseline (a score_phase.phase_sources name) | learned (a phase model the
  # experiment trains, or names with --config.<arm>_workdir) | record (needs
  # the records: the oracle rescans their anatomy, ground_truth is their own
  # phase).
  kind: str
  # Folded into the PRNG key of the arm's pre-synthesis (launch.experiment);
  # fixed per arm, so adding an arm changes no other arm's phases.
  rng_index: int
  # Run unless config.arms says otherwise.
  default: bool
  # A learned arm's phase model: the learned arm whose model it samples
  # ("" = its own, trained or named by --config.<arm>_workdir).
  model: str = ""
  # Sampled told each record's scan parameters (a scan-conditioned SBDM;
  # unknown fields stay absent, as it learned with its condition dropout).
  told_header: bool = False


# Every arm the experiment knows, in report order: the one list of arms
# (launch.experiment checks config.arms against it).
KNOWN_ARMS = {
    "zero": Arm("baseline", rng_index=4, default=True),
    "smooth_polynomial": Arm("baseline", rng_index=2, default=True),
    "smooth_kspace_box": Arm("baseline", rng_index=1, default=True),
    "gan": Arm("learned", rng_index=6, default=True),
    "sbdm": Arm("learned", rng_index=5, default=True),
    "oracle": Arm("record", rng_index=7, default=True),
    "ground_truth": Arm("record", rng_index=8, default=True),
    "gaussian": Arm("baseline", rng_index=0, default=False),
    "uniform": Arm("baseline", rng_index=3, default=False),
    # The header-aware arm: the SBDM told each record's header.
    "sbdm_scan": Arm(
        "learned", rng_index=9, default=False, model="sbdm", told_header=True
    ),
}


def arms_of_kind(kind: str) -> tuple[str, ...]:
  """The names of KNOWN_ARMS of one kind, in report order."""
  return tuple(name for name, arm in KNOWN_ARMS.items() if arm.kind == kind)


# The default config.arms, in report order.
ARMS = tuple(name for name, arm in KNOWN_ARMS.items() if arm.default)

# The sub-configs (each the config of a variant of its own file), and the
# data fields launch.experiment sets on each at run time besides the
# experiment's own data block (recon: per arm, in recon_config).
_SUB_CONFIGS = {
    "sbdm": (phase_sbdm, ()),
    "gan": (phase_gan, ()),
    "recon": (recon, ("val_split", "phase_source", "phase_field")),
    # Optional: a second recon net trained on the same phases (a variant
    # without it has no config.recon_secondary).
    "recon_secondary": (recon, ("val_split", "phase_source", "phase_field")),
}

# Per variant: the arg (`variant[,steps=N]`) of each sub-config
# ("sbdm": configs/phase_sbdm.py, "gan": configs/phase_gan.py, "recon":
# configs/recon.py), and the fields it changes from the base config (demo).
_VARIANTS = {
    # Every path of the decisive variant (cpu64_varnet) at the smallest
    # size: the header-aware arm, a second recon net, a test mask of
    # another type, phases scored apart.
    "quicktest": {
        "sbdm": "tiny,steps=4",
        "sbdm.model.scan_conditioning": True,
        "gan": "tiny,steps=4",
        "recon": "experiment_quicktest",
        "recon_secondary": "experiment_quicktest,model=varnet",
        # The validation curve in the report.
        "recon.train.eval_every": 2,
        "arms": ARMS + ("sbdm_scan",),
        "data.num_train": 32,
        "data.num_val": 8,
        "data.num_test": 8,
        "eval.accelerations": (
            (4.0, 0.08),
            (8.0, 0.04),
            (4.0, 0.08, "equispaced"),
        ),
        "eval.phase_quality_images": 8,
        "eval.phase_quality_samples": 3,
        "eval.phase_references": ("oracle_a_unrevealed",),
        "eval.figure_images": 2,
    },
    "demo": {
        "sbdm": "experiment_demo",
        "gan": "demo,steps=600",
        "recon": "experiment_demo",
        "scope": (
            "every stage end to end at 32x32 in minutes, and whether a"
            " 400-step SBDM samples phase-like maps (see the phase figure and"
            " phase scores). It cannot decide the paper's claim: nets this"
            " small, 3 seeds and 160 recon steps separate arms by tenths of a"
            " dB at best (the decisive run is configs/experiment.py:"
            "cpu64_varnet)."
        ),
    },
    "cpu64": {
        "sbdm": "experiment_cpu64",
        "gan": "cpu64,steps=3000",
        "recon": "experiment_cpu64",
        "data.image_size": 64,
        "data.num_train": 2400,
        "data.num_val": 100,
        "data.num_test": 200,
        "num_phase_samples": 4,
    },
    "synthetic128": {
        "sbdm": "synthetic128,steps=100000",
        "gan": "synthetic128,steps=50000",
        "recon": "experiment_synthetic128",
        "data.image_size": 128,
        "data.num_train": 4000,
        "data.num_val": 200,
        "data.num_test": 400,
        "num_phase_samples": 8,
    },
}
# The decisive run (issue 25): the paper's recon net, a single-coil
# E2E-VarNet with SSIM loss on equispaced R = 4 masks, tested on those and
# on random 4x / 8x masks; 5 seeds; the header-aware arm beside the
# magnitude-only one; phases scored with K = 8 on 96 recon_train images;
# cpu64's U-Net as a second net on the same phases. The SBDM is a
# train_phase run of phase_sbdm.py:cpu64 named by --config.sbdm_workdir
# (on another data.seed).
_VARIANTS["cpu64_varnet"] = {
    **_VARIANTS["cpu64"],
    "recon": "experiment_cpu64_varnet",
    "recon_secondary": "experiment_cpu64",
    # zero and smooth_kspace_box cost 10 more nets per net type (~2.3 h):
    # add them with --config.arms where the budget allows.
    "arms": (
        "smooth_polynomial",
        "gan",
        "sbdm",
        "sbdm_scan",
        "oracle",
        "ground_truth",
    ),
    "recon_seeds": (0, 1, 2, 3, 4),
    "eval.accelerations": (
        (4.0, 0.08, "equispaced"),
        (4.0, 0.08, "random"),
        (8.0, 0.04, "random"),
    ),
    "eval.phase_quality_images": 96,
    "eval.phase_quality_samples": 8,
    "eval.phase_references": ("oracle_a", "oracle_a_unrevealed"),
    "scope": (
        "64x64 synthetic_mri, the paper's recon network at a CPU's size, 5"
        " seeds: enough power to decide whether SBDM phase beats smooth and"
        " GAN phase here; not the paper's 320x320 knees, nor its network's"
        " full size."
    ),
}
_VARIANTS["registry"] = {
    **_VARIANTS["cpu64"],
    # The issue-25 recipe (EDM preconditioning, scale-and-shift header
    # conditioning, whole images), shortened: the old cpu32 recipe's phase
    # was noise-like where this one's is phase (docs/history.md). It is
    # told the DICOM / NIfTI headers' scan parameters where they have them.
    "sbdm": "cpu64,steps=3000",
    "recon": "experiment_registry",
    "arms": ("smooth_polynomial", "sbdm", "sbdm_scan", "ground_truth"),
    "recon_seeds": (0,),
}
# fastMRI's test split has no ground truth: val and test cut validation;
# the sets' own sizes; no oracle arm (it rescans synthetic anatomy).
_VARIANTS["fastmri_knee"] = {
    **_VARIANTS["synthetic128"],
    "recon": "experiment_fastmri",
    "data.name": "fastmri/multicoil_knee",
    "data.image_size": 320,
    "data.num_train": 0,
    "data.num_val": 0,
    "data.num_test": 0,
    "roles.val": ("validation", 0.0, 0.2),
    "roles.test": ("validation", 0.2, 1.0),
    "arms": tuple(a for a in ARMS if a != "oracle"),
}
_VARIANTS["fastmri_brain"] = {
    **_VARIANTS["fastmri_knee"],
    "data.name": "fastmri/multicoil_brain",
}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The config of `arg` (see the module docstring)."""
  arg = base.parse_arg(arg, variant="demo")
  fields = dict(base.variant_fields(_VARIANTS, arg.variant))
  config = _base_config()
  config.variant = arg.variant
  for name, (module, run_time) in _SUB_CONFIGS.items():
    if name in fields:
      config[name] = _sub_config(
          module, fields.pop(name), config.data, run_time
      )
  base.override(config, fields, f"experiment.py:{arg.variant}")
  return config


def _sub_config(module, arg: str, data, run_time) -> ml_collections.ConfigDict:
  """`module.get_config(arg)` less the data fields set at run time: the
  experiment's own (`data`) and `run_time`, so an override of one of them
  (--config.sbdm.data.num_train) is refused as an unknown field instead of
  being silently replaced (set --config.data.num_train)."""
  sub = module.get_config(arg)
  for key in (*data.keys(), *run_time):
    del sub.data[key]
  return sub


def _base_config() -> ml_collections.ConfigDict:
  """The demo config, less the sub-configs; every variant changes some of
  its fields."""
  config = ml_collections.ConfigDict()
  # The variant this config was built from (see the module docstring).
  config.variant = "demo"
  # Seed of the pre-synthesis draws (each arm folds in its Arm.rng_index).
  config.seed = 0
  # The dataset; every stage (phase models, recon arms) reads it through
  # the roles below, and its fields are copied into the sub-configs.
  config.data = data = base.get_data_config(image_size=32)
  data.num_train, data.num_val, data.num_test = 512, 64, 96

  # Disjoint roles: (split, start, stop) fractions of a split's volumes.
  config.roles = roles = ml_collections.ConfigDict()
  # Where the phase models train.
  roles.phase_train = ("train", 0.0, 0.5)
  # The recon nets' training magnitudes (pre-synthesized per arm).
  roles.recon_train = ("train", 0.5, 1.0)
  # Validation during recon training, and the hallucination threshold.
  roles.val = ("validation", 0.0, 1.0)
  # The ground truth every net is scored on.
  roles.test = ("test", 0.0, 1.0)

  # The user's magnitude-only registry (kspace.datasets.magnitude_registry)
  # in manual_dir: when set, the pre-synthesized arms train on all of its
  # volumes instead of recon_train; the ground-truth arm keeps recon_train
  # and val / test stay the ground truth of `data`. Its other fields are
  # the registry's options (configs.base.get_data_config's data.registry).
  config.registry = base.get_data_config().registry
  config.registry.manual_dir = ""
  config.registry.val_fraction = config.registry.test_fraction = 0.0

  # The arms (names of KNOWN_ARMS); the oracle needs synthetic data (and
  # rescans recon_train's anatomy: not a registry's).
  config.arms = ARMS
  # Keyword arguments of each arm's phase source: a baseline's, e.g.
  # {"smooth_polynomial": {"order": 3}} (score_phase.sources.baselines
  # defaults otherwise), or the SBDM sampler's, e.g. {"sbdm":
  # {"sampler_name": "dpmpp_2m", "num_steps": 20}} (for sbdm and sbdm_scan;
  # default: the phase model's own `sampling`).
  config.phase_kwargs = ml_collections.ConfigDict()
  # K: pre-synthesized phases per recon_train magnitude, the same for
  # every arm (the recon step draws one of them per example).
  config.num_phase_samples = 2
  # Images per phase-model call during pre-synthesis.
  config.presynthesis_batch = 32
  # One recon net per arm per seed (same budget, masks and data order).
  config.recon_seeds = (0, 1, 2)

  # Phase models: "" trains them here (workdir/phase/{sbdm,gan}) on the
  # phase_train role; a path uses that --mode=train_phase / train_gan run.
  config.sbdm_workdir = ""
  config.gan_workdir = ""
  # The sub-configs config.sbdm, config.gan and config.recon (one recon
  # config for every arm; data and phase fields are set per arm by the
  # pipeline) are added by get_config.

  config.eval = evaluation = ml_collections.ConfigDict()
  # (acceleration, center fraction[, mask type]) of each test table (no
  # mask type: the recon net's own); masks fixed by recon.eval.seed,
  # identical for every arm and seed.
  evaluation.accelerations = ((4.0, 0.08), (8.0, 0.04))
  # Confidence level of every interval (bootstrap over seeds and volumes).
  evaluation.ci_level = 0.95
  evaluation.bootstrap_resamples = 2000
  # Hallucination components near these tissue labels count as "near
  # air/bone/fat" (kspace.simulator.phantom.LABEL_NAMES), within this
  # distance (px).
  evaluation.near_labels = ("background", "fat", "bone", "marrow")
  evaluation.near_distance = 3
  # recon_train images scored in the phase-quality table, and shown in the
  # phase figure; test slices in the reconstruction figure.
  evaluation.phase_quality_images = 64
  # Phases per scored image, drawn apart from the training ones (0: score
  # the K training phases).
  evaluation.phase_quality_samples = 0
  # With phase_quality_samples: oracles scored beside the arms (no net
  # trains on them; score_phase.evaluation.ORACLES), e.g. oracle_a_unrevealed,
  # the reachable reference of the header-aware arm.
  evaluation.phase_references = ()
  evaluation.figure_images = 3

  # prepare_data's overview figure (also written by the data stage): its
  # examples and simulated coils.
  config.num_figure_examples = 4
  config.figure_num_coils = 8
  # The report's sentence on what the variant can and cannot show.
  config.scope = ""
  return config
