"""manifest.json: every planned file, written or not, and the key."""

import json
import math

from kspace.export import manifest
from kspace.export import volumes


def _plan():
  return volumes.group(
      [{"volume_id": "a", "slice_index": 0}, {"volume_id": "b/c"}],
      "validation",
      slices_per_volume=1,
      prefix="x",
  )


def test_files_and_their_written_flags_come_from_the_disk(tmp_path):
  (tmp_path / "multicoil_val").mkdir()
  (tmp_path / "multicoil_val" / "a_p1.h5").write_bytes(b"")
  built = manifest.build({"seed": 0}, _plan(), 8, 2, tmp_path)
  assert [f["path"] for f in built["files"]] == [
      "multicoil_val/a_p0.h5",
      "multicoil_val/a_p1.h5",
      "multicoil_val/b_c_p0.h5",
      "multicoil_val/b_c_p1.h5",
  ]
  assert [f["written"] for f in built["files"]] == [False, True, False, False]
  assert built["num_files"] == 4 and built["num_written"] == 1
  assert built["files"][2]["volume_id"] == "b/c"
  assert manifest.relative_paths(_plan()[0], 1, 1) == ["singlecoil_val/a.h5"]


def test_round_trip_with_non_finite_values_as_null(tmp_path):
  built = manifest.build(
      {"snr_db": math.inf, "x": [math.nan]}, _plan(), 1, 1, tmp_path
  )
  path = tmp_path / manifest.NAME
  path.write_text(manifest.dumps(built))
  read = manifest.read(path)
  assert read["key"] == {"snr_db": None, "x": [None]}
  assert (
      manifest.differences(read["key"], {"snr_db": math.inf, "x": [math.nan]})
      == []
  )
  path.write_text(json.dumps({"files": []}))
  assert manifest.read(path) is None
  assert manifest.read(tmp_path / "missing.json") is None


def test_differences_name_the_dotted_fields():
  old = {"export": {"num_coils": 8, "phase_source": "sbdm"}, "seed": 0}
  new = {"export": {"num_coils": 4, "phase_source": "sbdm"}, "seed": 1}
  assert manifest.differences(old, new) == ["export.num_coils", "seed"]
  assert manifest.differences(old, old) == []
