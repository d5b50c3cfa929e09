"""The experiment end to end at the tiniest size: every arm, the report's
structure, finite metrics that come from the test records' ground truth,
a rerun that recomputes nothing, a run carried to a new machine as its
small files, and the bad-config errors."""

import json
import os

import numpy as np
import pytest

from configs import experiment as experiment_config
from launch.experiment import checks
from launch.experiment import layout
from launch.experiment import pipeline
from launch.experiment import stages
from recon import evaluation as recon_evaluation
from tests.helpers import dicom_files as registry_test

pytestmark = pytest.mark.slow


def _tiny_config(data_dir):
  config = experiment_config.get_config("quicktest")
  config.data.image_size = 16
  config.data.data_dir = str(data_dir)
  config.data.num_train, config.data.num_val, config.data.num_test = 16, 4, 4
  config.eval.phase_quality_images = 4
  # Another sampler than the phase model's own (the default).
  config.phase_kwargs.sbdm = {"sampler_name": "dpmpp_2m", "num_steps": 3}
  return config


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
  root = tmp_path_factory.mktemp("experiment")
  config = _tiny_config(root / "tfds")
  report = pipeline.run(config, str(root / "run"))
  return config, root / "run", report


def test_report_covers_every_arm_with_finite_metrics(finished):
  config, workdir, report = finished
  assert report == workdir / "report.md"
  text = report.read_text()
  results = json.loads((workdir / "results.json").read_text())
  keys = {"R4", "R8", "R4_equispaced"}
  assert set(results["recon"]) == set(results["recon_secondary"]) == keys
  assert "## Second recon net: varnet" in text
  for r_key, result in [
      *results["recon"].items(),
      *results["recon_secondary"].items(),
  ]:
    assert f"Test reconstruction, {r_key}" in text
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
    assert set(result["paired"]) == {
        "vs_smooth_polynomial",
        "vs_gan",
        "vs_ground_truth",
    }
  # Every presynthesized arm, the header-aware one too, scored on
  # phases drawn apart (K = eval.phase_quality_samples).
  # Also the reachable reference of the header-aware arm, scored only.
  assert set(results["phase_quality"]["sources"]) == (
      set(config.arms) - {"ground_truth"} | {"oracle_a_unrevealed"}
  )
  assert "sbdm_scan - smooth_polynomial" in text
  assert f"K = {config.eval.phase_quality_samples} samples per image" in text
  preflight = results["preflight"]["all"]
  assert set(preflight["arms"]) == set(results["phase_quality"]["sources"])
  assert 0 < preflight["truth"]["mean"] < 1
  assert not preflight["arms"]["oracle"]["flagged"]
  assert "## Pre-flight" in text
  # The primary net validated during training (steps 2 and 4).
  curve = results["validation_curves"]["recon"]["sbdm"]
  assert curve["steps"] == [2, 4] and len(curve["psnr"]) == 2
  assert results["validation_curves"]["recon_secondary"] == {}
  assert "Change over the last quarter of training" in text
  assert results["roles"] == {
      "phase_train": 8,
      "recon_train": 8,
      "val": 4,
      "test": 4,
  }
  sbdm_steps = config.sbdm.train.num_steps
  assert results["phase_models"]["sbdm"] == {
      "run": str(workdir / "phase" / "sbdm"),
      "step": sbdm_steps,
      "sampler": "dpmpp_2m, 3 steps",
  }
  assert (
      f"step {sbdm_steps} of" in text and "(sampler dpmpp_2m, 3 steps)" in text
  )
  assert f"SBDM trained {sbdm_steps} steps on 8 phase_train images" in text
  for name in (
      "phase_samples.png",
      "reconstructions_R4.png",
      "reconstructions_R4_equispaced.png",
      "kspace_spectra.png",
  ):
    assert (workdir / "figures" / name).read_bytes()[:4] == b"\x89PNG"
  assert not list(workdir.rglob("*.tmp*"))


def test_metrics_are_scored_on_the_test_records_ground_truth(finished):
  config, workdir, _ = finished
  roles = stages.data_stage(config, workdir)
  arm, seed, mask = "zero", 1, layout.test_masks(config)[0]
  saved = np.load(layout.eval_path(workdir, arm, seed, mask.key))
  rc = stages.eval_config(config, arm, seed, mask)
  params = stages.restore_params(rc, str(layout.recon_dir(workdir, arm, seed)))
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
  missing = layout.eval_path(workdir, "sbdm", 2, "R8")
  missing.unlink()
  (workdir / "report.md").unlink()
  pipeline.run(config, str(workdir))
  assert {p: p.stat().st_mtime_ns for p in stores} == stamps
  assert missing.exists()
  assert json.loads((workdir / "results.json").read_text()) == results


def test_a_run_carried_as_its_durable_files_trains_no_net_again(
    finished, tmp_path
):
  # A lost machine: only layout.DURABLE reaches the new one.
  config, workdir, _ = finished
  carried = tmp_path / "run"
  copies = layout.copy_durable(workdir, carried)
  assert sorted(carried.glob("recon/*/seed*/eval/*.npz"))
  assert all(os.path.getsize(c) < 1_000_000 for c in copies)
  # Figure slices only where the report shows them (the first seed).
  for seed in config.recon_seeds:
    with np.load(layout.eval_path(carried, "sbdm", seed, "R4")) as scores:
      assert ("figure_pred" in scores) == (seed == config.recon_seeds[0])
  pipeline.run(config, str(carried))
  assert not list(carried.glob("recon*/*/seed*/checkpoints"))
  # Only the phases the report scores were drawn again, none to train on.
  trained_on = [a for a in config.arms if a != "ground_truth"]
  assert len(list((carried / "presynthesis").iterdir())) == (
      len(list((workdir / "presynthesis").iterdir())) - len(trained_on)
  )
  before = json.loads((workdir / "results.json").read_text())
  after = json.loads((carried / "results.json").read_text())
  for part in ("recon", layout.SECONDARY, "validation_curves"):
    assert after[part] == before[part]


