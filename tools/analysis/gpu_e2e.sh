#!/usr/bin/env bash
# The real pipeline on one GPU machine (docs/gpu.md): set-up (mmcv's CUDA ops built for this
# GPU, cached), generated data at real sizes, DINO with the full-size configs (AMP, batch 64),
# the converter, k-NN through tools/test.py, Mask R-CNN and UperNet from the converted
# backbone, the other backbones' DINO throughput, and a 2-process run on 2+ GPUs. Each step
# has its own time limit; OUT_DIR/progress.jsonl gets its figures as soon as they are known.
#
# Usage: tools/analysis/gpu_e2e.sh OUT_DIR [--cpu-dry-run] [--work-dir DIR] [--budget S]
#                                          [--only STEP,...]
#   OUT_DIR        progress.jsonl, summary.md, logs.tar.gz (bulky files go to --work-dir,
#                  default OUT_DIR/work; finished steps are reused from it)
#   --cpu-dry-run  the same steps with toy sizes on the CPU (the set-up only plans)
#   --budget S     seconds for the whole run, set-up included (default 570 on a GPU)
# Offline machine: LKSSL_WHEELHOUSE=DIR (tools/make_wheelhouse.sh); LKSSL_CACHE keeps the
# built mmcv wheel (tools/setup_env.sh).
set -euo pipefail
out=${1:?usage: tools/analysis/gpu_e2e.sh OUT_DIR [--cpu-dry-run] [--work-dir DIR] [--budget S]}
cd "$(dirname "$0")/../.."
export PYTHONUNBUFFERED=1
runner=tools/analysis/gpu_e2e.py
# the set-up needs only the standard library; it prints the python of the environment it made
python=$("${PYTHON:-python3}" $runner setup "$@" | tail -n1) || {
    echo "[gpu_e2e] set-up failed: see $out/progress.jsonl" >&2
    "${PYTHON:-python3}" $runner summarise "$out/progress.jsonl"
    exit 1
}
exec "$python" $runner pipeline "$@"
