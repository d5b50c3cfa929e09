"""Registry volumes: DICOM series in slice order, multi-frame files, Siemens
mosaics, 4-D NIfTI, what a PACS export holds besides acquired slices
(derived series, projections, blank images), and the privacy rule (nothing
identifying reaches the dataset)."""

import os

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from kspace import datasets
from kspace.datasets import magnitude_registry
from kspace.datasets import registry_volumes
from kspace.datasets import scan_headers
from kspace.datasets.image_files import dicom
from kspace.simulator import sequences
from launch import demo_registry
from tests.helpers.dicom_files import MOSAIC_TYPE
from tests.helpers.dicom_files import write_dicom
from tests.helpers.dicom_files import write_mosaic
from tests.helpers.dicom_files import write_nifti

SIZE = 16
AXIAL = [1, 0, 0, 0, 1, 0]
PATIENT = {
    "PatientName": "DOE^JOHN",
    "PatientID": "PID-987654",
    "PatientBirthDate": "19610412",
    "AccessionNumber": "ACC-55501",
    "StudyDate": "20240102",
    "InstitutionName": "St Elsewhere Hospital",
    "ReferringPhysicianName": "WHO^DOCTOR",
    "StudyInstanceUID": "1.2.826.0.1.3680043.8.498.77701",
}


def _slice_pixels(scale):
  y, x = np.mgrid[:SIZE, :SIZE]
  disc = (y - 8) ** 2 + (x - 8) ** 2 < 40
  return np.round(disc * 100.0 * scale + disc * (x + 1))


def _build(manual, tmp_path, **kwargs):
  kwargs = {"val_fraction": 0, "test_fraction": 0} | kwargs
  return datasets.build(
      "magnitude_registry",
      str(tmp_path / "tfds"),
      manual_dir=str(manual),
      image_size=SIZE,
      **kwargs,
  )


def _records(builder):
  out = []
  for split in builder.info.splits.keys():
    source = datasets.data_source(builder, split)
    out += [source[i] | {"split": split} for i in range(len(source))]
  return out


def _write_series(folder, uid, heights, echo_time=5.0, **header):
  """One file per height, named in an order unrelated to the height; the
  slice at height z has intensity scale z / 10."""
  names = {}
  for order, z in enumerate(heights):
    name = f"im{(order * 7919) % 97:03d}_{uid[-3:]}.dcm"
    write_dicom(
        folder / name,
        _slice_pixels(z / 10),
        SeriesInstanceUID=uid,
        ImageOrientationPatient=AXIAL,
        ImagePositionPatient=[0, 0, z],
        InstanceNumber=len(heights) - order,  # disagrees: position wins
        EchoTime=echo_time,
        **header,
    )
    names[z] = name
  return names


def test_series_become_volumes_in_slice_order(tmp_path):
  manual = tmp_path / "pacs"
  (manual / "study").mkdir(parents=True)
  first = _write_series(manual / "study", "1.2.3.101", [30, 10, 40, 20])
  other = _write_series(manual / "study", "1.2.3.202", [50, 60])
  # A multi-echo series: one UID, two echo times, two volumes.
  echo1 = _write_series(manual / "study", "1.2.3.303", [1, 2], echo_time=4.0)
  echo2 = _write_series(manual / "study", "1.2.3.313", [1, 2], echo_time=9.0)
  for names in (echo2,):  # same series UID as echo1
    for name in names.values():
      path = manual / "study" / name
      ds = pydicom.dcmread(path)
      ds.SeriesInstanceUID = "1.2.3.303"
      ds.save_as(path)
  builder = _build(manual, tmp_path)
  volumes = {}
  for record in _records(builder):
    volumes.setdefault(record["volume_id"], []).append(record)
  assert len(volumes) == 4
  series = volumes[os.path.join("study", first[10])]
  series.sort(key=lambda r: int(r["slice_index"]))
  assert [r["source"] for r in series] == [
      os.path.join("study", first[z]) for z in (10, 20, 30, 40)
  ]
  assert len({r["split"] for r in series}) == 1
  # One scale per volume keeps the slices' relative intensities.
  peaks = [float(np.median(r["magnitude"][6:10, 6:10])) for r in series]
  assert np.all(np.diff(peaks) > 0)
  assert peaks[0] / peaks[3] == pytest.approx(0.25, abs=0.05)
  assert len(volumes[os.path.join("study", other[50])]) == 2
  echoes = {
      float(v[0]["echo_time_ms"])
      for k, v in volumes.items()
      if k in {os.path.join("study", n) for n in (echo1[1], echo2[1])}
  }
  assert echoes == {4.0, 9.0}


