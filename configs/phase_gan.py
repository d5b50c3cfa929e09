r"""pix2pix GAN baseline (score_phase/gan.py): phase given magnitude.

Train, then use the run as a phase source (`inference.get_phase_fn("gan",
workdir=...)`, or a recon arm with data.phase_source=gan and
data.phase_workdir=<the run>):

  python -m launch.main --mode=train_gan \
      --config=configs/phase_gan.py:demo --workdir=/tmp/phase_gan_demo

Variants (`:variant`, or `:variant=cpu64,steps=2000`):
  tiny          16x16, tests / smoke runs (seconds on a CPU).
  demo          32x32, about 2 minutes on 2 idle CPU cores (15 steps/s).
  cpu64         64x64, about 25 minutes on 2 idle CPU cores (3.5 steps/s).
  synthetic128  128x128 synthetic set on one GPU (pix2pix's 70x70 PatchGAN).
`steps=N` overrides the number of training steps.
"""

import ml_collections

from configs import base

# Per variant: image size, generator width and downsamplings (down to 2x2,
# or 1x1 at 128 as pix2pix), discriminator width and strided layers (2:
# 34x34-pixel patches, 3: 70x70), batch size, train steps.
_VARIANTS = {
    "tiny": dict(
        image_size=16,
        g_features=8,
        num_levels=3,
        d_features=8,
        d_layers=2,
        batch_size=8,
        num_steps=20,
    ),
    "demo": dict(
        image_size=32,
        g_features=16,
        num_levels=4,
        d_features=16,
        d_layers=2,
        batch_size=16,
        num_steps=1500,
    ),
    "cpu64": dict(
        image_size=64,
        g_features=16,
        num_levels=5,
        d_features=16,
        d_layers=2,
        batch_size=16,
        num_steps=5000,
    ),
    "synthetic128": dict(
        image_size=128,
        g_features=64,
        num_levels=7,
        d_features=64,
        d_layers=3,
        batch_size=32,
        num_steps=100_000,
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
  # Seed of initialisation, training noise and figure samples.
  config.seed = 0

  config.data = data = base.get_data_config(v["image_size"])
  if arg.variant == "tiny":
    data.num_train, data.num_val, data.num_test = 64, 16, 16
  # Validation split of the sample figures.
  data.val_split = "validation"

  config.generator = generator = ml_collections.ConfigDict()
  # Channels of the first U-Net level (doubled per level up to
  # max_features); pix2pix uses 64 and 512.
  generator.features = v["g_features"]
  generator.max_features = 8 * v["g_features"]
  # Stride-2 downsamplings; the image side must divide by 2**num_levels.
  generator.num_levels = v["num_levels"]
  # N(0, 1) channels drawn at the input and at the bottleneck: different
  # keys give different phases for one magnitude.
  generator.noise_channels = 4
  # eps of the output's unit-length normalisation x / sqrt(|x|^2 + eps).
  generator.phasor_eps = 1e-6

  config.discriminator = discriminator = ml_collections.ConfigDict()
  # Channels of the first PatchGAN layer (doubled per layer, up to 8x).
  discriminator.features = v["d_features"]
  # Stride-2 layers: 2 -> 34x34-pixel patches, 3 -> 70x70 (pix2pix).
  discriminator.num_layers = v["d_layers"]

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
  train.batch_size = v["batch_size"]
  train.num_steps = arg.steps or v["num_steps"]
  train.log_every = 2 if arg.variant == "tiny" else 50
  train.checkpoint_every = {"tiny": 4, "synthetic128": 5000}.get(
      arg.variant, 500
  )
  # Sample figures of validation images every this many steps (0: at the
  # end only).
  train.eval_every = {"cpu64": 1000, "synthetic128": 5000}.get(arg.variant, 0)

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
