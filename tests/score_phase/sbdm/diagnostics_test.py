"""Tests of score_phase.sbdm.diagnostics (the header test) and of the
scale-and-shift conditioning it motivates (layers.ResnetBlock)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import phase_sbdm
from kspace.simulator import generator
from score_phase import batch_checks
from score_phase import scan_params
from score_phase.sbdm import diagnostics
from score_phase.sbdm import layers
from score_phase.sbdm import state as sbdm_state
from score_phase.sbdm import trainer as sbdm_trainer


def _config(scan_conditioning, scale_shift_norm=True):
  config = phase_sbdm.get_config("tiny")
  config.model.scan_conditioning = scan_conditioning
  config.model.scale_shift_norm = scale_shift_norm
  config.model.preconditioning = "edm"
  config.loss.weighting = "edm"
  return config


def _batches(size, count=2, per_batch=4):
  records = [
      generator.generate_example(
          generator.example_rng(0, "validation", i), size
      )
      for i in range(count * per_batch)
  ]
  batches = []
  for start in range(0, len(records), per_batch):
    chunk = records[start : start + per_batch]
    batch = batch_checks.check_batch(
        {
            k: np.stack([r[k] for r in chunk])
            for k in ("magnitude", "phase") + scan_params.RECORD_KEYS
        },
        size,
        scan=True,
    )
    batches.append({k: jnp.asarray(v) for k, v in batch.items()})
  return batches


def _params(config, perturb):
  params = jax.jit(sbdm_state.get_init_fn(config))(jax.random.key(0)).params
  if perturb:  # Break the zero-initialised output so the header can matter.
    params = jax.jit(
        lambda p: jax.tree.map(
            lambda a: a + 0.1 * jax.random.normal(jax.random.key(1), a.shape),
            p,
        )
    )(params)
  return params


def test_a_network_without_scan_inputs_scores_every_condition_alike():
  # The same noise for every condition: a network blind to the header
  # gives the same per-image losses bit for bit.
  config = _config(scan_conditioning=False)
  losses = diagnostics.header_losses(
      config,
      _params(config, perturb=True),
      _batches(config.data.image_size),
      jax.random.key(0),
      noise_levels=(0.1, 1.0),
  )
  assert set(losses) == {0.1, 1.0}
  for by_condition in losses.values():
    assert by_condition["told"].shape == (8,)
    assert np.all(np.isfinite(by_condition["told"]))
    for other in ("shuffled", "null"):
      np.testing.assert_array_equal(by_condition[other], by_condition["told"])
  summary = diagnostics.summarize(losses)
  assert summary["0.1"]["null_minus_told"]["mean"] == 0.0
  assert "| 1 |" in diagnostics.markdown(summary)


@pytest.mark.parametrize("scale_shift_norm", [False, True])
def test_a_scan_conditioned_network_is_scored_differently_per_condition(
    scale_shift_norm,
):
  config = _config(scan_conditioning=True, scale_shift_norm=scale_shift_norm)
  losses = diagnostics.header_losses(
      config,
      _params(config, perturb=True),
      _batches(config.data.image_size, count=1),
      jax.random.key(0),
      noise_levels=(0.3,),
  )[0.3]
  for other in ("shuffled", "null"):
    assert not np.allclose(losses[other], losses["told"])


def test_conditions_change_only_the_scan_fields():
  batch = _batches(16, count=1)[0]
  shuffled = diagnostics.conditioned(batch, "shuffled")
  np.testing.assert_array_equal(
      shuffled["scan_values"][1:], batch["scan_values"][:-1]
  )
  np.testing.assert_array_equal(shuffled["phase"], batch["phase"])
  assert not diagnostics.conditioned(batch, "null")["scan_present"].any()
  assert diagnostics.conditioned(batch, "told") is batch
  with pytest.raises(ValueError, match="condition must be one of"):
    diagnostics.conditioned(batch, "other")


def test_scale_shift_norm_scales_the_normalised_features():
  # With scale and shift the embedding multiplies the features: two
  # embeddings that differ only by a per-channel constant (which the
  # following GroupNorm largely removes from an added bias) still give
  # outputs that differ in contrast, not only in offset.
  x = jax.random.normal(jax.random.key(0), (2, 8, 8, 8))
  block = layers.ResnetBlock(8, 0.0, 2, scale_shift_norm=True)
  temb = jax.random.normal(jax.random.key(1), (2, 16))
  params = block.init(jax.random.key(2), x, temb)["params"]
  assert params["Dense_0"]["kernel"].shape == (16, 16)  # scale and shift
  params = jax.tree.map(lambda p: p + 0.3, params)
  same_x = jnp.broadcast_to(x[:1], x.shape)
  out = block.apply({"params": params}, same_x, temb)
  assert float(jnp.max(jnp.abs(out[0] - out[1]))) > 1e-2
  additive = layers.ResnetBlock(8, 0.0, 2)
  assert additive.init(jax.random.key(2), x, temb)["params"]["Dense_0"][
      "kernel"
  ].shape == (16, 8)


@pytest.mark.slow  # trains a tiny run and builds its dataset
def test_run_scores_a_training_runs_newest_checkpoint(tmp_path):
  config = _config(scan_conditioning=True)
  config.data.data_dir = str(tmp_path / "tfds")
  config.train.num_steps = 2
  config.train.checkpoint_every = 2
  config.train.async_checkpoint = False
  run = tmp_path / "run"
  sbdm_trainer.train_and_evaluate(config, str(run))
  summary = diagnostics.run(run, num_images=16, batch_size=8)
  assert list(summary) == [f"{s:g}" for s in diagnostics.NOISE_LEVELS]
  for entry in summary.values():
    assert entry["num_images"] == 16
    assert all(np.isfinite(entry[c]) for c in diagnostics.CONDITIONS)
  plain = _config(scan_conditioning=False)
  plain.data.data_dir = config.data.data_dir
  plain.train.num_steps = 2
  plain.train.checkpoint_every = 2
  plain.train.async_checkpoint = False
  sbdm_trainer.train_and_evaluate(plain, str(tmp_path / "plain"))
  with pytest.raises(ValueError, match="no header to test"):
    diagnostics.run(tmp_path / "plain")
