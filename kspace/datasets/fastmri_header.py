"""The ISMRMRD header of a fastMRI file: matrix sizes and encoding limits.

`parse_header` reads the encoded and reconstruction matrix sizes (x along
the readout rows of the k-space, y along its phase-encode columns; fastMRI's
`encoding_size` and `recon_size`), `sampled_columns` the acquired
phase-encode columns from encodingLimits, as fastMRI's `_retrieve_metadata`
does (its `padding_left`, `padding_right`). A header that does not say them
raises a `DatasetError` with reason "header". The scan parameters are
`scan_headers.from_ismrmrd`'s.
"""

import xml.etree.ElementTree as ElementTree

from kspace.datasets import errors

_ISMRMRD_NS = {"m": "http://www.ismrm.org/ISMRMRD"}


def _header_root(path: str, header: bytes | str) -> ElementTree.Element:
  try:
    return ElementTree.fromstring(header)
  except (ElementTree.ParseError, TypeError) as e:
    raise _header_error(path, e) from e


def _header_error(path: str, e: Exception) -> errors.DatasetError:
  return errors.file_error(
      path,
      "ismrmrd_header is not valid ISMRMRD XML with encoding matrix sizes"
      f" ({e}).",
      "re-download the file.",
      reason="header",
  )


def parse_header(path: str, header: bytes | str) -> tuple[tuple, tuple]:
  """Encoded and recon matrix sizes (x, y, z) from the ISMRMRD XML header.

  Args:
    path: the file (for the message).
    header: the `ismrmrd_header` dataset's XML.

  Returns:
    (encoding size, recon size), each 3 ints.

  Raises:
    DatasetError: not ISMRMRD XML with encoding matrix sizes.
  """
  root = _header_root(path, header)
  try:
    sizes = []
    for space in ("encodedSpace", "reconSpace"):
      node = root.find(f"m:encoding/m:{space}/m:matrixSize", _ISMRMRD_NS)
      sizes.append(
          tuple(int(node.find(f"m:{a}", _ISMRMRD_NS).text) for a in "xyz")
      )
  except (AttributeError, TypeError, ValueError) as e:
    raise _header_error(path, e) from e
  return sizes[0], sizes[1]


def sampled_columns(
    path: str, header: bytes | str, encoding_size: tuple, width: int
) -> tuple[int, int]:
  """fastMRI's (padding_left, padding_right): the acquired phase-encode
  columns [left, right) of the file's k-space.

  As fastMRI's `_retrieve_metadata`: left = encoding_y // 2 - center,
  right = left + maximum + 1, from encodingLimits/kspace_encoding_step_1;
  the scanner zero-fills the columns outside them (asymmetric or reduced
  phase-encode coverage). A right end past W is clipped to W, where
  fastMRI's mask slicing stops.

  Args:
    path: the file (for the message).
    header: the `ismrmrd_header` XML.
    encoding_size: `parse_header`'s encoded matrix size (x, y, z).
    width: the k-space's phase-encode columns W.

  Returns:
    (left, right) with 0 <= left < right <= W; (0, W) when the header has
    no encoding limits.

  Raises:
    DatasetError: limits that are not integers or start outside the W
      columns (reason "header").
  """
  limits = _header_root(path, header).find(
      "m:encoding/m:encodingLimits/m:kspace_encoding_step_1", _ISMRMRD_NS
  )
  if limits is None:
    return 0, width
  try:
    center, maximum = (
        int(limits.find(f"m:{key}", _ISMRMRD_NS).text)
        for key in ("center", "maximum")
    )
  except (AttributeError, TypeError, ValueError) as e:
    raise _header_error(path, e) from e
  left = encoding_size[1] // 2 - center
  # Past the last column fastMRI's mask slicing does nothing: clip there.
  right = min(left + maximum + 1, width)
  if not 0 <= left < right:
    raise errors.file_error(
        path,
        "ismrmrd_header's encodingLimits (kspace_encoding_step_1 center"
        f" {center}, maximum {maximum}, encoded y {encoding_size[1]}) give"
        f" acquired columns [{left}, {right}) outside the k-space's {width}.",
        "re-download the file.",
        reason="header",
    )
  return left, right
