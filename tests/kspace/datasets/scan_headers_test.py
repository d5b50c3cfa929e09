"""Tests for kspace.datasets.scan_headers: scan parameters from DICOM and
ISMRMRD headers, unknown where the header is silent."""

import numpy as np
import pydicom
import pytest

from kspace.datasets import scan_headers
from kspace.simulator import sequences


def _dataset(**fields):
  dataset = pydicom.Dataset()
  for name, value in fields.items():
    setattr(dataset, name, value)
  return dataset


@pytest.mark.parametrize(
    "orientation, want",
    [
        # Axial (rows along patient x, columns along y): B0 is the normal.
        ([1, 0, 0, 0, 1, 0], [0, 0, 1]),
        # Coronal (rows along x, columns along -z, head-foot down the rows).
        ([1, 0, 0, 0, 0, -1], [0, -1, 0]),
        # Sagittal (rows along y, columns along -z).
        ([0, 1, 0, 0, 0, -1], [0, -1, 0]),
    ],
)
def test_b0_in_image_axes_per_plane(orientation, want):
  got = scan_headers.b0_in_image_axes(orientation)
  np.testing.assert_allclose(got, want, atol=1e-7)


def test_oblique_b0_is_a_unit_vector_and_bad_orientations_are_unknown():
  tilt = np.deg2rad(10)
  # An axial slice tilted about x: columns gain a z component.
  orientation = [1, 0, 0, 0, np.cos(tilt), np.sin(tilt)]
  got = scan_headers.b0_in_image_axes(orientation)
  np.testing.assert_allclose(np.linalg.norm(got), 1.0, atol=1e-6)
  np.testing.assert_allclose(got, [0, np.sin(tilt), np.cos(tilt)], atol=1e-6)
  for bad in (None, [1, 0, 0], [1, 0, 0, 1, 0, 0], [2, 0, 0, 0, 1, 0]):
    assert np.all(np.isnan(scan_headers.b0_in_image_axes(bad))), bad


@pytest.mark.parametrize(
    "names, family",
    [
        (["SE"], sequences.SPIN_ECHO),
        (["SE", "IR"], sequences.SPIN_ECHO),
        (["GR"], sequences.GRADIENT_ECHO),
        (["EP", "GR"], sequences.GRADIENT_ECHO),
        (["IR"], scan_headers.UNKNOWN_SEQUENCE),
        ("TurboSpinEcho", sequences.SPIN_ECHO),
        ("Flash", sequences.GRADIENT_ECHO),
        ("", scan_headers.UNKNOWN_SEQUENCE),
        (None, scan_headers.UNKNOWN_SEQUENCE),
    ],
)
def test_sequence_family(names, family):
  assert scan_headers.sequence_family(names) == family


def test_from_dicom_reads_what_is_there_and_nothing_else():
  full = scan_headers.from_dicom(
      _dataset(
          MagneticFieldStrength="3",
          EchoTime="4.6",
          ScanningSequence=["GR"],
          ImageOrientationPatient=[1, 0, 0, 0, 1, 0],
      )
  )
  assert full["field_strength_t"] == np.float32(3.0)
  assert full["echo_time_ms"] == np.float32(4.6)
  assert full["sequence"] == sequences.GRADIENT_ECHO
  np.testing.assert_array_equal(full["b0_direction"], [0, 0, 1])
  assert full["b0_direction"].dtype == np.float32
  bare = scan_headers.from_dicom(_dataset(EchoTime="0"))
  assert np.isnan(bare["field_strength_t"]) and np.isnan(bare["echo_time_ms"])
  assert np.all(np.isnan(bare["b0_direction"]))
  assert bare["sequence"] == scan_headers.UNKNOWN_SEQUENCE
  assert set(full) == set(bare) == set(scan_headers.unknown())


def test_from_ismrmrd():
  header = """<?xml version="1.0"?>
<ismrmrdHeader xmlns="http://www.ismrm.org/ISMRMRD">
  <acquisitionSystemInformation>
    <systemFieldStrength_T>2.89362</systemFieldStrength_T>
  </acquisitionSystemInformation>
  <sequenceParameters><TR>2750</TR><TE>27</TE><TE>54</TE>
    <sequence_type>TurboSpinEcho</sequence_type></sequenceParameters>
</ismrmrdHeader>"""
  fields = scan_headers.from_ismrmrd(header.encode())
  assert fields["field_strength_t"] == pytest.approx(2.89362)
  assert fields["echo_time_ms"] == np.float32(27.0)
  assert fields["sequence"] == sequences.SPIN_ECHO
  assert np.all(np.isnan(fields["b0_direction"]))  # ISMRMRD has no orientation
  silent = scan_headers.from_ismrmrd("<ismrmrdHeader/>")
  assert np.isnan(silent["field_strength_t"]) and np.isnan(
      silent["echo_time_ms"]
  )
  assert silent["sequence"] == scan_headers.UNKNOWN_SEQUENCE
  assert np.isnan(scan_headers.from_ismrmrd("not xml")["echo_time_ms"])