def _enhanced_mr(path, heights):
  frames = np.stack([_slice_pixels(z / 10) for z in heights])
  write_dicom(path, frames[0])  # a valid file to extend
  ds = pydicom.dcmread(path)
  ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1"  # Enhanced MR Image
  ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
  ds.NumberOfFrames = len(heights)
  ds.PixelData = frames.astype(np.uint16).tobytes()
  ds.MagneticFieldStrength = 3.0
  ds.EchoPulseSequence = "SPIN"
  shared = Dataset()
  orientation = Dataset()
  orientation.ImageOrientationPatient = AXIAL
  shared.PlaneOrientationSequence = [orientation]
  echo = Dataset()
  echo.EffectiveEchoTime = 80.0
  shared.MREchoSequence = [echo]
  ds.SharedFunctionalGroupsSequence = [shared]
  per_frame = []
  for z in heights:
    group, position = Dataset(), Dataset()
    position.ImagePositionPatient = [0, 0, z]
    group.PlanePositionSequence = [position]
    per_frame.append(group)
  ds.PerFrameFunctionalGroupsSequence = per_frame
  ds.save_as(path, enforce_file_format=True)


def test_multi_frame_file_is_a_volume_in_slice_order(tmp_path):
  manual = tmp_path / "pacs"
  manual.mkdir()
  _enhanced_mr(manual / "enhanced.dcm", [30, 10, 20])
  frames = dicom.read_dicom(str(manual / "enhanced.dcm"))
  np.testing.assert_array_equal(
      frames, np.stack([_slice_pixels(z / 10) for z in (10, 20, 30)])
  )
  records = sorted(
      _records(_build(manual, tmp_path)), key=lambda r: int(r["slice_index"])
  )
  assert [r["volume_id"] for r in records] == ["enhanced.dcm"] * 3
  first = records[0]
  assert first["field_strength_t"] == pytest.approx(3.0)
  assert first["echo_time_ms"] == pytest.approx(80.0)
  assert int(first["sequence"]) == sequences.SPIN_ECHO
  np.testing.assert_allclose(first["b0_direction"], [0, 0, 1])


@pytest.mark.parametrize(
    "nifti_volumes, expected", [("all", ["#0", "#1"]), ("1", ["#1"])]
)
def test_four_d_nifti_gives_the_chosen_volumes(
    tmp_path, nifti_volumes, expected
):
  manual = tmp_path / "nifti"
  manual.mkdir()
  series = np.stack(
      [
          np.stack([_slice_pixels(1 + t + k) for k in range(3)], axis=-1)
          for t in range(2)
      ],
      axis=-1,
  ).astype(np.float32)
  write_nifti(manual / "fmri.nii.gz", series)
  records = _records(_build(manual, tmp_path, nifti_volumes=nifti_volumes))
  ids = sorted({r["volume_id"] for r in records})
  assert ids == [f"fmri.nii.gz{suffix}" for suffix in expected]
  assert len(records) == 3 * len(expected)


def test_bad_nifti_volumes_value_is_refused():
  with pytest.raises(ValueError, match="nifti_volumes"):
    magnitude_registry.make_config(nifti_volumes="first")
  assert registry_volumes.parse_volume_indices("0,2") == (0, 2)


def _all_text(builder) -> str:
  """Every string field of every record, and every file's bytes."""
  parts = []
  for record in _records(builder):
    parts += [str(v) for v in record.values() if isinstance(v, (str, bytes))]
  for folder, _, names in os.walk(builder.data_dir):
    for name in names:
      with open(os.path.join(folder, name), "rb") as f:
        parts.append(f.read().decode("latin-1"))
  return "\n".join(parts)


