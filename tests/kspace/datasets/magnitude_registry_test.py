"""Tests of the magnitude_registry builder on tiny files (its readers, in
`kspace.datasets.image_files`, have their own tests: dicom_test, nifti_test,
pictures_test, ...)."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from configs import experiment as experiment_config
from kspace import datasets
from kspace.datasets import magnitude_registry
from kspace.datasets import scan_headers
from kspace.simulator import sequences
from launch import prepare_data
from tests.helpers import dicom_files

SIZE = 16
# A sagittal gradient-echo slice: rows along the patient's y (anterior to
# posterior), columns along -z (head to feet), so B0 (z) lies in the plane
# along the columns: (r_z, c_z, (r x c)_z) = (0, -1, 0).
SCAN_HEADER = {
    "MagneticFieldStrength": 1.5,
    "EchoTime": 4.6,
    "ImageOrientationPatient": [0, 1, 0, 0, 0, -1],
    "ScanningSequence": ["GR"],
    "SequenceVariant": ["SP", "OSP"],
    "RepetitionTime": 12.5,
    "PixelSpacing": [0.5, 0.75],
}


def _phantom(rng, shape):
  y, x = np.meshgrid(
      np.linspace(-1, 1, shape[0]), np.linspace(-1, 1, shape[1]), indexing="ij"
  )
  return (x**2 + y**2 < 0.8) * rng.uniform(100, 1000, shape)


def _expected(raw_slices, percentile=99.5):
  """Independent reference: volume percentile, clip, square crop, resize."""
  scaled = np.clip(raw_slices / np.percentile(raw_slices, percentile), 0, 1)
  out = []
  for image in scaled:
    side = min(image.shape)
    top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
    square = image[top : top + side, left : left + side].astype(np.float32)
    if side != SIZE:
      square = np.asarray(
          Image.fromarray(square).resize((SIZE, SIZE), Image.Resampling.BICUBIC)
      )
    out.append(np.clip(square, 0, 1))
  return out


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
  root = tmp_path_factory.mktemp("registry")
  rng = np.random.default_rng(0)
  raw = {}
  dicom = np.round(_phantom(rng, (SIZE, 24)))
  dicom_files.write_dicom(
      root / "scan.dcm",
      dicom,
      slope=2.0,
      intercept=5.0,
      **SCAN_HEADER,
  )
  raw["scan.dcm"] = (dicom * 2.0 + 5.0)[None]
  volume = np.stack(
      [(k + 1) * _phantom(rng, (SIZE, SIZE)) for k in range(4)], axis=-1
  )
  volume[..., 2] = 0  # an empty slice, skipped
  (root / "sub").mkdir()
  dicom_files.write_nifti(
      root / "sub" / "vol.nii.gz", volume.astype(np.float32), slope=3.0
  )
  raw["sub/vol.nii.gz"] = np.moveaxis(volume * 3.0, -1, 0)
  gray = np.round(_phantom(rng, (20, SIZE)) / 4).astype(np.uint8)
  Image.fromarray(gray).save(root / "gray.png")
  raw["gray.png"] = gray[None].astype(np.float64)
  rgb = np.stack([gray, gray, gray], axis=-1)
  Image.fromarray(rgb).save(root / "colour.png")
  raw["colour.png"] = gray[None].astype(np.float64)
  (root / "notes.txt").write_text("not an image")
  builder = datasets.build(
      "magnitude_registry",
      str(root / ".." / (root.name + "_tfds")),
      manual_dir=str(root),
      image_size=SIZE,
      val_fraction=0.25,
      test_fraction=0.25,
  )
  return root, raw, builder


def test_all_files_land_in_exactly_one_split(folder):
  _, raw, builder = folder
  sources = {}
  for split in builder.info.splits.keys():
    source = datasets.data_source(builder, split)
    for i in range(len(source)):
      record = source[i]
      sources.setdefault(record["source"], set()).add(split)
  assert set(sources) == set(raw)
  assert all(len(splits) == 1 for splits in sources.values())
  assert set(builder.info.splits.keys()) == {"train", "validation", "test"}


def test_records_match_independent_recomputation(folder):
  _, raw, builder = folder
  found = {}
  for split in builder.info.splits.keys():
    source = datasets.data_source(builder, split)
    for i in range(len(source)):
      record = source[i]
      found[(record["source"], int(record["slice_index"]))] = record
  assert ("sub/vol.nii.gz", 2) not in found  # the empty slice
  assert len(found) == 3 + 3  # 3 single-slice files + 3 non-empty slices
  for name, slices in raw.items():
    for index, expected in enumerate(_expected(slices)):
      if (name, index) not in found:
        continue
      record = found[(name, index)]
      assert record["magnitude"].shape == (SIZE, SIZE)
      assert record["magnitude"].dtype == np.float32
      assert 0 <= record["magnitude"].min() and record["magnitude"].max() <= 1
      np.testing.assert_allclose(record["magnitude"], expected, atol=2e-3)


def test_records_carry_the_dicom_scan_parameters_and_unknown_elsewhere(
    folder,
):
  _, raw, builder = folder
  seen = set()
  for split in builder.info.splits.keys():
    source = datasets.data_source(builder, split)
    for i in range(len(source)):
      record = source[i]
      seen.add(record["source"])
      if record["source"] == "scan.dcm":
        assert record["field_strength_t"] == pytest.approx(1.5)
        assert record["echo_time_ms"] == pytest.approx(4.6)
        np.testing.assert_allclose(record["b0_direction"], [0, -1, 0])
        assert int(record["sequence"]) == sequences.GRADIENT_ECHO
        assert record["repetition_time_ms"] == pytest.approx(12.5)
        assert record["scanning_sequence"] == "GR"
        assert record["sequence_variant"] == "SP\\OSP"
        # A 16 x 24 image is cropped to 16 x 16 and stored at SIZE.
        np.testing.assert_allclose(
            record["pixel_spacing_mm"], np.array([0.5, 0.75]) * 16 / SIZE
        )
      else:  # NIfTI and PNG headers say nothing about the scan.
        assert np.isnan(record["repetition_time_ms"])
        assert np.isnan(record["pixel_spacing_mm"]).all()
        assert record["scanning_sequence"] == record["sequence_variant"] == ""
        assert np.isnan(record["field_strength_t"])
        assert np.isnan(record["echo_time_ms"])
        assert np.isnan(record["b0_direction"]).all()
        assert int(record["sequence"]) == scan_headers.UNKNOWN_SEQUENCE
  assert seen == set(raw)


def test_split_subfolders_define_splits(tmp_path):
  rng = np.random.default_rng(1)
  for split, count in (("train", 3), ("val", 1)):
    (tmp_path / split).mkdir()
    for i in range(count):
      Image.fromarray(np.uint8(_phantom(rng, (SIZE, SIZE)) / 4)).save(
          tmp_path / split / f"{i}.png"
      )
  builder = datasets.build(
      "magnitude_registry",
      str(tmp_path / "tfds"),
      manual_dir=str(tmp_path),
      image_size=SIZE,
  )
  assert builder.info.splits["train"].num_examples == 3
  assert builder.info.splits["validation"].num_examples == 1
  assert datasets.data_source(builder, "val")[0]["source"] == "val/0.png"


def _complete_datasets(data_dir):
  return [
      root
      for root, _, names in os.walk(data_dir)
      if "dataset_info.json" in names
  ]


def _write_good_png(folder, seed=2):
  Image.fromarray(
      np.uint8(_phantom(np.random.default_rng(seed), (SIZE, SIZE)) / 4)
  ).save(folder / f"good{seed}.png")


def _dicom(header):
  return lambda p: dicom_files.write_dicom(
      p / "bad.dcm",
      np.round(_phantom(np.random.default_rng(3), (SIZE, SIZE))),
      **header,
  )


BAD_FILES = [
    (
        lambda p: (p / "bad.dcm").write_bytes(b"\0" * 200 + b"junk"),
        "unreadable",
        "bad.dcm.*not a readable DICOM",
    ),
    (_dicom({"Modality": "CT"}), "not_mr", "bad.dcm.*CT image"),
    (
        _dicom({"SOPClassUID": "1.2.840.10008.5.1.4.1.1.7"}),
        "secondary_capture",
        "bad.dcm.*secondary capture",
    ),
    (
        _dicom({"ImageType": ["ORIGINAL", "PRIMARY", "LOCALIZER"]}),
        "localizer",
        "bad.dcm.*localiser",
    ),
    (
        _dicom({"ImageType": ["ORIGINAL", "PRIMARY", "P", "ND"]}),
        "not_magnitude",
        "bad.dcm.*not a magnitude",
    ),
    (_dicom({"SamplesPerPixel": 3}), "colour", "bad.dcm.*colour"),
    (
        lambda p: dicom_files.write_nifti(
            p / "bad.nii", np.ones((SIZE, SIZE, 2, 3, 2), np.float32)
        ),
        "dimensions",
        "bad.nii.*has shape",
    ),
    (
        lambda p: dicom_files.write_nifti(
            p / "bad.nii", np.full((SIZE, SIZE, 2), np.nan, np.float32)
        ),
        "non_finite",
        "bad.nii.*NaN",
    ),
    (
        lambda p: Image.fromarray(np.zeros((SIZE, SIZE), np.uint8)).save(
            p / "bad.png"
        ),
        "empty",
        "bad.png.*all zero",
    ),
    (
        lambda p: dicom_files.write_nifti(
            p / "bad.nii",
            -np.ones((SIZE, SIZE), np.float32)
            + np.eye(SIZE, dtype=np.float32) * 3,
        ),
        "negative",
        "bad.nii.*negative",
    ),
]


@pytest.mark.parametrize("make_bad, reason, pattern", BAD_FILES)
def test_bad_file_is_skipped_and_named_in_the_manifest(
    tmp_path, make_bad, reason, pattern
):
  manual = tmp_path / "images"
  manual.mkdir()
  _write_good_png(manual)
  make_bad(manual)
  builder = datasets.build(
      "magnitude_registry",
      str(tmp_path / "tfds"),
      manual_dir=str(manual),
      image_size=SIZE,
  )
  assert len(datasets.data_source(builder, "train")) == 1
  manifest = magnitude_registry.read_manifest(builder)
  assert (manifest["num_files"], manifest["num_used"]) == (2, 1)
  assert manifest["skipped_by_reason"] == {reason: 1}
  (entry,) = manifest["skipped"]
  assert entry["file"].startswith("bad.") and entry["reason"] == reason
  assert str(manual) not in json.dumps(manifest)  # relative paths only
  assert reason in magnitude_registry.format_manifest(manifest)


@pytest.mark.parametrize("make_bad, reason, pattern", BAD_FILES)
def test_strict_build_fails_cleanly_at_a_bad_file_and_retry_works(
    tmp_path, make_bad, reason, pattern
):
  del reason
  manual = tmp_path / "images"
  manual.mkdir()
  _write_good_png(manual)
  make_bad(manual)
  data_dir = str(tmp_path / "tfds")
  with pytest.raises(datasets.DatasetError, match=pattern):
    datasets.build(
        "magnitude_registry",
        data_dir,
        manual_dir=str(manual),
        image_size=SIZE,
        strict=True,
    )
  assert not _complete_datasets(data_dir)
  for path in manual.glob("bad.*"):
    path.unlink()  # the user's fix
  builder = datasets.build(
      "magnitude_registry",
      data_dir,
      manual_dir=str(manual),
      image_size=SIZE,
      strict=True,
  )
  assert len(datasets.data_source(builder, "train")) == 1
  assert len(_complete_datasets(data_dir)) == 1


def test_too_many_bad_files_fail_the_build_with_the_table(tmp_path):
  manual = tmp_path / "images"
  manual.mkdir()
  _write_good_png(manual)
  for i in range(2):
    (manual / f"bad{i}.dcm").write_bytes(b"\0" * 200 + b"junk")
  data_dir = str(tmp_path / "tfds")
  with pytest.raises(
      datasets.DatasetError, match=r"(?s)2 of 3 files.*unreadable\s+2"
  ):
    datasets.build(
        "magnitude_registry", data_dir, manual_dir=str(manual), image_size=SIZE
    )
  assert not _complete_datasets(data_dir)
  builder = datasets.build(
      "magnitude_registry",
      data_dir,
      manual_dir=str(manual),
      image_size=SIZE,
      max_skipped_fraction=0.7,
  )
  assert magnitude_registry.read_manifest(builder)["num_skipped"] == 2


def _build_train_only(manual, tmp_path):
  return datasets.build(
      "magnitude_registry",
      str(tmp_path / "tfds"),
      manual_dir=str(manual),
      image_size=SIZE,
      val_fraction=0,
      test_fraction=0,
  )


def test_interpolation_undershoot_is_clipped_and_counted(tmp_path):
  """A resampled volume (min -610 against max 30393, as an analysis
  package's output) is kept with its few negative pixels clipped."""
  manual = tmp_path / "images"
  manual.mkdir()
  volume = 30393 * _phantom(np.random.default_rng(4), (SIZE, SIZE)) / 1000
  volume[0, 0], volume[1, 3], volume[5, 5] = -610, -100, -7
  dicom_files.write_nifti(
      manual / "resampled.nii.gz", volume.astype(np.float32)
  )
  builder = _build_train_only(manual, tmp_path)
  record = datasets.data_source(builder, "train")[0]
  assert record["magnitude"].min() >= 0
  manifest = magnitude_registry.read_manifest(builder)
  assert manifest["num_skipped"] == 0
  assert manifest["clipped_negative"] == [
      {"volume": "resampled.nii.gz", "pixels": 3}
  ]
  assert "Clipped 3 negative pixels" in magnitude_registry.format_manifest(
      manifest
  )


def test_empty_or_missing_folder(tmp_path):
  with pytest.raises(datasets.DatasetError, match="no DICOM, NIfTI"):
    datasets.build(
        "magnitude_registry", str(tmp_path / "tfds"), manual_dir=str(tmp_path)
    )
  with pytest.raises(datasets.DatasetError, match="does not exist"):
    datasets.build(
        "magnitude_registry",
        str(tmp_path / "tfds"),
        manual_dir=str(tmp_path / "nowhere"),
    )
  with pytest.raises(datasets.DatasetError, match="manual_dir"):
    datasets.build("magnitude_registry", str(tmp_path / "tfds"))


def test_image_size_is_in_the_config_name(tmp_path):
  manual = tmp_path / "images"
  manual.mkdir()
  Image.fromarray(
      np.uint8(_phantom(np.random.default_rng(3), (20, 20)) / 4)
  ).save(manual / "a.png")
  data_dir = str(tmp_path / "tfds")
  small = datasets.build(
      "magnitude_registry", data_dir, manual_dir=str(manual), image_size=8
  )
  large = datasets.build(
      "magnitude_registry", data_dir, manual_dir=str(manual), image_size=SIZE
  )
  assert small.info.full_name != large.info.full_name
  assert datasets.data_source(small, "train")[0]["magnitude"].shape == (8, 8)
  assert datasets.data_source(large, "train")[0]["magnitude"].shape == (
      SIZE,
      SIZE,
  )


def test_prepare_data_on_a_registry_prints_the_manifest(tmp_path, capsys):
  manual = tmp_path / "images"
  manual.mkdir()
  for seed in range(3):
    _write_good_png(manual, seed)
  (manual / "bad.dcm").write_bytes(b"\0" * 200 + b"junk")
  config = experiment_config.get_config("quicktest")
  config.data.update(
      name="magnitude_registry",
      data_dir=str(tmp_path / "tfds"),
      manual_dir=str(manual),
      image_size=SIZE,
  )
  path = prepare_data.prepare_data(config, str(tmp_path / "run"))
  assert path.exists()
  out = capsys.readouterr().out
  assert "3 of 4 files used (3 volumes), 1 skipped." in out
  assert "unreadable" in out and "bad.dcm" in out


def test_pixel_spacing_is_the_stored_images(tmp_path):
  manual = tmp_path / "images"
  manual.mkdir()
  pixels = np.round(_phantom(np.random.default_rng(5), (32, 40)))
  dicom_files.write_dicom(manual / "wide.dcm", pixels, PixelSpacing=[1.0, 0.8])
  builder = _build_train_only(manual, tmp_path)
  record = datasets.data_source(builder, "train")[0]
  # Cropped to 32 x 32, resized to 16: twice the spacing.
  np.testing.assert_allclose(record["pixel_spacing_mm"], [2.0, 1.6])
