r"""Reconstruction networks (U-Net, E2E-VarNet) trained on simulated k-space.

  python -m launch.main --mode=train_recon \
      --config=configs/recon.py:synthetic128_varnet --workdir=runs/varnet
  python -m launch.main --mode=eval_recon \
      --config=configs/recon.py:synthetic128_varnet --workdir=runs/varnet

Variants (`:variant`):
  tiny                 32x32, 2-pool U-Net/2-cascade VarNet, few steps (CPU
                       smoke runs and tests; `tiny,model=unet` for the U-Net).
  synthetic128_unet    U-Net (chans 32, 4 pools) on the synthetic set, 128^2.
  synthetic128_varnet  VarNet (8 cascades, chans 18) on the synthetic set (the
                       base config).
  fastmri_knee_varnet  fastMRI's multi-coil knee VarNet recipe (12 cascades,
                       chans 18, sens chans 8, SSIM loss, Adam 3e-4).
  paper                the paper's recipe: single-coil VarNet, 12 cascades,
                       chans 18, SSIM loss, Adam 3e-4, equispaced R = 3 / 4.
  experiment_quicktest, experiment_demo, experiment_cpu64,
  experiment_cpu64_varnet, experiment_registry, experiment_synthetic128,
  experiment_fastmri
                       the recon net of that experiment variant
                       (configs/experiment.py): tiny / synthetic128_unet at
                       the experiment's budget (steps, batch, 4 logs,
                       constant lr, the test masks' R = 4 / 8); demo and
                       cpu64: a U-Net chans 16, 3 pools; cpu64_varnet: the
                       paper's single-coil VarNet (SSIM, equispaced R = 4)
                       at 4 cascades, chans 12; synthetic128: a
                       VarNet with the U-Net's chans 32, L1 and Adam 1e-3;
                       registry: that VarNet at cpu64's 500 steps;
                       fastmri: that VarNet with 15 coils.
Extra args: `model=unet|varnet` overrides the network of any variant.
"""

import ml_collections
from ml_collections import config_dict

from configs import base

# Per variant, the fields it changes from the base config
# (synthetic128_varnet).
_VARIANTS = {
    "tiny": {
        "data.name": "fake",
        "data.image_size": 32,
        "data.num_train": 16,
        "data.num_val": 8,
        "data.num_test": 8,
        "forward.num_coils": 4,
        "forward.center_fractions": (0.16, 0.08),
        "forward.accelerations": (2.0, 4.0),
        "model.chans": 4,
        "model.num_pools": 2,
        "model.num_cascades": 2,
        "model.sens_chans": 4,
        "model.sens_pools": 2,
        "optim.lr": 1e-3,
        "optim.schedule": "constant",
        "train.batch_size": 4,
        "train.num_steps": 6,
        "train.log_every": 2,
        "train.checkpoint_every": 3,
        "train.eval_every": 6,
        "train.async_checkpoint": False,
        "eval.batch_size": 4,
        "eval.num_batches": 2,
        "eval.num_figure_examples": 2,
        "eval.val_batches": 1,
    },
    "synthetic128_unet": {
        "model.name": "unet",
        "model.chans": 32,
        "loss.name": "l1",
        "optim.lr": 1e-3,
    },
    "synthetic128_varnet": {},
    "fastmri_knee_varnet": {
        "data.name": "fastmri",
        "data.image_size": 320,
        "forward.num_coils": 15,
        "model.num_cascades": 12,
    },
    "paper": {
        "data.name": "fastmri",
        "data.image_size": 320,
        "forward.num_coils": 1,
        "forward.mask_type": "equispaced",
        # docs/design.md lists center fractions 0.0625 / 0.1 / 0.12 for R = 3 / 4;
        # we pair R = 3 with 0.12 and R = 4 with 0.0625 (sweep the others
        # with --config.forward.center_fractions).
        "forward.center_fractions": (0.12, 0.0625),
        "forward.accelerations": (3.0, 4.0),
        "model.num_cascades": 12,
        "optim.schedule": "constant",
    },
}


