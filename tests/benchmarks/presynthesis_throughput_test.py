"""Tests for benchmarks/presynthesis_throughput.py: the batch it names and
its table, and (slow) the whole --smoke run in subprocesses."""

import json

import pytest

from benchmarks import presynthesis_throughput as throughput


def _result(size, batch, images_per_s):
  return {
      "size": size,
      "batch": batch,
      "images_per_s": images_per_s,
      "score_evals_per_s": images_per_s * 35,
      "call_seconds": [batch / images_per_s],
      "compile_s": 1.0,
      "peak_rss_bytes": 2**30,
      "base_rss_bytes": 2**29,
      "xla_buffer_bytes": 2**20,
      "device_peak_bytes": None,
  }


def test_names_the_smallest_batch_within_five_percent_of_the_best():
  results = [
      _result(64, 1, 2.0),
      _result(64, 8, 9.7),  # within 5% of 10.0
      _result(64, 32, 10.0),
      _result(128, 1, 1.0),
      _result(128, 8, 3.0),
      _result(128, 32, 2.5),  # slower than 8: memory bound
  ]
  chosen = throughput.choose(results)
  assert chosen == {64: 8, 128: 8}
  text = throughput.markdown(results, chosen, "header")
  assert "| 64 | 8 (chosen) |" in text and "| 128 | 8 (chosen) |" in text
  assert "`--config.presynthesis_batch=8`" in text


@pytest.mark.slow
def test_smoke_run(tmp_path):
  json_path = tmp_path / "throughput.json"
  throughput.main(["--smoke", f"--json={json_path}"])
  result = json.loads(json_path.read_text())
  assert [(r["size"], r["batch"]) for r in result["results"]] == [
      (16, 1),
      (16, 2),
  ]
  for r in result["results"]:
    assert r["images_per_s"] > 0 and r["nfe"] == 5  # tiny: heun 3 steps
    assert r["peak_rss_bytes"] >= r["base_rss_bytes"] > 0
    assert r["xla_buffer_bytes"] > 0
  assert result["chosen_batch"]["16"] in (1, 2)
