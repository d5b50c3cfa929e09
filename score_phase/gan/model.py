"""The pix2pix GAN baseline as a model: state, losses, train step, sampler.

The model side only (no trainer), so `score_phase.gan.loading` can rebuild
and restore a GAN run; `score_phase.gan.trainer` trains it. Config blocks
(configs/phase_gan.py): `generator`, `discriminator`, `loss`, `optim`,
`data.image_size`.

Losses (pix2pix's): the non-saturating GAN loss on PatchGAN logits (pix2pix's
`gan_mode='vanilla'`, binary cross-entropy with logits; `lsgan` is the least
squares variant) plus `l1_weight` (pix2pix: 100) times the L1 distance
between generated and true unit phasors, weighted per pixel by the
magnitude (`representation.pixel_weights`, as the SBDM's loss). Each step
updates the discriminator on the generator's current samples, then the
generator against the updated discriminator, as pix2pix does.
"""

from collections.abc import Callable

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from kspace.common import config_errors
from runtime import optimizers
from runtime import train_loop
from score_phase import representation
from score_phase.gan import pix2pix
from score_phase.sbdm import state as sbdm_state

TRAIN_MODE = "train_gan"
GAN_LOSSES = ("nonsaturating", "lsgan")


@flax.struct.dataclass
class GanState:
  """Everything GAN training needs, one pytree (saved whole in checkpoints).

  Attributes:
    step: int32 scalar, number of (discriminator + generator) updates.
    generator_params, generator_opt_state: the generator and its optax state.
    discriminator_params, discriminator_opt_state: the same for the
      discriminator.
    rng: uint32 key data of the run's base PRNG key (per-step keys are
      fold_in(base, step), so resuming at a step reproduces the noise).
  """

  step: jax.Array
  generator_params: dict
  generator_opt_state: optax.OptState
  discriminator_params: dict
  discriminator_opt_state: optax.OptState
  rng: jax.Array


def get_generator(config: ml_collections.ConfigDict) -> nn.Module:
  """The U-Net generator of a `generator` block."""
  return pix2pix.UNetGenerator(
      features=config.features,
      num_levels=config.num_levels,
      max_features=config.max_features,
      noise_channels=config.noise_channels,
      phasor_eps=config.phasor_eps,
  )


def get_discriminator(config: ml_collections.ConfigDict) -> nn.Module:
  """The PatchGAN of a `discriminator` block."""
  return pix2pix.PatchDiscriminator(
      features=config.features, num_layers=config.num_layers
  )


def compatibility(config: ml_collections.ConfigDict) -> dict:
  """What a checkpoint must share with `config` to be restored into it."""
  return {
      "generator": train_loop.as_json(config.generator),
      "discriminator": train_loop.as_json(config.discriminator),
      "image_size": config.data.image_size,
  }


def create_gan_state(
    generator: nn.Module,
    discriminator: nn.Module,
    optimizer: optax.GradientTransformation,
    rng: jax.Array,
    image_size: int,
) -> GanState:
  """A fresh state; pure, so it can run under `jax.eval_shape` / `jit`.

  Args:
    generator, discriminator: the networks.
    optimizer: optax transformation (one per network is initialised).
    rng: a (threefry) PRNG key; it seeds the parameters and becomes the
      state's base key.
    image_size: side of the square training images.
  """
  init_rng, state_rng = jax.random.split(rng)
  param_rng = jax.random.key(
      jax.random.bits(init_rng, (), jnp.uint32), impl=sbdm_state.PARAM_INIT_PRNG
  )
  generator_rng, noise_rng, discriminator_rng = jax.random.split(param_rng, 3)
  magnitude = jnp.zeros((1, image_size, image_size), jnp.float32)
  generator_params = generator.init(
      {"params": generator_rng, "noise": noise_rng}, magnitude
  )["params"]
  discriminator_params = discriminator.init(
      discriminator_rng,
      magnitude,
      jnp.zeros(magnitude.shape + (pix2pix.PHASOR_CHANNELS,), jnp.float32),
  )["params"]
  return GanState(
      step=jnp.zeros((), jnp.int32),
      generator_params=generator_params,
      generator_opt_state=optimizer.init(generator_params),
      discriminator_params=discriminator_params,
      discriminator_opt_state=optimizer.init(discriminator_params),
      rng=jax.random.key_data(state_rng),
  )


@train_loop.cached_by_config(
    "generator", "discriminator", "optim", "data.image_size"
)
def get_init_fn(config: ml_collections.ConfigDict):
  """`init_fn(key) -> GanState` for the config's networks."""
  generator = get_generator(config.generator)
  discriminator = get_discriminator(config.discriminator)
  optimizer, _ = optimizers.create_optimizer(config.optim)
  image_size = config.data.image_size

  def init_fn(rng):
    return create_gan_state(
        generator, discriminator, optimizer, rng, image_size
    )

  return init_fn


def restore_state(config: ml_collections.ConfigDict, workdir, mesh):
  """(step, state) of the newest compatible GAN checkpoint in `workdir`.

  Raises:
    CheckpointError: missing, or trained with other networks / image size.
  """
  step, state, _ = train_loop.restore(
      workdir, get_init_fn(config), compatibility(config), mesh, TRAIN_MODE
  )
  return step, state


