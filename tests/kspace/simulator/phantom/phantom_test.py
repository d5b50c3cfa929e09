"""Tests of the kspace.simulator.phantom package: the tissue-class labels it
keeps for users outside the simulator.

Each module has its own tests (tissues_test, coordinates_test, blobs_test,
brain_test, knee_test, body_test, cross_sections_test, texture_noise_test).
"""

from kspace.simulator import phantom
from kspace.simulator.phantom import tissues


def test_phantom_keeps_the_labels_outside_users_read():
  for name in ("BACKGROUND", "FAT", "MUSCLE", "BONE", "MARROW"):
    assert getattr(phantom, name) == getattr(tissues, name)
  assert phantom.LABEL_NAMES is tissues.LABEL_NAMES
