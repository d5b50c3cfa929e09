"""Tests of kspace.datasets.fastmri_header: matrix sizes and the acquired
columns from a fastMRI file's ISMRMRD header."""

import pytest

from kspace import datasets
from kspace.datasets import fastmri_header

# The part of a scanner's ISMRMRD header that fastMRI reads.
HEADER = """<?xml version="1.0" encoding="utf-8"?>
<ismrmrdHeader xmlns="http://www.ismrm.org/ISMRMRD"><encoding>
  <encodedSpace><matrixSize><x>24</x><y>20</y><z>1</z></matrixSize>
  </encodedSpace>
  <reconSpace><matrixSize><x>18</x><y>18</y><z>1</z></matrixSize></reconSpace>
  {limits}
</encoding></ismrmrdHeader>"""
LIMITS = """<encodingLimits><kspace_encoding_step_1><minimum>0</minimum>
  <maximum>{maximum}</maximum><center>{center}</center>
  </kspace_encoding_step_1></encodingLimits>"""


def _header(limits=None):
  if limits is None:
    return HEADER.format(limits="")
  return HEADER.format(
      limits=LIMITS.format(center=limits[0], maximum=limits[1])
  )


def test_matrix_sizes_and_a_bad_header_is_named():
  encoding, recon = fastmri_header.parse_header("v.h5", _header())
  assert encoding == (24, 20, 1) and recon == (18, 18, 1)
  with pytest.raises(datasets.DatasetError, match="v.h5.*ISMRMRD") as error:
    fastmri_header.parse_header("v.h5", b"<ismrmrdHeader/>")
  assert error.value.reason == "header"
  with pytest.raises(datasets.DatasetError, match="v.h5.*ISMRMRD"):
    fastmri_header.parse_header("v.h5", b"not xml")


def _columns(limits, width=20):
  return fastmri_header.sampled_columns(
      "v.h5", _header(limits), (24, 20, 1), width
  )


def test_sampled_columns_follow_fastmri_and_refuse_what_does_not_fit():
  # fastMRI: left = 20 // 2 - center, right = left + maximum + 1.
  assert _columns((8, 15)) == (2, 18)
  assert _columns((6, 15)) == (4, 20)  # partial Fourier: one side short
  assert _columns((10, 19)) == (0, 20)  # every column
  assert _columns(None) == (0, 20)  # no limits: every column
  # A right end past the last column stops there, as fastMRI's slicing.
  assert _columns((10, 19), width=18) == (0, 18)
  with pytest.raises(datasets.DatasetError, match=r"v.h5.*\[-5, 15\)") as e:
    _columns((15, 19))
  assert e.value.reason == "header"
  with pytest.raises(datasets.DatasetError, match="v.h5.*outside"):
    _columns((25, 3))  # starts past the end
  bad = _header((8, 15)).replace("<center>8</center>", "<center>x</center>")
  with pytest.raises(datasets.DatasetError, match="v.h5.*ISMRMRD"):
    fastmri_header.sampled_columns("v.h5", bad, (24, 20, 1), 20)
