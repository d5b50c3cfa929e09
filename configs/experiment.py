"""The main job on the built-in synthetic data.

  python -m launch.main --mode=experiment --config=configs/experiment.py \
      --workdir=runs/experiment

Variants (`--config=configs/experiment.py:quicktest`): `default` (128x128,
2000/200/200 images) and `quicktest` (64x64, a few images, for CPU smoke runs).
"""

import ml_collections

from configs import base


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  arg = base.parse_arg(arg, variant="default")
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.data = base.get_data_config()
  # Examples drawn in the overview figure.
  config.num_figure_examples = 4
  # Coils simulated for the figure's multi-coil k-space.
  config.figure_num_coils = 8
  if arg.variant == "quicktest":
    config.data.image_size = 64
    config.data.num_train, config.data.num_val, config.data.num_test = 16, 4, 4
  elif arg.variant != "default":
    raise ValueError(f"Unknown variant {arg.variant!r}; use default|quicktest.")
  return config
