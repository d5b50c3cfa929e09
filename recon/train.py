"""Training and evaluation of reconstruction networks (modes train_recon and
eval_recon).

The training batch is made inside the jitted step: records (magnitude, a
phase field or an injected phase function, optional coil maps) ->
`recon.simulate` (fresh mask, phase, coil rotation and noise per example) ->
network -> loss against the fully sampled RSS target. Validation and the
final evaluation always use the records' own ground truth
(`input_pipeline.eval_inputs`), whatever the net trained on. The loop,
checkpoints, resume, logging and the NaN / preemption stops are
`runtime.train_loop`'s.
"""

import jax
import ml_collections
import optax

from kspace import datasets
from kspace.common import phase as phase_lib
from recon import evaluation
from recon import input_pipeline
from recon import losses
from recon import simulate
from recon import state as state_lib
from runtime import optimizers
from runtime import parallel
from runtime import train_loop

# data.phase_source values that train on the records' `data.phase_field`:
# their own phase, or K phases an experiment arm pre-synthesized.
GROUND_TRUTH = "ground_truth"
PRESYNTHESIZED = "presynthesized"
RECORD_SOURCES = (GROUND_TRUTH, PRESYNTHESIZED)


@train_loop.cached_by_config(
    "model", "forward", "optim", "loss", "data.image_size"
)
def get_train_step(
    config: ml_collections.ConfigDict, phase_fn: phase_lib.PhaseFn | None
):
  """Pure `train_step(state, batch, key) -> (state, metrics)`.

  Args:
    config: the recon config.
    phase_fn: the arm's phase source, or None to use `batch["phase"]`.

  Returns:
    The step; metrics are float32 scalars loss, grad_norm, lr.
  """
  model = state_lib.get_model(config)
  tx, learning_rate_fn = optimizers.create_optimizer(config.optim)
  simulate_fn = simulate.get_simulate_fn(config, phase_fn)
  loss_fn = losses.get_loss_fn(config.loss.name)

  def train_step(state, batch, key):
    inputs = simulate_fn(key, batch)

    def compute_loss(params):
      pred = model.apply(
          {"params": params}, inputs["masked_kspace"], inputs["mask"]
      )
      return loss_fn(pred, inputs["target"])

    loss, grads = jax.value_and_grad(compute_loss)(state.params)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    metrics = {
        "loss": loss,
        "grad_norm": optax.global_norm(grads),
        "lr": learning_rate_fn(state.step),
    }
    return (
        state.replace(
            step=state.step + 1,
            params=optax.apply_updates(state.params, updates),
            opt_state=opt_state,
        ),
        metrics,
    )

  return train_step


def train_and_evaluate(
    config: ml_collections.ConfigDict,
    workdir: str,
    *,
    phase_fn: phase_lib.PhaseFn | None = None,
    sources: dict | None = None,
) -> state_lib.TrainState:
  """Trains for `train.num_steps`, then (`eval.after_training`) evaluates on
  `eval.split` as `evaluate` does.

  Args:
    config: configs/recon.py config.
    workdir: checkpoints, metrics.jsonl, TensorBoard events, eval outputs.
    phase_fn: the phase of the training images when `data.phase_source` is
      not "ground_truth" (launch.main builds it from the config).
    sources: optional {split: random-access records} replacing the dataset
      (tests, notebooks).

  Returns:
    The final TrainState.

  Raises:
    ValueError: a phase source named in the config but no `phase_fn`.
    NonFiniteLossError: a NaN/inf loss; the last good checkpoint is kept.
    CheckpointError: the checkpoints in workdir do not fit the config.
    Preempted: SIGTERM; the current step was saved.
  """
  source_name = config.data.phase_source
  if (source_name in RECORD_SOURCES) != (phase_fn is None):
    raise ValueError(
        f"data.phase_source={source_name!r} but phase_fn is"
        f" {'missing' if phase_fn is None else 'given'}: pass the phase"
        " function of that source (launch.main builds it), or use"
        f" data.phase_source in {RECORD_SOURCES} without one."
    )
  if config.train.eval_every or config.eval.after_training:
    # Checked before the first step, not after hours of training.
    parallel.check_batch_size(config.eval.batch_size)
  sources = input_pipeline.Sources(config, sources)
  phase_field = config.data.phase_field if phase_fn is None else None

  def validate(state, step, writer):
    _, summary = evaluation.score(
        config,
        state.params,
        sources[config.data.val_split],
        config.eval.val_batches,
    )
    writer.write_scalars(
        step,
        {
            f"val/{name}": summary["model"]["slice"][name]["mean"]
            for name in evaluation.METRICS
        },
    )

  task = train_loop.Task(
      name=state_lib.TRAIN_MODE,
      init_fn=state_lib.get_init_fn(config),
      train_step=get_train_step(config, phase_fn),
      batches=lambda start, size: datasets.batches(
          sources["train"],
          size,
          seed=config.seed,
          shuffle=config.data.shuffle,
          start_step=start,
      ),
      check_batch=lambda batch: input_pipeline.image_inputs(
          batch, config, phase_field
      ),
      compatibility=state_lib.compatibility(config),
      metadata={"config": train_loop.as_json(config)},
      hooks=(train_loop.Hook(config.train.eval_every, validate),),
  )
  trained = train_loop.train(task, config.train, workdir, config.seed)
  if config.eval.after_training:
    evaluation.report(
        config, workdir, trained.params, sources[config.eval.split]
    )
  return trained
