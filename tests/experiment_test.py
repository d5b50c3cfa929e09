"""The experiment end to end at the tiniest size: every arm, the report's
structure, finite metrics that come from the test records' ground truth,
a rerun that recomputes nothing, and the bad-config errors."""

import json

import numpy as np
import pytest

from configs import experiment as experiment_config
from launch import experiment
from recon import evaluation as recon_evaluation

pytestmark = pytest.mark.slow


def _tiny_config(data_dir):
  config = experiment_config.get_config("quicktest")
  config.data.image_size = 16
  config.data.data_dir = str(data_dir)
  config.data.num_train, config.data.num_val, config.data.num_test = 16, 4, 4
  config.eval.phase_quality_images = 4
  return config


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
  root = tmp_path_factory.mktemp("experiment")
  config = _tiny_config(root / "tfds")
  report = experiment.run(config, str(root / "run"))
  return config, root / "run", report


def test_report_covers_every_arm_with_finite_metrics(finished):
  config, workdir, report = finished
  assert report == workdir / "report.md"
  text = report.read_text()
  results = json.loads((workdir / "results.json").read_text())
  assert set(results["recon"]) == {"R4", "R8"}
  for r_key, result in results["recon"].items():
    assert f"## Test reconstruction, {r_key}" in text
    assert list(result["arms"]) == list(config.arms)
    for arm, stats in result["arms"].items():
      for name in ("psnr", "ssim", "nmse", "hallucinations"):
        assert np.isfinite(stats[name]["mean"]), (r_key, arm, name)
        assert (
            stats[name]["ci_low"]
            <= stats[name]["mean"]
            <= stats[name]["ci_high"]
        )
      assert f"| {arm} |" in text
    assert set(result["paired"]) == {"vs_smooth_polynomial", "vs_ground_truth"}
  assert set(results["phase_quality"]["sources"]) == set(config.arms) - {
      "ground_truth"
  }
  assert results["roles"] == {
      "phase_train": 8,
      "recon_train": 8,
      "val": 4,
      "test": 4,
  }
  for name in ("phase_samples.png", "reconstructions_R4.png"):
    assert (workdir / "figures" / name).read_bytes()[:4] == b"\x89PNG"
  assert not list(workdir.rglob("*.tmp*"))


def test_metrics_are_scored_on_the_test_records_ground_truth(finished):
  config, workdir, _ = finished
  roles = experiment.data_stage(config, workdir)
  arm, seed, (acceleration, fraction) = "zero", 1, config.eval.accelerations[0]
  saved = np.load(experiment.eval_path(workdir, arm, seed, acceleration))
  rc = experiment._eval_config(config, arm, seed, acceleration, fraction)
  params = experiment._restore_params(
      rc, str(experiment._recon_dir(workdir, arm, seed))
  )
  test = [roles["test"][i] for i in range(len(roles["test"]))]
  outputs, _ = recon_evaluation.score(rc, params, test, None)
  np.testing.assert_allclose(
      recon_evaluation.slice_and_volume_metrics(outputs)[1]["psnr"],
      saved["volume_psnr"],
      rtol=1e-5,
  )
  # With any other phase in the test records, the scores change.
  rephased = [dict(r, phase=np.zeros_like(r["phase"])) for r in test]
  other, _ = recon_evaluation.score(rc, params, rephased, None)
  assert not np.allclose(other["target"], outputs["target"])


def test_a_rerun_reuses_every_stage_and_redoes_a_missing_output(finished):
  config, workdir, _ = finished
  stores = sorted((workdir / "presynthesis").iterdir())
  stamps = {p: p.stat().st_mtime_ns for p in stores}
  results = json.loads((workdir / "results.json").read_text())
  missing = experiment.eval_path(workdir, "sbdm", 2, 8.0)
  missing.unlink()
  (workdir / "report.md").unlink()
  experiment.run(config, str(workdir))
  assert {p: p.stat().st_mtime_ns for p in stores} == stamps
  assert missing.exists()
  assert json.loads((workdir / "results.json").read_text()) == results


def test_bad_configs_fail_with_the_fix(finished, tmp_path):
  config, _, _ = finished
  bad = _tiny_config(tmp_path / "tfds")
  bad.arms = ("zero", "smoth_polynomial")
  with pytest.raises(experiment.ExperimentError, match="smoth_polynomial"):
    experiment.run(bad, str(tmp_path / "a"))
  bad = _tiny_config(config.data.data_dir)
  bad.sbdm_workdir = str(tmp_path / "no_such_run")
  with pytest.raises(experiment.ExperimentError, match="train_phase"):
    experiment.run(bad, str(tmp_path / "b"))
  bad = _tiny_config(config.data.data_dir)
  bad.num_phase_samples = 1
  with pytest.raises(experiment.ExperimentError, match="K >= 2"):
    experiment.run(bad, str(tmp_path / "c"))