def test_bad_configs_fail_with_the_fix(finished, tmp_path):
  config, workdir, _ = finished
  bad = _tiny_config(tmp_path / "tfds")
  bad.arms = ("zero", "smoth_polynomial")
  with pytest.raises(checks.ExperimentError, match="smoth_polynomial"):
    pipeline.run(bad, str(tmp_path / "a"))
  bad = _tiny_config(config.data.data_dir)
  bad.sbdm_workdir = str(tmp_path / "no_such_run")
  with pytest.raises(checks.ExperimentError, match="train_phase"):
    pipeline.run(bad, str(tmp_path / "b"))
  bad = _tiny_config(config.data.data_dir)
  bad.sbdm_workdir = str(workdir / "phase" / "sbdm")  # trained on this data
  with pytest.raises(checks.ExperimentError, match="leak.*data.seed=1"):
    pipeline.run(bad, str(tmp_path / "leak"))
  bad = _tiny_config(config.data.data_dir)
  bad.eval.phase_references = ("oracle_c",)
  with pytest.raises(checks.ExperimentError, match="oracle_c"):
    pipeline.run(bad, str(tmp_path / "d"))
  bad = _tiny_config(config.data.data_dir)
  bad.phase_kwargs.sdbm = {"num_steps": 3}
  with pytest.raises(checks.ExperimentError, match="sdbm"):
    pipeline.run(bad, str(tmp_path / "e"))
  bad = _tiny_config(config.data.data_dir)
  bad.phase_kwargs.sbdm = {"bogus": 1}
  with pytest.raises(
      checks.ExperimentError,
      match=r"phase_kwargs.sbdm: Unknown sampling options \['bogus'\]",
  ):
    pipeline.run(bad, str(tmp_path / "f"))
  bad = _tiny_config(config.data.data_dir)
  bad.num_phase_samples = 1
  with pytest.raises(checks.ExperimentError, match="K >= 2"):
    pipeline.run(bad, str(tmp_path / "c"))


def test_registry_path_trains_on_the_registry_and_scores_ground_truth(
    finished, tmp_path
):
  """The user's path: a folder of magnitude images (two DICOM series and a
  PNG) plus the SBDM of a finished run; the phase arms train on the
  registry's slices, every net is scored on the synthetic test split."""
  config, workdir, _ = finished
  manual = tmp_path / "export"
  manual.mkdir()
  rng = np.random.default_rng(0)
  disc = np.add.outer(np.arange(24) - 12, np.arange(24) - 12) ** 2 < 100
  for series in range(2):
    for z in range(3):
      registry_test.write_dicom(
          manual / f"s{series}_{z}.dcm",
          np.round(disc * rng.uniform(200, 900, disc.shape)),
          SeriesInstanceUID=f"1.2.3.{series}",
          ImageOrientationPatient=[1, 0, 0, 0, 1, 0],
          ImagePositionPatient=[0, 0, z],
      )
  registry_test.write_nifti(
      manual / "vol.nii.gz", (disc * 300.0)[..., None].astype(np.float32)
  )
  registry = experiment_config.get_config("registry")
  # The header-aware arm, told the DICOM headers' scan parameters.
  assert registry.arms == (
      "smooth_polynomial",
      "sbdm",
      "sbdm_scan",
      "ground_truth",
  )
  assert registry.sbdm.model.scan_conditioning
  with pytest.raises(checks.ExperimentError, match="registry.manual_dir"):
    pipeline.run(registry, str(tmp_path / "nothing"))
  run_config = _tiny_config(config.data.data_dir)
  run_config.variant = "registry"
  run_config.arms = registry.arms
  run_config.recon_seeds = (0,)
  run_config.registry.manual_dir = str(manual)
  run_config.sbdm_workdir = str(workdir / "phase" / "sbdm")
  # The named run's checkpoint, not this config's budget, made the phases.
  trained = config.sbdm.train.num_steps
  run_config.sbdm.train.num_steps = trained + 100
  report = pipeline.run(run_config, str(tmp_path / "run"))
  results = json.loads((tmp_path / "run" / "results.json").read_text())
  assert results["roles"]["registry_train"] == 7  # 2 series x 3 + 1 slice
  assert results["roles"]["test"] == 4
  assert "slices of your registry" in report.read_text()
  assert results["phase_models"]["sbdm"]["step"] == trained
  assert f"sbdm step {trained} of {workdir}/phase/sbdm" in report.read_text()
  for result in results["recon"].values():
    assert list(result["arms"]) == list(registry.arms)
  # The phases were drawn for the registry's magnitudes (none to score:
  # a registry has no true phase).
  stores = list((tmp_path / "run" / "presynthesis").iterdir())
  assert len(stores) == 3
  roles = stages.data_stage(run_config, tmp_path / "run")
  first = roles["registry_train"][0]["magnitude"]
  store = stages.presynthesis_stage(
      run_config,
      tmp_path / "run",
      "sbdm",
      roles,
      {"sbdm": run_config.sbdm_workdir},
  )
  np.testing.assert_allclose(
      store[0]["magnitude"],
      stages.normalized_magnitudes([{"magnitude": first}])[0],
  )
