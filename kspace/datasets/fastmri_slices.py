"""One slice of a fastMRI file as images: ACS columns, coil combination, crops.

`acs_columns` finds the fully sampled center columns for the sensitivity
maps (a test file's mask run, or a fraction of the columns, inside the
acquired ones); `coil_combine` combines multi-coil images with maps whose
phase is relative to the strongest coil; `slice_example` gives a slice's
magnitude, phase, k-space and maps, cropped to the reconSpace matrix (which
removes readout oversampling) and then to crop x crop.
"""

import numpy as np

from kspace import coils
from kspace import fft
from kspace import masks
from kspace.common import phase
from kspace.datasets import errors
from kspace.datasets import files


def center_run_length(mask: np.ndarray) -> int:
  """Length of the contiguous run of sampled columns around the center.

  Args:
    mask: the file's column mask, any shape with W entries.

  Returns:
    Number of sampled columns in the run through column W // 2 (0 if that
    column is not sampled).
  """
  lines = np.asarray(mask).reshape(-1) > 0
  center = lines.size // 2
  if not lines[center]:
    return 0
  left = center
  while left > 0 and lines[left - 1]:
    left -= 1
  right = center
  while right < lines.size - 1 and lines[right + 1]:
    right += 1
  return right - left + 1


def coil_combine(
    kspace: np.ndarray, num_low_frequencies: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Sensitivity-weighted combination with reference-coil phase.

  Maps S = L / RSS(L) from the low-resolution (ACS) coil images L, rotated by
  the phase of the strongest coil's map: without that rotation the maps carry
  the object's low-resolution phase and the combine would remove it.

  Args:
    kspace: (C, H, W) complex fully sampled (or zero-filled) coil k-space.
    num_low_frequencies: fully sampled center columns used for the maps.

  Returns:
    (image (H, W), sens (C, H, W), coil_images (C, H, W)), complex64.
  """
  coil_images = np.asarray(fft.ifft2c(kspace))
  sens = np.asarray(coils.estimate_sensitivities(kspace, num_low_frequencies))
  energy = np.sum(np.abs(coil_images) ** 2, axis=(-2, -1))
  reference = sens[int(np.argmax(energy))]
  sens = sens * np.exp(-1j * np.angle(reference))
  image = np.sum(np.conj(sens) * coil_images, axis=0)
  return (
      image.astype(np.complex64),
      sens.astype(np.complex64),
      coil_images.astype(np.complex64),
  )


def within_padding(mask: np.ndarray, padding: tuple[int, int]) -> np.ndarray:
  """The mask's columns as booleans, False outside the acquired columns
  [left, right) (fastMRI's transforms zero the mask there)."""
  lines = np.asarray(mask).reshape(-1) > 0
  left, right = padding
  lines[:left] = False
  lines[right:] = False
  return lines


def centered_inside(num_low: int, width: int, padding: tuple[int, int]) -> int:
  """The largest count <= num_low whose center columns, placed at
  (W - n + 1) // 2 as `coils.estimate_sensitivities` places them, lie in
  the acquired columns [left, right): the zero-filled columns carry no
  calibration signal."""
  left, right = padding
  while num_low > 0:
    start = (width - num_low + 1) // 2
    if left <= start and start + num_low <= right:
      break
    num_low -= 1
  return num_low


def acs_columns(
    path: str,
    width: int,
    padding: tuple[int, int],
    mask: np.ndarray | None,
    acs_fraction: float,
) -> int:
  """The fully sampled center columns for the sensitivity maps.

  Args:
    path: the file (for the message).
    width: its k-space columns W.
    padding: its acquired columns [left, right) (`Volume.padding`).
    mask: its `mask` dataset's values (test data), else None.
    acs_fraction: the fraction of center columns of a fully sampled file.

  Returns:
    The mask's center run (within the acquired columns), or
    round(acs_fraction * W) kept inside the acquired columns.

  Raises:
    DatasetError: none are found (reason "invalid").
  """
  if mask is not None:
    num_low = center_run_length(within_padding(mask, padding))
  else:
    num_low = centered_inside(
        masks.num_low_frequencies(width, acs_fraction), width, padding
    )
  if num_low < 1:
    raise errors.file_error(
        path,
        "has no fully sampled center columns for the sensitivity maps"
        f" (acquired columns {list(padding)} of {width}).",
        "check the file's mask or raise acs_fraction.",
    )
  return num_low


def _crop(array: np.ndarray, recon: tuple | None, size: tuple) -> np.ndarray:
  """To the reconSpace matrix (when known), then to size x size."""
  if recon is not None:
    array = files.center_crop_or_pad(array, recon)
  return files.center_crop_or_pad(array, size)


def slice_example(
    kspace: np.ndarray,
    challenge: str,
    crop_size: int,
    num_low_frequencies: int = 0,
    recon_crop: tuple[int, int] | None = None,
) -> dict[str, np.ndarray]:
  """Image-domain features of one slice.

  Args:
    kspace: single-coil (H, W) or multi-coil (C, H, W) complex k-space.
    challenge: "singlecoil" | "multicoil".
    crop_size: S.
    num_low_frequencies: ACS columns for the maps (multi-coil only).
    recon_crop: the reconSpace (rows, columns) the images are cropped to
      first (`Volume.recon_crop`; removes readout oversampling), or None.

  Returns:
    dict with magnitude, phase (S, S) float32, kspace (C, S, S) complex64,
    and for multi-coil sens (C, S, S) complex64.
  """
  size = (crop_size, crop_size)
  if challenge == "singlecoil":
    image = _crop(np.asarray(fft.ifft2c(kspace)), recon_crop, size)
    coil_images = image[None]
    out = {}
  else:
    image, sens, coil_images = coil_combine(kspace, num_low_frequencies)
    image = _crop(image, recon_crop, size)
    coil_images = _crop(coil_images, recon_crop, size)
    out = {"sens": _crop(sens, recon_crop, size)}
  out.update(
      magnitude=np.abs(image).astype(np.float32),
      phase=np.asarray(phase.wrap_phase(np.angle(image))),
      kspace=np.asarray(fft.fft2c(coil_images), np.complex64),
  )
  return out
