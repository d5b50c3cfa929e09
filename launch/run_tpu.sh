#!/usr/bin/env bash
# Runs one phasesynth job on every worker of a TPU-VM pod slice.
#
#   gcloud compute tpus tpu-vm ssh $TPU_NAME --zone=$ZONE --worker=all \
#     --command "cd phasesynth && bash launch/run_tpu.sh --mode=train_phase \
#       --config=configs/phase_sbdm.py:synthetic128 --workdir=gs://bucket/run1"
#
# The first run creates a virtual environment with JAX for TPU; every worker
# then joins jax.distributed (TPU VMs provide the coordinator, the process
# count and this worker's id themselves).
#
# PHASESYNTH_DRY_RUN=1 prints what a worker would run (set-up, environment,
# command) and runs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
dry_run="${PHASESYNTH_DRY_RUN:-0}"
setup=()
if [ ! -d .venv ]; then
  setup=("python3 -m venv .venv" "pip install --quiet -e . jax[tpu]")
fi
command=(python -m launch.main "$@")
if [ "$dry_run" = 1 ]; then
  echo "worker: ${TPU_WORKER_ID:-from the TPU metadata server}"
  echo "coordinator, process count and id: from the TPU metadata server"
  for step in "${setup[@]}"; do echo "setup: $step"; done
  echo "env: PHASESYNTH_DISTRIBUTED=1"
  echo "command: $(printf '%q ' "${command[@]}")"
  exit 0
fi
if [ "${#setup[@]}" -gt 0 ]; then
  python3 -m venv .venv
  . .venv/bin/activate
  pip install --quiet -e . "jax[tpu]"
else
  . .venv/bin/activate
fi
export PHASESYNTH_DISTRIBUTED=1
exec "${command[@]}"
