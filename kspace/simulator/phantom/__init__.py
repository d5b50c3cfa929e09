"""Procedural tissue-class anatomy: the simulator's cross-sections.

A cross-section is painted from back to front with smooth random blobs
(`blobs`: ellipses whose boundary radius is perturbed by a few angular
harmonics): concentric level sets of one blob give rings such as
subcutaneous fat, skull and cortex. Three anatomies are drawn, each varying
per example in size, shape, position and the presence of structures:

  * "brain" (`brain`): axial head (scalp fat, skull with diploe marrow, CSF,
    cortex, folded white matter, ventricles, deep gray nuclei, veins, sinus
    air);
  * "knee" (`knee`): axial knee (subcutaneous fat, muscle bellies, femur and
    patella with cortical bone and fatty marrow, cartilage, joint fluid,
    popliteal vessels);
  * "body" (`body`): axial abdomen (subcutaneous fat, muscle wall, visceral
    fat, liver, spleen, kidneys, vertebra, paraspinal muscles, aorta/IVC,
    bowel with gas).

Modules:
  * `tissues`: the tissue classes (the `labels` values, `LABEL_NAMES`) and
    their per-class physical properties (signal, susceptibility, fat
    fraction, texture: `TISSUES`), sampled once per example by
    `sample_class_properties`;
  * `coordinates`: the normalised coordinates (`normalized_grid`): the
    shorter image side spans [-1, 1), y grows downwards (anterior is at the
    top), x to the right; the geometry constants inside the anatomy
    drawings are anatomical proportions in these units, each commented
    where it is drawn;
  * `blobs`: `Blob`, `random_blob` and the painting primitives;
  * `brain`, `knee`, `body`: one drawing each;
  * `cross_sections`: `ANATOMIES` and `draw_anatomy`, one randomly placed
    cross-section of a named anatomy;
  * `texture_noise`: `smooth_noise`, the smooth random texture.

The tissue-class labels below are re-exported for users outside the
simulator that read labels by name (`score_phase.scoring.distributions`,
`launch.experiment`, `configs.experiment`, `tests/score_phase/scoring/sampler_scores_test.py`).
"""

from kspace.simulator.phantom.tissues import BACKGROUND
from kspace.simulator.phantom.tissues import BONE
from kspace.simulator.phantom.tissues import FAT
from kspace.simulator.phantom.tissues import LABEL_NAMES
from kspace.simulator.phantom.tissues import MARROW
from kspace.simulator.phantom.tissues import MUSCLE
