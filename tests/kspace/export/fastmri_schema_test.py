"""One exported file: names, the fastMRI datasets and attrs, and our reader
accepting it."""

import h5py
import numpy as np
import pytest

from kspace.datasets import fastmri_files
from kspace.export import fastmri_schema
from kspace.export import ismrmrd_header


def test_folders_and_file_names_follow_fastmri():
  assert fastmri_schema.folder(8, "train") == "multicoil_train"
  assert fastmri_schema.folder(1, "validation") == "singlecoil_val"
  assert fastmri_schema.folder(2, "test") == "multicoil_test"
  with pytest.raises(ValueError, match="Unknown split"):
    fastmri_schema.folder(8, "val")
  assert fastmri_schema.file_name("vol", 0, 1) == "vol.h5"
  assert fastmri_schema.file_name("vol", 3, 4) == "vol_p3.h5"
  assert fastmri_schema.file_stem("pat 1/series#2/IM0001.dcm") == (
      "pat_1_series_2_IM0001"
  )
  assert fastmri_schema.file_stem("sub-01/anat/T2w.nii.gz") == "sub-01_anat_T2w"
  assert fastmri_schema.file_stem("knee/file1000001.h5") == "knee_file1000001"
  assert fastmri_schema.file_stem("../..") == "volume"


def test_patient_id_is_a_salted_hash_of_the_volume_name():
  plain = fastmri_schema.patient_id("DOE^JOHN/series1", "")
  salted = fastmri_schema.patient_id("DOE^JOHN/series1", "s3cret")
  assert plain != salted
  assert salted == fastmri_schema.patient_id("DOE^JOHN/series1", "s3cret")
  assert salted != fastmri_schema.patient_id("DOE^JOHN/series2", "s3cret")
  assert len(salted) == 16 and "DOE" not in salted
  int(salted, 16)


def _write(path, num_coils):
  rng = np.random.default_rng(0)
  shape = (3,) + ((num_coils,) if num_coils > 1 else ()) + (12, 10)
  kspace = rng.normal(size=shape) + 1j * rng.normal(size=shape)
  reconstruction = rng.uniform(0, 2, (3, 12, 10))
  header = ismrmrd_header.build(
      ismrmrd_header.HeaderFields(12, 10, 3, num_coils, (12.0, 10.0, 5.0))
  )
  fastmri_schema.write_volume(
      path,
      kspace,
      reconstruction,
      header,
      {"acquisition": "AXT2", "patient_id": "ab12", "phase_draw": 1},
  )
  return kspace, reconstruction


@pytest.mark.parametrize("num_coils", [1, 4])
def test_the_file_has_fastmris_datasets_and_attrs(tmp_path, num_coils):
  path = tmp_path / "vol.h5"
  kspace, reconstruction = _write(path, num_coils)
  with h5py.File(path, "r") as f:
    assert f["kspace"].dtype == np.complex64
    np.testing.assert_allclose(f["kspace"][()], kspace, rtol=1e-6)
    targets = {"reconstruction_rss"} | (
        {"reconstruction_esc"} if num_coils == 1 else set()
    )
    assert set(f) == {"kspace", "ismrmrd_header"} | targets
    for key in targets:
      assert f[key].dtype == np.float32
      np.testing.assert_allclose(f[key][()], reconstruction, rtol=1e-6)
    assert f.attrs["max"] == pytest.approx(reconstruction.max(), rel=1e-6)
    assert f.attrs["norm"] == pytest.approx(
        np.linalg.norm(reconstruction), rel=1e-6
    )
    assert f.attrs["acquisition"] == "AXT2"
    assert f.attrs["phase_draw"] == 1
  challenge = fastmri_schema.challenge(num_coils)
  volume = fastmri_files.inspect_volume(str(path), challenge, crop_size=10)
  assert volume.num_slices == 3 and volume.num_coils == num_coils
  assert volume.encoding_size == volume.recon_size == (12, 10, 1)
  assert volume.has_target and not volume.has_mask
  assert volume.patient_id == "ab12"


def test_shapes_outside_the_schema_are_refused(tmp_path):
  with pytest.raises(ValueError, match="slices"):
    fastmri_schema.write_volume(
        tmp_path / "x.h5",
        np.zeros((3, 4, 12, 10), np.complex64),
        np.zeros((3, 12, 11)),
        b"<x/>",
        {},
    )
  assert not (tmp_path / "x.h5").exists()
