r"""An exported k-space set read, unchanged, by fastMRI's and DIRECT's code.

Not a speed benchmark: a check that `--mode=export_kspace` files are the
fastMRI schema the PyTorch ecosystem reads. On the exported folder (by
default a fresh `configs/export.py:quicktest` export) it

  1. loads every split with `fastmri.data.SliceDataset` and both of
     fastMRI's transforms, `VarNetDataTransform` and `UnetDataTransform`
     (4x random masks), and checks the shapes, the acquired-column range
     the header gives (all columns), the target and `max`;
  2. loads the same files with DIRECT's `FastMRIDataset` and its standard
     supervised transforms (`build_mri_transforms`), when DIRECT is
     installed, and checks its k-space is the file's;
  3. runs one training step of fastMRI's `VarNet` (SSIM loss, Adam) on a
     batch of the set and checks the loss is finite and the weights moved.

Benchmark-only dependencies (NOT project dependencies):
  pip install torch==2.13.0          # the CPU build; other specs pull CUDA
  pip install --no-deps fastmri      # fastmri 0.3.0; it imports pandas
  pip install pandas
DIRECT (NKI-AI/direct 2.1.0) is not on PyPI (the PyPI `direct` is another
project): from its source tree,
  pip install cython omegaconf scikit-learn
  pip install --no-deps --no-build-isolation <direct source folder>
(its pinned h5py==3.11 / protobuf==3.20 are not needed to read files).

  python benchmarks/ecosystem_export.py                      # fresh export
  python benchmarks/ecosystem_export.py --export=runs/export_quicktest
"""

import argparse
import pathlib
import sys
import tempfile

import h5py
import numpy as np

# Run as a script from the repository root.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

# pylint: disable=g-import-not-at-top
from configs import export as export_config
from kspace.export import manifest as manifest_lib

# pylint: enable=g-import-not-at-top

ACCELERATION = 4
CENTER_FRACTION = 0.08


def _export(workdir: pathlib.Path, data_dir: pathlib.Path) -> None:
  """The quicktest export, in this process."""
  from launch import export_kspace  # pylint: disable=g-import-not-at-top

  config = export_config.get_config("quicktest")
  config.data.data_dir = str(data_dir)
  export_kspace.export(config, str(workdir))


def _folders(root: pathlib.Path) -> list[pathlib.Path]:
  folders = sorted(p for p in root.iterdir() if p.is_dir())
  if not folders:
    raise SystemExit(f"{root} holds no <challenge>_<split> folders.")
  return folders


def check_fastmri_datasets(folder: pathlib.Path) -> None:
  """SliceDataset with VarNetDataTransform and UnetDataTransform."""
  import torch  # pylint: disable=g-import-not-at-top
  from fastmri.data import SliceDataset  # pylint: disable=g-import-not-at-top
  from fastmri.data import subsample  # pylint: disable=g-import-not-at-top
  from fastmri.data import transforms  # pylint: disable=g-import-not-at-top

  challenge = folder.name.split("_")[0]
  mask_func = subsample.RandomMaskFunc([CENTER_FRACTION], [ACCELERATION])
  raw = SliceDataset(folder, challenge)
  files = sorted(folder.glob("*.h5"))
  slices = 0
  for path in files:
    with h5py.File(path, "r") as f:
      slices += f["kspace"].shape[0]
      kspace_shape = f["kspace"].shape
      max_value = float(f.attrs["max"])
  assert len(raw) == slices, (len(raw), slices)
  kspace, mask, target, attrs, fname, _ = raw[len(raw) - 1]
  assert mask is None, "exported training files carry no mask"
  width = kspace.shape[-1]
  assert (attrs["padding_left"], attrs["padding_right"]) == (0, width), attrs
  assert tuple(attrs["recon_size"][:2]) == target.shape, attrs
  assert kspace.shape == kspace_shape[1:] and kspace.dtype == np.complex64
  assert fname == files[-1].name and attrs["max"] == max_value

  varnet = SliceDataset(
      folder, challenge, transform=transforms.VarNetDataTransform(mask_func)
  )
  sample = varnet[0]
  coils = 1 if challenge == "singlecoil" else kspace_shape[1]
  height = kspace_shape[-2]
  expected = ((coils,) if challenge == "multicoil" else ()) + (height, width, 2)
  assert (
      tuple(sample.masked_kspace.shape) == expected
  ), sample.masked_kspace.shape
  sampled = int(sample.mask.sum())
  assert (
      width / ACCELERATION - 2 <= sampled <= width / ACCELERATION + 4
  ), sampled
  assert sample.num_low_frequencies == round(width * CENTER_FRACTION)
  assert tuple(sample.target.shape) == sample.crop_size == (height, width)

  unet = SliceDataset(
      folder,
      challenge,
      transform=transforms.UnetDataTransform(challenge, mask_func=mask_func),
  )
  image = unet[0]
  assert tuple(image.image.shape) == (height, width)
  assert (
      torch.isfinite(image.image).all() and torch.isfinite(image.target).all()
  )
  # Normalised by the zero-filled image's mean and std (fastMRI's recipe).
  assert abs(float(image.image.mean())) < 1e-3
  print(
      f"  fastMRI SliceDataset {folder.name}: {len(raw)} slices of {len(files)}"
      f" files; VarNet sample k-space {tuple(sample.masked_kspace.shape)},"
      f" {sampled}/{width} columns; U-Net sample {tuple(image.image.shape)}"
  )


