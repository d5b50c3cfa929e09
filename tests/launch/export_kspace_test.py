"""--mode=export_kspace on tiny data: the fastMRI files read back by our own
fastmri builder, reruns and shares, and bad input refused before any
file is written."""

import pathlib
import subprocess
import sys

import h5py
import ml_collections
import numpy as np
import pytest

from configs import export as export_config
from configs import phase_sbdm
from kspace import datasets
from kspace.common import config_errors
from kspace.export import manifest as manifest_lib
from launch import export_kspace
from launch import export_phases
from launch import main as launch_main
from score_phase.sbdm import trainer as sbdm_trainer
from tests.helpers import dicom_files

ROOT = pathlib.Path(__file__).parents[2]
SIZE = 16


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp("tfds"))


def _config(data_dir, **export_fields):
  config = export_config.get_config("quicktest")
  config.data.data_dir = data_dir
  config.data.image_size = SIZE
  config.data.num_train = 6
  config.data.num_val = 2
  config.export.slices_per_volume = 2
  config.export.batch_size = 2
  config.export.num_coils = 3
  config.export.update(export_fields)
  return config


def _records(builder, split):
  source = datasets.data_source(builder, split)
  return [source[i] for i in range(len(source))]


def _synthetic_records(config):
  builder = datasets.build_from_config(config.data)
  return {
      split: {int(r["index"]): r for r in _records(builder, split)}
      for split in ("train", "validation")
  }


def _read_back(manual_dir, data_dir, challenge):
  """Our fastmri builder on an export, its --workdir as `manual_dir`, every
  column as calibration (so the multi-coil map estimate is exact)."""
  builder = datasets.build(
      "fastmri",
      data_dir,
      manual_dir=str(manual_dir),
      config=f"{challenge}_knee",
      crop_size=SIZE,
      acs_fraction=1.0,
  )
  return {split: _records(builder, split) for split in builder.info.splits}


@pytest.mark.parametrize("num_coils", [1, 4])
def test_ground_truth_round_trips_through_our_fastmri_reader(
    tmp_path, data_dir, num_coils
):
  config = _config(
      data_dir,
      phase_source="ground_truth",
      num_coils=num_coils,
      num_phase_samples=1,
  )
  workdir = tmp_path / "export"
  written = export_kspace.export(config, str(workdir))
  challenge = "singlecoil" if num_coils == 1 else "multicoil"
  assert sorted(p.name for p in workdir.iterdir()) == sorted(
      [f"{challenge}_train", f"{challenge}_val", "manifest.json"]
  )
  assert written["num_files"] == written["num_written"] == 4
  truth = _synthetic_records(config)
  read = _read_back(workdir, data_dir, challenge)
  count = 0
  for split, records in read.items():
    for record in records:
      volume = int(record["volume_id"].rsplit("_", 1)[1])
      index = volume * 2 + int(record["slice_index"])
      original = truth[split][index]
      magnitude = original["magnitude"]
      np.testing.assert_allclose(record["target"], magnitude, atol=1e-5)
      np.testing.assert_allclose(record["magnitude"], magnitude, atol=1e-4)
      inside = magnitude > 0.05 * magnitude.max()
      error = np.angle(np.exp(1j * (record["phase"] - original["phase"])))
      assert np.max(np.abs(error[inside])) < 2e-3
      assert record["num_slices"] == 2
      count += 1
  assert count == 8
  with h5py.File(
      workdir / f"{challenge}_train" / "synthetic_mri_train_00000.h5"
  ) as f:
    shape = (2, num_coils, SIZE, SIZE) if num_coils > 1 else (2, SIZE, SIZE)
    assert f["kspace"].shape == shape
    assert f.attrs["phase_source"] == "ground_truth"
    assert f.attrs["seed"] == config.seed
    assert f.attrs["patient_id"] not in ("", "synthetic_mri_train_00000")
    assert ("reconstruction_esc" in f) == (num_coils == 1)


def _kspace(path):
  with h5py.File(path, "r") as f:
    return f["kspace"][()]


def test_rerun_skips_complete_files_and_rewrites_a_missing_one(
    tmp_path, data_dir, capsys
):
  config = _config(data_dir)  # smooth_polynomial, 2 draws
  workdir = tmp_path / "run"
  export_kspace.export(config, str(workdir))
  files = sorted(workdir.glob("*/*.h5"))
  assert len(files) == 8
  assert sum(p.name.endswith("_p1.h5") for p in files) == 4
  # The two draws of a volume differ, as do two volumes.
  assert not np.allclose(_kspace(files[0]), _kspace(files[1]))
  before = {p: p.stat().st_mtime_ns for p in files}
  gone = files[3]
  expected = _kspace(gone)
  gone.unlink()
  stale = gone.with_name(gone.name + ".tmp.h5")
  stale.write_bytes(b"half a file")
  capsys.readouterr()
  manifest = export_kspace.export(config, str(workdir))
  assert "Exported 1 files (7 already complete)" in capsys.readouterr().out
  np.testing.assert_array_equal(_kspace(gone), expected)
  assert not stale.exists()
  for path, mtime in before.items():
    if path != gone:
      assert path.stat().st_mtime_ns == mtime
  assert manifest["num_written"] == 8
  assert manifest_lib.read(workdir / manifest_lib.NAME) == manifest


