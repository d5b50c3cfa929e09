r"""Conditional score-based phase model (score_phase/) on magnitude images.

Train, then sample the validation split and write metrics + figures:

  python -m launch.main --mode=train_phase \
      --config=configs/phase_sbdm.py:cpu32 --workdir=/tmp/phase_cpu32
  python -m launch.main --mode=sample_phase \
      --config=configs/phase_sbdm.py:cpu32 --workdir=/tmp/phase_cpu32

Variants (`:variant`, or `:variant=cpu32,steps=2000`):
  tiny          16x16, nf 8, tests / smoke runs (seconds on a CPU).
  cpu32         32x32, nf 32, the CPU quality run (~25 min on 2 cores).
  cpu64         64x64 on this 2-core CPU over two or three sittings: EDM
                preconditioning, noise levels and weighting, trained on
                whole 64x64 images of 10k generated ones, nf 24 over 4
                levels, batch 16, 20 000 steps, conditioned on the scan
                parameters where known (null-conditioned for a
                magnitude-only registry) by scale and shift after each
                block's norm.
  synthetic128  128x128 synthetic set on one GPU (the base config).
  fastmri320    fastMRI knee 320x320 crop, GPU nodes / TPU pod slices.
  paper         the paper's recipe (VE, NCSN++ nf 128, PC 1000 steps x
                (predictor + 1 Langevin corrector), EMA 0.999, Adam 1e-4).
  experiment_demo   the experiment's demo SBDM (configs/experiment.py:demo):
                cpu32 narrowed to nf 16, batch 16, Adam 5e-4, 400 steps,
                Heun 12 steps, with cpu64's EDM preconditioning, weighting
                and log-normal noise levels; phase-like samples in minutes
                on 2 cores.
  experiment_cpu64  the experiment's cpu64 / registry SBDM: the same narrow
                net at 64x64 (sigma_max 128), batch 8, 3000 steps (noise
                parametrisation, as before).
`steps=N` overrides the number of training steps.
"""

import ml_collections

from configs import base

