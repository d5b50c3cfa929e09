"""What a benchmark writes besides stdout: its table as Markdown under the
command that made it (--out), and every number as JSON (--json), each
written to a temporary name and renamed (never half a file)."""

import json
import pathlib

from runtime import atomic


def write(
    script: str,
    argv: list[str],
    title: str,
    text: str,
    out: str | None,
    json_path: str | None,
    numbers: dict,
) -> None:
  """Writes `text` to `out` and {"argv": argv, **numbers} to `json_path`.

  Args:
    script: the benchmark's file (`__file__`).
    argv: its arguments (the command is `python benchmarks/<script> argv`).
    title: the Markdown heading, e.g. "Phase samplers by proper scores".
    text: the Markdown table(s) the script printed.
    out: where the Markdown goes (None: not written).
    json_path: where the JSON goes (None: not written).
    numbers: everything else the JSON holds.
  """
  script = pathlib.Path(script).name
  if out:
    with atomic.replacing(out) as tmp:
      tmp.write_text(
          f"# {title} (`benchmarks/{script}`)\n\n```\n$ python"
          f" benchmarks/{script} {' '.join(argv)}\n```\n\n{text}"
      )
  if json_path:
    with atomic.replacing(json_path) as tmp:
      tmp.write_text(json.dumps({"argv": argv} | numbers, indent=1))
