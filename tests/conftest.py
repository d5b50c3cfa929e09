"""Test setup: 4 forced CPU devices, so data-parallel code runs sharded.

Set before JAX initialises its backend; single-device references build a
mesh over `jax.devices()[:1]`.
"""

import os

os.environ["XLA_FLAGS"] = " ".join([
    os.environ.get("XLA_FLAGS", ""),
    "--xla_force_host_platform_device_count=4",
]).strip()
os.environ.setdefault("MPLBACKEND", "Agg")
