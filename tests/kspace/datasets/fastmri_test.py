"""Tests of the fastmri builder and its reader (fastmri_files) on tiny .h5
files in the fastMRI schema."""

import json
import os
import re

import h5py
import numpy as np
import pytest

from kspace import coils
from kspace import datasets
from kspace.datasets import fastmri
from kspace.datasets import fastmri_files
from kspace.simulator import sequences

CROP = 16
HEADER = """<?xml version="1.0" encoding="utf-8"?>
<ismrmrdHeader xmlns="http://www.ismrm.org/ISMRMRD">
  <acquisitionSystemInformation>
    <systemFieldStrength_T>2.89362</systemFieldStrength_T>
  </acquisitionSystemInformation>
  <encoding>
    <encodedSpace><matrixSize><x>{ex}</x><y>{ey}</y><z>1</z></matrixSize>
    </encodedSpace>
    <reconSpace><matrixSize><x>{rx}</x><y>{ry}</y><z>1</z></matrixSize>
    </reconSpace>{limits}
  </encoding>
  <sequenceParameters><TR>2750</TR><TE>27</TE>
    <sequence_type>TurboSpinEcho</sequence_type></sequenceParameters>
</ismrmrdHeader>"""
LIMITS = """
    <encodingLimits><kspace_encoding_step_1><minimum>0</minimum>
      <maximum>{maximum}</maximum><center>{center}</center>
    </kspace_encoding_step_1></encodingLimits>"""


