"""Test setup: 4 forced CPU devices, so data-parallel code runs sharded.

Set before JAX initialises its backend; single-device references build a
mesh over `jax.devices()[:1]`. Tests marked `slow` (device-count
equivalence, training of other model variants, the experiment end to end)
are left out of the default run; `.ci/run` runs them too
(`python -m pytest -m slow`).
"""

import os

os.environ["XLA_FLAGS"] = " ".join([
    os.environ.get("XLA_FLAGS", ""),
    "--xla_force_host_platform_device_count=4",
    # Tests run tiny shapes once: LLVM's optimisations cost more compile
    # time (~30% of the suite) than they save at run time.
    "--xla_backend_optimization_level=0",
    "--xla_llvm_disable_expensive_passes=true",
]).strip()
os.environ.setdefault("MPLBACKEND", "Agg")
# Persistent compilation cache, per user like pip's: later runs of the
# suite (any clone, and the subprocesses it starts) load compiled steps
# instead of recompiling (5.4 -> 4.1 min here). Its keys cover the
# computation, jax version and flags, so a stale entry is never used.
os.environ.setdefault(
    "JAX_COMPILATION_CACHE_DIR",
    os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")),
        "phasesynth",
        "jax_tests",
    ),
)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")

import contextlib
import logging

import jax
import pytest


@pytest.fixture
def count_traces(caplog):
  """`with count_traces("train_step") as traces:` ... `traces()` is how often
  a jitted function of that name was traced inside the block (a trace-count
  guard: a step that recompiles after its first call fails the test)."""

  @contextlib.contextmanager
  def counting(name: str):
    caplog.clear()
    with caplog.at_level(logging.WARNING), jax.log_compiles(True):
      yield lambda: sum(
          f"Finished tracing {name} for jit" in record.getMessage()
          for record in caplog.records
      )

  return counting
