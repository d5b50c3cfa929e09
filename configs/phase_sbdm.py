r"""Conditional score-based phase model (score_phase/) on magnitude images.

Train, then sample the validation split and write metrics + figures:

  python -m launch.main --mode=train_phase \
      --config=configs/phase_sbdm.py:cpu32 --workdir=/tmp/phase_cpu32
  python -m launch.main --mode=sample_phase \
      --config=configs/phase_sbdm.py:cpu32 --workdir=/tmp/phase_cpu32

Variants (`:variant`, or `:variant=cpu32,steps=2000`):
  tiny          16x16, nf 8, tests / smoke runs (seconds on a CPU).
  cpu32         32x32, nf 32, the CPU quality run (~25 min on 2 cores).
  cpu64         64x64 on this 2-core CPU in about 2 hours: EDM
                preconditioning and noise levels, trained on random 32x32
                crops of 10k generated images (fully convolutional; sampled
                on whole 64x64 images), nf 24 over 4 levels, batch 16
                (benchmarks/phase_train_step.py sized it), conditioned on
                the scan parameters where known (null-conditioned for a
                magnitude-only registry).
  synthetic128  128x128 synthetic set on one GPU.
  fastmri320    fastMRI knee 320x320 crop, GPU nodes / TPU pod slices.
  paper         the paper's recipe (VE, NCSN++ nf 128, PC 1000 steps x
                (predictor + 1 Langevin corrector), EMA 0.999, Adam 1e-4).
`steps=N` overrides the number of training steps.
"""

import ml_collections

from configs import base

