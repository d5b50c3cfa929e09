#!/usr/bin/env bash
# Downloads, here (a machine with PyPI), the wheels benchmarks/gpu.sh
# installs on the GPU machine (Python 3.12, manylinux x86_64, no network)
# into .whl/ at the repo root, and keeps .whl/ out of git (info/exclude).
# All three are pure-Python wheels (well under 1 MiB together); the GPU
# machine already has everything else the benchmarked code imports. Then
# run there with `carry: [".whl"]` (see docs/reference.md, "GPU benchmark").
set -euo pipefail
cd "$(dirname "$0")/.."
exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")"
grep -qx '/.whl/' "$exclude" 2>/dev/null || echo '/.whl/' >>"$exclude"
python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .whl fastmri==0.3.0 ml-collections==1.1.0 tensorboardX==2.6.5
ls -l .whl
