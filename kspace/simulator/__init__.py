"""The MR simulator: procedural anatomy, acquisition physics, the generator.

Layer 2 (docs/design.md, "Layers"): it imports only `kspace` physics (coils,
`kspace.common.phase.wrap_phase`) and numpy; the TFDS builder
`kspace.datasets.synthetic_mri` stores its output.

  * `sequences`: the `sequence` values (`GRADIENT_ECHO`, `SPIN_ECHO`), at
    the bottom so that dataset readers map headers onto them without the
    generator;
  * `phantom`: tissue-class anatomy (brain, knee, body) and per-class
    properties (`phantom.tissues.TISSUES`);
  * `physics`: dipole field map, B0 direction per slice orientation,
    chemical shift, fat's Fourier shift, background phase, receive bias,
    point spread;
  * `generator`: `SyntheticParams` and `generate_example`, a pipeline of
    small pure stages; `example_rng` seeds a dataset's examples; what a
    rescan redraws (`REDRAWS`: oracle-B "acquisition", oracle-A "hidden",
    and oracle-A with all that the magnitude and header do not show
    redrawn, "unrevealed").
"""

from kspace.simulator.generator.example_pipeline import generate_example
from kspace.simulator.generator.example_seeds import example_rng
from kspace.simulator.generator.rescans import REDRAWS
from kspace.simulator.generator.synthetic_params import DEFAULT_PARAMS
from kspace.simulator.generator.synthetic_params import SyntheticParams
from kspace.simulator.sequences import GRADIENT_ECHO
from kspace.simulator.sequences import SPIN_ECHO
