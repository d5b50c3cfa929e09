"""Tests of the synthetic_mri TFDS builder: it stores the generator's output."""

import os

import numpy as np
import pytest

from kspace import datasets
from kspace.datasets import synthetic_mri
from kspace.simulator import sequences
from kspace.simulator.generator import example_pipeline
from kspace.simulator.generator import example_seeds
from kspace.simulator.generator import synthetic_params


@pytest.fixture(scope="module")
def built(tmp_path_factory):
  data_dir = str(tmp_path_factory.mktemp("tfds"))
  config = dict(
      image_size=32, num_train=6, num_val=3, num_test=2, num_coils=2, seed=9
  )
  return data_dir, config, datasets.build("synthetic_mri", data_dir, **config)


def test_builder_stores_exactly_the_generator_output(built):
  _, config, builder = built
  sizes = {"train": 6, "validation": 3, "test": 2}
  for split, size in sizes.items():
    source = datasets.data_source(builder, split)
    assert len(source) == size
    indices = set()
    for i in range(size):
      record = source[i]
      indices.add(int(record["index"]))
      expected = example_pipeline.generate_example(
          example_seeds.example_rng(
              config["seed"], split, int(record["index"])
          ),
          config["image_size"],
          num_coils=config["num_coils"],
      )
      for key in (
          "magnitude",
          "phase",
          "labels",
          "sens",
          "b0_direction",
          "field_strength_t",
          "sequence",
          "echo_time_ms",
      ):
        assert record[key].dtype == expected[key].dtype, key
        np.testing.assert_array_equal(record[key], expected[key])
      assert record["anatomy"] == expected["anatomy"]
      assert record["sequence"] in (
          sequences.GRADIENT_ECHO,
          sequences.SPIN_ECHO,
      )
    assert indices == set(range(size))


def test_splits_are_different_images(built):
  _, _, builder = built
  images = {
      split: np.stack([
          r["magnitude"]
          for r in datasets.data_source(builder, split).__getitems__(range(n))
      ])
      for split, n in (("train", 6), ("validation", 3), ("test", 2))
  }
  for a, b in (
      ("train", "validation"),
      ("train", "test"),
      ("validation", "test"),
  ):
    distances = np.abs(images[a][:, None] - images[b][None]).max(axis=(2, 3))
    assert distances.min() > 0.05


def test_configs_do_not_collide_on_disk(built):
  data_dir, config, builder = built
  smaller = datasets.build(
      "synthetic_mri", data_dir, **{**config, "image_size": 24}
  )
  assert smaller.info.full_name != builder.info.full_name
  assert datasets.data_source(smaller, "train")[0]["magnitude"].shape == (
      24,
      24,
  )
  assert datasets.data_source(builder, "train")[0]["magnitude"].shape == (
      32,
      32,
  )
  reseeded = datasets.build("synthetic_mri", data_dir, **{**config, "seed": 10})
  assert reseeded.info.full_name != builder.info.full_name
  # The same config is reused, not regenerated.
  info_file = os.path.join(builder.data_dir, "dataset_info.json")
  mtime = os.stat(info_file).st_mtime_ns
  again = datasets.build("synthetic_mri", data_dir, **config)
  assert again.data_dir == builder.data_dir
  assert os.stat(info_file).st_mtime_ns == mtime


def test_config_name_encodes_every_field():
  assert synthetic_mri.make_config().name == "128x128_n2000-200-200_c0_s0"
  name = synthetic_mri.make_config((24, 40), 5, 0, 1, num_coils=2, seed=3).name
  assert name == "24x40_n5-0-1_c2_s3"
  params = synthetic_params.SyntheticParams(noise_std=(0.01, 0.01))
  tagged = synthetic_mri.make_config(params=params).name
  assert tagged.startswith("128x128_n2000-200-200_c0_s0_p")
  assert tagged == synthetic_mri.make_config(params=params).name
  with pytest.raises(ValueError, match="num_train"):
    synthetic_mri.make_config(num_train=0)