def _experiment_budget(steps: int, saves: int) -> dict:
  """The experiment's recon training: `steps` steps, `saves` checkpoints
  (short runs save once at the end, a save costs ~1 s; longer ones also
  midway, so an interrupted run resumes from there), 4 logs (each costs
  ~1 s on a CPU: a device sync and the writers), no periodic validation,
  a constant learning rate, the test masks' accelerations."""
  return {
      "train.num_steps": steps,
      "train.checkpoint_every": steps // saves,
      "train.log_every": max(1, steps // 4),
      "train.eval_every": 0,
      "optim.schedule": "constant",
      "forward.accelerations": (4.0, 8.0),
      "forward.center_fractions": (0.08, 0.04),
      "eval.val_batches": 2,
  }


# The experiment's recon nets (configs/experiment.py), one per experiment
# variant; every arm trains the same one.
_VARIANTS["experiment_quicktest"] = {
    **_VARIANTS["tiny"],
    **_experiment_budget(steps=4, saves=1),
    "model.name": "unet",
}
_VARIANTS["experiment_demo"] = {
    **_VARIANTS["synthetic128_unet"],
    **_experiment_budget(steps=160, saves=1),
    "data.image_size": 32,
    "forward.num_coils": 4,
    "model.chans": 16,
    "model.num_pools": 3,
    "train.batch_size": 16,
    "eval.batch_size": 16,
}
_VARIANTS["experiment_cpu64"] = {
    **_VARIANTS["experiment_demo"],
    **_experiment_budget(steps=500, saves=2),
    "data.image_size": 64,
    "forward.num_coils": 8,
    # chans 24 measured 1.0-1.2 s/step here (31 GFLOP at ~30 GFLOP/s): 21
    # nets x 1000 steps would take ~6 h; chans 16 is ~2.25x cheaper.
    "model.chans": 16,
}
# The paper's recon net at the CPU's size (configs/experiment.py:
# cpu64_varnet): a single-coil E2E-VarNet with maps of ones, SSIM loss,
# trained on equispaced R = 4 masks (the paper's), 4 cascades of chans-12,
# 3-pool U-Nets, batch 16 (benchmarks/recon_step.py: 0.72 s a step here).
_VARIANTS["experiment_cpu64_varnet"] = {
    **_VARIANTS["experiment_cpu64"],
    **_experiment_budget(steps=1000, saves=4),
    "model.name": "varnet",
    "model.num_cascades": 4,
    "model.chans": 12,
    "model.num_pools": 3,
    "model.estimate_sens": False,
    "loss.name": "ssim",
    "optim.lr": 1e-3,
    "forward.num_coils": 1,
    "forward.mask_type": "equispaced",
    "forward.accelerations": (4.0,),
    "forward.center_fractions": (0.08,),
    # Validation curve: 8 points over the run (the report says whether it
    # flattened).
    "train.eval_every": 125,
}
# A VarNet with synthetic128_unet's chans 32, L1 loss and Adam 1e-3.
_VARIANTS["experiment_synthetic128"] = {
    **_VARIANTS["synthetic128_unet"],
    **_experiment_budget(steps=20_000, saves=2),
    "model.name": "varnet",
    "train.batch_size": 16,
    "eval.batch_size": 16,
}
_VARIANTS["experiment_registry"] = {
    **_VARIANTS["experiment_synthetic128"],
    **_experiment_budget(steps=500, saves=2),
    "data.image_size": 64,
}
_VARIANTS["experiment_fastmri"] = {
    **_VARIANTS["experiment_synthetic128"],
    "data.name": "fastmri",
    "data.image_size": 320,
    "forward.num_coils": 15,
}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The config of `arg` (see the module docstring)."""
  arg = base.parse_arg(arg, variant="synthetic128_varnet", model="")
  fields = base.variant_fields(_VARIANTS, arg.variant)
  config = _base_config()
  base.override(config, fields, f"recon.py:{arg.variant}")
  if arg.model:
    config.model.name = arg.model
  return config


def _base_config() -> ml_collections.ConfigDict:
  """The synthetic128_varnet config; every variant changes some of its
  fields."""
  config = ml_collections.ConfigDict()
  # Seed of initialisation, training masks / noise and data order.
  config.seed = 0

  config.data = data = base.get_data_config(image_size=128)
  # Where the phase of the training images comes from: "ground_truth" (the
  # records' `phase_field`), "sbdm" (the train_phase run in phase_workdir),
  # "gan" (the train_gan run in phase_workdir), a `score_phase.sources.baselines`
  # baseline ("zero", "uniform", "gaussian", "smooth_kspace_box",
  # "smooth_polynomial"), or "presynthesized" (the records'
  # `phase_field` holds K phases per image, as the experiment writes them).
  # Evaluation always uses the test records' own ground truth.
  data.phase_source = "ground_truth"
  # Record key holding the phase for "ground_truth" / "presynthesized".
  data.phase_field = "phase"
  # Keyword arguments of a baseline (e.g. {"std": 0.5} for "gaussian").
  data.phase_kwargs = ml_collections.ConfigDict()
  # The --workdir of the train_phase / train_gan run that phase_source
  # "sbdm" / "gan" samples.
  data.phase_workdir = ""
  # Record key of a volume id (fastMRI); without it every slice is a volume.
  data.volume_field = "volume_id"
  # Shuffle the training records (off only for debugging/tests).
  data.shuffle = True
  # Split used for periodic validation during training.
  data.val_split = "validation"

  config.forward = forward = ml_collections.ConfigDict()
  # kspace.masks type: random | equispaced | equispaced_fraction | ...
  forward.mask_type = "random"
  # (center_fraction, acceleration) pairs, one drawn per example (fastMRI).
  forward.center_fractions = (0.08, 0.04)
  forward.accelerations = (4.0, 8.0)
  # Coils simulated with kspace.birdcage_maps when records carry no maps
  # (random rotation per example); 1 = single coil.
  forward.num_coils = 8
  # Birdcage coil distance from the center, half-FOV units (> sqrt(2)).
  forward.coil_radius = 1.5
  # k-space SNR in dB of the added noise; None = noiseless.
  forward.snr_db = config_dict.placeholder(float)

  config.model = model = ml_collections.ConfigDict()
  # unet | varnet.
  model.name = "varnet"
  # U-Net channels (VarNet: per cascade) and pooling levels.
  model.chans = 18
  model.num_pools = 4
  # VarNet: unrolled cascades, sensitivity U-Net size, initial DC weight.
  model.num_cascades = 8
  model.sens_chans = 8
  model.sens_pools = 4
  model.dc_weight_init = 1.0
  # VarNet: estimate coil maps (False, single coil only: maps of ones).
  model.estimate_sens = True
  # Leaky ReLU slope and instance-norm epsilon (fastMRI / PyTorch values).
  model.negative_slope = 0.2
  model.norm_eps = 1e-5
  # VarNet: epsilon added to the std of the NormUnet normalisation; 0 is
  # fastMRI's (a constant, e.g. all-zero, coil image then gives NaN).
  model.std_eps = 0.0
  # VarNet: epsilon of the coil-map RSS division; 0 is fastMRI's.
  model.rss_eps = 0.0
  # VarNet: find each example's ACS lines (for the coil maps) from its mask,
  # as fastMRI does; False uses the smallest center of
  # forward.center_fractions for every example.
  model.sens_acs_from_mask = True
  # U-Net: epsilon added to the std of the zero-filled input normalisation,
  # and the bound the normalised input is clamped to (fastMRI's
  # UnetDataTransform: 1e-11 and 6; inf disables the clamp).
  model.input_std_eps = 1e-11
  model.input_clamp = 6.0
  # PRNG implementation of the parameter initializers ("rbg" compiles much
  # faster than "threefry2x32" on CPU).
  model.init_prng_impl = "rbg"
  # Large hardware: "bfloat16" runs the U-Nets' convolutions in bf16 with
  # float32 parameters and normalisation statistics (mixed precision);
  # `remat` recomputes U-Net block activations in the backward pass to save
  # memory. Neither changes the parameters, so a checkpoint resumes under
  # either setting.
  model.compute_dtype = "float32"
  model.remat = False

  config.optim = optim = base.get_optim_config()
  optim.lr = 3e-4
  optim.schedule = "step"

  config.loss = loss = ml_collections.ConfigDict()
  # l1 | ssim (1 - SSIM with the target's per-example max as data range).
  loss.name = "ssim"

  config.train = train = base.get_train_config()
  train.batch_size = 8
  train.num_steps = 50_000
  train.checkpoint_every = 2_000
  # Validation (val_split, eval.val_batches batches) every eval_every steps.
  train.eval_every = 5_000

  config.eval = evaluation = ml_collections.ConfigDict()
  # Split with ground-truth phase/k-space the final evaluation runs on.
  evaluation.split = "test"
  evaluation.batch_size = 8
  # Batches evaluated; None = the whole split.
  evaluation.num_batches = config_dict.placeholder(int)
  # Confidence level of the reported intervals.
  evaluation.ci_level = 0.95
  # Examples in the figure (zero-filled, reconstruction, target, |error|).
  evaluation.num_figure_examples = 4
  # Batches of data.val_split scored by the validation during training.
  evaluation.val_batches = 8
  # Evaluate on eval.split when training ends (as --mode=eval_recon does).
  evaluation.after_training = True
  # Seeds the evaluation masks/noise (fixed, independent of training).
  evaluation.seed = 1234
  return config


def sweep(arg=None):
  """Both networks at both mask types (override dicts for launch/sweep.py)."""
  del arg  # Every variant sweeps the same grid.
  return [
      {"model.name": name, "forward.mask_type": mask_type}
      for name in ("unet", "varnet")
      for mask_type in ("random", "equispaced")
  ]
