"""NIfTI files (.nii, .nii.gz), read with nibabel.

scl_slope / scl_inter are applied; 2-D images give one slice, 3-D volumes
one slice per index of the LAST axis (voxel axes as stored, not
reoriented); 4-D series one volume at a time (`volume_index`); trailing
singleton axes are dropped (`nifti_shape`).
"""

import nibabel
import numpy as np

from kspace.datasets import errors


def nifti_shape(path: str, shape) -> tuple[int, ...]:
  """The data shape without trailing singleton axes; 2-D to 4-D."""
  shape = tuple(int(s) for s in shape)
  while len(shape) > 2 and shape[-1] == 1:
    shape = shape[:-1]
  if len(shape) not in (2, 3, 4):
    raise errors.file_error(
        path,
        f"has shape {shape}; expected a 2-D image, a 3-D volume or a 4-D"
        " series of volumes.",
        "split it into 3-D files, e.g. with nibabel.funcs.four_to_three.",
        reason="dimensions",
    )
  return shape


def read_nifti(path: str, volume_index: int | None = None) -> np.ndarray:
  """The slices of a NIfTI file (slices along the third axis), scaled.

  Args:
    path: the file.
    volume_index: for a 4-D file, which volume along the fourth axis.

  Returns:
    float64 (N, H, W).

  Raises:
    DatasetError: unreadable, complex, more than 4-D, or 4-D without a
      volume_index.
  """
  try:
    image = nibabel.load(path)
    data = np.asarray(image.dataobj)
    if np.iscomplexobj(data):
      raise errors.file_error(
          path,
          "holds complex values.",
          "save np.abs(data): this registry holds magnitude images.",
          reason="not_magnitude",
      )
    data = np.asarray(image.get_fdata(), np.float64)
  except errors.DatasetError:
    raise
  except Exception as e:  # nibabel raises many types for corrupt files.
    raise errors.file_error(
        path,
        f"is not a readable NIfTI file ({type(e).__name__}: {e}).",
        "re-export it or remove it from the folder.",
        reason="unreadable",
    ) from e
  data = data.reshape(nifti_shape(path, data.shape))
  if data.ndim == 2:
    return data[None]
  if data.ndim == 4:
    if volume_index is None or not 0 <= volume_index < data.shape[3]:
      raise errors.file_error(
          path,
          f"is a 4-D series of shape {data.shape}; volume {volume_index}"
          " was asked for.",
          "choose volumes with the registry's nifti_volumes.",
          reason="dimensions",
      )
    data = data[..., volume_index]
  return np.moveaxis(data, -1, 0)
