"""Shared config blocks; experiment files start from these and override.

Variants are chosen with `--config=configs/<file>.py:<arg>`; `parse_arg` reads
comma-separated `key=value` pairs or a bare variant name.
"""

import ml_collections


def parse_arg(arg: str | None, **defaults) -> ml_collections.ConfigDict:
  """Parses 'variant' or 'k1=v1,k2=v2' into a ConfigDict over `defaults`.

  A bare word sets the first default's key (the variant name). Values are
  converted to the type of their default.
  """
  parsed = ml_collections.ConfigDict(defaults)
  if not arg:
    return parsed
  first_key = next(iter(defaults))
  for item in arg.split(","):
    key, sep, value = item.partition("=")
    if not sep:
      key, value = first_key, item
    if key not in defaults:
      raise ValueError(
          f"Unknown config argument {key!r} in {arg!r}; known:"
          f" {list(defaults)}."
      )
    default = defaults[key]
    if isinstance(default, bool):
      parsed[key] = value.lower() in ("1", "true", "yes")
    else:
      parsed[key] = type(default)(value)
  return parsed


def get_data_config(image_size: int = 128) -> ml_collections.ConfigDict:
  """Where the images come from (see kspace.datasets)."""
  data = ml_collections.ConfigDict()
  # One of kspace.datasets: synthetic_mri | fastmri | magnitude_registry.
  data.name = "synthetic_mri"
  # TFDS data_dir; prepared datasets are reused across runs.
  data.data_dir = "~/tensorflow_datasets"
  # Folder with the user's files (fastmri .h5, registry images); unused for
  # the built-in synthetic set.
  data.manual_dir = ""
  # Square image size (pixels); synthetic data is generated at this size,
  # other sources are cropped/resized to it.
  data.image_size = image_size
  # Examples per split of the synthetic set.
  data.num_train = 2000
  data.num_val = 200
  data.num_test = 200
  # Coil maps stored with the synthetic set (0: none, simulate on the fly).
  data.num_coils = 0
  # Seed of the synthetic set: the same seed gives the same images.
  data.seed = 0
  return data
