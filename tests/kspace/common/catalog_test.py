"""kspace.common.catalog: name -> object lookup for every pluggable family."""

import pytest

from kspace.common import config_errors
from kspace.common import catalog


def test_register_get_and_clear_errors():
  things = catalog.Catalog("thing")

  @things.register("b")
  def make_b():
    return "b"

  things.register("a")(int)
  assert things.get("b") is make_b and things.names() == ["a", "b"]
  assert "a" in things and "c" not in things
  with pytest.raises(
      config_errors.ConfigError,
      match=r"Unknown thing 'c'. Fix: use one of \['a', 'b'\]",
  ):
    things.get("c")
  with pytest.raises(ValueError, match="Duplicate thing name 'a'"):
    things.register("a")(str)
