"""Tests of kspace.datasets.image_files.file_kinds: `file_kind`."""

import numpy as np

from kspace.datasets.image_files import file_kinds
from tests.helpers import dicom_files


def test_kind_by_suffix_case_insensitive():
  for name, kind in (
      ("a.dcm", "dicom"),
      ("b.IMA", "dicom"),
      ("c.nii", "nifti"),
      ("d.nii.gz", "nifti"),
      ("e.PNG", "image"),
      ("f.tiff", "image"),
      ("g.jpeg", "image"),
      ("h.txt", None),
      ("i.nii.bak", None),
  ):
    assert file_kinds.file_kind(name) == kind, name


def test_a_file_without_suffix_is_dicom_by_its_preamble(tmp_path):
  dicom_files.write_dicom(tmp_path / "IM0001", np.ones((4, 4)))
  (tmp_path / "README").write_text("not an image")
  assert file_kinds.file_kind(str(tmp_path / "IM0001")) == "dicom"
  assert file_kinds.file_kind(str(tmp_path / "README")) is None
  assert file_kinds.file_kind(str(tmp_path / "missing")) is None
