"""Shared config blocks; experiment files start from these and override.

Variants are chosen with `--config=configs/<file>.py:<arg>`; `parse_arg` reads
comma-separated `key=value` pairs or a bare variant name. Each file builds one
base config and keeps its variants in one table, `_VARIANTS`: per variant the
dotted fields it changes (`variant_fields` looks a row up, `override` applies
it and refuses a field the base config does not have).
"""

import importlib.util

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


def from_file(spec: str) -> ml_collections.ConfigDict:
  """The config of `path[:arg]`, loaded as `--config=path[:arg]` loads it."""
  path, _, arg = spec.partition(":")
  loader = importlib.util.spec_from_file_location("_config_file", path)
  module = importlib.util.module_from_spec(loader)
  loader.loader.exec_module(module)
  return module.get_config(arg or None)


def _walk(
    config: ml_collections.ConfigDict, parts: list[str]
) -> tuple[object, int]:
  """(node, depth): the node the first `depth` of `parts` lead to, where
  the path stops (depth == len(parts) when `config` has the whole path;
  otherwise the node is a value, or a block without parts[depth])."""
  node = config
  for depth, part in enumerate(parts):
    if not isinstance(node, ml_collections.ConfigDict) or part not in node:
      return node, depth
    node = node[part]
  return node, len(parts)


def _has_field(config: ml_collections.ConfigDict, parts: list[str]) -> bool:
  return _walk(config, parts)[1] == len(parts)


def unknown_override(
    config: ml_collections.ConfigDict, overrides: list[str]
) -> str | None:
  """The problem and fix for the first `--config.a.b=v` of `overrides` whose
  field `config` lacks but whose shorter tail it has (None otherwise).

  An experiment's sub-configs (sbdm, gan, recon) take their `data` fields
  from the experiment's own `data` block and do not carry them, so
  `sbdm.data.num_train` is refused with `data.num_train` as the fix.
  """
  for override_flag in overrides:
    path = override_flag.removeprefix("--config.").partition("=")[0]
    parts = path.split(".")
    if _has_field(config, parts):
      continue
    for start in range(1, len(parts)):
      if _has_field(config, parts[start:]):
        tail = ".".join(parts[start:])
        return (
            f"Unknown config field '{path}': this config sets it from"
            f" '{tail}'. Fix: pass --config.{tail}."
        )
  return None


def variant_fields(table: dict, variant: str) -> dict:
  """The row of `variant` in a variants table (ValueError if it has none)."""
  if variant not in table:
    raise ValueError(f"Unknown variant {variant!r}; use one of {list(table)}.")
  return table[variant]


def override(
    config: ml_collections.ConfigDict, fields: dict, where: str
) -> ml_collections.ConfigDict:
  """Sets each dotted field of `fields` ({"model.nf": 16, ...}) on `config`.

  A variants table names only fields the base config has: a name it lacks
  (a misspelt entry) raises ValueError naming it and `where` (the table
  row), as does a value the field's type refuses.
  """
  for path, value in fields.items():
    parts = path.split(".")
    node, depth = _walk(config, parts)
    if depth < len(parts):
      if not isinstance(node, ml_collections.ConfigDict):
        raise ValueError(
            f"{where}: unknown config field {path!r}"
            f" ({'.'.join(parts[:depth])} is a value, not a block)."
        )
      block = ".".join(parts[:depth]) or "the config"
      raise ValueError(
          f"{where}: unknown config field {path!r} ({block} has no"
          f" {parts[depth]!r}; its fields: {', '.join(sorted(node.keys()))})."
      )
    parent, _ = _walk(config, parts[:-1])
    try:
      parent[parts[-1]] = value
    except TypeError as e:
      raise ValueError(f"{where}: bad value for {path!r}: {e}") from e
  return config


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
  # magnitude_registry only (see its module docstring).
  data.registry = ml_collections.ConfigDict()
  # Bad files are skipped and listed in manifest.json; the build fails when
  # more than this share is skipped, or at the first bad file with strict.
  data.registry.val_fraction = 0.1  # without split subfolders, by hash
  data.registry.test_fraction = 0.1
  data.registry.max_skipped_fraction = 0.5
  data.registry.strict = False
  # Volumes of 4-D NIfTI files: "all" or indices, e.g. "0" or "0,2".
  data.registry.nifti_volumes = "all"
  # When file names carry patient identifiers: store salted hashes of them.
  data.registry.hash_sources = False
  data.registry.source_salt = ""
  # Derived DICOM series (ImageType DERIVED / SECONDARY: reformats, maps
  # such as ADC) are skipped as "derived"; True keeps them, marked.
  data.registry.keep_derived = False
  # fastmri only: the build fails when more than this share of the .h5
  # files is bad (truncated, another schema, NaN); they are skipped and
  # listed otherwise. More than a few bad official files is a broken copy.
  data.fastmri = ml_collections.ConfigDict()
  data.fastmri.max_skipped_fraction = 0.05
  return data


def get_train_config() -> ml_collections.ConfigDict:
  """The training loop's block (`runtime.train_loop`), the same for every
  trainer; experiment files change values, never names."""
  train = ml_collections.ConfigDict()
  # Global batch size (a multiple of the device count).
  train.batch_size = 8
  train.num_steps = 10_000
  # Metrics are averaged over the steps between two logs.
  train.log_every = 100
  train.checkpoint_every = 1_000
  # Checkpoints kept (>= 2, so a corrupt newest one falls back).
  train.max_to_keep = 3
  # Save checkpoints in the background while training continues.
  train.async_checkpoint = True
  # Period of the trainer's validation hook (recon metrics, SBDM sample
  # figures); 0: only after the last step.
  train.eval_every = 0
  return train


def get_optim_config() -> ml_collections.ConfigDict:
  """The optimizer block (`runtime.optimizers.create_optimizer`)."""
  optim = ml_collections.ConfigDict()
  # adam (AdamW with weight_decay) | rmsprop.
  optim.optimizer = "adam"
  optim.lr = 1e-4
  # constant | cosine | step (multiply by decay_factor every decay_every).
  optim.schedule = "constant"
  # Linear warmup from 0 over this many steps.
  optim.warmup_steps = 0
  # Cosine: steps of the decay to 0 after the warmup (set it to about
  # train.num_steps - warmup_steps).
  optim.decay_steps = 100_000
  # Step: multiply by decay_factor every decay_every steps.
  optim.decay_every = 40_000
  optim.decay_factor = 0.1
  optim.beta1 = 0.9
  optim.beta2 = 0.999
  optim.eps = 1e-8
  optim.weight_decay = 0.0
  # Global gradient-norm clip (0: off).
  optim.grad_clip = 0.0
  return optim
