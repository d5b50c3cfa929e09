"""phasesynth: train accelerated-MRI reconstruction from magnitude-only images."""

import setuptools

setuptools.setup(
    name="phasesynth",
    version="0.1.0",
    description=(
        "Conditional score-based phase synthesis for training accelerated-MRI"
        " reconstruction networks from magnitude-only images."
    ),
    license="Apache-2.0",
    license_files=["LICENSE"],
    python_requires=">=3.10",
    packages=setuptools.find_packages(
        include=[
            "kspace",
            "kspace.*",
            "runtime",
            "runtime.*",
            "score_phase",
            "score_phase.*",
            "recon",
            "recon.*",
            "configs",
            "configs.*",
            "launch",
            "launch.*",
        ]
    ),
    # The shipped phase models (score_phase.sbdm.pretrained), a few MB each.
    package_data={"score_phase.sbdm": ["weights/*.npz"]},
    install_requires=[
        "jax>=0.8",
        "flax>=0.12",
        "optax>=0.2.5",
        "orbax-checkpoint>=0.11",
        "numpy>=1.26",
        "tensorflow-datasets>=4.9.9",
        "array_record>=0.7",
        "grain>=0.2.12",
        "ml-collections>=1.0",
        "absl-py>=2.1",
        "etils[epath]",
        "tensorboardX>=2.6",
        "tqdm>=4.66",
        "matplotlib>=3.8",
        "h5py>=3.10",
        "pydicom>=3.0",
        "nibabel>=5.2",
        "pillow>=10",
        # Compressed DICOM, as PACS exports are, without GPL code: JPEG 2000
        # (openjpeg, MIT), RLE (rle, MIT), 8-bit JPEG baseline / extended
        # (Pillow). JPEG lossless, JPEG-LS and 12-bit JPEG need the `jpeg`
        # extra below; uncompressed needs none.
        "pylibjpeg>=2.0",
        "pylibjpeg-openjpeg>=2.3",
        "pylibjpeg-rle>=2.0",
        # recon.metrics (Student-t intervals), recon.hallucination (labels).
        "scipy>=1.12",
    ],
    extras_require={
        # JPEG lossless (the most common lossless PACS compression), JPEG-LS
        # and 12-bit JPEG baseline / extended DICOM: libjpeg is GPL-3.0, so
        # it is opt-in (pip install -e ".[jpeg]"); without it such a file is
        # skipped with the reason "missing_decoder", naming this extra.
        "jpeg": ["pylibjpeg-libjpeg>=2.1"],
        # benchmarks/ecosystem_export.py and the torch benchmarks: torch's
        # CPU build (2.13.0 lies on this machine's disk; another version
        # pulls a CUDA build of several GB) and what fastMRI imports; then
        # `pip install --no-deps fastmri==0.3.0` (its pins pull Lightning).
        "ecosystem": ["torch==2.13.0", "pandas>=2.0"],
        "test": [
            "pytest>=8",
            # Both cores for the suite (pytest.ini: -n 2).
            "pytest-xdist>=3.5",
            "scikit-image>=0.24",
            # Independent encoders for the compressed-DICOM tests.
            "imagecodecs>=2024.1",
            # The `jpeg` extra, so that the suite decodes every JPEG kind
            # (tests/setup_test.py checks the two lists agree).
            "pylibjpeg-libjpeg>=2.1",
        ],
    },
)