def _header(encoded, recon=(18, 18), limits=None):
  """A scanner's ISMRMRD header: encoded and recon (x, y) matrix sizes and
  the phase-encode encodingLimits (center, maximum); full coverage of the
  encoded columns by default."""
  if limits is None:
    limits = (encoded[1] // 2, encoded[1] - 1)
  return HEADER.format(
      ex=encoded[0],
      ey=encoded[1],
      rx=recon[0],
      ry=recon[1],
      limits=LIMITS.format(center=limits[0], maximum=limits[1]),
  )


def _np_ifft2c(k):
  axes = (-2, -1)
  return np.fft.fftshift(
      np.fft.ifft2(np.fft.ifftshift(k, axes=axes), norm="ortho"), axes=axes
  )


def _np_fft2c(x):
  axes = (-2, -1)
  return np.fft.fftshift(
      np.fft.fft2(np.fft.ifftshift(x, axes=axes), norm="ortho"), axes=axes
  )


def _np_combine(k, num_low):
  """numpy reference of the multi-coil combine: ACS maps with the phase of
  the strongest coil's map removed. Returns (image, maps, coil images, the
  low-resolution ACS coil images), uncropped."""
  width = k.shape[-1]
  pad = (width - num_low + 1) // 2
  acs = np.zeros_like(k)
  acs[..., pad : pad + num_low] = k[..., pad : pad + num_low]
  low = _np_ifft2c(acs)
  maps = low / (np.sqrt(np.sum(np.abs(low) ** 2, axis=0)) + 1e-6)
  coil_images = _np_ifft2c(k)
  strongest = np.argmax(np.sum(np.abs(coil_images) ** 2, axis=(1, 2)))
  maps = maps * np.exp(-1j * np.angle(maps[strongest]))
  return np.sum(np.conj(maps) * coil_images, axis=0), maps, coil_images, low


def _np_crop(x, size):
  """fastMRI's center crop (offset (n - size) // 2), or zero pad, of the
  last two axes to size (an int: a square)."""
  size = (size, size) if np.ndim(size) == 0 else size
  for axis, want in zip((-2, -1), size):
    have = x.shape[axis]
    if have < want:
      pad = [(0, 0)] * x.ndim
      pad[axis] = ((want - have) // 2, want - have - (want - have) // 2)
      x = np.pad(x, pad)
    start = (x.shape[axis] - want) // 2
    x = np.take(x, np.arange(start, start + want), axis=axis)
  return x


def _object(rng, shape):
  """A smooth-phase elliptical object (complex (H, W))."""
  y, x = np.meshgrid(
      np.linspace(-1, 1, shape[0]), np.linspace(-1, 1, shape[1]), indexing="ij"
  )
  magnitude = (x**2 / 0.7 + y**2 / 0.8 < 1) * (
      1 + 0.3 * rng.uniform(size=shape)
  )
  phase = rng.uniform(-1, 1) + 1.5 * x - 1.0 * y + 0.5 * x * y
  return magnitude * np.exp(1j * phase), phase


def _test_mask(width):
  """A challenge test file's column mask: every third column and 4 center
  columns."""
  lines = np.zeros(width, np.float32)
  lines[::3] = 1
  lines[width // 2 - 2 : width // 2 + 2] = 1
  return lines


def write_h5(path, kspace, *, header, target=None, target_key=None, mask=None):
  """A file in the fastMRI schema: kspace, the reconstruction, the test
  data's mask, the ISMRMRD header and the attrs."""
  with h5py.File(path, "w") as f:
    f.create_dataset("kspace", data=kspace)
    if target is not None:
      f.create_dataset(target_key, data=target)
    if mask is not None:
      f.create_dataset("mask", data=mask)
    f.create_dataset("ismrmrd_header", data=header.encode())
    f.attrs["acquisition"] = "CORPD_FBK"
    f.attrs["patient_id"] = "abc123"


def write_volume(
    path,
    challenge,
    rng,
    *,
    num_slices=3,
    num_coils=4,
    shape=(24, 20),
    recon_size=(18, 18),
    limits=None,
    target=True,
    mask=False,
    max_attr=True,
    corrupt_slice=None,
    sens=None,
):
  """Writes a fastMRI-schema file; returns (kspace, target).

  The target is the RSS (multi-coil) or magnitude (single-coil) image,
  center-cropped (or padded) to recon_size as fastMRI's reconstructions
  are; `limits` (center, maximum) become the header's encodingLimits and
  the k-space columns outside them are zero, as a scanner writes them.
  """
  images = np.stack([_object(rng, shape)[0] for _ in range(num_slices)])
  if challenge == "multicoil":
    if sens is None:
      sens = np.asarray(coils.birdcage_maps(shape, num_coils, rotation=0.4))
    coil_images = images[:, None] * sens[None]
    kspace = _np_fft2c(coil_images)
    recon = np.sqrt(np.sum(np.abs(coil_images) ** 2, axis=1))
  else:
    kspace = _np_fft2c(images)
    recon = np.abs(images)
  kspace = kspace + 0.01 * (
      rng.standard_normal(kspace.shape) + 1j * rng.standard_normal(kspace.shape)
  )
  kspace = kspace.astype(np.complex64)
  if limits is not None:
    left = shape[1] // 2 - limits[0]
    kspace[..., :left] = 0
    kspace[..., left + limits[1] + 1 :] = 0
  if corrupt_slice is not None:
    kspace[corrupt_slice, ..., 3, 4] = np.nan
  recon = _np_crop(recon, recon_size).astype(np.float32)
  write_h5(
      path,
      kspace,
      header=_header(shape, recon_size, limits),
      target=recon if target else None,
      target_key=fastmri_files.TARGET_KEYS[challenge],
      mask=_test_mask(shape[1]) if mask else None,
  )
  with h5py.File(path, "a") as f:
    if max_attr and target:
      f.attrs["max"] = float(recon.max())
    f.attrs["norm"] = float(np.linalg.norm(recon))
  return kspace, recon


def _build(root, config="singlecoil_knee", data_dir=None, **kwargs):
  """The fastmri builder on the files under `root` (data in root/tfds);
  config=None leaves the builder config to kwargs (challenge, anatomy)."""
  return datasets.build(
      "fastmri",
      data_dir or str(root / "tfds"),
      manual_dir=str(root),
      **({"config": config} if config else {}),
      **({"crop_size": CROP} | kwargs),
  )


@pytest.fixture(scope="module")
def singlecoil(tmp_path_factory):
  root = tmp_path_factory.mktemp("fastmri_sc")
  rng = np.random.default_rng(0)
  volumes = {}
  for split, names in (
      ("train", ("file1.h5", "file2.h5")),
      ("val", ("file3.h5",)),
  ):
    folder = root / "knee" / f"singlecoil_{split}"
    folder.mkdir(parents=True)
    for name in names:
      volumes[name] = write_volume(
          folder / name, "singlecoil", rng, max_attr=name != "file2.h5"
      )
  builder = _build(root)
  return builder, volumes, str(root)


def test_singlecoil_slices_match_numpy(singlecoil):
  builder, volumes, _ = singlecoil
  assert builder.info.splits["train"].num_examples == 6
  assert builder.info.splits["validation"].num_examples == 3
  assert "test" not in builder.info.splits
  seen = set()
  for split in ("train", "val"):
    source = datasets.data_source(builder, split)
    for i in range(len(source)):
      record = source[i]
      kspace, recon = volumes[record["file_name"]]
      index = int(record["slice_index"])
      seen.add((record["file_name"], index))
      image = _np_crop(_np_ifft2c(kspace[index]), CROP)
      np.testing.assert_allclose(
          record["magnitude"], np.abs(image), rtol=1e-4, atol=1e-5
      )
      assert record["magnitude"].dtype == record["phase"].dtype == np.float32
      in_object = np.abs(image) > 0.2 * np.abs(image).max()
      phase_error = np.angle(np.exp(1j * (record["phase"] - np.angle(image))))
      assert np.abs(phase_error[in_object]).max() < 1e-3
      assert record["phase"].min() > -np.float32(np.pi)
      assert record["kspace"].shape == (1, CROP, CROP)
      assert record["kspace"].dtype == np.complex64
      np.testing.assert_allclose(
          record["kspace"][0], _np_fft2c(image), atol=1e-4
      )
      np.testing.assert_allclose(record["target"], _np_crop(recon[index], CROP))
      assert record["has_target"] and not record["undersampled"]
      assert record["volume_id"] == record["file_name"][:-3]
      assert record["acquisition"] == "CORPD_FBK"
      assert record["patient_id"] == "abc123"
      assert int(record["num_slices"]) == 3
      # attrs["max"], or the target volume's max when the attr is absent.
      assert record["max_value"] == pytest.approx(recon.max(), rel=1e-6)
      np.testing.assert_array_equal(record["encoding_size"], [24, 20, 1])
      np.testing.assert_array_equal(record["recon_size"], [18, 18, 1])
      assert (record["padding_left"], record["padding_right"]) == (0, 20)
      # Scan parameters from the header; it has no slice orientation.
      assert record["field_strength_t"] == pytest.approx(2.89362)
      assert record["echo_time_ms"] == pytest.approx(27.0)
      assert int(record["sequence"]) == sequences.SPIN_ECHO
      assert np.isnan(record["b0_direction"]).all()
      assert "sens" not in record
  assert len(seen) == 9


def test_multicoil_combine_matches_numpy_and_keeps_object_phase(tmp_path):
  rng = np.random.default_rng(1)
  folder = tmp_path / "brain" / "multicoil_train"
  folder.mkdir(parents=True)
  shape = (24, 20)
  kspace, recon = write_volume(folder / "vol.h5", "multicoil", rng)
  acs_fraction = 0.3
  builder = _build(
      tmp_path,
      None,
      challenge="multicoil",
      anatomy="brain",
      acs_fraction=acs_fraction,
  )
  source = datasets.data_source(builder, "train")
  assert len(source) == 3
  num_low = round(shape[1] * acs_fraction)
  for i in range(3):
    record = source[i]
    k = kspace[int(record["slice_index"])]
    image, maps, coil_images, low = _np_combine(k, num_low)
    strongest = np.argmax(np.sum(np.abs(coil_images) ** 2, axis=(1, 2)))
    image = _np_crop(image, CROP)
    scale = np.abs(image).max()
    np.testing.assert_allclose(
        record["magnitude"], np.abs(image), atol=1e-4 * scale
    )
    np.testing.assert_allclose(record["sens"], _np_crop(maps, CROP), atol=1e-4)
    np.testing.assert_allclose(
        record["kspace"],
        _np_fft2c(_np_crop(coil_images, CROP)),
        atol=1e-4 * scale,
    )
    assert record["kspace"].shape == (4, CROP, CROP)
    np.testing.assert_allclose(
        record["target"], _np_crop(recon[int(record["slice_index"])], CROP)
    )
    # The combined image keeps the object's phase phi up to the strongest
    # coil's smooth sensitivity phase: the strongest coil image is
    # m exp(i (phi + arg s_ref)). Its magnitude is close to RSS.
    rss = _np_crop(np.sqrt(np.sum(np.abs(coil_images) ** 2, axis=0)), CROP)
    in_object = rss > 0.3 * rss.max()
    np.testing.assert_allclose(
        record["magnitude"][in_object], rss[in_object], rtol=0.1
    )
    object_phase = np.angle(_np_crop(coil_images, CROP)[strongest])
    deviation = np.angle(np.exp(1j * (record["phase"] - object_phase)))
    assert np.median(np.abs(deviation[in_object])) < 0.1
    assert np.abs(deviation[in_object]).max() < 0.5
    # Without the reference-coil rotation the maps would divide the
    # object's (smooth) phase out.
    naive_maps = _np_crop(low / np.sqrt(np.sum(np.abs(low) ** 2, axis=0)), CROP)
    naive = np.sum(np.conj(naive_maps) * _np_crop(coil_images, CROP), axis=0)
    naive_deviation = np.angle(naive * np.exp(-1j * object_phase))
    assert np.abs(naive_deviation[in_object]).max() > 1.0


def test_undersampled_file_without_target(tmp_path):
  rng = np.random.default_rng(2)
  folder = tmp_path / "knee" / "multicoil_test"
  folder.mkdir(parents=True)
  write_volume(
      folder / "t.h5", "multicoil", rng, target=False, mask=True, max_attr=False
  )
  builder = _build(tmp_path, "multicoil_knee")
  assert list(builder.info.splits.keys()) == ["test"]
  record = datasets.data_source(builder, "test")[0]
  assert record["undersampled"] and not record["has_target"]
  assert not record["target"].any()
  assert record["max_value"] == 0
  assert np.isfinite(record["phase"]).all()


def test_crop_size_and_files_are_in_the_config_name(singlecoil):
  builder, _, root = singlecoil
  other = fastmri.make_config(
      "singlecoil", "knee", crop_size=12, manual_dir=root
  )
  assert other.name != builder.builder_config.name
  assert "crop12" in other.name and "crop16" in builder.builder_config.name


def _layout(tmp_path, challenge="singlecoil"):
  folder = tmp_path / "knee" / f"{challenge}_train"
  folder.mkdir(parents=True)
  return folder


def _complete_datasets(data_dir):
  return [
      root
      for root, _, names in os.walk(data_dir)
      if "dataset_info.json" in names
  ]


def test_missing_layout_is_explained(tmp_path):
  (tmp_path / "stuff").mkdir()
  with pytest.raises(datasets.DatasetError, match="singlecoil_train"):
    _build(tmp_path)
  with pytest.raises(datasets.DatasetError, match="manual_dir"):
    datasets.build("fastmri", str(tmp_path / "tfds"))
  _layout(tmp_path)
  with pytest.raises(datasets.DatasetError, match="no .h5 files"):
    _build(tmp_path)


def test_corrupt_file_is_named(tmp_path):
  folder = _layout(tmp_path)
  (folder / "broken.h5").write_bytes(b"\x89HDF\r\n" + b"garbage" * 10)
  with pytest.raises(datasets.DatasetError, match="broken.h5.*re-download"):
    _build(tmp_path)


def test_wrong_dimensionality_points_to_other_config(tmp_path):
  folder = _layout(tmp_path)
  write_volume(folder / "mc.h5", "multicoil", np.random.default_rng(3))
  with pytest.raises(datasets.DatasetError, match="mc.h5.*multicoil config"):
    _build(tmp_path)


def test_nan_kspace_fails_cleanly_and_retry_works(tmp_path):
  folder = _layout(tmp_path)
  rng = np.random.default_rng(4)
  write_volume(folder / "good.h5", "singlecoil", rng)
  write_volume(folder / "bad.h5", "singlecoil", rng, corrupt_slice=1)
  data_dir = str(tmp_path / "tfds")
  with pytest.raises(datasets.DatasetError, match="bad.h5.*slice 1.*NaN"):
    _build(tmp_path, data_dir=data_dir)
  assert not _complete_datasets(data_dir)
  write_volume(folder / "bad.h5", "singlecoil", rng)  # the user's fix
  builder = _build(tmp_path, data_dir=data_dir)
  assert len(datasets.data_source(builder, "train")) == 6
  assert len(_complete_datasets(data_dir)) == 1


def test_small_target_is_rejected(tmp_path):
  folder = _layout(tmp_path)
  write_volume(folder / "v.h5", "singlecoil", np.random.default_rng(5))
  with pytest.raises(datasets.DatasetError, match="v.h5.*crop_size"):
    _build(tmp_path, crop_size=20)


def _oversampled_kspace(rng, recon, width):
  """A slice scanned with 2x readout oversampling (fastMRI knee: 640
  readout samples for a 320 x 320 reconstruction): the object fills the
  reconSpace rows, and the rows of the doubled field of view beyond them
  hold bright signal (an arm) that the reconstruction crops away."""
  rows = 2 * recon[0]
  top = (rows - recon[0]) // 2
  image = np.zeros((rows, width), np.complex128)
  image[top : top + recon[0]] = _object(rng, (recon[0], width))[0]
  image[: top - 1, 2:-2] = 3.0
  image[top + recon[0] + 1 :, 2:-2] = 3.0
  return _np_fft2c(image).astype(np.complex64)[None]


def test_readout_oversampling_is_cropped_to_recon_space_as_fastmri(tmp_path):
  recon, width = (16, 16), 20
  rng = np.random.default_rng(7)
  folder = tmp_path / "knee" / "singlecoil_val"
  folder.mkdir(parents=True)
  kspace = _oversampled_kspace(rng, recon, width)
  # fastMRI's reconstruction: the image center-cropped to reconSpace.
  target = np.abs(_np_crop(_np_ifft2c(kspace), recon)).astype(np.float32)
  header = _header((2 * recon[0], width), recon)
  write_h5(
      folder / "os.h5",
      kspace,
      header=header,
      target=target,
      target_key="reconstruction_esc",
  )
  builder = _build(tmp_path, crop_size=recon[0])
  record = datasets.data_source(builder, "val")[0]
  np.testing.assert_allclose(record["magnitude"], target[0], atol=1e-5)
  assert record["magnitude"].max() < 2  # no arm: it is outside reconSpace
  np.testing.assert_array_equal(record["encoding_size"], [32, 20, 1])

  # A test file (mask, no reconstruction) at a crop larger than reconSpace:
  # zero beyond reconSpace, where a plain 20 x 20 crop would show the arm.
  test_root = tmp_path / "test_data"
  test_folder = test_root / "knee" / "singlecoil_test"
  test_folder.mkdir(parents=True)
  mask = _test_mask(width)
  write_h5(test_folder / "t.h5", kspace * mask, header=header, mask=mask)
  builder = _build(test_root, crop_size=20, data_dir=str(tmp_path / "tfds"))
  record = datasets.data_source(builder, "test")[0]
  zero_filled = _np_crop(_np_ifft2c(kspace[0] * mask), recon)
  np.testing.assert_allclose(
      record["magnitude"][2:-2, 2:-2], np.abs(zero_filled), atol=1e-5
  )
  assert not record["magnitude"][[0, 1, -2, -1]].any()
  assert np.abs(_np_crop(_np_ifft2c(kspace[0] * mask), 20)[0]).max() > 1
  # As fastMRI's test split: no target, max_value 0.
  assert record["undersampled"] and not record["has_target"]
  assert not record["target"].any() and record["max_value"] == 0


def test_encoding_limits_give_fastmri_padding(tmp_path):
  folder = tmp_path / "knee" / "multicoil_train"
  folder.mkdir(parents=True)
  # 16 of 20 phase-encode lines acquired (center 8, maximum 15): fastMRI's
  # padding_left = 20 // 2 - 8 = 2, padding_right = 2 + 15 + 1 = 18.
  kspace, _ = write_volume(
      folder / "pf.h5", "multicoil", np.random.default_rng(8), limits=(8, 15)
  )
  assert not kspace[..., :2].any() and not kspace[..., 18:].any()
  # acs_fraction 1: every column, kept inside the acquired 16.
  builder = _build(tmp_path, "multicoil_knee", acs_fraction=1.0)
  source = datasets.data_source(builder, "train")
  assert len(source) == 3
  record = source[0]
  assert (record["padding_left"], record["padding_right"]) == (2, 18)
  image = _np_combine(kspace[int(record["slice_index"])], 16)[0]
  expected = np.abs(_np_crop(_np_crop(image, (18, 18)), CROP))
  np.testing.assert_allclose(
      record["magnitude"], expected, atol=1e-4 * expected.max()
  )


def test_matrix_sizes_and_coil_counts_differ_within_a_split(tmp_path):
  """fastMRI brain: one split holds files of several matrix sizes, coil
  counts and reconstruction sizes."""
  folder = tmp_path / "brain" / "multicoil_train"
  folder.mkdir(parents=True)
  rng = np.random.default_rng(9)
  files = {
      "a.h5": dict(shape=(24, 20), num_coils=4, recon_size=(18, 18)),
      "b.h5": dict(shape=(32, 18), num_coils=3, recon_size=(20, 16)),
  }
  written = {
      name: write_volume(folder / name, "multicoil", rng, num_slices=2, **kw)
      for name, kw in files.items()
  }
  builder = _build(tmp_path, "multicoil_brain", acs_fraction=0.3)
  source = datasets.data_source(builder, "train")
  assert len(source) == 4
  for record in (source[i] for i in range(4)):
    name, index = record["file_name"], int(record["slice_index"])
    kspace, recon = written[name]
    kw = files[name]
    num_low = round(kw["shape"][1] * 0.3)
    image = _np_crop(
        _np_crop(_np_combine(kspace[index], num_low)[0], kw["recon_size"]),
        CROP,
    )
    np.testing.assert_allclose(
        record["magnitude"], np.abs(image), atol=1e-4 * np.abs(image).max()
    )
    assert record["sens"].shape == record["kspace"].shape
    assert record["sens"].shape == (kw["num_coils"], CROP, CROP)
    np.testing.assert_array_equal(record["encoding_size"], kw["shape"] + (1,))
    np.testing.assert_allclose(record["target"], _np_crop(recon[index], CROP))


def _write_good_files(folder, count, shape=(8, 8)):
  rng = np.random.default_rng(10)
  for i in range(count):
    write_volume(
        folder / f"file{i:03d}.h5",
        "singlecoil",
        rng,
        num_slices=1,
        shape=shape,
        recon_size=shape,
    )


def _corrupt_chunk(path, shape=(8, 8)):
  """A file that opens but whose second slice's compressed chunk is
  garbage (bit rot, a bad copy): h5py fails only when it reads it."""
  rng = np.random.default_rng(11)
  kspace = write_volume(
      path, "singlecoil", rng, num_slices=2, shape=shape, recon_size=shape
  )[0]
  with h5py.File(path, "a") as f:
    del f["kspace"]
    f.create_dataset(
        "kspace", data=kspace, chunks=(1,) + shape, compression="gzip"
    )
  with h5py.File(path) as f:
    chunk = f["kspace"].id.get_chunk_info(1)
  data = bytearray(path.read_bytes())
  data[chunk.byte_offset : chunk.byte_offset + chunk.size] = b"\xff" * (
      chunk.size
  )
  path.write_bytes(bytes(data))


def test_bad_files_among_many_are_skipped_and_listed(tmp_path):
  manual = tmp_path / "fastmri"
  folder = manual / "knee" / "singlecoil_train"
  folder.mkdir(parents=True)
  _write_good_files(folder, 48)
  # A truncated download (h5py refuses to open it) and a file whose second
  # slice is NaN (found before its first slice is written).
  raw = (folder / "file000.h5").read_bytes()
  (folder / "truncated.h5").write_bytes(raw[: len(raw) // 2])
  write_volume(
      folder / "nan.h5",
      "singlecoil",
      np.random.default_rng(12),
      num_slices=2,
      shape=(8, 8),
      recon_size=(8, 8),
      corrupt_slice=1,
  )
  data_dir = str(tmp_path / "tfds")
  build = lambda **kw: _build(manual, crop_size=8, data_dir=data_dir, **kw)
  builder = build()  # 2 of 50 files: 4% <= 5%
  source = datasets.data_source(builder, "train")
  assert len(source) == 48
  assert {source[i]["file_name"] for i in range(48)} == {
      f"file{i:03d}.h5" for i in range(48)
  }  # not the NaN file's good first slice either
  manifest = fastmri.read_manifest(builder)
  assert (manifest["num_files"], manifest["num_used"]) == (50, 48)
  assert manifest["skipped_by_reason"] == {"non_finite": 1, "unreadable": 1}
  details = {e["file"]: e["detail"] for e in manifest["skipped"]}
  truncated = os.path.join("knee", "singlecoil_train", "truncated.h5")
  assert (
      "truncated" in details[truncated] and "re-download" in details[truncated]
  )
  assert str(manual) not in json.dumps(manifest)  # relative names only

  # Two more bad files: 4 of 52 (8%) fail the build with one error.
  (folder / "limits.h5").write_bytes(raw)
  with h5py.File(folder / "limits.h5", "a") as f:
    del f["ismrmrd_header"]
    f["ismrmrd_header"] = _header((8, 8), (8, 8), limits=(7, 7)).encode()
  _corrupt_chunk(folder / "rot.h5")
  with pytest.raises(datasets.DatasetError) as error:
    build()
  message = str(error.value)
  assert error.value.reason == "too_many_skipped"
  assert (
      "4 of 52 files are unusable (8% > max_skipped_fraction 0.05)" in message
  )
  assert re.search(r"unreadable\s+2\s", message)
  assert "limits.h5: ismrmrd_header's encodingLimits" in message
  assert message.splitlines()[0].endswith("or raise max_skipped_fraction.")
  assert len(_complete_datasets(data_dir)) == 1  # the first build's only
  builder = build(max_skipped_fraction=0.1)
  manifest = fastmri.read_manifest(builder)
  assert manifest["skipped_by_reason"] == {
      "header": 1,
      "non_finite": 1,
      "unreadable": 2,
  }
  assert len(datasets.data_source(builder, "train")) == 48


def test_test_data_outside_the_test_split_is_skipped(tmp_path):
  folder = _layout(tmp_path, "multicoil")
  rng = np.random.default_rng(13)
  write_volume(folder / "good.h5", "multicoil", rng)
  write_volume(
      folder / "challenge.h5", "multicoil", rng, target=False, mask=True
  )
  builder = _build(tmp_path, "multicoil_knee", max_skipped_fraction=0.5)
  source = datasets.data_source(builder, "train")
  assert {source[i]["file_name"] for i in range(len(source))} == {"good.h5"}
  (entry,) = fastmri.read_manifest(builder)["skipped"]
  assert entry["reason"] == "undersampled"
  assert entry["file"] == os.path.join(
      "knee", "multicoil_train", "challenge.h5"
  )
  assert "in the train split" in entry["detail"]


def test_a_split_left_without_files_is_an_error(tmp_path):
  rng = np.random.default_rng(14)
  write_volume(_layout(tmp_path) / "good.h5", "singlecoil", rng)
  val = tmp_path / "knee" / "singlecoil_val"
  val.mkdir()
  (val / "broken.h5").write_bytes(b"\x89HDF\r\n" + b"garbage" * 10)
  with pytest.raises(datasets.DatasetError) as error:
    _build(tmp_path, max_skipped_fraction=0.5)  # 1 of 2 files is within it
  first, *table = str(error.value).splitlines()
  assert "split 'validation' has no usable file left. Fix:" in first
  assert any("broken.h5" in line and "unreadable" in line for line in table)


def test_a_mask_that_does_not_fit_the_kspace_is_skipped(tmp_path):
  folder = tmp_path / "knee" / "multicoil_test"
  folder.mkdir(parents=True)
  rng = np.random.default_rng(15)
  write_volume(folder / "good.h5", "multicoil", rng, target=False, mask=True)
  write_volume(folder / "short.h5", "multicoil", rng, target=False, mask=True)
  with h5py.File(folder / "short.h5", "a") as f:
    del f["mask"]
    f["mask"] = _test_mask(19)
  builder = _build(tmp_path, "multicoil_knee", max_skipped_fraction=0.5)
  assert len(datasets.data_source(builder, "test")) == 3  # good.h5's slices
  (entry,) = fastmri.read_manifest(builder)["skipped"]
  assert entry["reason"] == "invalid"
  assert "mask has 19 entries for 20 k-space columns" in entry["detail"]
