"""Metrics to a JSONL file and TensorBoard event files, plus a progress bar.

Only process 0 writes. tensorboardX writes event files without TensorFlow.
"""

import json
import math
import time
from collections.abc import Mapping

import jax
import numpy as np
import tensorboardX
import tqdm
from etils import epath

from runtime import atomic


class NonFiniteLossError(FloatingPointError):
  """Training produced a NaN or inf loss."""


class MetricWriter:
  """Appends {"step": s, name: value, ...} lines to `<workdir>/metrics.jsonl`
  and writes the same scalars to TensorBoard under `<workdir>/tensorboard`.

  A run resumed at step s passes `resume_step=s`: what an interrupted run
  logged after its last checkpoint is dropped (from the JSONL file, and via
  TensorBoard's purge_step), so every step is recorded once.
  """

  def __init__(
      self,
      workdir: str | epath.Path,
      enabled: bool | None = None,
      resume_step: int | None = None,
  ):
    self.enabled = jax.process_index() == 0 if enabled is None else enabled
    workdir = epath.Path(workdir)
    self._jsonl = None
    self._tensorboard = None
    if self.enabled:
      workdir.mkdir(parents=True, exist_ok=True)
      path = workdir / "metrics.jsonl"
      if resume_step is not None:
        _drop_lines_after(path, resume_step)
      self._jsonl = path.open("a")
      self._tensorboard = tensorboardX.SummaryWriter(
          str(workdir / "tensorboard"),
          purge_step=None if resume_step is None else resume_step + 1,
      )

  def write_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
    if not self.enabled:
      return
    values = {name: float(value) for name, value in scalars.items()}
    self._jsonl.write(json.dumps({"step": int(step), **values}) + "\n")
    self._jsonl.flush()
    for name, value in values.items():
      self._tensorboard.add_scalar(name, value, int(step))

  def write_image(self, step: int, name: str, image: np.ndarray) -> None:
    """Logs an (H, W, 3) uint8 or float [0, 1] image to TensorBoard."""
    if self.enabled:
      self._tensorboard.add_image(
          name, np.asarray(image), int(step), dataformats="HWC"
      )

  def close(self) -> None:
    if self.enabled:
      self._jsonl.close()
      self._tensorboard.close()


def _drop_lines_after(path: epath.Path, step: int) -> None:
  """Rewrites a metrics.jsonl without lines past `step` (atomic rename).

  A run killed while writing can leave a truncated last line; it is dropped
  too.
  """
  if not path.exists():
    return
  lines = path.read_text().splitlines(keepends=True)
  kept = [line for line in lines if _logged_step(line) <= step]
  if len(kept) == len(lines):
    return
  with atomic.replacing(path) as tmp:
    tmp.write_text("".join(kept))


def _logged_step(line: str) -> float:
  """The step of a JSONL line; +inf for a line that does not parse."""
  try:
    return json.loads(line)["step"]
  except (json.JSONDecodeError, KeyError, TypeError):
    return math.inf


def progress_bar(total_steps: int, initial_step: int, description: str):
  """A tqdm bar showing steps, rate and ETA (process 0 only)."""
  return tqdm.tqdm(
      total=total_steps,
      initial=initial_step,
      desc=description,
      unit="step",
      dynamic_ncols=True,
      disable=jax.process_index() != 0,
  )


def check_finite(
    metrics: Mapping[str, float], step: int, last_checkpoint_step: int | None
) -> None:
  """Raises NonFiniteLossError naming the step and the checkpoint kept."""
  bad = {k: v for k, v in metrics.items() if not math.isfinite(float(v))}
  if bad:
    kept = (
        "no checkpoint was written yet"
        if last_checkpoint_step is None
        else f"the last good checkpoint (step {last_checkpoint_step}) is kept"
    )
    raise NonFiniteLossError(
        f"Non-finite metrics at step {step}: {bad}; training stopped and"
        f" {kept}. Lower the learning rate, check the input data for NaNs, or"
        " resume from the checkpoint with a different seed."
    )


class StepTimer:
  """Steps per second between calls, for logging throughput."""

  def __init__(self, step: int):
    self._step, self._time = step, time.perf_counter()

  def rate(self, step: int) -> float:
    now = time.perf_counter()
    rate = (step - self._step) / max(now - self._time, 1e-9)
    self._step, self._time = step, now
    return rate