def check_direct_dataset(folder: pathlib.Path) -> bool:
  """DIRECT's FastMRIDataset and supervised transforms (False: no DIRECT)."""
  try:
    # pylint: disable=g-import-not-at-top
    from direct.common import subsample as direct_subsample
    from direct.data import mri_transforms
    from direct.data import transforms as direct_transforms
    from direct.data.datasets import FastMRIDataset
    # pylint: enable=g-import-not-at-top
  except ImportError as e:
    print(f"  DIRECT not installed ({e}); skipped.")
    return False
  import torch  # pylint: disable=g-import-not-at-top

  raw = FastMRIDataset(folder, transform=None)
  sample = raw[0]
  with h5py.File(sample["filename"], "r") as f:
    kspace = f["kspace"][sample["slice_no"]]
    max_value = float(f.attrs["max"])
  # (DIRECT gives single-coil slices a coil axis of 1.)
  np.testing.assert_array_equal(sample["kspace"].reshape(kspace.shape), kspace)
  assert (sample["padding_left"], sample["padding_right"]) == (
      0,
      kspace.shape[-1],
  )
  assert sample["scaling_factor"] == max_value
  transform = mri_transforms.build_mri_transforms(
      forward_operator=direct_transforms.fft2,
      backward_operator=direct_transforms.ifft2,
      mask_func=direct_subsample.FastMRIRandomMaskFunc(
          accelerations=[ACCELERATION], center_fractions=[CENTER_FRACTION]
      ),
  )
  dataset = FastMRIDataset(folder, transform=transform)
  out = dataset[0]
  for key in ("masked_kspace", "sampling_mask", "target", "sensitivity_map"):
    assert key in out, sorted(out)
    assert torch.isfinite(out[key].float()).all(), key
  print(
      f"  DIRECT FastMRIDataset {folder.name}: {len(raw)} slices;"
      f" transformed masked_kspace {tuple(out['masked_kspace'].shape)},"
      f" target {tuple(out['target'].shape)}"
  )
  return True


def varnet_training_step(folder: pathlib.Path) -> None:
  """One Adam step of fastMRI's VarNet with its SSIM loss on a slice."""
  import torch  # pylint: disable=g-import-not-at-top
  import fastmri  # pylint: disable=g-import-not-at-top
  from fastmri.data import SliceDataset  # pylint: disable=g-import-not-at-top
  from fastmri.data import subsample  # pylint: disable=g-import-not-at-top
  from fastmri.data import transforms  # pylint: disable=g-import-not-at-top
  from fastmri.models import VarNet  # pylint: disable=g-import-not-at-top

  torch.manual_seed(0)
  challenge = folder.name.split("_")[0]
  dataset = SliceDataset(
      folder,
      challenge,
      transform=transforms.VarNetDataTransform(
          subsample.RandomMaskFunc([CENTER_FRACTION], [ACCELERATION]),
          use_seed=True,
      ),
  )
  # fastMRI trains its VarNet at batch size 1 (its ACS count is a scalar).
  loader = torch.utils.data.DataLoader(dataset, batch_size=1, shuffle=False)
  batch = next(iter(loader))
  model = VarNet(num_cascades=2, sens_chans=4, sens_pools=2, chans=4, pools=2)
  optimizer = torch.optim.Adam(model.parameters(), lr=3e-4)
  before = [p.detach().clone() for p in model.parameters()]
  masked_kspace = batch.masked_kspace
  if challenge == "singlecoil":
    masked_kspace = masked_kspace.unsqueeze(1)
  output = model(masked_kspace, batch.mask, batch.num_low_frequencies)
  output = transforms.center_crop(output, batch.target.shape[-2:])
  loss = fastmri.SSIMLoss()(
      output.unsqueeze(1), batch.target.unsqueeze(1), data_range=batch.max_value
  )
  optimizer.zero_grad()
  loss.backward()
  optimizer.step()
  moved = sum(
      float((p.detach() - b).abs().max()) > 0
      for p, b in zip(model.parameters(), before)
  )
  assert torch.isfinite(loss), loss
  assert moved > 0
  print(
      f"  fastMRI VarNet step on {folder.name}: batch"
      f" {tuple(masked_kspace.shape)}, SSIM loss {float(loss.detach()):.4f},"
      f" {moved} of {len(before)} parameter tensors updated"
  )


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument(
      "--export",
      default="",
      help="an --mode=export_kspace folder (default: a fresh quicktest export)",
  )
  args = parser.parse_args()
  if args.export:
    root = pathlib.Path(args.export)
  else:
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="ecosystem_export_"))
    root = scratch / "export"
    _export(root, scratch / "tfds")
  manifest = manifest_lib.read(root / manifest_lib.NAME)
  if manifest is None:
    raise SystemExit(f"{root} has no export manifest.json.")
  print(
      f"Export {root}: {manifest['num_written']} of {manifest['num_files']}"
      f" files, phase {manifest['key']['export']['phase_source']}"
  )
  direct = False
  for folder in _folders(root):
    check_fastmri_datasets(folder)
    direct = check_direct_dataset(folder) or direct
  varnet_training_step(_folders(root)[0])
  print(
      "ecosystem check: ok (fastMRI SliceDataset + VarNet/Unet transforms,"
      f" {'DIRECT FastMRIDataset, ' if direct else ''}one VarNet step)"
  )


if __name__ == "__main__":
  main()
