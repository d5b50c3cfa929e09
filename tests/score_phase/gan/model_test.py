"""The pix2pix GAN baseline: networks, losses, one train step, training on
the shared loop with exact resume, and the trained run as a phase source.
Uses the `tiny` config on in-memory synthetic records."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import phase_gan
from kspace.simulator import generator as simulator
from launch import main as launch_main
from runtime import checkpoints
from runtime import parallel
from runtime import train_loop
from score_phase import batch_checks
from score_phase import loading
from score_phase.gan import model as gan_model
from score_phase.gan import pix2pix
from score_phase.gan import trainer as gan_trainer
from score_phase.sources import lookup

SIZE = 16
MESH = parallel.create_mesh()


def _config(num_steps=6):
  config = phase_gan.get_config("tiny")
  config.train.num_steps = num_steps
  config.train.checkpoint_every = 2
  config.train.log_every = 2
  config.train.async_checkpoint = False
  config.eval.figure_examples = 4
  config.eval.figure_samples = 2
  return config


def _records(split, count):
  records = []
  for i in range(count):
    example = simulator.generate_example(
        simulator.example_rng(0, split, i), SIZE
    )
    records.append(
        {"magnitude": example["magnitude"], "phase": example["phase"]}
    )
  return records


TRAIN = _records("train", 16)
VAL = _records("validation", 8)


def _batch(records):
  return {
      key: jnp.asarray(np.stack([r[key] for r in records]))
      for key in ("magnitude", "phase")
  }


def _init(config):
  """A fresh state from the loop's compiled init (one compile per file)."""
  init_fn = gan_model.get_init_fn(config)
  return train_loop.compiled_init(init_fn, MESH)(jax.random.key(0))


