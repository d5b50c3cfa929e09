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
                data.manual_dir). 64x64 as cpu64, one seed.
  fastmri_knee, fastmri_brain
                fastMRI multi-coil data in data.manual_dir (the .h5 files);
                the test role is measured k-space, the GT arm trains on the
                coil-combined complex images; no oracle arm.
"""

import ml_collections

from configs import base
from configs import phase_gan
from configs import phase_sbdm
from configs import recon

# Every arm the experiment knows, in report order.
ARMS = (
    "zero",
    "smooth_polynomial",
    "smooth_kspace_box",
    "gan",
    "sbdm",
    "oracle",
    "ground_truth",
)

# Per variant: image size, synthetic counts (train = phase_train +
# recon_train), sub-config variants, recon steps and batch, phase-model
# steps, K, seeds.
_VARIANTS = {
    "quicktest": dict(
        image_size=32,
        counts=(32, 8, 8),
        sbdm="tiny",
        gan="tiny",
        recon_steps=4,
        recon_batch=4,
        sbdm_steps=4,
        gan_steps=4,
        num_samples=2,
        seeds=(0, 1, 2),
        sampler_steps=3,
    ),
    "demo": dict(
        image_size=32,
        counts=(512, 64, 96),
        sbdm="cpu32",
        gan="demo",
        recon_steps=160,
        recon_batch=16,
        sbdm_steps=400,
        gan_steps=600,
        num_samples=2,
        seeds=(0, 1, 2),
        sampler_steps=12,
    ),
    "cpu64": dict(
        image_size=64,
        counts=(2400, 100, 200),
        sbdm="cpu32",
        gan="cpu64",
        recon_steps=500,
        recon_batch=16,
        sbdm_steps=3000,
        gan_steps=3000,
        num_samples=4,
        seeds=(0, 1, 2),
        sampler_steps=18,
    ),
    "synthetic128": dict(
        image_size=128,
        counts=(4000, 200, 400),
        sbdm="synthetic128",
        gan="synthetic128",
        recon_steps=20_000,
        recon_batch=16,
        sbdm_steps=100_000,
        gan_steps=50_000,
        num_samples=8,
        seeds=(0, 1, 2),
        sampler_steps=18,
    ),
}
_VARIANTS["registry"] = dict(_VARIANTS["cpu64"], seeds=(0,))
_FASTMRI = ("fastmri_knee", "fastmri_brain")


def _dataset_block(variant: str, v: dict) -> ml_collections.ConfigDict:
  data = base.get_data_config(v["image_size"])
  data.num_train, data.num_val, data.num_test = v["counts"]
  if variant in _FASTMRI:
    data.name = "fastmri/multicoil_" + variant.split("_")[1]
  return data


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The config of `arg` (see the module docstring)."""
  arg = base.parse_arg(arg, variant="demo")
  variant = arg.variant
  if variant not in _VARIANTS and variant not in _FASTMRI:
    raise ValueError(
        f"Unknown variant {variant!r}; use one of"
        f" {list(_VARIANTS) + list(_FASTMRI)}."
    )
  fastmri = variant in _FASTMRI
  v = _VARIANTS["synthetic128" if fastmri else variant]
  if fastmri:
    v = dict(v, image_size=320, counts=(0, 0, 0))
  config = ml_collections.ConfigDict()
  config.variant = variant
  config.seed = 0
  # The dataset; every stage (phase models, recon arms) reads it through
  # the roles below, and its fields are copied into the sub-configs.
  config.data = _dataset_block(variant, v)

  # Disjoint roles: (split, start, stop) fractions of a split's volumes.
  config.roles = roles = ml_collections.ConfigDict()
  if fastmri:  # fastMRI's test split has no ground truth: cut validation.
    roles.phase_train = ("train", 0.0, 0.5)
    roles.recon_train = ("train", 0.5, 1.0)
    roles.val = ("validation", 0.0, 0.2)
    roles.test = ("validation", 0.2, 1.0)
  else:
    roles.phase_train = ("train", 0.0, 0.5)
    roles.recon_train = ("train", 0.5, 1.0)
    roles.val = ("validation", 0.0, 1.0)
    roles.test = ("test", 0.0, 1.0)

  # The user's magnitude-only registry (kspace.datasets.magnitude_registry)
  # in manual_dir: when set, the pre-synthesized arms train on all of its
  # volumes instead of recon_train; the ground-truth arm keeps recon_train
  # and val / test stay the ground truth of `data`. Its other fields are
  # the registry's options (configs.base.get_data_config's data.registry).
  config.registry = base.get_data_config(v["image_size"]).registry
  config.registry.manual_dir = ""
  config.registry.val_fraction = config.registry.test_fraction = 0.0

  # The arms (a subset of ARMS); the oracle needs synthetic data (and
  # rescans recon_train's anatomy: not a registry's).
  config.arms = tuple(a for a in ARMS if not (fastmri and a == "oracle"))
  if variant == "registry":
    config.arms = ("smooth_polynomial", "sbdm", "ground_truth")
  # Baseline keyword arguments per arm, e.g. {"smooth_polynomial":
  # {"order": 3}} (score_phase.phase_sources defaults otherwise).
  config.phase_kwargs = ml_collections.ConfigDict()
  # K: pre-synthesized phases per recon_train magnitude, the same for
  # every arm (the recon step draws one of them per example).
  config.num_phase_samples = v["num_samples"]
  # Images per phase-model call during pre-synthesis.
  config.presynthesis_batch = 32
  # One recon net per arm per seed (same budget, masks and data order).
  config.recon_seeds = v["seeds"]

  # Phase models: "" trains them here (workdir/phase/{sbdm,gan}) on the
  # phase_train role; a path uses that --mode=train_phase / train_gan run.
  config.sbdm_workdir = ""
  config.gan_workdir = ""
  # Condition a scan-conditioned SBDM on each training record's scan
  # parameters (DICOM / ISMRMRD header fields: field strength, TE, B0
  # direction, sequence family; unknown ones stay absent). False: the
  # magnitude alone, as for every other arm.
  config.sbdm_scan_parameters = variant == "registry"
  config.sbdm = phase_sbdm.get_config(v["sbdm"])
  config.sbdm.train.num_steps = v["sbdm_steps"]
  config.sbdm.sampling.num_steps = v["sampler_steps"]
  if variant in ("demo", "cpu64"):
    # A narrower SBDM that learns something in minutes on 2 cores (cpu32's
    # nf 32 runs 0.19 steps/s at 64x64); a stronger one is a train_phase
    # run named by --config.sbdm_workdir.
    config.sbdm.model.nf = 16
    config.sbdm.train.batch_size = 16 if variant == "demo" else 8
    config.sbdm.optim.lr = 5e-4
  if variant == "cpu64":
    config.sbdm.sde.sigma_max = 128.0  # ~ the largest 64x64 phasor distance
  config.gan = phase_gan.get_config(v["gan"])
  config.gan.train.num_steps = v["gan_steps"]

  # The recon nets (one config for every arm; data and phase fields are
  # set per arm by the pipeline).
  config.recon = recon.get_config(
      "tiny" if variant == "quicktest" else "synthetic128_unet"
  )
  rc = config.recon
  rc.train.num_steps = v["recon_steps"]
  rc.train.batch_size = v["recon_batch"]
  # Short runs save once at the end (a save costs ~1 s); longer ones also
  # midway, so an interrupted run resumes from there.
  short = variant in ("quicktest", "demo")
  rc.train.checkpoint_every = v["recon_steps"] // (1 if short else 2)
  # Each log costs ~1 s on a CPU (a device sync and the writers).
  rc.train.log_every = max(1, v["recon_steps"] // 4)
  rc.train.eval_every = 0
  rc.optim.schedule = "constant"
  if variant in ("quicktest", "demo"):
    rc.model.name, rc.model.chans, rc.model.num_pools = "unet", 16, 3
    rc.forward.num_coils = 4
    rc.optim.lr = 1e-3
  elif variant == "cpu64":
    # chans 24 measured 1.0-1.2 s/step here (31 GFLOP at ~30 GFLOP/s): 21
    # nets x 1000 steps would take ~6 h; chans 16 is ~2.25x cheaper.
    rc.model.name, rc.model.chans, rc.model.num_pools = "unet", 16, 3
    rc.forward.num_coils = 8
    rc.optim.lr = 1e-3
  else:
    rc.model.name = "varnet"
    rc.forward.num_coils = 15 if fastmri else 8
  if variant == "quicktest":
    rc.model.chans, rc.model.num_pools = 4, 2
  rc.forward.accelerations = (4.0, 8.0)
  rc.forward.center_fractions = (0.08, 0.04)
  rc.eval.batch_size = 16 if variant != "quicktest" else 4
  rc.eval.val_batches = 2

  config.eval = evaluation = ml_collections.ConfigDict()
  # (acceleration, center fraction) of each test table; masks fixed by
  # recon.eval.seed, identical for every arm and seed.
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
  evaluation.phase_quality_images = 64 if variant != "quicktest" else 8
  evaluation.figure_images = 3 if variant != "quicktest" else 2

  # prepare_data's overview figure (also written by the data stage).
  config.num_figure_examples = 4
  config.figure_num_coils = 8
  return config
