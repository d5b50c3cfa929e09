"""Does the network use what it is told? The header test of a phase model.

`header_losses` scores the denoising loss of held-out images at fixed noise
levels three ways, with the same noise: told each record's own scan
parameters, told another record's (the batch's headers rolled by one), and
told none (the null condition). A network that uses the header does best
told its own (told < shuffled); one whose header path is dead scores the
three alike. The sample_phase mode writes it for a scan-conditioned model
(`header_losses` in sample_metrics_*.json); `run` scores a training run's
newest checkpoint alone, in a minute, e.g. while it trains:

  python -c "from score_phase.sbdm import diagnostics as d;
             print(d.markdown(d.run('runs/phase_cpu64')))"
"""

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from etils import epath

from runtime import parallel
from runtime import stats
from score_phase import batch_checks
from score_phase import input_pipeline
from score_phase import loading
from score_phase.sbdm import networks
from score_phase.sbdm import objective
from score_phase.sbdm import sde as sde_lib
from score_phase.sbdm import state as sbdm_state

# The three conditions, in report order.
CONDITIONS = ("told", "shuffled", "null")
# Noise levels (phasor units) of the test: the sampler's low end, where the
# phase's detail is made, to the level where only the body-scale phase is.
NOISE_LEVELS = (0.02, 0.1, 0.3, 1.0, 3.0)


def get_header_loss_fn(config: ml_collections.ConfigDict, sigma: float):
  """per_image_loss(params, batch, rng) -> (B,) the training loss of each
  image at noise level `sigma` (no condition dropout, no crops, no
  network dropout); batch as the train step's, with scan_values /
  scan_present."""
  sde = sde_lib.get_sde(config.sde)
  loss = config.loss
  loss_fn = objective.get_loss_fn(
      sde,
      networks.get_model_score_fn(sde, config.model),
      eps=loss.eps,
      weighting=loss.weighting,
      magnitude_threshold=loss.magnitude_threshold,
      background_weight=loss.background_weight,
      noise_sampling="lognormal",
      p_mean=float(np.log(sigma)),
      p_std=0.0,
      sigma_data=config.model.sigma_data,
      scan_dropout=(0.0, 0.0),
  )

  def per_image(params, batch, rng):
    def one(image, key):
      return loss_fn(params, jax.tree.map(lambda a: a[None], image), key)

    keys = jax.random.split(rng, batch["phase"].shape[0])
    return jax.vmap(one)(batch, keys)

  return jax.jit(per_image)


def conditioned(batch: dict, condition: str) -> dict:
  """`batch` with its scan condition as `condition` says."""
  if condition == "told":
    return batch
  if condition == "shuffled":
    return {
        **batch,
        "scan_values": jnp.roll(batch["scan_values"], 1, axis=0),
        "scan_present": jnp.roll(batch["scan_present"], 1, axis=0),
    }
  if condition == "null":
    return {**batch, "scan_present": jnp.zeros_like(batch["scan_present"])}
  raise ValueError(f"condition must be one of {CONDITIONS}, got {condition!r}.")


def header_losses(
    config: ml_collections.ConfigDict,
    params,
    batches: Sequence[dict],
    rng: jax.Array,
    noise_levels: Sequence[float] = NOISE_LEVELS,
) -> dict[float, dict[str, np.ndarray]]:
  """{sigma: {condition: (N,) per-image losses}} over `batches`, the same
  noise for every condition (`CONDITIONS`).

  Args:
    config: a scan-conditioned model's training config.
    params: its parameters (the EMA ones, as sampled).
    batches: dicts of magnitude (B,H,W), phase (B,H,W), scan_values,
      scan_present (`score_phase.scan_params.encode`) of held-out records;
      each batch of two or more records (shuffled rolls within a batch).
    rng: PRNG key of the noise.
    noise_levels: the fixed sigmas.
  """
  losses = {}
  for sigma in noise_levels:
    loss_fn = get_header_loss_fn(config, sigma)
    per_condition = {condition: [] for condition in CONDITIONS}
    for index, batch in enumerate(batches):
      if batch["phase"].shape[0] < 2:
        raise ValueError("header_losses needs batches of two or more records.")
      key = jax.random.fold_in(rng, index)
      for condition in CONDITIONS:
        per_condition[condition].append(
            np.asarray(loss_fn(params, conditioned(batch, condition), key))
        )
    losses[float(sigma)] = {
        condition: np.concatenate(values)
        for condition, values in per_condition.items()
    }
  return losses


def summarize(
    losses: dict[float, dict[str, np.ndarray]], level: float = 0.95
) -> dict[str, dict]:
  """Per sigma (as a string key): each condition's mean loss, and the
  paired differences shuffled - told and null - told with their bootstrap
  intervals (> 0: the header helps; an interval around 0: a dead path)."""
  summary = {}
  for sigma, by_condition in losses.items():
    told = by_condition["told"]
    entry = {c: float(np.mean(v)) for c, v in by_condition.items()}
    for other in ("shuffled", "null"):
      entry[f"{other}_minus_told"] = stats.paired_bootstrap(
          by_condition[other], told, level
      ).as_dict()
    entry["num_images"] = int(told.size)
    summary[f"{sigma:g}"] = entry
  return summary


def markdown(summary: dict[str, dict]) -> str:
  """The header test as a markdown table."""
  lines = [
      "| sigma | told | shuffled | null | shuffled - told | null - told |",
      "|---|---|---|---|---|---|",
  ]
  for sigma, entry in summary.items():
    cells = [
        f"{d['mean']:+.4f} [{d['ci_low']:+.4f}, {d['ci_high']:+.4f}]"
        for d in (entry["shuffled_minus_told"], entry["null_minus_told"])
    ]
    lines.append(
        f"| {sigma} | {entry['told']:.4f} | {entry['shuffled']:.4f} |"
        f" {entry['null']:.4f} | {cells[0]} | {cells[1]} |"
    )
  return "\n".join(lines) + "\n"


def run(
    workdir: str | epath.Path,
    num_images: int = 96,
    batch_size: int = 32,
    seed: int = 0,
) -> dict[str, dict]:
  """`summarize(header_losses(...))` of a train_phase run's newest
  checkpoint (EMA parameters) on the first `num_images` validation images
  of its own data."""
  config = loading.read_config(workdir, sbdm_state.TRAIN_MODE)
  if not config.model.scan_conditioning:
    raise ValueError(
        f"The run in {workdir} has no scan inputs (model.scan_conditioning"
        " is False): there is no header to test."
    )
  _, state = sbdm_state.restore_state(config, workdir, parallel.create_mesh())
  source = input_pipeline.get_source(config.data, "validation")
  batches = [
      {
          key: jnp.asarray(value)
          for key, value in batch_checks.check_batch(
              {key: np.stack([r[key] for r in records]) for key in records[0]},
              config.data.image_size,
              scan=True,
          ).items()
      }
      for records in input_pipeline.eval_records(source, batch_size, num_images)
  ]
  return summarize(
      header_losses(config, state.ema_params, batches, jax.random.key(seed))
  )
