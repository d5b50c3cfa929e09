"""configs/export.py: every variant builds from its table and names fields
the exporter reads."""

# pylint: disable=protected-access  (the variants table)

import pytest

from configs import export as export_config
from launch import export_phases


@pytest.mark.parametrize("variant", list(export_config._VARIANTS))
def test_every_variant_builds_with_a_known_phase_source(variant):
  config = export_config.get_config(variant)
  assert config.variant == variant
  assert config.export.phase_source in export_phases.SOURCES
  assert config.export.num_phase_samples >= 1
  assert config.export.process_count == 0


def test_the_variants_differ_as_the_docstring_says():
  quick = export_config.get_config("quicktest")
  assert quick.data.image_size == 32 and quick.data.name == "synthetic_mri"
  assert quick.export.phase_source == "smooth_polynomial"
  # 3 train + 1 validation volumes of 4 slices.
  assert quick.data.num_train // quick.export.slices_per_volume == 3
  assert quick.data.num_val // quick.export.slices_per_volume == 1
  registry = export_config.get_config("registry")
  assert registry.data.name == "magnitude_registry"
  assert registry.export.phase_source == "sbdm_scan"
  assert export_config.get_config(None).variant == "synthetic64"
  with pytest.raises(ValueError, match="Unknown variant 'huge'"):
    export_config.get_config("huge")


def test_a_misspelt_table_entry_fails_at_get_config(monkeypatch):
  monkeypatch.setitem(export_config._VARIANTS, "typo", {"export.num_coil": 3})
  with pytest.raises(ValueError, match="typo: unknown config field"):
    export_config.get_config("typo")