def discriminator_loss(
    real_logits: jax.Array, fake_logits: jax.Array, gan_loss: str
) -> jax.Array:
  """Half the real + fake loss of the patch logits (pix2pix halves it, so
  the discriminator learns slower than the generator).

  Args:
    real_logits, fake_logits: (B, h, w) float32 patch logits.
    gan_loss: "nonsaturating" (cross-entropy) | "lsgan" (least squares).

  Returns:
    Scalar float32.
  """
  config_errors.check_choice("loss.gan", gan_loss, GAN_LOSSES)
  if gan_loss == "nonsaturating":
    # -log sigmoid(r) - log(1 - sigmoid(f)) = softplus(-r) + softplus(f).
    real = jax.nn.softplus(-real_logits)
    fake = jax.nn.softplus(fake_logits)
  else:
    real = jnp.square(real_logits - 1.0)
    fake = jnp.square(fake_logits)
  return 0.5 * (jnp.mean(real) + jnp.mean(fake))


def generator_adversarial_loss(
    fake_logits: jax.Array, gan_loss: str
) -> jax.Array:
  """The generator's adversarial term: -log sigmoid(f) (non-saturating) or
  (f - 1)^2 (lsgan), averaged over patches and batch."""
  config_errors.check_choice("loss.gan", gan_loss, GAN_LOSSES)
  if gan_loss == "nonsaturating":
    return jnp.mean(jax.nn.softplus(-fake_logits))
  return jnp.mean(jnp.square(fake_logits - 1.0))


def phasor_l1(
    fake: jax.Array, real: jax.Array, weights: jax.Array
) -> jax.Array:
  """Mean |fake - real| over channels, weighted per pixel.

  Args:
    fake, real: (B, H, W, 2) float32 phasors.
    weights: (B, H, W) float32 pixel weights (mean 1 per image).

  Returns:
    Scalar float32.
  """
  return jnp.mean(jnp.mean(jnp.abs(fake - real), axis=-1) * weights)


def get_train_step(
    generator: nn.Module,
    discriminator: nn.Module,
    optimizer: optax.GradientTransformation,
    schedule: Callable,
    *,
    gan_loss: str,
    l1_weight: float,
    magnitude_threshold: float,
    background_weight: float,
):
  """train_step(state, batch, key) -> (state, metrics); pure and jittable.

  One step: draw the generator's samples for the batch, update the
  discriminator on (real, sample), then the generator on adversarial +
  `l1_weight` * L1 against the updated discriminator. The generator runs
  forward once; its gradient is pulled back through `jax.vjp`.

  Args:
    generator, discriminator: the networks.
    optimizer: from `runtime.optimizers.create_optimizer` (used for both).
    schedule: its learning-rate schedule (for logging).
    gan_loss: "nonsaturating" | "lsgan".
    l1_weight: lambda of the L1 term.
    magnitude_threshold, background_weight: pixel weights of the L1 term.

  Returns:
    The step function; batch holds magnitude and phase (B,H,W) float32;
    metrics are float32 scalars: loss (the generator's total), g_adv, l1,
    d_loss, d_real and d_fake (mean patch logits), grad_norm (generator),
    d_grad_norm and lr.
  """
  config_errors.check_choice("loss.gan", gan_loss, GAN_LOSSES)

  def criticize(params, magnitude, phasor):
    return discriminator.apply({"params": params}, magnitude, phasor)

  def train_step(state: GanState, batch, key):
    magnitude = batch["magnitude"]
    real = representation.phase_to_phasor(batch["phase"])
    weights = representation.pixel_weights(
        magnitude, magnitude_threshold, background_weight
    )
    fake, pull_back = jax.vjp(
        lambda params: generator.apply(
            {"params": params}, magnitude, rngs={"noise": key}
        ),
        state.generator_params,
    )

    def d_loss_fn(params):
      real_logits = criticize(params, magnitude, real)
      fake_logits = criticize(params, magnitude, jax.lax.stop_gradient(fake))
      loss = discriminator_loss(real_logits, fake_logits, gan_loss)
      return loss, (jnp.mean(real_logits), jnp.mean(fake_logits))

    (d_loss, (d_real, d_fake)), d_grads = jax.value_and_grad(
        d_loss_fn, has_aux=True
    )(state.discriminator_params)
    d_updates, d_opt_state = optimizer.update(
        d_grads, state.discriminator_opt_state, state.discriminator_params
    )
    d_params = optax.apply_updates(state.discriminator_params, d_updates)

    def g_loss_fn(sample):
      adversarial = generator_adversarial_loss(
          criticize(d_params, magnitude, sample), gan_loss
      )
      l1 = phasor_l1(sample, real, weights)
      return adversarial + l1_weight * l1, (adversarial, l1)

    (g_loss, (g_adv, l1)), sample_grad = jax.value_and_grad(
        g_loss_fn, has_aux=True
    )(fake)
    (g_grads,) = pull_back(sample_grad)
    g_updates, g_opt_state = optimizer.update(
        g_grads, state.generator_opt_state, state.generator_params
    )
    new_state = state.replace(
        step=state.step + 1,
        generator_params=optax.apply_updates(state.generator_params, g_updates),
        generator_opt_state=g_opt_state,
        discriminator_params=d_params,
        discriminator_opt_state=d_opt_state,
    )
    metrics = {
        "loss": g_loss,
        "g_adv": g_adv,
        "l1": l1,
        "d_loss": d_loss,
        "d_real": d_real,
        "d_fake": d_fake,
        "grad_norm": optax.global_norm(g_grads),
        "d_grad_norm": optax.global_norm(d_grads),
        "lr": schedule(state.step),
    }
    return new_state, metrics

  return train_step


@train_loop.cached_by_config("generator")
def get_sample_phase(config: ml_collections.ConfigDict):
  """Pure `sample_phase(rng, generator_params, magnitude (B,H,W))` ->
  (B,H,W) float32 phase in (-pi, pi]: one generator pass, so one network
  evaluation per sample."""
  generator = get_generator(config.generator)

  def sample_phase(rng, params, magnitude):
    phasor = generator.apply({"params": params}, magnitude, rngs={"noise": rng})
    return representation.phasor_to_phase(phasor)

  return sample_phase
