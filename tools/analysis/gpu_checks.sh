#!/usr/bin/env bash
# Every GPU check of the project in one run (docs/speed.md): the device and versions,
# the CUDA tests of the depthwise kernels, the depthwise benchmark (part 1) and the
# train-step throughput (part 2), then the issue's targets checked on what was measured.
#
# Usage: tools/analysis/gpu_checks.sh OUT_DIR [--full]
#   OUT_DIR  gets env.txt, pytest.log, bench.log, part1.json, part2.json, progress.jsonl
#            and targets.json
#   --full   all kernel sizes and more repeats (default: the benchmark's --quick)
# Each step has its own time limit (PYTEST_S, PART1_S, PART2_S seconds), so a slow
# step cannot starve the next one; progress.jsonl keeps every figure taken so far.
set -u
out=${1:?usage: tools/analysis/gpu_checks.sh OUT_DIR [--full]}
quick=--quick
[[ ${2:-} == --full ]] && quick=
cd "$(dirname "$0")/../.."
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
python=${PYTHON:-python3}
bench=tools/analysis/benchmark_dwconv.py

exec 3>&1  # the terminal, for step's own lines when the step's output is redirected
step() {  # step NAME SECONDS COMMAND...: run with a limit, report how it ended
    local name=$1 limit=$2 start=$SECONDS rc
    shift 2
    echo "=== $name (limit ${limit}s)" >&3
    timeout "$limit" "$@"
    rc=$?
    echo "=== $name: exit $rc after $((SECONDS - start))s" >&3
}

{
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
    "$python" -c 'import torch, triton; print("torch", torch.__version__, "cuda",
torch.version.cuda, "cudnn", torch.backends.cudnn.version(), "triton", triton.__version__)'
} >"$out/env.txt" 2>&1
cat "$out/env.txt"
step pytest "${PYTEST_S:-120}" "$python" -m pytest tests/test_ops_dwconv.py -q -p no:cacheprovider \
    -k '(cuda or hopper) and not without_cuda' -o addopts='-ra' 2>&1 | tee "$out/pytest.log" | tail -15
step part1 "${PART1_S:-300}" "$python" $bench $quick --parts 1 --out "$out/part1.json" \
    --progress "$out/progress.jsonl" >/dev/null 2>>"$out/bench.log"
step part2 "${PART2_S:-360}" "$python" $bench $quick --parts 2 --out "$out/part2.json" \
    --progress "$out/progress.jsonl" >/dev/null 2>>"$out/bench.log"
if [[ -s $out/progress.jsonl ]]; then
    "$python" $bench --summarise "$out/progress.jsonl" | tee "$out/targets.json"
else
    echo "no benchmark figure was taken: see $out/bench.log"
fi
