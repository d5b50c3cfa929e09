"""One generic name -> object catalog, shared by every pluggable family.

(Called a catalog, not a registry: in this project a registry is the
user's folder of magnitude images, `kspace.datasets.magnitude_registry`.)

SDEs, score models, predictors, correctors, samplers, phase sources, recon
models and recon losses are all looked up by a config string; each family
is a `Catalog` instance, so the registration code exists once (rather than
once per family).
"""

from collections.abc import Callable
from typing import Generic, TypeVar

from kspace.common import config_errors

T = TypeVar("T")


class Catalog(Generic[T]):
  """A named collection of objects filled with the `register` decorator.

  Example:
    PREDICTORS = Catalog("predictor")

    @PREDICTORS.register("euler_maruyama")
    def euler_maruyama_predictor(...): ...

    factory = PREDICTORS.get(config.sampling.predictor)
  """

  def __init__(self, kind: str):
    self.kind = kind
    self._entries: dict[str, T] = {}

  def register(self, name: str) -> Callable[[T], T]:
    """Decorator adding the decorated object under `name`."""

    def decorator(obj: T) -> T:
      if name in self._entries:
        raise ValueError(f"Duplicate {self.kind} name {name!r}.")
      self._entries[name] = obj
      return obj

    return decorator

  def get(self, name: str) -> T:
    """The object registered as `name`; a clear error lists the known ones."""
    config_errors.check_choice(self.kind, name, self._entries)
    return self._entries[name]

  def names(self) -> list[str]:
    return sorted(self._entries)

  def __contains__(self, name: str) -> bool:
    return name in self._entries
