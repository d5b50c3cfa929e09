"""benchmarks/gpu_table.py: its SBDM step and sampler are the trainer's, and
an incomplete table is reported as such. (The smoke run of the whole table,
`bash benchmarks/gpu.sh --smoke`, is .ci/run's: it needs torch and fastmri.)
"""

# pylint: disable=protected-access

import json
import math

import jax
import numpy as np
import pytest

from benchmarks import gpu_table
from score_phase.sbdm import loading as sbdm_loading
from score_phase.sbdm import state as sbdm_state
from score_phase.sbdm import trainer as sbdm_trainer


def _abstract_state_and_batch(config):
  state = jax.eval_shape(sbdm_state.get_init_fn(config), jax.random.key(0))
  size, batch = config.data.image_size, config.train.batch_size
  image = jax.ShapeDtypeStruct((batch, size, size), np.float32)
  return state, {"magnitude": image, "phase": image}


# sbdm320's smoke network has dropout (the fastmri320 variant's 0.1).
@pytest.mark.parametrize("part", ["sbdm128", "sbdm320"])
def test_sbdm_train_step_is_the_trainers(part):
  config = gpu_table.sbdm_config("smoke", part)
  state, batch = _abstract_state_and_batch(config)
  key = jax.random.key(0)
  ours = jax.make_jaxpr(gpu_table.sbdm_train_step(config))(state, batch, key)
  theirs = jax.make_jaxpr(sbdm_trainer.get_train_step(config))(
      state, batch, key
  )
  assert str(ours) == str(theirs)


def test_sbdm_sampler_is_the_loaders():
  config = gpu_table.sbdm_config("smoke", "sbdm128")
  assert (config.sampling.name, config.sampling.num_steps) == ("heun", 18)
  state, batch = _abstract_state_and_batch(config)
  key = jax.random.key(1)
  ours, ours_nfe = gpu_table.sbdm_sample_phase(config)
  theirs, theirs_nfe = sbdm_loading._sample_phase_fn(config)
  assert ours_nfe == theirs_nfe == 35
  args = (key, state.params, batch["magnitude"])
  assert str(jax.make_jaxpr(ours)(*args)) == str(jax.make_jaxpr(theirs)(*args))


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
  monkeypatch.setitem(gpu_table.CAPS["smoke"], "forward", 1)
  monkeypatch.setattr(gpu_table, "MIN_PART_SECONDS", 0)
  status = gpu_table.main(["--smoke", "--parts=forward", f"--out={tmp_path}"])
  assert status == 1
  assert "not measured: stopped at its 1 s limit" in (
      (tmp_path / "gpu_table.md").read_text()
  )
  result = json.loads((tmp_path / "gpu_table.json").read_text())
  assert result["missing"] == ["forward"] and not result["complete"]


def test_parts_past_the_deadline_are_not_started(tmp_path):
  status = gpu_table.main(["--smoke", "--deadline_s=5", f"--out={tmp_path}"])
  assert status == 1
  text = (tmp_path / "gpu_table.md").read_text()
  assert text.count("not measured: not run: 5 s left") == 9
