"""Reconstruction networks, built by name from the model config.

Every model is a Flax Linen module with the same pure interface:
`model.apply({"params": params}, masked_kspace (B, C, H, W) complex64,
mask (B, H, W) float32) -> (B, H, W) float32` magnitude reconstruction.
"""

from collections.abc import Callable

import flax.linen as nn
import ml_collections

from kspace.common import catalog
from recon.models import unet
from recon.models import varnet
from runtime import precision

# name -> builder(config, num_low_frequencies, **common) -> module.
MODELS: catalog.Catalog[Callable[..., nn.Module]] = catalog.Catalog(
    "model.name"
)


@MODELS.register("unet")
def _unet(config, num_low_frequencies, **common) -> nn.Module:
  del num_low_frequencies  # It sees the zero-filled image only.
  return unet.ZeroFilledUnet(
      std_eps=config.input_std_eps, input_clamp=config.input_clamp, **common
  )


@MODELS.register("varnet")
def _varnet(config, num_low_frequencies, **common) -> nn.Module:
  return varnet.VarNet(
      num_cascades=config.num_cascades,
      sens_chans=config.sens_chans,
      sens_pools=config.sens_pools,
      num_low_frequencies=(
          None if config.sens_acs_from_mask else num_low_frequencies
      ),
      dc_weight_init=config.dc_weight_init,
      std_eps=config.std_eps,
      rss_eps=config.rss_eps,
      # (Runs from before the option have no field: estimated.)
      estimate_sens=config.get("estimate_sens", True),
      **common,
  )


def get_model(config: ml_collections.ConfigDict, num_low_frequencies: int):
  """The Linen module for `config.name`.

  Args:
    config: the `model` block of configs/recon.py.
    num_low_frequencies: static ACS width (columns) of the masks the model
      sees; the VarNet's sensitivity estimate uses it when
      `config.sens_acs_from_mask` is off (on, it finds each mask's own).

  Returns:
    An unbound flax.linen.Module.
  """
  build = MODELS.get(config.name)
  return build(
      config,
      num_low_frequencies,
      dtype=precision.compute_dtype(config.compute_dtype),
      remat=config.remat,
      chans=config.chans,
      num_pools=config.num_pools,
      negative_slope=config.negative_slope,
      norm_eps=config.norm_eps,
  )
