"""Tests of kspace.datasets.builders: get_builder, build, build_from_config."""

import os

import ml_collections
import numpy as np
import pytest

from kspace import datasets
from kspace.datasets import synthetic_mri
from kspace.simulator.generator import example_pipeline
from kspace.simulator.generator import example_seeds


def _complete_datasets(data_dir):
  return [
      os.path.join(root, name)
      for root, _, names in os.walk(data_dir)
      for name in names
      if name == "dataset_info.json" or "array_record" in name
  ]


def test_get_builder_constructs_default_and_custom_configs(tmp_path):
  data_dir = str(tmp_path)
  # make_config()'s defaults name the registered config; TFDS used to refuse
  # that as "a custom BuilderConfig named like an available one".
  default = datasets.get_builder("synthetic_mri", data_dir)
  assert default.builder_config.name == "128x128_n2000-200-200_c0_s0"
  assert default.builder_config.image_size == (128, 128)
  explicit = datasets.get_builder(
      "synthetic_mri",
      data_dir,
      image_size=128,
      num_train=2000,
      num_val=200,
      num_test=200,
  )
  assert explicit.builder_config.name == default.builder_config.name
  custom = datasets.get_builder(
      "synthetic_mri", data_dir, image_size=(24, 40), num_train=5, seed=3
  )
  assert custom.builder_config.name == "24x40_n5-200-200_c0_s3"
  assert custom.builder_config.image_size == (24, 40)
  assert custom.data_dir != default.data_dir
  # Constructed, not prepared.
  assert not _complete_datasets(data_dir)


def test_get_builder_rejects_bad_requests(tmp_path):
  with pytest.raises(ValueError, match="Unknown dataset"):
    datasets.get_builder("imagenet", str(tmp_path))
  with pytest.raises(ValueError, match="Bad config"):
    datasets.get_builder("synthetic_mri", str(tmp_path), image_sise=32)
  with pytest.raises(datasets.DatasetError, match="manual_dir"):
    datasets.get_builder("fastmri", str(tmp_path))


def test_build_rejects_bad_config_before_preparing(tmp_path):
  with pytest.raises(ValueError, match="num_train"):
    datasets.build("synthetic_mri", str(tmp_path), num_train=0)
  with pytest.raises(ValueError, match="Unknown dataset"):
    datasets.build("imagenet", str(tmp_path))
  assert not _complete_datasets(str(tmp_path))


def test_failed_generation_leaves_nothing_complete_and_retry_works(
    tmp_path, monkeypatch
):
  data_dir = str(tmp_path)
  config = dict(image_size=32, num_train=4, num_val=2, num_test=0, seed=1)
  original = example_pipeline.generate_example
  calls = []

  def failing(*args, **kwargs):
    calls.append(1)
    if len(calls) == 3:
      raise RuntimeError("simulated crash mid-generation")
    return original(*args, **kwargs)

  monkeypatch.setattr(example_pipeline, "generate_example", failing)
  with pytest.raises(RuntimeError, match="simulated crash"):
    datasets.build("synthetic_mri", data_dir, **config)
  assert not _complete_datasets(data_dir)
  monkeypatch.setattr(example_pipeline, "generate_example", original)
  builder = datasets.build("synthetic_mri", data_dir, **config)
  source = datasets.data_source(builder, "train")
  assert len(source) == 4
  assert "test" not in builder.info.splits  # num_test=0 omits the split
  record = source[0]
  expected = original(
      example_seeds.example_rng(1, "train", int(record["index"])), 32
  )
  np.testing.assert_array_equal(record["phase"], expected["phase"])


def test_build_from_config(tmp_path):
  data = ml_collections.ConfigDict(
      dict(
          name="synthetic_mri",
          data_dir=str(tmp_path),
          manual_dir="",
          image_size=32,
          num_train=3,
          num_val=1,
          num_test=1,
          num_coils=2,
          seed=0,
      )
  )
  builder = datasets.build_from_config(data)
  assert builder.builder_config == synthetic_mri.make_config(
      32, 3, 1, 1, num_coils=2, seed=0
  )
  record = datasets.data_source(builder, "test")[0]
  assert record["sens"].shape == (2, 32, 32)
  data.name = "mnist"
  with pytest.raises(ValueError, match="Unknown data.name"):
    datasets.build_from_config(data)
