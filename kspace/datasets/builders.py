"""Datasets by name: `get_builder` constructs one, `build` also prepares it.

Every config field that changes the data (image size, counts, coils, seed,
crop, the files' fingerprint) is encoded in the TFDS config name, so the
prepared dataset lives in its own folder
`<data_dir>/<name>/<config name>/<version>/` and a different request never
reads it. TFDS prepares into `incomplete.*` next to that folder and renames
it only after every split is written; a failure deletes the temporary folder,
so nothing half-written is ever treated as complete and a retry starts over.

With several processes, process 0 prepares first and the others wait at a
barrier, then open (or, without a shared filesystem, prepare) the same data.
"""

import logging
import os
from collections.abc import Callable
from typing import Any

import jax
import tensorflow_datasets as tfds

from kspace.common import config_errors
from kspace.datasets import errors
from kspace.datasets import fastmri
from kspace.datasets import magnitude_registry
from kspace.datasets import synthetic_mri

FILE_FORMAT = "array_record"


def _synthetic_config(manual_dir, **kwargs):
  del manual_dir  # Generated, nothing to read.
  return synthetic_mri.make_config(**kwargs)


def _fastmri_config(manual_dir, config: str | None = None, **kwargs):
  if config is not None:
    challenge, _, anatomy = config.partition("_")
    kwargs.update(challenge=challenge, anatomy=anatomy)
  return fastmri.make_config(manual_dir=manual_dir, **kwargs)


def _registry_config(manual_dir, **kwargs):
  return magnitude_registry.make_config(manual_dir=manual_dir, **kwargs)


# name -> (builder class, config factory(manual_dir, **kwargs), needs files).
BUILDERS: dict[str, tuple[type, Callable[..., Any], bool]] = {
    synthetic_mri.NAME: (synthetic_mri.SyntheticMri, _synthetic_config, False),
    fastmri.NAME: (fastmri.FastMri, _fastmri_config, True),
    magnitude_registry.NAME: (
        magnitude_registry.MagnitudeRegistry,
        _registry_config,
        True,
    ),
}


def get_builder(
    name: str,
    data_dir: str,
    *,
    manual_dir: str | None = None,
    **config_kwargs,
) -> tfds.core.DatasetBuilder:
  """Constructs the builder for `name` without preparing it.

  Args:
    name: "synthetic_mri" | "fastmri" | "magnitude_registry".
    data_dir: TFDS data folder ("~" is expanded).
    manual_dir: folder with the user's files (fastmri, magnitude_registry).
    **config_kwargs: the dataset's config fields:
      synthetic_mri: image_size, num_train, num_val, num_test, num_coils,
        seed, params (see `synthetic_mri.make_config`);
      fastmri: config ("singlecoil_knee", ...) or challenge and anatomy,
        crop_size, acs_fraction, max_skipped_fraction
        (`fastmri.make_config`);
      magnitude_registry: image_size, percentile, empty_threshold,
        val_fraction, test_fraction, max_skipped_fraction,
        max_negative_fraction, strict, keep_derived, nifti_volumes,
        hash_sources, source_salt (`magnitude_registry.make_config`).

  Returns:
    The TFDS builder; `build` prepares it.

  Raises:
    ValueError: unknown name or config field (TypeError is converted).
    DatasetError: missing/bad input files (the message names the file).
  """
  config_errors.check_choice("dataset", name, BUILDERS)
  builder_cls, make_config, needs_files = BUILDERS[name]
  if needs_files:
    manual_dir = _check_manual_dir(manual_dir, name)
  try:
    config = make_config(manual_dir, **config_kwargs)
  except TypeError as e:
    raise ValueError(f"Bad config for {name}: {e}") from e
  data_dir = os.path.abspath(os.path.expanduser(os.fspath(data_dir)))
  return builder_cls(
      config=_registered_or_custom(builder_cls, config),
      data_dir=data_dir,
      file_format=FILE_FORMAT,
  )


