"""Tests for benchmarks/sampler.py: its sampler is the loader's; the
verdict (best row, rows within 1%, the chosen sampler) on made-up per-image
scores; the sampling block a row runs with; and (slow) the whole --smoke
run."""

# pylint: disable=protected-access

import json
import math

import jax
import numpy as np
import pytest

from benchmarks import sampler
from configs import phase_sbdm
from score_phase.sbdm import loading as sbdm_loading
from score_phase.sbdm import sampling
from score_phase.sbdm import state as sbdm_state


def _row(energy, nfe, seconds, count=16, seed=0):
  """A run_row-like dict whose per-image energy_total has mean `energy`."""
  noise = np.random.default_rng(seed).normal(0, 0.01, count)
  per_image = {
      "energy_total": energy + noise - noise.mean(),
      "energy_d1": np.full(count, energy / 4),
      "skill_total": np.full(count, 1.0),
      "spread_total": np.full(count, 1.0),
      "skill_d1": np.full(count, 0.5),
      "spread_d1": np.full(count, 0.5),
      "crps": np.full(count, 0.3),
  }
  return {
      "nfe": nfe,
      "seconds_per_sample": seconds,
      "per_image": {k: v.tolist() for k, v in per_image.items()},
      "histograms": None,
  }


def test_judge_marks_rows_within_one_percent_and_chooses_the_fastest():
  rows = {
      "pc 1000 (paper)": _row(1.000, 2000, 10.0),
      "dpmpp_2m 10": _row(1.008, 10, 0.05),  # within 1%, <= 20 NFE
      "dpmpp_2m 5": _row(1.030, 5, 0.02),  # fastest, but 3% worse
      "heun 10": _row(1.009, 19, 0.09),  # within 1%, slower
      "ode 50": _row(1.005, 50, 0.25),  # within 1%, too many NFE
      "diverged": _row(math.nan, 4, 0.01),
  }
  verdict = sampler.judge(rows, None, 0.95, 0)
  assert verdict["best"] == "pc 1000 (paper)"
  assert verdict["chosen"] == "dpmpp_2m 10"
  within = {k for k, v in verdict["rows"].items() if v["within_tolerance"]}
  assert within == {"pc 1000 (paper)", "dpmpp_2m 10", "heun 10", "ode 50"}
  assert verdict["rows"]["pc 1000 (paper)"]["energy_total_minus_best"] is None
  paired = verdict["rows"]["dpmpp_2m 5"]["energy_total_minus_best"]
  assert paired["mean_difference"] == pytest.approx(0.030, abs=1e-6)
  assert paired["low"] > 0  # paired: the shared per-image noise cancels
  text = sampler.markdown(rows, verdict, "header")
  assert "The chosen sampler: **dpmpp_2m 10**" in text
  assert text.count("| yes |") == 4


def test_no_chosen_sampler_without_a_good_fast_row():
  rows = {"pc 1000 (paper)": _row(1.0, 2000, 9.0), "heun 5": _row(1.1, 9, 0.1)}
  verdict = sampler.judge(rows, None, 0.95, 0)
  assert verdict["chosen"] is None
  assert "The chosen sampler: none" in sampler.markdown(rows, verdict, "")


def test_row_config_completes_an_old_sampling_block():
  config = phase_sbdm.get_config("tiny")
  for field in sampling.LATER_FIELDS:
    del config.sampling[field]  # a run saved before the fields existed
  setting = sampler.row_config(config, {"name": "dpmpp_2m", "num_steps": 7})
  assert setting.sampling.name == "dpmpp_2m"
  assert setting.sampling.num_steps == 7
  assert setting.sampling.s_tmax == math.inf
  assert config.sampling.name == "heun"  # the run's config is untouched
  with pytest.raises(ValueError, match="Unknown sampling options"):
    sampler.row_config(config, {"num_stpes": 7})


def test_every_row_names_a_sampler_with_its_step_count():
  for label, overrides in sampler.ROWS + sampler.SMOKE_ROWS:
    assert overrides["name"] in sampling.SAMPLERS
    assert str(overrides["num_steps"]) in label


def test_a_row_samples_with_the_loaders_sampler_as_configured():
  """The rows sample with what --mode=sample_phase and pre-synthesis run
  (`sbdm_loading.sample_phase_fn`), set to the row's sampler."""
  config = sampler.row_config(
      phase_sbdm.get_config("tiny"), {"name": "dpmpp_2m", "num_steps": 3}
  )
  sample_phase, nfe = sbdm_loading.sample_phase_fn(config)
  params = jax.eval_shape(
      sbdm_state.get_init_fn(config), jax.random.key(0)
  ).ema_params
  magnitude = jax.ShapeDtypeStruct((2, 16, 16), np.float32)
  assert nfe == 3
  out = jax.eval_shape(sample_phase, jax.random.key(0), params, magnitude)
  assert out.shape == (2, 16, 16)


@pytest.mark.slow
def test_smoke_run(tmp_path):
  out, json_path = tmp_path / "sampler.md", tmp_path / "sampler.json"
  sampler.main(["--smoke", f"--out={out}", f"--json={json_path}"])
  result = json.loads(json_path.read_text())
  labels = [label for label, _ in sampler.SMOKE_ROWS]
  assert list(result["rows"]) == labels
  expected_nfe = {"pc 4": 8, "ode 4": 4, "heun 3": 5, "heun 3 churn": 5}
  for label, row in result["rows"].items():
    assert row["nfe"] == expected_nfe.get(label, 4)
    assert row["seconds_per_sample"] > 0
    scores = result["verdict"]["rows"][label]["scores"]
    assert np.isfinite(scores["energy_total"]["mean"])
    assert len(row["per_image"]["energy_total"]) == 4
  assert result["verdict"]["best"] in labels
  assert "| sampler | NFE |" in out.read_text()


@pytest.mark.slow
def test_a_row_resumes_from_its_finished_batches(tmp_path):
  """An interrupted row (its finished batches kept, the row not) samples
  only the batches it lacks and scores as the uninterrupted one."""
  cache = tmp_path / "cache"
  args = ["--smoke", "--only=heun 3", f"--cache={cache}"]
  sampler.main(args + [f"--json={tmp_path / 'first.json'}"])
  (row_file,) = cache.glob("row_*.json")
  batch_dir = row_file.with_suffix("")
  kept, lost = sorted(batch_dir.glob("batch_*.npz"))
  stamp = kept.stat().st_mtime_ns
  row_file.unlink()
  lost.unlink()
  sampler.main(args + [f"--json={tmp_path / 'second.json'}"])
  assert kept.stat().st_mtime_ns == stamp and lost.exists()
  first, second = (
      json.loads((tmp_path / name).read_text())["rows"]["heun 3"]
      for name in ("first.json", "second.json")
  )
  assert second["per_image"] == first["per_image"]