# Per variant: image size, model width, channel multipliers, res blocks,
# attention resolutions, batch size, train steps, sigma_max.
# sigma_max follows Song & Ermon's rule (about the largest distance between
# training phasor images, <= 2 sqrt(H W)).
_VARIANTS = {
    "tiny": dict(
        image_size=16,
        nf=8,
        ch_mult=(1, 2),
        num_res_blocks=1,
        attn=(8,),
        batch_size=8,
        num_steps=20,
        sigma_max=32.0,
    ),
    "cpu32": dict(
        image_size=32,
        nf=32,
        ch_mult=(1, 2, 2),
        num_res_blocks=1,
        attn=(8,),
        batch_size=32,
        num_steps=3000,
        sigma_max=64.0,
    ),
    "cpu64": dict(
        image_size=64,
        nf=24,
        ch_mult=(1, 2, 2, 2),
        num_res_blocks=1,
        attn=(),
        batch_size=16,
        num_steps=13_000,
        sigma_max=128.0,
        crop_size=32,
        edm=True,
        num_train=10_000,
        scan_conditioning=True,
    ),
    "synthetic128": dict(
        image_size=128,
        nf=64,
        ch_mult=(1, 2, 2, 2),
        num_res_blocks=2,
        attn=(16,),
        batch_size=64,
        num_steps=200_000,
        sigma_max=256.0,
    ),
    "fastmri320": dict(
        image_size=320,
        nf=128,
        ch_mult=(1, 2, 2, 2),
        num_res_blocks=4,
        attn=(16,),
        batch_size=64,
        num_steps=400_000,
        sigma_max=378.0,
    ),
    "paper": dict(
        image_size=320,
        nf=128,
        ch_mult=(1, 2, 2, 2),
        num_res_blocks=4,
        attn=(16,),
        batch_size=8,
        num_steps=1_300_000,
        sigma_max=378.0,
    ),
}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The config of `arg` (see the module docstring)."""
  arg = base.parse_arg(arg, variant="synthetic128", steps=0)
  if arg.variant not in _VARIANTS:
    raise ValueError(
        f"Unknown variant {arg.variant!r}; use one of {list(_VARIANTS)}."
    )
  v = _VARIANTS[arg.variant]
  config = ml_collections.ConfigDict()
  config.variant = arg.variant
  # Seed of initialisation, training noise and sampling.
  config.seed = 0

  config.data = data = base.get_data_config(v["image_size"])
  if arg.variant in ("fastmri320", "paper"):
    data.name = "fastmri/singlecoil_knee"
  if arg.variant == "tiny":
    data.num_train, data.num_val, data.num_test = 64, 16, 16
  data.num_train = v.get("num_train", data.num_train)
  # Validation split used for metrics and figures.
  data.val_split = "validation"

  config.sde = sde = ml_collections.ConfigDict()
  # vesde | vpsde | subvpsde (score_phase/sde.py).
  sde.name = "vesde"
  # N: discretisation steps (reverse_diffusion predictor, default sampler).
  sde.num_scales = 1000
  # VE noise range (phasor units); sigma_max ~ largest data distance.
  sde.sigma_min = 0.01
  sde.sigma_max = v["sigma_max"]
  # VP / sub-VP linear beta schedule.
  sde.beta_min = 0.1
  sde.beta_max = 20.0

  config.model = model = ml_collections.ConfigDict()
  # Registered network (score_phase/models/utils.py).
  model.name = "ncsnpp"
  # Base channels; level l has nf * ch_mult[l].
  model.nf = v["nf"]
  model.ch_mult = v["ch_mult"]
  # Residual blocks per level.
  model.num_res_blocks = v["num_res_blocks"]
  # Feature-map sizes with self-attention.
  model.attn_resolutions = v["attn"]
  model.dropout = 0.1 if arg.variant in ("fastmri320", "paper") else 0.0
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
  # c_in / c_skip / c_out), score_phase/models/utils.py.
  model.preconditioning = "edm" if v.get("edm") else "noise"
  # Std of the data per channel (edm): a unit phasor's cos / sin.
  model.sigma_data = 0.7
  # Condition on the records' scan parameters where known (B0 and TE, B0
  # direction, sequence family; score_phase/scan_params.py), each optional.
  model.scan_conditioning = bool(v.get("scan_conditioning"))
  # Large hardware: "bfloat16" runs the blocks in bf16 with float32
  # parameters (mixed precision); `remat` recomputes block activations in
  # the backward pass. Neither changes the parameters: a checkpoint
  # resumes under either setting.
  model.compute_dtype = "float32"
  model.remat = False

  config.ema = ema = ml_collections.ConfigDict()
  # EMA decay of the parameters (sampling uses the EMA).
  ema.rate = 0.999 if arg.variant != "tiny" else 0.9
  # Warmup: decay min(rate, (1 + step) / (warmup + step)), so short runs
  # do not sample with a mix of trained and initial weights (0: off, the
  # paper's constant decay).
  ema.warmup = 0.0 if arg.variant == "paper" else 10.0

  config.loss = loss = ml_collections.ConfigDict()
  # Smallest diffusion time of the loss (avoids the std -> 0 singularity).
  loss.eps = 1e-5
  # lambda(t) of the loss: std2 | likelihood (g^2) | edm
  # (score_phase.losses.get_loss_fn).
  loss.weighting = "edm" if v.get("edm") else "std2"
  # Training noise levels: uniform_t (t ~ U(eps, 1)) | lognormal
  # (log sigma ~ N(p_mean, p_std^2), EDM).
  loss.noise_sampling = "lognormal" if v.get("edm") else "uniform_t"
  loss.p_mean = -1.2
  loss.p_std = 1.2
  # > 0: train on random crops of this side (fully convolutional network).
  loss.crop_size = v.get("crop_size", 0)
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
  train.batch_size = v["batch_size"]
  train.num_steps = arg.steps or v["num_steps"]
  train.log_every = 50 if arg.variant != "tiny" else 2
  train.checkpoint_every = 500 if arg.variant != "tiny" else 4
  # Sample figures of the validation images every this many steps.
  train.eval_every = 1000 if arg.variant != "tiny" else 0

  config.optim = optim = base.get_optim_config()
  # The tiny (test) model overfits a few images in tens of steps.
  optim.lr = {"tiny": 2e-3, "cpu32": 2e-4, "cpu64": 5e-4}.get(arg.variant, 1e-4)
  optim.warmup_steps = {"tiny": 2, "cpu32": 200, "cpu64": 500}.get(
      arg.variant, 5000
  )
  optim.grad_clip = 1.0

  config.sampling = sampling = ml_collections.ConfigDict()
  # pc | ode | heun (score_phase/sampling.py).
  sampling.name = "heun"
  # Steps of the chosen sampler (heun: 2 * num_steps - 1 evaluations).
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
  # heun: Karras rho of the noise levels and the churn (0: deterministic).
  sampling.rho = 7.0
  sampling.churn = 0.0
  if arg.variant == "paper":
    sampling.name = "pc"
    sampling.num_steps = 1000
  if arg.variant == "tiny":
    sampling.num_steps = 3

  config.eval = evaluation = ml_collections.ConfigDict()
  # Validation images evaluated (0: all) and samples per image.
  evaluation.num_examples = {"tiny": 8, "cpu32": 64, "cpu64": 96}.get(
      arg.variant, 200
  )
  evaluation.num_samples = 4 if arg.variant == "tiny" else 8
  # Sample with the EMA parameters (False: the raw training parameters).
  evaluation.use_ema = True
  # Images per sampler call (multiple of the device count).
  evaluation.batch_size = 8 if arg.variant == "tiny" else 32
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
