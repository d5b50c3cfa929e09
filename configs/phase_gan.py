r"""pix2pix GAN baseline (score_phase/gan.py): phase given magnitude.

Train, then use the run as a phase source (`lookup.get_phase_fn("gan",
workdir=...)`, or a recon arm with data.phase_source=gan and
data.phase_workdir=<the run>):

  python -m launch.main --mode=train_gan \
      --config=configs/phase_gan.py:demo --workdir=/tmp/phase_gan_demo

Variants (`:variant`, or `:variant=cpu64,steps=2000`):
  tiny          16x16, tests / smoke runs (seconds on a CPU).
  demo          32x32, about 2 minutes on 2 idle CPU cores (15 steps/s).
  cpu64         64x64, about 25 minutes on 2 idle CPU cores (3.5 steps/s).
  synthetic128  128x128 synthetic set on one GPU (pix2pix's 70x70 PatchGAN;
                the base config).
`steps=N` overrides the number of training steps.
"""

import ml_collections

from configs import base

# Per variant, the fields it changes from the base config (synthetic128).
_VARIANTS = {
    "tiny": {
        "data.image_size": 16,
        "data.num_train": 64,
        "data.num_val": 16,
        "data.num_test": 16,
        "generator.features": 8,
        "generator.num_levels": 3,
        "discriminator.features": 8,
        "discriminator.num_layers": 2,
        "train.batch_size": 8,
        "train.num_steps": 20,
        "train.log_every": 2,
        "train.checkpoint_every": 4,
        "train.eval_every": 0,
    },
    "demo": {
        "data.image_size": 32,
        "generator.features": 16,
        "generator.num_levels": 4,
        "discriminator.features": 16,
        "discriminator.num_layers": 2,
        "train.batch_size": 16,
        "train.num_steps": 1500,
        "train.checkpoint_every": 500,
        "train.eval_every": 0,
    },
    "cpu64": {
        "data.image_size": 64,
        "generator.features": 16,
        "generator.num_levels": 5,
        "discriminator.features": 16,
        "discriminator.num_layers": 2,
        "train.batch_size": 16,
        "train.num_steps": 5000,
        "train.checkpoint_every": 500,
        "train.eval_every": 1000,
    },
    "synthetic128": {},
}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The config of `arg` (see the module docstring)."""
  arg = base.parse_arg(arg, variant="synthetic128", steps=0)
  fields = base.variant_fields(_VARIANTS, arg.variant)
  config = _base_config()
  config.variant = arg.variant
  base.override(config, fields, f"phase_gan.py:{arg.variant}")
  # pix2pix's ratio of the widest to the first generator level.
  config.generator.max_features = 8 * config.generator.features
  if arg.steps:
    config.train.num_steps = arg.steps
  return config


def _base_config() -> ml_collections.ConfigDict:
  """The synthetic128 config; every variant changes some of its fields."""
  config = ml_collections.ConfigDict()
  # The variant this config was built from (see the module docstring).
  config.variant = "synthetic128"
  # Seed of initialisation, training noise and figure samples.
  config.seed = 0

  config.data = data = base.get_data_config(image_size=128)
  # Validation split of the sample figures.
  data.val_split = "validation"

  config.generator = generator = ml_collections.ConfigDict()
  # Channels of the first U-Net level (doubled per level up to
  # max_features, 8x: set by get_config); pix2pix uses 64 and 512.
  generator.features = 64
  generator.max_features = 512
  # Stride-2 downsamplings; the image side must divide by 2**num_levels
  # (down to 2x2, or 1x1 at 128 as pix2pix).
  generator.num_levels = 7
  # N(0, 1) channels drawn at the input and at the bottleneck: different
  # keys give different phases for one magnitude.
  generator.noise_channels = 4
  # eps of the output's unit-length normalisation x / sqrt(|x|^2 + eps).
  generator.phasor_eps = 1e-6

  config.discriminator = discriminator = ml_collections.ConfigDict()
  # Channels of the first PatchGAN layer (doubled per layer, up to 8x).
  discriminator.features = 64
  # Stride-2 layers: 2 -> 34x34-pixel patches, 3 -> 70x70 (pix2pix).
  discriminator.num_layers = 3

  config.loss = loss = ml_collections.ConfigDict()
  # nonsaturating (pix2pix's binary cross-entropy, 'vanilla') | lsgan.
  loss.gan = "nonsaturating"
  # Weight of the L1 distance of generated to true unit phasors (pix2pix:
  # 100); large values pull the generator to the conditional median and
  # away from sampling.
  loss.l1_weight = 100.0
  # Per-pixel L1 weights as the SBDM's loss: full weight from this
  # magnitude up, and the floor weight of background (1.0: unweighted L1).
  loss.magnitude_threshold = 0.1
  loss.background_weight = 0.05

  config.train = train = base.get_train_config()
  train.batch_size = 32
  train.num_steps = 100_000
  train.log_every = 50
  train.checkpoint_every = 5000
  # Sample figures of validation images every this many steps (0: at the
  # end only).
  train.eval_every = 5000

  config.optim = optim = base.get_optim_config()
  # pix2pix: Adam, lr 2e-4, beta1 0.5, for both networks, constant (its
  # linear decay over the second half is not offered by the optim block).
  optim.lr = 2e-4
  optim.beta1 = 0.5

  config.eval = evaluation = ml_collections.ConfigDict()
  # Validation examples in the sample figures, and samples per example.
  evaluation.figure_examples = 4
  evaluation.figure_samples = 3
  return config
