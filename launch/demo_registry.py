r"""Writes a PACS-like DICOM export of synthetic magnitudes: a registry to try
the user's path (`configs/experiment.py:registry`) without patient data.

  python -m launch.demo_registry --out=/tmp/demo_export --num_folders=20 \
      --files_per_folder=10 --image_size=64 --seed=7

Each folder holds RLE-compressed single-frame MR files with the scan
parameters a scanner writes (MagneticFieldStrength, EchoTime,
ImageOrientationPatient consistent with the simulated B0 direction,
ScanningSequence, ImagePositionPatient) and made-up patient fields, which
the registry must not keep. The simulator draws 2-D slices, each with its
own acquisition (field strength, TE, B0 tilt), so each file is its own
series and the registry reads it as a one-slice volume. Magnitude only:
the phase is thrown away, as a clinic's archive does. Synthetic examples
of dataset seed `seed`, split "train": use a seed no phase model or test
set uses.
"""

import os

import numpy as np
from absl import app
from absl import flags
from pydicom import uid
from pydicom.dataset import FileDataset
from pydicom.dataset import FileMetaDataset

from kspace import datasets
from kspace.simulator import generator

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"


def orientation_for(b0_direction: np.ndarray) -> list[float]:
  """An ImageOrientationPatient whose B0 in image axes (the patient z of
  the row, column and normal, `scan_headers.b0_in_image_axes`) is
  `b0_direction`: rows of an orthonormal matrix whose last row is it."""
  b0 = np.asarray(b0_direction, np.float64)
  b0 /= np.linalg.norm(b0)
  helper = np.eye(3)[np.argmin(np.abs(b0))]
  u = np.cross(b0, helper)
  u /= np.linalg.norm(u)
  v = np.cross(b0, u)
  rotation = np.stack([u, v, b0])  # rows: patient x, y, z of (r, c, n)
  row, column = rotation[:, 0], rotation[:, 1]
  return [float(a) for a in np.concatenate([row, column])]


def write_slice(path, magnitude, example, series_uid, position, index):
  meta = FileMetaDataset()
  meta.MediaStorageSOPClassUID = MR_IMAGE_STORAGE
  meta.MediaStorageSOPInstanceUID = uid.generate_uid()
  meta.TransferSyntaxUID = uid.ExplicitVRLittleEndian
  ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
  ds.SOPClassUID = MR_IMAGE_STORAGE
  ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
  ds.Modality = "MR"
  ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
  ds.PatientName = "DEMO^PATIENT"
  ds.PatientID = "DEMO-0001"
  ds.StudyDate = "20260101"
  ds.SeriesInstanceUID = series_uid
  ds.InstanceNumber = index + 1
  ds.MagneticFieldStrength = float(example["field_strength_t"])
  ds.EchoTime = float(example["echo_time_ms"])
  ds.ScanningSequence = (
      "GR" if int(example["sequence"]) == generator.GRADIENT_ECHO else "SE"
  )
  orientation = orientation_for(example["b0_direction"])
  normal = np.cross(orientation[:3], orientation[3:])
  ds.ImageOrientationPatient = orientation
  ds.ImagePositionPatient = [float(a) for a in position * normal]
  ds.PixelSpacing = [1.0, 1.0]
  ds.Rows, ds.Columns = magnitude.shape
  ds.SamplesPerPixel = 1
  ds.PhotometricInterpretation = "MONOCHROME2"
  ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
  ds.PixelRepresentation = 0
  pixels = np.round(np.clip(magnitude, 0, None) / magnitude.max() * 4000)
  ds.PixelData = pixels.astype(np.uint16).tobytes()
  ds.compress(uid.RLELossless, encoding_plugin="pydicom")
  ds.save_as(path, enforce_file_format=True)


def _define_flags():
  # Defined only when run as a script, as launch.sweep does.
  flags.DEFINE_string("out", None, "Folder to write (created).")
  flags.DEFINE_integer("num_folders", 20, "Folders (studies).")
  flags.DEFINE_integer("files_per_folder", 10, "Files per folder.")
  flags.DEFINE_integer("image_size", 64, "Rows and columns.")
  flags.DEFINE_integer("seed", 7, "Synthetic dataset seed.")
  flags.mark_flag_as_required("out")


def main(argv):
  del argv
  args = flags.FLAGS
  size, per_folder = args.image_size, args.files_per_folder
  for study in range(args.num_folders):
    folder = os.path.join(args.out, f"study_{study:03d}")
    os.makedirs(folder, exist_ok=True)
    for index in range(per_folder):
      example = datasets.generate_example(
          datasets.example_rng(args.seed, "train", study * per_folder + index),
          size,
      )
      write_slice(
          os.path.join(folder, f"IM{index:04d}.dcm"),
          example["magnitude"],
          example,
          uid.generate_uid(),  # its own acquisition: its own series
          float(index * 3),
          index,
      )
  print(
      f"Wrote {args.num_folders} folders x {per_folder} slices"
      f" ({size}x{size}) to {args.out}"
  )


if __name__ == "__main__":
  _define_flags()
  app.run(main)
