"""Compressed DICOM, as PACS exports are: every supported transfer syntax,
encoded by an independent library (imagecodecs, or pydicom's own RLE
encoder), decodes to the pixels that went in; without the GPL `jpeg`
extra the files only it decodes are refused, naming it, and the rest
decode (the test extra installs it, `without_jpeg_extra` takes it away)."""

import imagecodecs
import numpy as np
import pydicom
import pytest
from pydicom import encaps
from pydicom import pixels
from pydicom import uid
from pydicom.data import get_testdata_file

from kspace import datasets
from kspace.datasets import magnitude_registry
from kspace.datasets.image_files import dicom
from kspace.datasets.image_files import slice_reading
from tests.helpers import dicom_files

SHAPE = (24, 20)
MR_IMAGE_STORAGE = dicom_files.MR_IMAGE_STORAGE


def _pixels(bits: int) -> np.ndarray:
  """A bright disc with texture, `bits`-bit unsigned."""
  rng = np.random.default_rng(bits)
  y, x = np.mgrid[: SHAPE[0], : SHAPE[1]]
  disc = (y - 12) ** 2 + (x - 10) ** 2 < 80
  values = disc * rng.uniform(0.3, 1.0, SHAPE) * (2**bits - 1)
  return np.round(values).astype(np.uint8 if bits == 8 else np.uint16)


def _dataset(syntax, pixels, bits_stored):
  return dicom_files.mr_dataset(
      pixels.shape, syntax, pixels.dtype.itemsize * 8, bits_stored
  )


def _build(manual, tmp_path):
  return datasets.build(
      "magnitude_registry",
      str(tmp_path / "tfds"),
      manual_dir=str(manual),
      image_size=16,
      val_fraction=0,
      test_fraction=0,
  )


def _encapsulated(syntax, encode, bits):
  def write(path):
    pixels = _pixels(bits)
    ds = _dataset(syntax, pixels, bits)
    ds.PixelData = encaps.encapsulate([encode(pixels)])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.save_as(str(path), enforce_file_format=True)
    return pixels

  return write


def _native(syntax):
  def write(path):
    pixels = _pixels(12)
    ds = _dataset(syntax, pixels, 12)
    if syntax == uid.RLELossless:
      ds.file_meta.TransferSyntaxUID = uid.ExplicitVRLittleEndian
      ds.PixelData = pixels.tobytes()
      ds.compress(uid.RLELossless, encoding_plugin="pydicom")
    else:
      ds.PixelData = pixels.tobytes()
    ds.save_as(str(path), enforce_file_format=True)
    return pixels

  return write


# name -> (writer(path) -> pixels written, lossless).
SYNTAXES = {
    "explicit_vr_little_endian": (_native(uid.ExplicitVRLittleEndian), True),
    "implicit_vr_little_endian": (_native(uid.ImplicitVRLittleEndian), True),
    "rle_lossless": (_native(uid.RLELossless), True),
    "jpeg_baseline": (
        _encapsulated(
            uid.JPEGBaseline8Bit,
            lambda p: imagecodecs.jpeg8_encode(p, level=95),
            8,
        ),
        False,
    ),
    "jpeg_lossless_sv1": (
        _encapsulated(
            uid.JPEGLosslessSV1,
            lambda p: imagecodecs.jpeg8_encode(
                p, lossless=True, predictor=1, bitspersample=12
            ),
            12,
        ),
        True,
    ),
    "jpeg_lossless": (
        _encapsulated(
            uid.JPEGLossless,
            lambda p: imagecodecs.jpeg8_encode(
                p, lossless=True, predictor=7, bitspersample=12
            ),
            12,
        ),
        True,
    ),
    "jpeg_ls_lossless": (
        _encapsulated(
            uid.JPEGLSLossless,
            lambda p: imagecodecs.jpegls_encode(p, level=0),
            12,
        ),
        True,
    ),
    "jpeg_2000_lossless": (
        _encapsulated(
            uid.JPEG2000Lossless,
            lambda p: imagecodecs.jpeg2k_encode(
                p, level=0, codecformat="j2k", reversible=True
            ),
            12,
        ),
        True,
    ),
    "jpeg_2000": (
        _encapsulated(
            uid.JPEG2000,
            lambda p: imagecodecs.jpeg2k_encode(
                p, level=80, codecformat="j2k", reversible=False
            ),
            12,
        ),
        False,
    ),
}


@pytest.mark.parametrize("name", sorted(SYNTAXES))
def test_transfer_syntax_decodes_to_the_pixels_written(tmp_path, name):
  write, lossless = SYNTAXES[name]
  path = tmp_path / f"{name}.dcm"
  pixels = write(path).astype(np.float64)
  assert pydicom.dcmread(path).file_meta.TransferSyntaxUID.name  # a real file
  (decoded,) = dicom.read_dicom(str(path))
  if lossless:
    np.testing.assert_array_equal(decoded, pixels)
  else:  # lossy: close to the input, relative to its range.
    error = np.abs(decoded - pixels).mean() / pixels.max()
    assert error < 0.02, error


def test_registry_of_every_transfer_syntax_uses_every_file(tmp_path):
  manual = tmp_path / "export"
  manual.mkdir()
  for name, (write, _) in SYNTAXES.items():
    write(manual / f"{name}.dcm")
  builder = _build(manual, tmp_path)
  manifest = magnitude_registry.read_manifest(builder)
  assert manifest["num_skipped"] == 0, manifest["skipped"]
  source = datasets.data_source(builder, "train")
  sources = {source[i]["source"] for i in range(len(source))}
  assert sources == {f"{name}.dcm" for name in SYNTAXES}


