"""setup.py: what `pip install -e .` pulls in is free of GPL code, and the
GPL JPEG decoder stays an extra that the test extra (so the suite) has."""

import ast
import importlib.metadata
import pathlib
import re

from packaging.requirements import Requirement

ROOT = pathlib.Path(__file__).parents[1]
GPL_DECODER = "pylibjpeg-libjpeg"


def _setup_keywords() -> dict:
  """setup()'s literal keywords (install_requires, extras_require, license)
  as setup.py spells them: the source, so stale installed metadata cannot
  hide a change."""
  tree = ast.parse((ROOT / "setup.py").read_text())
  for node in ast.walk(tree):
    if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "setup":
      keywords = {}
      for keyword in node.keywords:
        try:
          keywords[keyword.arg] = ast.literal_eval(keyword.value)
        except ValueError:  # computed, e.g. packages=find_packages(...)
          pass
      return keywords
  raise AssertionError("setup.py has no setuptools.setup(...) call")


def _name(requirement: str) -> str:
  return re.sub(r"[-_.]+", "-", Requirement(requirement).name).lower()


def _licences(name: str) -> list[str]:
  """What the installed distribution says its licence is: the SPDX
  License-Expression, the License :: classifiers and the first line of the
  License field (some put the whole text there, naming what they bundle)."""
  metadata = importlib.metadata.metadata(name)
  found = [metadata.get("License-Expression") or ""]
  found += [
      c for c in metadata.get_all("Classifier") or [] if c.startswith("License")
  ]
  found += (metadata.get("License") or "").strip().splitlines()[:1]
  return [text for text in found if text]


def _is_gpl(licence: str) -> bool:
  """GPL or AGPL, any version; the LGPL's library exception is allowed."""
  return bool(
      re.search(r"(?<![L])\bA?GPL|(?<!Lesser )General Public License", licence)
  )


def _closure(requirements: list[str]) -> dict[str, list[str]]:
  """Every distribution `requirements` install, with the requirements' own
  (extra-free, marker-true) requirements: name -> its licences."""
  found, todo = {}, list(requirements)
  while todo:
    requirement = Requirement(todo.pop())
    name = _name(str(requirement))
    if name in found:
      continue
    if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
      continue
    try:
      found[name] = _licences(name)
    except importlib.metadata.PackageNotFoundError as e:
      raise AssertionError(
          f"{name} is not installed, so its licence cannot be checked. Fix:"
          ' pip install -e ".[test]"'
      ) from e
    for sub in importlib.metadata.requires(name) or []:
      markers = Requirement(sub).marker
      extras = requirement.extras | {""}
      if markers is None or any(markers.evaluate({"extra": e}) for e in extras):
        todo.append(sub)
  return found


def test_the_licence_check_sees_gpl():
  assert _is_gpl("GPL V3.0")
  assert _is_gpl("License :: OSI Approved :: GNU General Public License v3")
  assert _is_gpl("AGPL-3.0-only")
  assert not _is_gpl("LGPL-2.1-or-later")
  assert not _is_gpl("License :: OSI Approved :: GNU Lesser General Public")
  assert not _is_gpl("MIT-CMU") and not _is_gpl("Apache-2.0")
  # The decoder the test extra installs is seen for what it is.
  assert any(_is_gpl(licence) for licence in _licences(GPL_DECODER))


def test_the_main_install_has_no_gpl_dependency():
  keywords = _setup_keywords()
  assert keywords["license"] == "Apache-2.0"
  assert (
      (ROOT / "LICENSE")
      .read_text()
      .startswith("Copyright 2026 The phasesynth authors")
  )
  closure = _closure(keywords["install_requires"])
  assert {"pydicom", "pylibjpeg-openjpeg", "pylibjpeg-rle"} <= set(closure)
  gpl = {
      name: licences
      for name, licences in closure.items()
      if any(_is_gpl(licence) for licence in licences)
  }
  assert not gpl, (
      f"pip install -e . would install GPL code: {gpl}. Fix: move it to an"
      " extra (as pylibjpeg-libjpeg is in extras_require['jpeg'])."
  )


def test_the_gpl_decoder_is_an_extra_the_test_suite_installs():
  keywords = _setup_keywords()
  jpeg = keywords["extras_require"]["jpeg"]
  assert [_name(r) for r in jpeg] == [GPL_DECODER]
  assert set(jpeg) <= set(keywords["extras_require"]["test"])
  installed = importlib.metadata.requires("phasesynth") or []
  assert any(
      _name(r) == GPL_DECODER and 'extra == "jpeg"' in r for r in installed
  ), 'the installed metadata is stale. Fix: pip install -e ".[test]"'
