#!/usr/bin/env bash
# The GPU table (benchmarks/gpu_table.py) in one call of at most 8 minutes:
#
#   bash benchmarks/gpu.sh [--out DIR] [--deadline_s S] [--parts a,b]
#   bash benchmarks/gpu.sh --smoke [--out DIR]   # tiny sizes, any CPU
#
# On the lent GPU machine (JAX with CUDA, flax, optax, orbax, torch, absl,
# etils, tqdm, h5py, scipy already there; no network), the packages it lacks
# come as wheels in .whl/ beside the repo root, fetched here beforehand by
# `bash benchmarks/gpu_wheels.sh`. Expected there: fastmri 0.3.0 (PyTorch
# reference models, installed without its pins), ml-collections 1.1.0
# (configs) and tensorboardX 2.6.5 (runtime.metric_writers, imported by
# runtime.train_loop). They go to /tmp/phasesynth_site on PYTHONPATH.
# Writes gpu_table.{md,json,log} to --out (default: $OUT, else
# /tmp/gpu_table); exits 1 if a row is missing or not finite (the table is
# printed either way).
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"

smoke=0
for arg in "$@"; do if [ "$arg" = --smoke ]; then smoke=1; fi; done
# (--smoke uses the environment as it is: a CPU venv has them installed.)
if [ "$smoke" = 0 ] && compgen -G ".whl/*.whl" >/dev/null; then
  site=/tmp/phasesynth_site
  echo "[gpu.sh] installing $(ls .whl/*.whl | wc -l) wheel(s) from .whl/ into $site"
  "$python" -m pip install -q --no-index --no-deps --no-compile \
    --no-cache-dir --upgrade --target "$site" .whl/*.whl
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1

missing=$("$python" - <<'PY'
import importlib.util
need = {"fastmri": "fastmri==0.3.0", "ml_collections": "ml-collections==1.1.0",
        "tensorboardX": "tensorboardX==2.6.5", "torch": "torch",
        "jax": "jax", "flax": "flax", "optax": "optax",
        "orbax.checkpoint": "orbax-checkpoint", "etils": "etils",
        "tqdm": "tqdm", "scipy": "scipy", "h5py": "h5py"}
def found(name):
  try:
    return importlib.util.find_spec(name) is not None
  except ImportError:  # A dotted name whose parent is missing.
    return False
print(" ".join(v for k, v in need.items() if not found(k)))
PY
)
if [ -n "$missing" ]; then
  echo "[gpu.sh] missing Python packages: $missing" >&2
  echo "[gpu.sh] on the GPU machine: fetch wheels here first (bash benchmarks/gpu_wheels.sh) and carry .whl;" >&2
  echo "[gpu.sh] on a CPU: pip install -e '.[ecosystem]' && pip install --no-deps fastmri==0.3.0" >&2
  exit 2
fi

exec "$python" -m benchmarks.gpu_table "$@"
