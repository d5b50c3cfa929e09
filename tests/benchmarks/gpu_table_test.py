"""benchmarks/gpu_table.py: its SBDM step and sampler are the trainer's and
the loader's, built without the data layer, and an incomplete table is
reported as such. (The smoke run of the whole table,
`bash benchmarks/gpu.sh --smoke`, is .ci/run's: it needs torch and fastmri.)
"""

# pylint: disable=protected-access

import json
import math
import pathlib
import subprocess
import sys

import jax
import numpy as np

from benchmarks import gpu_table
from score_phase.sbdm import state as sbdm_state


def _abstract_state_and_batch(config):
  state = jax.eval_shape(sbdm_state.get_init_fn(config), jax.random.key(0))
  size, batch = config.data.image_size, config.train.batch_size
  image = jax.ShapeDtypeStruct((batch, size, size), np.float32)
  return state, {"magnitude": image, "phase": image}


def test_the_sbdm_code_paths_import_no_data_layer():
  # The GPU machine has JAX, flax, optax, orbax and torch but not TFDS,
  # grain or the DICOM / NIfTI readers: the trainer's step and the
  # loader's sampler, which the table times, must not need them.
  code = (
      "import sys; from benchmarks import gpu_table;"
      " c = gpu_table.sbdm_config('smoke', 'sbdm128');"
      " gpu_table.sbdm_train_step(c); gpu_table.sbdm_sample_phase(c);"
      " heavy = [m for m in ('tensorflow_datasets', 'grain', 'pydicom',"
      " 'nibabel') if m in sys.modules]; print(heavy); assert not heavy"
  )
  result = subprocess.run(
      [sys.executable, "-c", code],
      capture_output=True,
      text=True,
      cwd=pathlib.Path(__file__).resolve().parents[2],
  )
  assert result.returncode == 0, result.stderr[-2000:]


def test_sbdm_sampler_is_the_loaders_at_the_default():
  config = gpu_table.sbdm_config("smoke", "sbdm128")
  assert (config.sampling.name, config.sampling.num_steps) == ("heun", 18)
  state, batch = _abstract_state_and_batch(config)
  _, nfe = gpu_table.sbdm_sample_phase(config)
  assert nfe == 35
  step = jax.eval_shape(
      gpu_table.sbdm_train_step(config), state, batch, jax.random.key(0)
  )
  assert np.shape(step[1]["loss"]) == ()


def _complete_rows():
  rows = {}
  for _, key, _, has_torch in gpu_table.expected_rows():
    rows[key] = dict(
        key=key,
        setting="s",
        jax_s=0.01,
        torch_s=0.02 if has_torch else None,
        per="step",
        items=2,
        item_name="images",
        notes="n",
    )
  return rows


def test_every_part_has_rows():
  parts = {part for part, _, _, _ in gpu_table.expected_rows()}
  assert parts == set(gpu_table.PARTS)
  assert len(gpu_table.expected_rows()) == 9
  for mode in ("gpu", "smoke"):
    assert set(gpu_table.CAPS[mode]) == set(gpu_table.PARTS)
    assert set(gpu_table.SIZES[mode]) == set(gpu_table.PARTS)


def test_missing_rows_names_absent_and_non_finite_rows():
  rows = _complete_rows()
  assert not gpu_table.missing_rows(rows)
  del rows["recon_varnet_bf16"]
  rows["sbdm320_sample"]["jax_s"] = math.nan
  rows["forward"]["torch_s"] = None
  assert gpu_table.missing_rows(rows) == [
      "forward",
      "recon_varnet_bf16",
      "sbdm320_sample",
  ]
  # Only the parts that were asked for count.
  assert gpu_table.missing_rows(rows, parts=("sbdm128",)) == []


def test_render_says_why_a_row_is_missing():
  rows = _complete_rows()
  for key in ("sbdm320_train", "sbdm320_sample"):
    del rows[key]
  text = gpu_table.render(
      {}, rows, {"sbdm320": "stopped at its 180 s limit"}, "gpu"
  )
  table = [line for line in text.splitlines() if line.startswith("| ")]
  assert len(table) == 1 + len(gpu_table.expected_rows())
  assert "| 2.00x |" in text  # PyTorch's 20 ms over our 10 ms.
  assert text.count("not measured: stopped at its 180 s limit") == 2
  assert "10.0 ms/step, 200.0 images/s" in text
  rows["forward"]["torch_s"] = None  # Rendered, not raised on.
  assert "not finite: None" in gpu_table.render({}, rows, {}, "gpu")


def test_a_part_past_its_limit_is_stopped_and_the_table_printed(
    tmp_path, monkeypatch
):
  # sbdm128 needs only JAX (the default suite has no torch): its child is
  # still importing and compiling at 1 s.
  monkeypatch.setitem(gpu_table.CAPS["smoke"], "sbdm128", 1)
  monkeypatch.setattr(gpu_table, "MIN_PART_SECONDS", 0)
  status = gpu_table.main(["--smoke", "--parts=sbdm128", f"--out={tmp_path}"])
  assert status == 1
  assert "not measured: stopped at its 1 s limit" in (
      (tmp_path / "gpu_table.md").read_text()
  )
  result = json.loads((tmp_path / "gpu_table.json").read_text())
  assert result["missing"] == ["sbdm128_train", "sbdm128_sample"]
  assert not result["complete"]


def test_parts_past_the_deadline_are_not_started(tmp_path):
  status = gpu_table.main(["--smoke", "--deadline_s=5", f"--out={tmp_path}"])
  assert status == 1
  text = (tmp_path / "gpu_table.md").read_text()
  assert text.count("not measured: not run: 5 s left") == 9