def test_generator_samples_unit_phasors_that_depend_on_the_key():
  config = _config()
  generator = gan_model.get_generator(config.generator)
  discriminator = gan_model.get_discriminator(config.discriminator)
  state = _init(config)
  magnitude = _batch(VAL[:4])["magnitude"]

  @jax.jit
  def sample(key):
    return generator.apply(
        {"params": state.generator_params}, magnitude, rngs={"noise": key}
    )

  phasor = sample(jax.random.key(1))
  assert phasor.shape == (4, SIZE, SIZE, 2) and phasor.dtype == jnp.float32
  # Unit length up to the eps of x / sqrt(|x|^2 + eps) (short raw outputs
  # of the untrained network fall slightly below).
  norm = np.asarray(jnp.linalg.norm(phasor, axis=-1))
  assert np.all(norm <= 1 + 1e-6) and np.median(norm) > 0.9999
  np.testing.assert_array_equal(phasor, sample(jax.random.key(1)))
  assert float(jnp.mean(jnp.abs(phasor - sample(jax.random.key(2))))) > 1e-2
  logits = jax.jit(discriminator.apply)(
      {"params": state.discriminator_params}, magnitude, phasor
  )
  # Two stride-2 layers: one logit per 4x4 block of 34x34-pixel patches.
  assert logits.shape == (4, SIZE // 4, SIZE // 4)
  with pytest.raises(ValueError, match="divisible by 2\\*\\*num_levels"):
    pix2pix.UNetGenerator(8, 5, 64, 2, 1e-6).init(
        {"params": jax.random.key(0), "noise": jax.random.key(0)},
        jnp.zeros((1, SIZE, SIZE)),
    )


def test_losses_match_their_formulas():
  real = jnp.array([[[0.5, -1.0]]])
  fake = jnp.array([[[2.0, 0.0]]])
  softplus = lambda x: np.log1p(np.exp(x))
  np.testing.assert_allclose(
      gan_model.discriminator_loss(real, fake, "nonsaturating"),
      0.5 * (np.mean(softplus(-real)) + np.mean(softplus(fake))),
      rtol=1e-6,
  )
  np.testing.assert_allclose(
      gan_model.generator_adversarial_loss(fake, "nonsaturating"),
      np.mean(softplus(-fake)),
      rtol=1e-6,
  )
  np.testing.assert_allclose(
      gan_model.discriminator_loss(real, fake, "lsgan"),
      0.5 * (np.mean((real - 1) ** 2) + np.mean(fake**2)),
      rtol=1e-6,
  )
  a = jnp.zeros((1, 2, 1, 2))
  b = jnp.ones((1, 2, 1, 2))
  weights = jnp.array([[[2.0], [0.0]]])
  np.testing.assert_allclose(gan_model.phasor_l1(a, b, weights), 1.0)
  with pytest.raises(ValueError, match="loss.gan"):
    gan_model.discriminator_loss(real, fake, "wgan")


def test_one_train_step_updates_both_networks():
  config = _config()
  state = _init(config)
  # The loop's own compiled step (shared with the training tests).
  step = train_loop.compiled_step(gan_trainer.get_train_step(config), MESH)
  batch = parallel.shard_batch(
      batch_checks.check_batch(jax.device_get(_batch(TRAIN[:8])), SIZE),
      MESH,
  )
  before = jax.device_get(state)  # The step donates `state`.
  new_state, metrics = step(state, batch, jax.random.key(1))
  new_state = jax.device_get(new_state)
  assert int(new_state.step) == 1
  for key in ("loss", "g_adv", "l1", "d_loss", "grad_norm", "lr"):
    assert np.isfinite(metrics[key]), key
  # An untrained discriminator is near chance: log 2 per term.
  assert 0.3 < float(metrics["d_loss"]) < 1.5
  assert 0.0 < float(metrics["l1"]) < 1.0
  assert float(metrics["loss"]) == pytest.approx(
      float(metrics["g_adv"]) + 100.0 * float(metrics["l1"]), rel=1e-5
  )
  assert float(metrics["lr"]) == pytest.approx(2e-4)
  for name in ("generator_params", "discriminator_params"):
    changed = jax.tree.map(
        lambda a, b: bool(np.any(a != b)),
        getattr(before, name),
        getattr(new_state, name),
    )
    assert all(jax.tree.leaves(changed)), name


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """6 uninterrupted steps, and 4 steps + resume to 6."""
  full = tmp_path_factory.mktemp("full")
  state = gan_trainer.train_and_evaluate(
      _config(6), str(full), train_source=TRAIN, val_source=VAL
  )
  split = tmp_path_factory.mktemp("split")
  partial = gan_trainer.train_and_evaluate(
      _config(4), str(split), train_source=TRAIN, val_source=VAL
  )
  resumed = gan_trainer.train_and_evaluate(
      _config(6), str(split), train_source=TRAIN, val_source=VAL
  )
  return {
      "full": (full, jax.device_get(state)),
      "partial": jax.device_get(partial),
      "resumed": jax.device_get(resumed),
  }


def test_trains_on_the_shared_loop(trained):
  workdir, state = trained["full"]
  assert int(state.step) == 6
  lines = [
      json.loads(l)
      for l in (workdir / "metrics.jsonl").read_text().splitlines()
  ]
  assert [l["step"] for l in lines] == [2, 4, 6]
  for line in lines:
    for key in ("loss", "d_loss", "g_adv", "l1", "grad_norm", "lr"):
      assert np.isfinite(line[f"train/{key}"]), key
  manager = checkpoints.create_manager(
      workdir / "checkpoints", async_save=False
  )
  assert sorted(manager.all_steps()) == [2, 4, 6]
  manager.close()
  config = loading.read_config(workdir, gan_model.TRAIN_MODE)
  assert config.generator.to_dict() == _config().generator.to_dict()
  assert list((workdir / "figures").glob("train_samples_0000006.png"))


def test_resume_is_exact(trained):
  assert int(trained["partial"].step) == 4
  _, full = trained["full"]
  resumed = trained["resumed"]
  assert int(resumed.step) == 6
  jax.tree.map(np.testing.assert_array_equal, full, resumed)


def test_gan_phase_source(trained, tmp_path):
  workdir, _ = trained["full"]
  phase_fn = lookup.get_phase_fn("gan", workdir=str(workdir))
  magnitude = np.stack([r["magnitude"] for r in VAL[:5]])  # padded to 8
  phase = np.asarray(phase_fn(jax.random.key(0), magnitude))
  assert phase.shape == (5, SIZE, SIZE) and phase.dtype == np.float32
  assert np.all(phase > -np.pi) and np.all(phase <= np.pi)
  other = np.asarray(phase_fn(jax.random.key(1), magnitude))
  assert np.mean(np.abs(np.angle(np.exp(1j * (phase - other))))) > 1e-2
  with pytest.raises(ValueError, match="trained on 16x16"):
    phase_fn(jax.random.key(0), np.ones((4, 32, 32), np.float32))
  # A GAN run is not an SBDM, and an empty folder is no run at all.
  with pytest.raises(checkpoints.CheckpointError, match="--mode=train_phase"):
    lookup.get_phase_fn("sbdm", workdir=str(workdir))
  with pytest.raises(checkpoints.CheckpointError, match="--mode=train_gan"):
    lookup.get_phase_fn("gan", workdir=str(tmp_path))


def test_launch_mode_and_variants():
  assert launch_main.MODES["train_gan"] is gan_trainer.train_and_evaluate
  for variant in ("tiny", "demo", "cpu64", "synthetic128"):
    config = phase_gan.get_config(variant)
    assert config.train.batch_size % 4 == 0
    assert config.data.image_size % 2**config.generator.num_levels == 0
  assert phase_gan.get_config("demo,steps=7").train.num_steps == 7
  with pytest.raises(ValueError, match="Unknown variant"):
    phase_gan.get_config("huge")