def test_two_shares_write_the_files_of_one_run(tmp_path, data_dir):
  one = tmp_path / "one"
  export_kspace.export(_config(data_dir), str(one))
  shared = tmp_path / "shared"
  first = export_kspace.export(
      _config(data_dir, process_index=0, process_count=2), str(shared)
  )
  assert 0 < first["num_written"] < first["num_files"]
  export_kspace.export(
      _config(data_dir, process_index=1, process_count=2), str(shared)
  )
  names = sorted(p.relative_to(one) for p in one.glob("*/*.h5"))
  assert names == sorted(p.relative_to(shared) for p in shared.glob("*/*.h5"))
  for name in names:
    np.testing.assert_array_equal(_kspace(one / name), _kspace(shared / name))


def test_another_exports_folder_or_foreign_files_are_refused(
    tmp_path, data_dir
):
  workdir = tmp_path / "run"
  export_kspace.export(_config(data_dir, num_phase_samples=1), str(workdir))
  with pytest.raises(export_kspace.ExportError, match="export.num_coils"):
    export_kspace.export(
        _config(data_dir, num_phase_samples=1, num_coils=2), str(workdir)
    )
  stray = workdir / "multicoil_train" / "file1000001.h5"
  stray.write_bytes(b"")
  with pytest.raises(export_kspace.ExportError, match="file1000001.h5"):
    export_kspace.export(_config(data_dir, num_phase_samples=1), str(workdir))
  foreign = tmp_path / "thesis"
  foreign.mkdir()
  (foreign / "notes.txt").write_text("")
  with pytest.raises(export_kspace.ExportError, match="notes.txt"):
    export_kspace.export(_config(data_dir), str(foreign))
  assert [p.name for p in foreign.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize(
    "fields,words",
    [
        ({"phase_source": "sbmd"}, "Unknown phase source 'sbmd'"),
        ({"phase_source": "sbdm"}, "export.phase_workdir"),
        ({"num_phase_samples": 0}, "num_phase_samples=0"),
        ({"coil_radius": 1.0}, "coil_radius"),
        ({"process_index": 2, "process_count": 2}, "process_index=2"),
        ({"phase_kwargs": {"bogus": 1}}, "do not fit smooth_polynomial"),
    ],
)
def test_bad_settings_are_refused_before_any_file(
    tmp_path, data_dir, fields, words
):
  config = _config(data_dir)
  config.export.phase_kwargs = ml_collections.ConfigDict(
      fields.pop("phase_kwargs", {})
  )
  config.export.update(fields)
  with pytest.raises(config_errors.ConfigError, match=words):
    export_kspace.export(config, str(tmp_path / "run"))
  assert not list(tmp_path.glob("run/*"))


@pytest.mark.slow  # trains a tiny SBDM and compiles its sampler
def test_the_header_aware_sbdm_exports_with_its_checkpoint(tmp_path, data_dir):
  """sbdm_scan: a scan-conditioned model told each record's header fields;
  the files name the run and its step."""
  config = _config(data_dir, num_phase_samples=2)
  builder = datasets.build_from_config(config.data)
  model = phase_sbdm.get_config("tiny")
  model.model.scan_conditioning = True
  model.train.num_steps = model.train.checkpoint_every = 2
  # (Batches of the 4 forced devices.)
  model.train.batch_size = model.eval.batch_size = model.eval.num_examples = 4
  model.train.async_checkpoint = False
  model.eval.num_samples = model.eval.figure_samples = 2
  run = tmp_path / "phase"
  records = _records(builder, "train")
  sbdm_trainer.train_and_evaluate(
      model, str(run), train_source=records, val_source=records
  )
  config.export.update(phase_source="sbdm_scan", phase_workdir=str(run))
  workdir = tmp_path / "export"
  written = export_kspace.export(config, str(workdir))
  assert written["num_written"] == written["num_files"] == 8
  assert written["key"]["phase_model"]["checkpoint_step"] == 2
  path = workdir / "multicoil_train" / "synthetic_mri_train_00000_p1.h5"
  with h5py.File(path, "r") as f:
    assert f.attrs["phase_source"] == "sbdm_scan"
    assert f.attrs["phase_workdir"] == str(run.resolve())
    assert f.attrs["phase_checkpoint_step"] == 2
    assert np.all(np.isfinite(f["kspace"][()]))
  # The model was trained on 16x16 images.
  config.data.image_size = 32
  with pytest.raises(config_errors.ConfigError, match="trained on 16x16"):
    export_kspace.export(config, str(tmp_path / "other"))


def _fake_run(monkeypatch, image_size, scan_conditioning):
  run = ml_collections.ConfigDict({
      "data": {"image_size": image_size},
      "model": {"scan_conditioning": scan_conditioning},
  })
  monkeypatch.setattr(export_phases.loading, "read_config", lambda w, m: run)


def test_a_phase_model_of_another_size_or_kind_is_refused(
    tmp_path, data_dir, monkeypatch
):
  _fake_run(monkeypatch, image_size=64, scan_conditioning=True)
  config = _config(data_dir, phase_source="sbdm", phase_workdir="runs/x")
  with pytest.raises(config_errors.ConfigError, match="trained on 64x64"):
    export_kspace.export(config, str(tmp_path / "run"))
  _fake_run(monkeypatch, image_size=SIZE, scan_conditioning=False)
  config.export.phase_source = "sbdm_scan"
  with pytest.raises(config_errors.ConfigError, match="scan_conditioning"):
    export_kspace.export(config, str(tmp_path / "run"))
  assert not (tmp_path / "run").exists()


def _series(folder, rng, num_slices=3):
  """A DICOM series written in shuffled file order: slice k's intensity
  is k + 1."""
  y, x = np.meshgrid(np.linspace(-1, 1, SIZE), np.linspace(-1, 1, SIZE))
  disc = (x**2 + y**2 < 0.7) * rng.uniform(200, 400, (SIZE, SIZE))
  for k in (2, 0, 1)[:num_slices]:
    dicom_files.write_dicom(
        folder / f"IM{9 - k}.dcm",  # names in reverse slice order
        np.round((k + 1) * disc),
        SeriesInstanceUID="1.2.3.4",
        ImagePositionPatient=[0.0, 0.0, 2.5 * k],
        ImageOrientationPatient=[1, 0, 0, 0, 1, 0],
        MagneticFieldStrength=3.0,
        EchoTime=4.6,
        RepetitionTime=12.5,
        ScanningSequence=["GR"],
        PixelSpacing=[0.5, 0.75],
    )


def _registry_config(data_dir, manual_dir, **export_fields):
  config = _config(data_dir, num_coils=1, num_phase_samples=1, **export_fields)
  config.data.name = "magnitude_registry"
  config.data.manual_dir = str(manual_dir)
  config.data.registry.val_fraction = config.data.registry.test_fraction = 0.0
  return config


def test_a_registry_series_exports_in_slice_order_with_its_header(
    tmp_path, data_dir
):
  manual = tmp_path / "dicoms"
  (manual / "patient_DOE").mkdir(parents=True)
  _series(manual / "patient_DOE", np.random.default_rng(1))
  config = _registry_config(data_dir, manual)
  workdir = tmp_path / "export" / "knee"
  export_kspace.export(config, str(workdir))
  (path,) = (workdir / "singlecoil_train").iterdir()
  with h5py.File(path, "r") as f:
    target = f["reconstruction_esc"][()]
    patient = f.attrs["patient_id"]
  # Slice k is (k + 1) times slice 0, normalised per volume.
  means = target.reshape(3, -1).mean(axis=1)
  np.testing.assert_allclose(means / means[0], [1, 2, 3], rtol=0.02)
  assert "DOE" not in patient
  record, *_ = [
      r
      for r in _read_back(tmp_path / "export", data_dir, "singlecoil")["train"]
      if r["slice_index"] == 0
  ]
  assert record["field_strength_t"] == pytest.approx(3.0)
  assert record["echo_time_ms"] == pytest.approx(4.6)
  assert record["sequence"] == 0  # gradient echo
  assert tuple(record["encoding_size"]) == (SIZE, SIZE, 1)
  header = h5py.File(path, "r")["ismrmrd_header"][()].decode()
  # The registry's spacing after its crop to a square and resize.
  assert "<fieldOfView_mm><x>8</x><y>12</y><z>5</z>" in header

  with pytest.raises(config_errors.ConfigError, match="have none"):
    export_kspace.export(
        _registry_config(data_dir, manual, phase_source="ground_truth"),
        str(tmp_path / "gt"),
    )


def test_an_empty_or_fully_skipped_registry_is_a_dataset_error(
    tmp_path, data_dir
):
  empty = tmp_path / "empty"
  empty.mkdir()
  with pytest.raises(datasets.DatasetError, match="no DICOM, NIfTI"):
    export_kspace.export(_registry_config(data_dir, empty), str(tmp_path / "a"))
  bad = tmp_path / "bad"
  bad.mkdir()
  (bad / "broken.dcm").write_bytes(b"not a dicom")
  with pytest.raises(datasets.DatasetError, match="skipped"):
    export_kspace.export(_registry_config(data_dir, bad), str(tmp_path / "b"))
  assert not list(tmp_path.glob("[ab]/*"))


def test_bad_input_on_the_command_line_is_one_error_line(tmp_path):
  result = subprocess.run(
      [
          sys.executable,
          "-m",
          "launch.main",
          "--mode=export_kspace",
          "--config=configs/export.py:quicktest",
          f"--workdir={tmp_path / 'run'}",
          "--config.export.phase_source=smooth",
      ],
      cwd=ROOT,
      capture_output=True,
      text=True,
      check=False,
  )
  assert result.returncode == launch_main.USER_ERROR_EXIT_CODE, result.stderr
  assert "Traceback" not in result.stderr
  (line,) = [l for l in result.stderr.splitlines() if l.startswith("Error:")]
  assert "Unknown phase source 'smooth'" in line and "Fix:" in line
