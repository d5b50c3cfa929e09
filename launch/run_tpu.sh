#!/usr/bin/env bash
# Runs one phasesynth job on every worker of a TPU-VM pod slice.
#
#   gcloud compute tpus tpu-vm ssh $TPU_NAME --zone=$ZONE --worker=all \
#     --command "cd phasesynth && bash launch/run_tpu.sh --mode=train_phase \
#       --config=configs/phase_sbdm.py:synthetic128 --workdir=gs://bucket/run1"
#
# The first run creates a virtual environment with JAX for TPU; every worker
# then joins jax.distributed (TPU VMs provide the coordinator themselves).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d .venv ]; then
  python3 -m venv .venv
  . .venv/bin/activate
  pip install --quiet -e . "jax[tpu]"
else
  . .venv/bin/activate
fi
export PHASESYNTH_DISTRIBUTED=1
exec python -m launch.main "$@"
