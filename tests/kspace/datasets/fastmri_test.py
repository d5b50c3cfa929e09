"""Tests of the fastmri builder and its reader (fastmri_files) on tiny .h5
files in the fastMRI schema."""

import os

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
    </reconSpace>
  </encoding>
  <sequenceParameters><TR>2750</TR><TE>27</TE>
    <sequence_type>TurboSpinEcho</sequence_type></sequenceParameters>
</ismrmrdHeader>"""


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


def _np_crop(x, size):
  h, w = x.shape[-2:]
  top, left = (h - size) // 2, (w - size) // 2
  return x[..., top : top + size, left : left + size]


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


def write_volume(
    path,
    challenge,
    rng,
    *,
    num_slices=3,
    num_coils=4,
    shape=(24, 20),
    target=True,
    mask=False,
    max_attr=True,
    corrupt_slice=None,
    sens=None,
):
  """Writes a fastMRI-schema file; returns (kspace, target)."""
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
  if corrupt_slice is not None:
    kspace[corrupt_slice, ..., 3, 4] = np.nan
  recon = _np_crop(np.pad(recon, ((0, 0), (2, 2), (4, 4))), 18).astype(
      np.float32
  )
  with h5py.File(path, "w") as f:
    f.create_dataset("kspace", data=kspace)
    if target:
      f.create_dataset(fastmri_files.TARGET_KEYS[challenge], data=recon)
    if mask:
      lines = np.zeros(shape[1], np.float32)
      lines[::3] = 1
      lines[shape[1] // 2 - 2 : shape[1] // 2 + 2] = 1
      f.create_dataset("mask", data=lines)
    f.create_dataset(
        "ismrmrd_header",
        data=HEADER.format(ex=shape[0], ey=shape[1], rx=18, ry=18).encode(),
    )
    f.attrs["acquisition"] = "CORPD_FBK"
    if max_attr:
      f.attrs["max"] = float(recon.max())
    f.attrs["norm"] = float(np.linalg.norm(recon))
    f.attrs["patient_id"] = "abc123"
  return kspace, recon


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
  builder = datasets.build(
      "fastmri",
      str(root / "tfds"),
      manual_dir=str(root),
      config="singlecoil_knee",
      crop_size=CROP,
  )
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
  builder = datasets.build(
      "fastmri",
      str(tmp_path / "tfds"),
      manual_dir=str(tmp_path),
      challenge="multicoil",
      anatomy="brain",
      crop_size=CROP,
      acs_fraction=acs_fraction,
  )
  source = datasets.data_source(builder, "train")
  assert len(source) == 3
  num_low = round(shape[1] * acs_fraction)
  for i in range(3):
    record = source[i]
    k = kspace[int(record["slice_index"])]
    # numpy reference: ACS maps, phase relative to the strongest coil.
    pad = (shape[1] - num_low + 1) // 2
    acs = np.zeros_like(k)
    acs[..., pad : pad + num_low] = k[..., pad : pad + num_low]
    low = _np_ifft2c(acs)
    maps = low / (np.sqrt(np.sum(np.abs(low) ** 2, axis=0)) + 1e-6)
    coil_images = _np_ifft2c(k)
    strongest = np.argmax(np.sum(np.abs(coil_images) ** 2, axis=(1, 2)))
    maps = maps * np.exp(-1j * np.angle(maps[strongest]))
    image = _np_crop(np.sum(np.conj(maps) * coil_images, axis=0), CROP)
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
  builder = datasets.build(
      "fastmri",
      str(tmp_path / "tfds"),
      manual_dir=str(tmp_path),
      config="multicoil_knee",
      crop_size=CROP,
  )
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
    datasets.build(
        "fastmri",
        str(tmp_path / "tfds"),
        manual_dir=str(tmp_path),
        config="singlecoil_knee",
    )
  with pytest.raises(datasets.DatasetError, match="manual_dir"):
    datasets.build("fastmri", str(tmp_path / "tfds"))
  _layout(tmp_path)
  with pytest.raises(datasets.DatasetError, match="no .h5 files"):
    datasets.build(
        "fastmri",
        str(tmp_path / "tfds"),
        manual_dir=str(tmp_path),
        config="singlecoil_knee",
    )


def test_corrupt_file_is_named(tmp_path):
  folder = _layout(tmp_path)
  (folder / "broken.h5").write_bytes(b"\x89HDF\r\n" + b"garbage" * 10)
  with pytest.raises(datasets.DatasetError, match="broken.h5.*re-download"):
    datasets.build(
        "fastmri",
        str(tmp_path / "tfds"),
        manual_dir=str(tmp_path),
        config="singlecoil_knee",
    )


def test_wrong_dimensionality_points_to_other_config(tmp_path):
  folder = _layout(tmp_path)
  write_volume(folder / "mc.h5", "multicoil", np.random.default_rng(3))
  with pytest.raises(datasets.DatasetError, match="mc.h5.*multicoil config"):
    datasets.build(
        "fastmri",
        str(tmp_path / "tfds"),
        manual_dir=str(tmp_path),
        config="singlecoil_knee",
        crop_size=CROP,
    )


def test_nan_kspace_fails_cleanly_and_retry_works(tmp_path):
  folder = _layout(tmp_path)
  rng = np.random.default_rng(4)
  write_volume(folder / "good.h5", "singlecoil", rng)
  write_volume(folder / "bad.h5", "singlecoil", rng, corrupt_slice=1)
  data_dir = str(tmp_path / "tfds")
  with pytest.raises(datasets.DatasetError, match="bad.h5.*slice 1.*NaN"):
    datasets.build(
        "fastmri",
        data_dir,
        manual_dir=str(tmp_path),
        config="singlecoil_knee",
        crop_size=CROP,
    )
  assert not _complete_datasets(data_dir)
  write_volume(folder / "bad.h5", "singlecoil", rng)  # the user's fix
  builder = datasets.build(
      "fastmri",
      data_dir,
      manual_dir=str(tmp_path),
      config="singlecoil_knee",
      crop_size=CROP,
  )
  assert len(datasets.data_source(builder, "train")) == 6
  assert len(_complete_datasets(data_dir)) == 1


def test_small_target_is_rejected(tmp_path):
  folder = _layout(tmp_path)
  write_volume(folder / "v.h5", "singlecoil", np.random.default_rng(5))
  with pytest.raises(datasets.DatasetError, match="v.h5.*crop_size"):
    datasets.build(
        "fastmri",
        str(tmp_path / "tfds"),
        manual_dir=str(tmp_path),
        config="singlecoil_knee",
        crop_size=20,
    )


def test_center_run_length_counts_the_run_through_the_center():
  assert fastmri_files.center_run_length([0, 1, 0, 1, 1, 1, 0, 1]) == 3
  assert fastmri_files.center_run_length(np.ones((1, 6))) == 6
  assert fastmri_files.center_run_length([1, 1, 0, 0, 1]) == 0


def test_bad_header_is_named():
  encoding, recon = fastmri_files.parse_header(
      "v.h5", HEADER.format(ex=24, ey=20, rx=18, ry=18)
  )
  assert encoding == (24, 20, 1) and recon == (18, 18, 1)
  with pytest.raises(datasets.DatasetError, match="v.h5.*ISMRMRD"):
    fastmri_files.parse_header("v.h5", b"<ismrmrdHeader/>")
