"""TFDS datasets (array_record, no TensorFlow) and a deterministic loader.

  builder = datasets.build("synthetic_mri", "~/tensorflow_datasets",
                           image_size=64, num_train=32, seed=0)
  source = datasets.data_source(builder, "train")
  for batch in datasets.batches(source, 8, seed=0, start_step=step): ...

`get_builder` constructs a builder without preparing it.

Datasets (each builder module's docstring documents its feature dict):
  * `synthetic_mri`: procedural images with anatomy-dependent phase from
    the simulator (`kspace.simulator`; `generate_example`, `example_rng`,
    `SyntheticParams` and `REDRAWS` are re-exported here).
  * `fastmri`: the official fastMRI .h5 files from manual_dir, read by
    `fastmri_files`.
  * `magnitude_registry`: a folder of DICOM / NIfTI / PNG / TIFF images,
    read by `image_files` and grouped into volumes by `registry_volumes`.
Shared by the file readers: `files` (listing fingerprints, cropping),
`errors` (`DatasetError` naming the file and the fix) and `skipped_files`
(the bad files fastmri and magnitude_registry skip, listed with their
reason in the dataset's manifest.json; the build fails past a fraction).

Complex arrays (coil maps, k-space) are stored as complex64 in raw-bytes
TFDS tensors and read back as complex64 numpy arrays.
"""

from kspace.datasets.builders import build
from kspace.datasets.builders import build_from_config
from kspace.datasets.builders import BUILDERS
from kspace.datasets.builders import get_builder
from kspace.datasets.errors import DatasetError
from kspace.datasets.loader import batch_indices
from kspace.datasets.loader import batches
from kspace.datasets.loader import data_source
from kspace.datasets.loader import DataSource
from kspace.simulator.generator.example_pipeline import generate_example
from kspace.simulator.generator.example_seeds import example_rng
from kspace.simulator.generator.rescans import REDRAWS
from kspace.simulator.generator.synthetic_params import SyntheticParams
