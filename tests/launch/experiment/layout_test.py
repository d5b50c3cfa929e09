"""launch.experiment.layout: what carries a run to another machine."""

import json

from launch.experiment import layout


def _net(workdir, arm, seed, scored):
  run = layout.recon_dir(workdir, arm, seed)
  run.mkdir(parents=True)
  (run / "metrics.jsonl").write_text(json.dumps({"step": 125}) + "\n")
  (run / "checkpoints").mkdir()
  if scored:
    layout.eval_path(workdir, arm, seed, "R4").parent.mkdir()
    layout.eval_path(workdir, arm, seed, "R4").write_bytes(b"scores")


def test_only_scored_nets_and_the_thresholds_are_carried(tmp_path):
  workdir, target = tmp_path / "run", tmp_path / "carried"
  _net(workdir, "ground_truth", 0, scored=True)
  _net(workdir, "smooth_polynomial", 4, scored=False)
  layout.thresholds_path(workdir).write_text("{}")
  copies = layout.copy_durable(workdir, target)
  assert sorted(str(c.relative_to(target)) for c in copies) == [
      "recon/ground_truth/seed0/eval/test_R4.npz",
      "recon/ground_truth/seed0/metrics.jsonl",
      "val_thresholds.json",
  ]
  assert not (target / "recon" / "smooth_polynomial").exists()
