"""The exported ISMRMRD header, read as fastMRI, DIRECT and our reader read
it."""

import math
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest

from kspace.datasets import fastmri_files
from kspace.datasets import scan_headers
from kspace.export import ismrmrd_header
from kspace.simulator import sequences

NS = {"m": ismrmrd_header.NAMESPACE}


def _fields(**overrides):
  fields = dict(
      height=40,
      width=24,
      num_slices=5,
      num_coils=8,
      field_of_view_mm=(200.0, 120.0, 3.0),
  )
  fields.update(overrides)
  return ismrmrd_header.HeaderFields(**fields)


def _text(root, path):
  return root.find("/".join(f"m:{p}" for p in path), NS).text


def _fastmri_padding(header: bytes):
  """fastMRI's SliceDataset._retrieve_metadata (and DIRECT's
  _parse_fastmri_header): the acquired column range from the header."""
  root = ElementTree.fromstring(header)
  enc_y = int(_text(root, ["encoding", "encodedSpace", "matrixSize", "y"]))
  limits = ["encoding", "encodingLimits", "kspace_encoding_step_1"]
  center = int(_text(root, limits + ["center"]))
  maximum = int(_text(root, limits + ["maximum"])) + 1
  left = enc_y // 2 - center
  return left, left + maximum


@pytest.mark.parametrize("width", [24, 25, 1])
def test_fastmri_padding_covers_every_column(width):
  assert _fastmri_padding(ismrmrd_header.build(_fields(width=width))) == (
      0,
      width,
  )


def test_our_reader_reads_the_matrix_sizes_with_x_the_rows():
  header = ismrmrd_header.build(_fields())
  encoded, recon = fastmri_files.parse_header("f.h5", header)
  assert encoded == recon == (40, 24, 1)
  root = ElementTree.fromstring(header)
  fov = [
      float(_text(root, ["encoding", "reconSpace", "fieldOfView_mm", a]))
      for a in "xyz"
  ]
  assert fov == [200.0, 120.0, 3.0]
  assert (
      _text(root, ["acquisitionSystemInformation", "receiverChannels"]) == "8"
  )
  assert _text(root, ["encoding", "encodingLimits", "slice", "maximum"]) == "4"


@pytest.mark.parametrize(
    "sequence", [sequences.GRADIENT_ECHO, sequences.SPIN_ECHO]
)
def test_scan_fields_round_trip_through_our_reader(sequence):
  header = ismrmrd_header.build(
      _fields(
          field_strength_t=2.89362,
          echo_time_ms=27.0,
          repetition_time_ms=2750.0,
          sequence=sequence,
      )
  )
  scan = scan_headers.from_ismrmrd(header)
  assert scan["field_strength_t"] == pytest.approx(2.89362, rel=1e-6)
  assert scan["echo_time_ms"] == pytest.approx(27.0)
  assert scan["sequence"] == sequence
  root = ElementTree.fromstring(header)
  larmor = float(
      _text(root, ["experimentalConditions", "H1resonanceFrequency_Hz"])
  )
  assert larmor == pytest.approx(42.577478e6 * 2.89362, abs=1)
  assert _text(root, ["sequenceParameters", "TR"]) == "2750"


def test_unknown_fields_are_left_out_not_guessed():
  header = ismrmrd_header.build(_fields())
  scan = scan_headers.from_ismrmrd(header)
  assert math.isnan(scan["field_strength_t"])
  assert math.isnan(scan["echo_time_ms"])
  assert scan["sequence"] == scan_headers.UNKNOWN_SEQUENCE
  text = header.decode()
  for tag in (
      "systemFieldStrength_T",
      "TE",
      "sequenceParameters",
      "experimentalConditions",
  ):
    assert f"<{tag}>" not in text


def test_from_records_states_only_what_every_slice_agrees_on():
  magnitude = np.zeros((40, 24), np.float32)
  records = [
      {
          "magnitude": magnitude,
          "field_strength_t": np.float32(3.0),
          "echo_time_ms": np.float32(echo),
          "sequence": np.int32(sequences.SPIN_ECHO),
          "pixel_spacing_mm": np.array([0.5, 0.25], np.float32),
      }
      for echo in (20.0, 30.0)
  ]
  fields = ismrmrd_header.from_records(records, 4, 1.0, 3.0)
  assert (fields.height, fields.width, fields.num_slices) == (40, 24, 2)
  assert fields.field_strength_t == 3.0
  assert math.isnan(fields.echo_time_ms)  # the slices disagree
  assert math.isnan(fields.repetition_time_ms)  # none states it
  assert fields.sequence == sequences.SPIN_ECHO
  assert fields.field_of_view_mm == (20.0, 6.0, 3.0)
  bare = ismrmrd_header.from_records([{"magnitude": magnitude}], 1, 0.8, 5.0)
  assert bare.field_of_view_mm == pytest.approx((32.0, 19.2, 5.0))
  assert bare.sequence == -1 and math.isnan(bare.field_strength_t)
