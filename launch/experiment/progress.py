"""`[experiment] k/n what (elapsed, ETA)` lines for the pipeline's steps."""

import dataclasses
import time
from collections.abc import Callable

import numpy as np


@dataclasses.dataclass
class Progress:
  """Prints `[experiment] k/n what (elapsed, ETA)` lines.

  `kinds` lists the kind of every step in order ("recon", "evaluation",
  ...); the ETA adds, over the steps left, the mean time of the
  steps of the same kind done in this sitting (the recon runs and
  evaluations dominate; one-offs count as 0 until seen).
  """

  kinds: list[str]
  done: int = 0
  start: float = dataclasses.field(default_factory=time.monotonic)
  seconds: dict = dataclasses.field(default_factory=dict)

  def step(self, what: str, fn: Callable[[], object]):
    kind = self.kinds[self.done]
    self.done += 1
    elapsed = time.monotonic() - self.start
    left = self.kinds[self.done - 1 :]
    if "recon" in self.seconds or "recon" not in left:
      eta = sum(np.mean(self.seconds.get(k, [0.0])) for k in left)
      eta = f"ETA {minutes(eta)}"
    else:
      eta = "ETA after the first recon run"
    print(
        f"[experiment] {self.done}/{len(self.kinds)} {what}"
        f" (elapsed {minutes(elapsed)}, {eta})",
        flush=True,
    )
    began = time.monotonic()
    out = fn()
    self.seconds.setdefault(kind, []).append(time.monotonic() - began)
    return out


def minutes(seconds: float) -> str:
  return f"{seconds / 60:.1f} min"
