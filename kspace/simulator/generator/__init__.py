"""The generator: procedural complex MR images with anatomy-dependent phase.

One example (`example_pipeline.generate_example`) is a short pipeline of
pure stages (docs/design.md, "Phase: what realistic means"), one module each:

  1-2. `subject`: tissue labels of a random brain, knee or body
     cross-section (`kspace.simulator.phantom`), and its tissue maps
     (signal with texture and receive bias, susceptibility, fat fraction);
  3. `scan_draws`: one scan of that slice: B0 strength and direction (from
     the anatomy's slice orientation), gradient or spin echo and its times,
     fat's displacement along the readout, a smooth background phase, blur
     and noise;
  4-6. `image_formation`: the field map and fat's chemical-shift phase, the
     noiseless image (water in place, fat displaced), then blur and complex
     noise, scaled to max magnitude 1;
  7. `example_features`: magnitude, wrapped phase and the scan parameters a
     DICOM header would hold (plus optional coil maps and, for analysis,
     the phase components).

Randomness: the example's Generator is split into independent streams
(anatomy, tissue, scan, hidden, noise, coils), so e.g. adding coil maps
leaves magnitude and phase unchanged. The scan stream draws what shapes the
magnitude, the hidden stream what the magnitude does not reveal, the noise
stream blur and noise (`scan_draws`). A rescan (`generate_example`'s
`acquisition_seed`) redraws some of them (`rescans`: oracle-B
"acquisition", oracle-A "hidden", and oracle-A with all that the magnitude
and header do not show redrawn, "unrevealed").
`example_seeds.example_rng(seed, split, index)` seeds a dataset's
examples, so an example never depends on which others were generated or in
what order.

The physical ranges are the fields of `synthetic_params.SyntheticParams`;
the tissue table is `phantom.tissues.TISSUES`; the `sequence` values are
`kspace.simulator.sequences`.

Re-exported for users outside `kspace.simulator` and `kspace.datasets`
that import this package (`score_phase.scan_params`, `launch.demo_registry`,
`benchmarks/phase_oracle.py`, and tests): `generate_example`, `example_rng`,
`GRADIENT_ECHO`, `SPIN_ECHO`.
"""

from kspace.simulator.generator.example_pipeline import generate_example
from kspace.simulator.generator.example_seeds import example_rng
from kspace.simulator.sequences import GRADIENT_ECHO
from kspace.simulator.sequences import SPIN_ECHO
