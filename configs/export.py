r"""A k-space training set in the fastMRI HDF5 schema (--mode=export_kspace).

  python -m launch.main --mode=export_kspace \
      --config=configs/export.py:quicktest --workdir=runs/export_quicktest

  python -m launch.main --mode=export_kspace \
      --config=configs/export.py:registry --workdir=runs/export_registry \
      --config.data.manual_dir=/path/to/dicoms \
      --config.export.phase_workdir=runs/phase_cpu64

Every magnitude volume of `data` (any `kspace.datasets` source: the
synthetic set, a magnitude registry, fastMRI's magnitudes) gets K phases
from `export.phase_source` and becomes K files
`DIR/<multicoil|singlecoil>_<train|val|test>/<volume>[_p<k>].h5`, which
fastMRI's `SliceDataset`, DIRECT's `FastMRIDataset` and our `fastmri`
builder read unchanged (`launch.export_kspace`).

Variants (`:variant`):
  quicktest    32x32 synthetic set, 3 train + 1 val volumes of 4 slices,
               smooth_polynomial phase, 2 draws, 4 coils (seconds on a CPU;
               the ecosystem check benchmarks/ecosystem_export.py reads it).
  synthetic64  64x64 synthetic set, 400 + 80 slices in volumes of 8, its
               ground-truth phase, 8 coils (a reference set; name a model
               with --config.export.phase_source=sbdm and phase_workdir).
  registry     your magnitude registry (data.manual_dir) at 64x64, phase
               from the header-aware SBDM of export.phase_workdir (a
               --mode=train_phase run at 64x64, e.g. phase_sbdm.py:cpu64),
               K = 4 draws, 8 coils.
"""

import ml_collections
from ml_collections import config_dict

from configs import base

# Per variant, the fields it changes from the base config (synthetic64).
_VARIANTS = {
    "quicktest": {
        "data.image_size": 32,
        "data.num_train": 12,
        "data.num_val": 4,
        "data.num_test": 0,
        "data.seed": 11,
        "export.phase_source": "smooth_polynomial",
        "export.num_phase_samples": 2,
        "export.num_coils": 4,
        "export.slices_per_volume": 4,
        "export.batch_size": 4,
    },
    "synthetic64": {},
    "registry": {
        "data.name": "magnitude_registry",
        "export.phase_source": "sbdm_scan",
        "export.num_phase_samples": 4,
    },
}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The config of `arg` (see the module docstring)."""
  arg = base.parse_arg(arg, variant="synthetic64")
  fields = base.variant_fields(_VARIANTS, arg.variant)
  config = _base_config()
  config.variant = arg.variant
  base.override(config, fields, f"export.py:{arg.variant}")
  return config


def _base_config() -> ml_collections.ConfigDict:
  """The synthetic64 config; every variant changes some of its fields."""
  config = ml_collections.ConfigDict()
  # The variant this config was built from (see the module docstring).
  config.variant = "synthetic64"
  # Seed of the phase draws, coil rotations and noise (each volume's come
  # from this and the volume's name alone).
  config.seed = 0

  config.data = data = base.get_data_config(image_size=64)
  data.num_train = 400
  data.num_val = 80
  data.num_test = 0
  # A seed no phase model trained on (its train split is exported).
  data.seed = 7

  config.export = export = ml_collections.ConfigDict()
  # Where the phase comes from: "sbdm" (the train_phase run in
  # phase_workdir, told no scan parameters), "sbdm_scan" (a
  # scan-conditioned one told each record's header fields), "gan" (a
  # train_gan run), "ground_truth" (the records' own phase: synthetic,
  # fastMRI), "oracle" (synthetic only: the anatomy rescanned), or a
  # baseline ("zero", "uniform", "gaussian", "smooth_kspace_box",
  # "smooth_polynomial").
  export.phase_source = "ground_truth"
  # The trained phase model's --workdir (sbdm, sbdm_scan, gan).
  export.phase_workdir = ""
  # Keyword arguments of the source: a baseline's (e.g. {"std": 0.5}), or
  # the SBDM sampler's (sampler_name, num_steps, ...).
  export.phase_kwargs = ml_collections.ConfigDict()
  # Phase draws K per volume: one file each, <volume>_p<k>.h5 (K = 1:
  # <volume>.h5).
  export.num_phase_samples = 1
  # Receive coils of the birdcage array (a random rotation per volume);
  # 1 writes single-coil files.
  export.num_coils = 8
  # Birdcage coil distance from the center, half-FOV units (> sqrt(2)).
  export.coil_radius = 1.5
  # k-space SNR in dB of the added noise; None = noiseless.
  export.snr_db = config_dict.placeholder(float)
  # Splits to export ("train,validation,test" names); "" = every split the
  # dataset has.
  export.splits = ""
  # Slices per volume for records that name no volume (the synthetic set).
  export.slices_per_volume = 8
  # Slices per phase-model call (the last chunk of a volume is padded to
  # it, so one compiled sampler serves every volume).
  export.batch_size = 16
  # Salt of the files' patient_id (a hash of the volume's name); set one
  # when volume names identify patients. It is not written anywhere.
  export.patient_id_salt = ""
  # Header field of view where the records carry no pixel spacing (the
  # synthetic set, PNG files): mm per pixel, and the slice thickness.
  export.pixel_spacing_mm = 1.0
  export.slice_thickness_mm = 5.0
  # Disjoint shares of a multi-process export: process_index of
  # process_count (0: jax.process_index() / jax.process_count()). Each
  # process writes every process_count-th volume.
  export.process_index = 0
  export.process_count = 0
  return config