def test_corrupt_compressed_pixel_data_is_skipped_as_undecodable(tmp_path):
  manual = tmp_path / "export"
  manual.mkdir()
  SYNTAXES["explicit_vr_little_endian"][0](manual / "good.dcm")
  pixels = _pixels(12)
  ds = _dataset(uid.JPEGLSLossless, pixels, 12)
  ds.PixelData = encaps.encapsulate([b"\xff\xd8" + b"\x00" * 64])
  ds["PixelData"].VR = "OB"
  ds["PixelData"].is_undefined_length = True
  ds.save_as(str(manual / "broken.dcm"), enforce_file_format=True)
  with pytest.raises(datasets.DatasetError, match="broken.dcm.*decoded"):
    dicom.read_dicom(str(manual / "broken.dcm"))
  builder = _build(manual, tmp_path)
  manifest = magnitude_registry.read_manifest(builder)
  assert manifest["skipped_by_reason"] == {"undecodable": 1}


def test_jpeg_extended_12_bit_decodes_like_an_independent_decoder(tmp_path):
  """No encoder writes JPEG Extended (process 2 and 4, 12-bit) here; pydicom
  ships such a file (an NM secondary capture, relabelled as an MR image)."""
  ds = pydicom.dcmread(get_testdata_file("JPGExtended.dcm"))
  assert ds.file_meta.TransferSyntaxUID == uid.JPEGExtended12Bit
  ds.Modality, ds.SOPClassUID = "MR", MR_IMAGE_STORAGE
  path = tmp_path / "extended.dcm"
  ds.save_as(str(path))
  frame = next(encaps.generate_frames(ds.PixelData, number_of_frames=1))
  reference = imagecodecs.jpeg8_decode(frame).astype(np.float64)
  (decoded,) = dicom.read_dicom(str(path))
  # Lossy: two IDCT implementations may round a pixel differently.
  assert np.abs(decoded - reference).max() <= 1
  assert reference.max() > 100


@pytest.fixture
def without_jpeg_extra(monkeypatch):
  """A Python without pylibjpeg-libjpeg (the GPL-3.0 `jpeg` extra): pydicom's
  pylibjpeg plugin leaves the decoders of the syntaxes libjpeg reads, as
  pydicom registers them when libjpeg is missing."""
  for syntax in dicom.JPEG_EXTRA_SYNTAXES:
    decoder = pixels.get_decoder(syntax)
    assert "pylibjpeg" in decoder.available_plugins  # the test extra's
    left = {k: v for k, v in decoder._available.items() if k != "pylibjpeg"}
    monkeypatch.setattr(decoder, "_available", left)


# Only libjpeg (or python-gdcm) decodes these; the rest need no GPL code.
NEEDS_JPEG_EXTRA = {"jpeg_lossless_sv1", "jpeg_lossless", "jpeg_ls_lossless"}


@pytest.mark.parametrize("name", sorted(SYNTAXES))
def test_without_the_jpeg_extra_a_file_decodes_or_names_the_extra(
    tmp_path, without_jpeg_extra, name
):
  write, lossless = SYNTAXES[name]
  path = tmp_path / f"{name}.dcm"
  written = write(path).astype(np.float64)
  if name in NEEDS_JPEG_EXTRA:
    for read in (dicom.read_dicom, slice_reading.inspect_file):
      with pytest.raises(datasets.DatasetError) as error:
        read(str(path))
      assert error.value.reason == "missing_decoder"
      assert f"{name}.dcm: is JPEG" in str(error.value)
      assert "needs the 'jpeg' extra (GPL-3.0 pylibjpeg-libjpeg)" in str(
          error.value
      )
      assert 'pip install -e ".[jpeg]"' in str(error.value)
    return
  (decoded,) = dicom.read_dicom(str(path))  # Pillow, openjpeg, RLE
  error = np.abs(decoded - written).mean() / written.max()
  assert error == 0 if lossless else error < 0.02


def test_without_the_jpeg_extra_12_bit_jpeg_extended_names_it(
    tmp_path, without_jpeg_extra
):
  # Pillow decodes 8-bit JPEG extended but refuses 12-bit at decode time.
  ds = pydicom.dcmread(get_testdata_file("JPGExtended.dcm"))
  ds.Modality, ds.SOPClassUID = "MR", MR_IMAGE_STORAGE
  path = tmp_path / "extended.dcm"
  ds.save_as(str(path))
  with pytest.raises(datasets.DatasetError, match="extended.dcm.*'jpeg' extra"):
    dicom.read_dicom(str(path))


def test_a_registry_without_the_jpeg_extra_skips_what_needs_it(
    tmp_path, without_jpeg_extra
):
  manual = tmp_path / "export"
  manual.mkdir()
  for name, (write, _) in SYNTAXES.items():
    write(manual / f"{name}.dcm")
  builder = datasets.build(
      "magnitude_registry",
      str(tmp_path / "tfds"),
      manual_dir=str(manual),
      image_size=16,
      val_fraction=0,
      test_fraction=0,
  )
  manifest = magnitude_registry.read_manifest(builder)
  assert manifest["skipped_by_reason"] == {"missing_decoder": 3}
  assert {e["file"] for e in manifest["skipped"]} == {
      f"{name}.dcm" for name in NEEDS_JPEG_EXTRA
  }
  assert all("'jpeg' extra" in e["detail"] for e in manifest["skipped"])
  assert manifest["num_used"] == len(SYNTAXES) - 3