# Per variant, the fields it changes from the base config (synthetic128).
# sigma_max follows Song & Ermon's rule (about the largest distance between
# training phasor images, <= 2 sqrt(H W)).
_VARIANTS = {
    "tiny": {
        "data.image_size": 16,
        "data.num_train": 64,
        "data.num_val": 16,
        "data.num_test": 16,
        "sde.sigma_max": 32.0,
        "model.nf": 8,
        "model.ch_mult": (1, 2),
        "model.num_res_blocks": 1,
        "model.attn_resolutions": (8,),
        "ema.rate": 0.9,
        "train.batch_size": 8,
        "train.num_steps": 20,
        "train.log_every": 2,
        "train.checkpoint_every": 4,
        "train.eval_every": 0,
        # The tiny (test) model overfits a few images in tens of steps.
        "optim.lr": 2e-3,
        "optim.warmup_steps": 2,
        "sampling.num_steps": 3,
        "eval.num_examples": 8,
        "eval.num_samples": 4,
        "eval.batch_size": 8,
    },
    "cpu32": {
        "data.image_size": 32,
        "sde.sigma_max": 64.0,
        "model.nf": 32,
        "model.ch_mult": (1, 2, 2),
        "model.num_res_blocks": 1,
        "model.attn_resolutions": (8,),
        "train.batch_size": 32,
        "train.num_steps": 3000,
        "optim.lr": 2e-4,
        "optim.warmup_steps": 200,
        "eval.num_examples": 64,
    },
    # The issue-25 recipe (docs/history.md has the runs before it: 32x32
    # crops, sigma_max 128, additive conditioning, the nominal spin-echo TE
    # as the scan scale):
    "cpu64": {
        "data.image_size": 64,
        "data.num_train": 10_000,
        # EDM's: about the spread of phasor images given their magnitude.
        "sde.sigma_max": 80.0,
        "model.nf": 24,
        "model.num_res_blocks": 1,
        "model.attn_resolutions": (),
        "model.preconditioning": "edm",
        "model.scan_conditioning": True,
        # The scan and noise embedding scale and shift each block's norm:
        # added as a bias, a 13 000-step model used the header for 2.5%.
        "model.scale_shift_norm": True,
        # ln sigma / 4 into scale-16 features, as EDM's c_noise.
        "model.fourier_scale": 4.0,
        "loss.weighting": "edm",
        "loss.noise_sampling": "lognormal",
        # Whole images, as sampled: a 32x32 crop gives the GroupNorms and
        # the middle attention another context than the 64x64 samples see.
        "loss.crop_size": 0,
        # Fields hidden alone and all together; all present in 55%.
        "loss.scan_field_dropout": 0.1,
        "loss.scan_all_dropout": 0.25,
        "train.batch_size": 16,
        "train.num_steps": 20_000,
        "optim.lr": 5e-4,
        "optim.warmup_steps": 500,
        "eval.num_examples": 96,
    },
    "synthetic128": {},
    "fastmri320": {
        "data.name": "fastmri/singlecoil_knee",
        "data.image_size": 320,
        "sde.sigma_max": 378.0,
        "model.nf": 128,
        "model.num_res_blocks": 4,
        "model.dropout": 0.1,
        "train.num_steps": 400_000,
    },
    "paper": {
        "data.name": "fastmri/singlecoil_knee",
        "data.image_size": 320,
        "sde.sigma_max": 378.0,
        "model.nf": 128,
        "model.num_res_blocks": 4,
        "model.dropout": 0.1,
        "ema.warmup": 0.0,
        "train.batch_size": 8,
        "train.num_steps": 1_300_000,
        "sampling.name": "pc",
        "sampling.num_steps": 1000,
    },
}
# The experiment's SBDMs: cpu32 narrowed so it learns something in minutes
# on 2 cores (cpu32's nf 32 runs 0.19 steps/s at 64x64); a stronger one is a
# train_phase run named by the experiment's --config.sbdm_workdir.
_NARROW = {
    **_VARIANTS["cpu32"],
    "model.nf": 16,
    "train.batch_size": 16,
    "train.num_steps": 400,
    "optim.lr": 5e-4,
    "sampling.num_steps": 12,
}
# EDM preconditioning, weighting and log-normal noise levels (as cpu64):
# with the noise parametrisation 400 steps sampled noise-like phase, inside
# tissue too (energy 2.06 against smooth_polynomial's 1.41 in the demo
# report); with these, 1.39.
_VARIANTS["experiment_demo"] = {
    **_NARROW,
    "model.preconditioning": "edm",
    "loss.weighting": "edm",
    "loss.noise_sampling": "lognormal",
}
_VARIANTS["experiment_cpu64"] = {
    **_NARROW,
    "data.image_size": 64,
    # About the largest 64x64 phasor distance.
    "sde.sigma_max": 128.0,
    "train.batch_size": 8,
    "train.num_steps": 3000,
    "sampling.num_steps": 18,
}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The config of `arg` (see the module docstring)."""
  arg = base.parse_arg(arg, variant="synthetic128", steps=0)
  fields = base.variant_fields(_VARIANTS, arg.variant)
  config = _base_config()
  config.variant = arg.variant
  base.override(config, fields, f"phase_sbdm.py:{arg.variant}")
  if arg.steps:
    config.train.num_steps = arg.steps
  return config


def _base_config() -> ml_collections.ConfigDict:
  """The synthetic128 config; every variant changes some of its fields."""
  config = ml_collections.ConfigDict()
  # The variant this config was built from (see the module docstring).
  config.variant = "synthetic128"
  # Seed of initialisation, training noise and sampling.
  config.seed = 0

  config.data = data = base.get_data_config(image_size=128)
  # Validation split used for metrics and figures.
  data.val_split = "validation"

  config.sde = sde = ml_collections.ConfigDict()
  # vesde | vpsde | subvpsde (score_phase/sde.py).
  sde.name = "vesde"
  # N: discretisation steps (reverse_diffusion predictor, default sampler).
  sde.num_scales = 1000
  # VE noise range (phasor units); sigma_max ~ largest data distance.
  sde.sigma_min = 0.01
  sde.sigma_max = 256.0
  # VP / sub-VP linear beta schedule.
  sde.beta_min = 0.1
  sde.beta_max = 20.0

  config.model = model = ml_collections.ConfigDict()
  # Registered network (score_phase/sbdm/networks.py).
  model.name = "ncsnpp"
  # Base channels; level l has nf * ch_mult[l].
  model.nf = 64
  model.ch_mult = (1, 2, 2, 2)
  # Residual blocks per level.
  model.num_res_blocks = 2
  # Feature-map sizes with self-attention.
  model.attn_resolutions = (16,)
  # Dropout rate inside the residual blocks.
  model.dropout = 0.0
  # fourier | sinusoidal embedding of log(noise level).
  model.embedding_type = "fourier"
  # Std of the Fourier frequencies (NCSN++ uses 16).
  model.fourier_scale = 16.0
  # Period scale of the sinusoidal embedding.
  model.max_positions = 10000.0
  # Maximum GroupNorm groups (reduced to divide the channel count) and the
  # fewest channels per group: one channel per group (an instance norm)
  # would subtract the per-channel noise-level embedding of each residual
  # block, so the network could not tell noise levels apart.
  model.norm_groups = 32
  model.norm_group_channels = 4
  # Second conditioning path: pooled magnitude into every residual block.
  model.magnitude_pyramid = True
  # noise (NCSN++: predict -z, divide by std) | edm (Karras et al.'s
  # c_in / c_skip / c_out), score_phase/sbdm/networks.py.
  model.preconditioning = "noise"
  # Std of the data per channel (edm): a unit phasor's cos / sin.
  model.sigma_data = 0.7
  # Condition on the records' scan parameters where known (B0 and TE, B0
  # direction, sequence family; score_phase/scan_params.py), each optional.
  model.scan_conditioning = False
  # Blocks take the noise (and scan) embedding as a scale and shift after
  # their second norm (ADM / EDM) instead of as an added bias.
  model.scale_shift_norm = False
  # Large hardware: "bfloat16" runs the blocks in bf16 with float32
  # parameters (mixed precision); `remat` recomputes block activations in
  # the backward pass. Neither changes the parameters: a checkpoint
  # resumes under either setting.
  model.compute_dtype = "float32"
  model.remat = False

  config.ema = ema = ml_collections.ConfigDict()
  # EMA decay of the parameters (sampling uses the EMA).
  ema.rate = 0.999
  # Warmup: decay min(rate, (1 + step) / (warmup + step)), so short runs
  # do not sample with a mix of trained and initial weights (0: off, the
  # paper's constant decay).
  ema.warmup = 10.0

  config.loss = loss = ml_collections.ConfigDict()
  # Smallest diffusion time of the loss (avoids the std -> 0 singularity).
  loss.eps = 1e-5
  # lambda(t) of the loss: std2 | likelihood (g^2) | edm
  # (score_phase.losses.get_loss_fn).
  loss.weighting = "std2"
  # Training noise levels: uniform_t (t ~ U(eps, 1)) | lognormal
  # (log sigma ~ N(p_mean, p_std^2), EDM).
  loss.noise_sampling = "uniform_t"
  loss.p_mean = -1.2
  loss.p_std = 1.2
  # > 0: train on random crops of this side (fully convolutional network).
  loss.crop_size = 0
  # Scan conditioning: each field hidden with this probability, and all of
  # an image's fields with the second, so the null-conditioned model
  # (magnitude-only registries) is learned too.
  loss.scan_field_dropout = 0.3
  loss.scan_all_dropout = 0.2
  # Magnitude at which a pixel gets full loss weight, and the floor weight
  # of background (the phase there is noise).
  loss.magnitude_threshold = 0.1
  loss.background_weight = 0.05

  config.train = train = base.get_train_config()
  train.batch_size = 64
  train.num_steps = 200_000
  train.log_every = 50
  train.checkpoint_every = 500
  # Sample figures of the validation images every this many steps.
  train.eval_every = 1000

  config.optim = optim = base.get_optim_config()
  optim.lr = 1e-4
  optim.warmup_steps = 5000
  optim.grad_clip = 1.0

  config.sampling = sampling = ml_collections.ConfigDict()
  # pc | ode | heun | dpmpp_2m (score_phase/sbdm/sampling.py). The sampler
  # of pre-synthesis and export is chosen from benchmarks/sampler.py's
  # proper-score table on the trained model (the fastest row within 1% of
  # the best energy score at <= 20 NFE).
  sampling.name = "heun"
  # Steps of the chosen sampler; score evaluations per sample: heun
  # 2 * num_steps - 1, dpmpp_2m and ode num_steps, pc num_steps * (1 +
  # n_corrector_steps).
  sampling.num_steps = 18
  # Smallest time reached.
  sampling.eps = 1e-5
  # Return the noise-free mean of the last step (pc / ode).
  sampling.denoise = True
  # pc: predictor (euler_maruyama | reverse_diffusion | none) and corrector
  # (langevin | none), its target SNR and steps per predictor step.
  sampling.predictor = "reverse_diffusion"
  sampling.corrector = "langevin"
  sampling.snr = 0.075
  sampling.n_corrector_steps = 1
  # heun, dpmpp_2m: Karras rho of the noise levels.
  sampling.rho = 7.0
  # heun: EDM's stochastic sampler, S_churn (0: deterministic), applied at
  # the noise levels in [s_tmin, s_tmax], the added noise's std scaled by
  # s_noise (EDM's defaults; its ImageNet-64 setting: churn 40, 0.05, 50,
  # 1.003).
  sampling.churn = 0.0
  sampling.s_tmin = 0.0
  sampling.s_tmax = float("inf")
  sampling.s_noise = 1.0

  config.eval = evaluation = ml_collections.ConfigDict()
  # Validation images evaluated (0: all) and samples per image.
  evaluation.num_examples = 200
  evaluation.num_samples = 8
  # Sample with the EMA parameters (False: the raw training parameters).
  evaluation.use_ema = True
  # Images per sampler call (multiple of the device count).
  evaluation.batch_size = 32
  # Magnitude below which a pixel is background (diversity there).
  evaluation.background_threshold = 0.05
  # Central k-space block (fraction of each side) of kspace_nmse_center.
  evaluation.center_fraction = 0.125
  # Validation examples in the sample figures, and samples per example.
  evaluation.figure_examples = 4
  evaluation.figure_samples = 3
  # Naive guesses scored alongside (score_phase.phase_sources names).
  evaluation.baselines = ("zero", "smooth_polynomial", "smooth_kspace_box")
  # A trained GAN's run folder to score alongside ("" for none).
  evaluation.gan_workdir = ""
  # Other trained SBDM runs to score alongside on the same images, as
  # "sbdm_<folder name>" (e.g. an ablation; () for none).
  evaluation.compare_sbdm_workdirs = ()
  # Oracle rows on synthetic data: oracle_a redraws only what the magnitude
  # does not reveal, oracle_a_unrevealed also what it keeps that neither the
  # magnitude nor the header shows (each tissue's susceptibility, the noise's
  # quadrature part), oracle_b rescans (score_phase.evaluation.ORACLES).
  evaluation.oracles = ("oracle_a", "oracle_a_unrevealed", "oracle_b")
  # Coverage of the bootstrap intervals over images.
  evaluation.ci_level = 0.95
  return config