@pytest.mark.parametrize("hash_sources", [False, True])
def test_no_patient_identifier_reaches_the_dataset(tmp_path, hash_sources):
  manual = tmp_path / "export"
  (manual / "case").mkdir(parents=True)
  _write_series(
      manual / "case", "1.2.826.0.1.3680043.8.498.12345", [10, 20], **PATIENT
  )
  # A file named after a patient, and a bad one (a CT) likewise.
  write_dicom(
      manual / "case" / "SMITH_ANNA_MRN4711.dcm",
      _slice_pixels(1.0),
      SeriesInstanceUID="1.2.826.0.1.3680043.8.498.54321",
      **PATIENT,
  )
  write_dicom(
      manual / "case" / "SMITH_ANNA_CT.dcm",
      _slice_pixels(1.0),
      Modality="CT",
      **PATIENT,
  )
  builder = _build(
      manual, tmp_path, hash_sources=hash_sources, source_salt="s3cret"
  )
  manifest = magnitude_registry.read_manifest(builder)
  assert manifest["skipped_by_reason"] == {"not_mr": 1}
  text = _all_text(builder)
  assert "1.2.826.0.1.3680043.8.498" not in text  # no UIDs
  for value in PATIENT.values():
    for part in value.split("^"):
      assert part not in text, part
  assert str(tmp_path) not in text
  # Names in file names are kept, unless hashed.
  assert ("SMITH_ANNA" in text) is not hash_sources
  assert "s3cret" not in text


def test_bad_or_duplicate_file_leaves_the_rest_of_its_series(tmp_path):
  manual = tmp_path / "pacs"
  manual.mkdir()
  names = _write_series(manual, "1.2.3.404", [10, 20, 30])
  # A truncated slice: the header reads, the pixels do not.
  path = manual / names[20]
  path.write_bytes(path.read_bytes()[:-100])
  # A copy of another slice under a second name.
  (manual / "copy.dcm").write_bytes((manual / names[30]).read_bytes())
  builder = _build(manual, tmp_path)
  manifest = magnitude_registry.read_manifest(builder)
  assert manifest["skipped_by_reason"] == {"duplicate": 1, "undecodable": 1}
  skipped = {e["file"] for e in manifest["skipped"]}
  # The first of the two copies in listing order is kept.
  assert skipped == {names[20], names[30]}
  records = sorted(_records(builder), key=lambda r: int(r["slice_index"]))
  assert [r["source"] for r in records] == [names[10], "copy.dcm"]
  assert (manifest["num_used"], manifest["num_volumes"]) == (2, 1)


def test_demo_export_headers_say_what_the_simulator_did(tmp_path):
  example = datasets.generate_example(datasets.example_rng(7, "train", 0), 16)
  path = tmp_path / "IM0000.dcm"
  demo_registry.write_slice(
      str(path), example["magnitude"], example, "1.2.3.4", 6.0, 0
  )
  header = pydicom.dcmread(path)
  assert header.file_meta.TransferSyntaxUID == pydicom.uid.RLELossless
  fields = scan_headers.from_dicom(header)
  np.testing.assert_allclose(
      fields["b0_direction"], example["b0_direction"], atol=1e-5
  )
  assert fields["field_strength_t"] == pytest.approx(
      example["field_strength_t"]
  )
  assert int(fields["sequence"]) == int(example["sequence"])
  assert dicom.slice_position(
      header.ImageOrientationPatient, header.ImagePositionPatient
  ) == pytest.approx(6.0)
  (decoded,) = dicom.read_dicom(str(path))
  expected = np.round(example["magnitude"] / example["magnitude"].max() * 4000)
  np.testing.assert_array_equal(decoded, expected)


