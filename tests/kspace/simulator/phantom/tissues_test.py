"""Tests of kspace.simulator.phantom.tissues: classes and their properties."""

import numpy as np
import pytest

from kspace.simulator.phantom import tissues


def test_one_name_and_one_tissue_per_label():
  assert len(tissues.LABEL_NAMES) == len(tissues.TISSUES)
  assert len(tissues.TISSUES) == tissues.NUM_CLASSES
  assert tissues.LABEL_NAMES[tissues.BACKGROUND] == "background"
  assert tissues.LABEL_NAMES[tissues.MARROW] == "marrow"
  assert tissues.TISSUES[tissues.BACKGROUND].signal == (0.0, 0.0)


def test_class_properties_are_drawn_within_the_tissue_ranges():
  props = tissues.sample_class_properties(np.random.default_rng(0))
  for name in ("signal", "susceptibility_ppm", "fat_fraction"):
    low, high = np.array([getattr(t, name) for t in tissues.TISSUES]).T
    assert props[name].shape == (tissues.NUM_CLASSES,)
    assert np.all(low <= props[name]) and np.all(props[name] <= high)
  with pytest.raises(ValueError, match="one Tissue per label"):
    tissues.sample_class_properties(
        np.random.default_rng(0), tissues.TISSUES[:3]
    )
