"""Tests of kspace.datasets.image_files.pictures: PNG / TIFF / JPEG."""

import numpy as np
import pytest
from PIL import Image

from kspace import datasets
from kspace.datasets.image_files import pictures


def _gray(shape=(20, 16)):
  return np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)


def test_colour_is_read_as_grayscale(tmp_path):
  gray = _gray()
  Image.fromarray(np.stack([gray] * 3, axis=-1)).save(tmp_path / "rgb.png")
  Image.fromarray(gray).save(tmp_path / "gray.png")
  np.testing.assert_allclose(
      pictures.read_image(str(tmp_path / "rgb.png")), gray[None], atol=1
  )
  np.testing.assert_array_equal(
      pictures.read_image(str(tmp_path / "gray.png")), gray[None]
  )


def test_16_bit_values_are_kept_and_pages_are_slices(tmp_path):
  deep = (_gray().astype(np.uint16) * 200).astype(np.uint16)
  pages = [Image.fromarray(deep), Image.fromarray(deep // 2)]
  pages[0].save(tmp_path / "pages.tif", save_all=True, append_images=pages[1:])
  slices = pictures.read_image(str(tmp_path / "pages.tif"))
  assert slices.shape == (2, 20, 16) and slices.dtype == np.float64
  np.testing.assert_array_equal(slices[0], deep)
  np.testing.assert_array_equal(slices[1], deep // 2)


def test_an_unreadable_file_is_refused(tmp_path):
  (tmp_path / "bad.png").write_bytes(b"not a png")
  with pytest.raises(datasets.DatasetError, match="not a readable image"):
    pictures.read_image(str(tmp_path / "bad.png"))