def test_mosaics_of_one_series_are_volumes_of_their_tiles(tmp_path):
  """An fMRI run: one series, one Siemens mosaic per time point, each a
  volume of 4 slices (not one slice each, nor one volume of the run)."""
  manual = tmp_path / "pacs"
  manual.mkdir()
  uid = "1.2.3.505"
  for t in range(3):
    slices = np.stack([_slice_pixels((k + 1) * (t + 1)) for k in range(4)])
    write_mosaic(
        manual / f"epi{t}.dcm",
        slices,
        SeriesInstanceUID=uid,
        InstanceNumber=t + 1,
        ImageOrientationPatient=AXIAL,
        ImagePositionPatient=[0, 0, 0],  # the mosaic's corner, every file
        EchoTime=30.0,
    )
  records = _records(_build(manual, tmp_path))
  volumes = {}
  for record in records:
    volumes.setdefault(record["volume_id"], []).append(record)
  assert sorted(volumes) == [f"epi{t}.dcm" for t in range(3)]
  for volume in volumes.values():
    volume.sort(key=lambda r: int(r["slice_index"]))
    assert [int(r["slice_index"]) for r in volume] == [0, 1, 2, 3]
    assert {r["image_type"] for r in volume} == {"\\".join(MOSAIC_TYPE)}
    # Tile k is slice k: brightness (k + 1), one scale per volume.
    peaks = [float(np.median(r["magnitude"][6:10, 6:10])) for r in volume]
    assert np.all(np.diff(peaks) > 0)
    assert peaks[0] / peaks[3] == pytest.approx(0.25, abs=0.05)


def test_an_all_zero_series_and_a_blank_image_are_skipped_as_empty(tmp_path):
  manual = tmp_path / "pacs"
  manual.mkdir()
  good = _write_series(manual, "1.2.3.606", [10, 20])
  for z in (10, 20, 30):  # a failed reconstruction: every pixel zero
    write_dicom(
        manual / f"zero{z}.dcm",
        np.zeros((SIZE, SIZE)),
        SeriesInstanceUID="1.2.3.707",
        ImageOrientationPatient=AXIAL,
        ImagePositionPatient=[0, 0, z],
    )
  # Zero pixels with an intercept: a blank image of value 100.
  write_dicom(manual / "blank.dcm", np.zeros((SIZE, SIZE)), intercept=100.0)
  builder = _build(manual, tmp_path, max_skipped_fraction=1)
  manifest = magnitude_registry.read_manifest(builder)
  assert manifest["skipped_by_reason"] == {"empty": 4}
  details = {e["file"]: e["detail"] for e in manifest["skipped"]}
  assert "all zero" in details["zero10.dcm"]
  assert "blank: every pixel is 100" in details["blank.dcm"]
  assert manifest["num_volumes"] == 1
  assert {r["source"] for r in _records(builder)} == set(good.values())


def test_derived_series_are_skipped_or_kept_and_marked(tmp_path):
  manual = tmp_path / "pacs"
  manual.mkdir()
  original = _write_series(
      manual, "1.2.3.808", [10, 20], ImageType=["ORIGINAL", "PRIMARY", "M"]
  )
  mpr = _write_series(
      manual,
      "1.2.3.818",
      [10, 20],
      ImageType=["DERIVED", "SECONDARY", "MPR"],
  )
  write_dicom(
      manual / "mip.dcm",
      _slice_pixels(1.0),
      ImageType=["DERIVED", "PRIMARY", "PROJECTION IMAGE"],
  )
  builder = _build(manual, tmp_path, max_skipped_fraction=1)
  manifest = magnitude_registry.read_manifest(builder)
  assert manifest["skipped_by_reason"] == {"derived": 2, "projection": 1}
  assert {e["file"] for e in manifest["skipped"]} == set(mpr.values()) | {
      "mip.dcm"
  }
  # Kept on request, and marked; a projection is never a slice.
  builder = _build(manual, tmp_path, max_skipped_fraction=1, keep_derived=True)
  assert magnitude_registry.read_manifest(builder)["skipped_by_reason"] == {
      "projection": 1
  }
  records = _records(builder)
  marked = {r["source"]: (bool(r["derived"]), r["image_type"]) for r in records}
  assert marked == {
      **{n: (False, "ORIGINAL\\PRIMARY\\M") for n in original.values()},
      **{n: (True, "DERIVED\\SECONDARY\\MPR") for n in mpr.values()},
  }