def build(
    name: str,
    data_dir: str,
    *,
    manual_dir: str | None = None,
    **config_kwargs,
) -> tfds.core.DatasetBuilder:
  """Constructs the builder for `name` and prepares it if needed.

  Args:
    name: "synthetic_mri" | "fastmri" | "magnitude_registry".
    data_dir: TFDS data folder ("~" is expanded).
    manual_dir: folder with the user's files (fastmri, magnitude_registry).
    **config_kwargs: the dataset's config fields, see `get_builder`.

  Returns:
    The prepared TFDS builder; read it with `data_source`.

  Raises:
    ValueError: unknown name or config field (TypeError is converted).
    DatasetError: missing/bad input files (the message names the file).
  """
  builder = get_builder(name, data_dir, manual_dir=manual_dir, **config_kwargs)
  if BUILDERS[name][2]:  # Needs files: the folder get_builder checked.
    manual_dir = _check_manual_dir(manual_dir, name)
  download_config = tfds.download.DownloadConfig(manual_dir=manual_dir)
  _prepare(builder, download_config)
  return builder


def _registered_or_custom(builder_cls, config):
  """The class's own config object when one has the same name, else `config`.

  TFDS refuses a custom config named like a registered one unless it is that
  very object (an identity check), and `make_config()` with default fields
  builds a new object under the registered name. Our config names encode
  every field, so the same name means the same data.
  """
  return builder_cls.builder_configs.get(config.name, config)


def _check_manual_dir(manual_dir: str | None, name: str) -> str:
  if not manual_dir:
    raise errors.DatasetError(
        f"Dataset {name} reads your files: pass manual_dir=<folder>."
        f"\n{BUILDERS[name][0].MANUAL_DOWNLOAD_INSTRUCTIONS}"
    )
  return os.path.abspath(os.path.expanduser(os.fspath(manual_dir)))


def _prepare(builder, download_config) -> None:
  if jax.process_count() == 1:
    builder.download_and_prepare(download_config=download_config)
    return
  # pylint: disable-next=g-import-not-at-top
  from jax.experimental import multihost_utils

  if jax.process_index() == 0:
    builder.download_and_prepare(download_config=download_config)
  multihost_utils.sync_global_devices(f"prepare {builder.info.full_name}")
  if jax.process_index() != 0:
    # A no-op on a shared filesystem; otherwise prepares a local copy.
    builder.download_and_prepare(download_config=download_config)
  logging.info(
      "Dataset %s ready in %s", builder.info.full_name, builder.data_dir
  )


def build_from_config(data: Any) -> tfds.core.DatasetBuilder:
  """`build` from a `configs.base.get_data_config()` ConfigDict.

  Fields: name ("synthetic_mri", "fastmri" or "fastmri/<challenge>_<anatomy>",
  "magnitude_registry"), data_dir, manual_dir ("" for none), image_size
  (the synthetic size, fastMRI crop, registry size), for synthetic_mri
  num_train, num_val, num_test, num_coils, seed, and for magnitude_registry
  the fields of `registry` (max_skipped_fraction, strict, nifti_volumes,
  hash_sources, source_salt, keep_derived), for fastmri those of `fastmri`
  (max_skipped_fraction).

  Args:
    data: ConfigDict (or any object with those attributes).

  Returns:
    The prepared builder.
  """
  name, _, variant = data.name.partition("/")
  manual_dir = data.manual_dir or None
  if name == synthetic_mri.NAME:
    kwargs = dict(
        image_size=data.image_size,
        num_train=data.num_train,
        num_val=data.num_val,
        num_test=data.num_test,
        num_coils=data.num_coils,
        seed=data.seed,
    )
  elif name == fastmri.NAME:
    kwargs = dict(crop_size=data.image_size)
    block = getattr(data, "fastmri", None)  # (older data blocks: default)
    if block is not None:
      kwargs["max_skipped_fraction"] = block.max_skipped_fraction
    if variant:
      kwargs["config"] = variant
  elif name == magnitude_registry.NAME:
    kwargs = dict(image_size=data.image_size, **data.registry)
  else:
    raise config_errors.ConfigError(
        f"Unknown data.name {data.name!r}. Fix: use one of"
        f" {sorted(BUILDERS)} (fastmri may carry a variant:"
        " fastmri/multicoil_knee)."
    )
  return build(name, data.data_dir, manual_dir=manual_dir, **kwargs)
