"""The layers of the README's Layout table, read from the source: every
package imports only its own layer or a lower one, and no module imports
itself through others (no import circle)."""

import ast
import pathlib

ROOT = pathlib.Path(__file__).parents[1]
# Longest prefix first; configs stands beside the layers (only launch, the
# top, reads it as a library).
LAYERS = {
    "kspace.common": 1,
    "kspace.simulator": 2,
    "kspace.datasets": 2,
    "kspace.export": 2,
    "kspace": 1,
    "runtime": 3,
    "score_phase": 4,
    "recon": 4,
    "launch": 5,
    "configs": 0,
}
PACKAGES = ("kspace", "runtime", "score_phase", "recon", "launch", "configs")


def _module_name(path: pathlib.Path) -> str:
  parts = path.relative_to(ROOT).with_suffix("").parts
  return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
  """module -> the project modules it imports at its top level."""
  modules = {
      _module_name(path): path
      for package in PACKAGES
      for path in (ROOT / package).rglob("*.py")
  }
  graph = {}
  for name, path in modules.items():
    targets = set()
    for node in ast.parse(path.read_text()).body:
      if isinstance(node, ast.Import):
        targets |= {alias.name for alias in node.names}
      elif isinstance(node, ast.ImportFrom) and node.module:
        for alias in node.names:
          full = f"{node.module}.{alias.name}"
          targets.add(full if full in modules else node.module)
    graph[name] = {t for t in targets if t in modules}
  return graph


def _layer(module: str) -> tuple[str, int]:
  for prefix, layer in LAYERS.items():
    if module == prefix or module.startswith(prefix + "."):
      return prefix, layer
  raise AssertionError(f"{module} is in no layer")


def test_every_import_goes_to_the_same_or_a_lower_layer():
  wrong = []
  for module, targets in _imports().items():
    prefix, layer = _layer(module)
    for target in targets:
      target_prefix, target_layer = _layer(target)
      if target_layer > layer or (
          prefix == "recon" and target_prefix == "score_phase"
      ):
        wrong.append(f"{module} -> {target}")
      if prefix == "configs" and target_prefix != "configs":
        wrong.append(f"{module} -> {target}")
  assert not wrong, wrong


def test_no_import_circle():
  graph = _imports()
  done, path = set(), []

  def visit(module):
    if module in path:
      raise AssertionError(" -> ".join(path[path.index(module) :] + [module]))
    if module in done:
      return
    path.append(module)
    for target in sorted(graph[module]):
      visit(target)
    path.pop()
    done.add(module)

  for module in sorted(graph):
    visit(module)


def test_the_checks_see_a_circle_and_a_layer_violation():
  # The two checks above would pass on an empty graph: make sure they read
  # real imports (the experiment pipeline imports its stages, which import
  # the SBDM trainer).
  graph = _imports()
  assert "launch.experiment.stages" in graph["launch.experiment.pipeline"]
  assert "score_phase.sbdm.trainer" in graph["launch.experiment.stages"]
  assert _layer("score_phase.sbdm.trainer")[1] > _layer("runtime.stats")[1]


def _layout_rows() -> dict[str, str]:
  """The README Layout table: package folder -> its row's text."""
  text = (ROOT / "README.md").read_text()
  section = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
  rows = {}
  for line in section.splitlines():
    cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
    if len(cells) == 3 and cells[1].startswith("`") and cells[1].endswith("/`"):
      rows[cells[1].strip("`")] = cells[2]
  return rows


def test_the_readme_layout_names_every_module_of_every_package():
  rows = _layout_rows()
  assert {"kspace/", "score_phase/sbdm/", "launch/experiment/"} <= set(rows)
  missing = []
  for folder, text in rows.items():
    directory = ROOT / folder
    if not (directory / "__init__.py").exists():
      continue
    for path in sorted(directory.iterdir()):
      if path.name.startswith(("_", ".")):
        continue
      if path.suffix == ".py":
        name = path.stem
      elif (path / "__init__.py").exists():
        name = f"{path.name}/"
        if f"{folder}{name}" in rows:
          continue  # It has a row of its own.
      else:
        continue
      spellings = {f"`{name}`", f"`{name.rstrip('/')}`", f"`{name}.py`"}
      if not any(spelling in text for spelling in spellings):
        missing.append(f"{folder}{name}")
  assert not missing, f"Not in the README Layout table: {missing}"
