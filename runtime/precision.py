"""Compute dtypes: the one `model.compute_dtype` name -> dtype table, shared
by the SBDM and the recon networks (parameters stay float32)."""

import jax.numpy as jnp

from kspace.common import config_errors

COMPUTE_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def compute_dtype(name: str) -> jnp.dtype:
  """The dtype of a `model.compute_dtype` name."""
  config_errors.check_choice("model.compute_dtype", name, COMPUTE_DTYPES)
  return COMPUTE_DTYPES[name]
