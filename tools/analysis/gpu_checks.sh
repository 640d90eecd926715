#!/usr/bin/env bash
# Every GPU check of the project in one run, within 9 minutes on one H100/H200 (docs/speed.md):
#   env      the device and versions
#   pytest   the CUDA tests of the depthwise kernels   } in parallel: the tests use
#   warm     compile every Triton kernel the benchmark }  one core, warm the others
#            will launch, in parallel processes
#   part2    train-step img/s: LKConvNeXt-T k7 (cuDNN), k9/13/31/51d (auto), ViT-S/16,
#            Swin-T, then stock PyTorch at the large kernels
#   part1    depthwise fwd+bwd per stage shape: cuDNN and each Triton kernel family
#   profile  torch.profiler tables of the train step per kernel size
#   targets  the issue's targets table, from every figure taken
# Every figure is appended to OUT_DIR/progress.jsonl the moment it is taken; each step has its
# own limit (PYTEST_S, WARM_S, PART2_S, PART1_S, PROFILE_S seconds) and no step may run past
# TOTAL_S (default 540 s) from the start, so a slow step cannot starve the summary.
#
# Usage: tools/analysis/gpu_checks.sh OUT_DIR [--full] [--dry-run]
#   --full     kernel 3 too and 15 timed steps / 10 repeats (default: the benchmark's --quick)
#   --dry-run  the same steps on the CPU at toy sizes, no GPU needed (the tests run it)
set -u
out=${1:?usage: tools/analysis/gpu_checks.sh OUT_DIR [--full] [--dry-run]}
shift
quick=--quick
dry=0
for arg in "$@"; do
    case $arg in
        --full) quick= ;;
        --dry-run) dry=1 ;;
        *) echo "unknown option $arg" >&2; exit 2 ;;
    esac
done
cd "$(dirname "$0")/../.."
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
export LKSSL_DWCONV_CACHE=${LKSSL_DWCONV_CACHE:-$out/dwconv_dispatch.json}
python=${PYTHON:-python3}
bench=tools/analysis/benchmark_dwconv.py
progress=$out/progress.jsonl
total=${TOTAL_S:-540}
reserve=15  # kept for the targets table
start_all=$SECONDS

exec 3>&1  # the terminal, for step's own lines when the step's output is redirected
limit() {  # limit WANTED: WANTED seconds, cut to what is left of TOTAL_S
    local left=$((total - reserve - (SECONDS - start_all)))
    ((left < 1)) && left=1
    echo $(($1 < left ? $1 : left))
}
step() {  # step NAME SECONDS COMMAND...: run with a limit, report how it ended
    local name=$1 lim start=$SECONDS rc
    lim=$(limit "$2")
    shift 2
    echo "=== $name (limit ${lim}s, $((SECONDS - start_all))s into the run)" >&3
    timeout "$lim" "$@"
    rc=$?
    echo "=== $name: exit $rc after $((SECONDS - start))s" >&3
    echo "{\"part\": \"step\", \"step\": \"$name\", \"exit\": $rc, \"seconds\": $((SECONDS - start)), \"limit\": $lim}" >>"$progress"
}

{
    if ((dry)); then echo "dry run on the CPU: $(uname -n)"; else
        nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv; fi
    "$python" -c 'import torch, triton; print("torch", torch.__version__, "cuda",
torch.version.cuda, "cudnn", torch.backends.cudnn.version(), "triton", triton.__version__)'
} >"$out/env.txt" 2>&1
cat "$out/env.txt"

if ((dry)); then
    step pytest "${PYTEST_S:-60}" "$python" -m pytest tests/test_ops_dwconv.py -q \
        -p no:cacheprovider -k 'cuda and not without_cuda' -o addopts='-ra' \
        >"$out/pytest.log" 2>&1
    step warm "${WARM_S:-90}" "$python" $bench --warm --dry-run --out "$out/warm.json" \
        >/dev/null 2>>"$out/bench.log"
    step parts "${PART2_S:-170}" "$python" $bench --cpu-smoke --out "$out/parts.json" \
        --progress "$progress" >/dev/null 2>>"$out/bench.log"
    step profile "${PROFILE_S:-75}" "$python" tools/analysis/profile_step.py --kernels 13 \
        --arch atto --batch 2 --size 32 --warmup 1 --steps 1 --out "$out/profile.json" \
        --progress "$progress" >"$out/profile.md" 2>>"$out/bench.log"
else
    # the CUDA kernel tests (one core) while every other core compiles the benchmark's kernels
    pytest_lim=$(limit "${PYTEST_S:-90}")
    (step pytest "$pytest_lim" "$python" -m pytest tests/test_ops_dwconv.py -q \
        -p no:cacheprovider -k 'cuda and not without_cuda' -o addopts='-ra' \
        >"$out/pytest.log" 2>&1) &
    pytest_pid=$!
    step warm "${WARM_S:-90}" "$python" $bench $quick --warm --out "$out/warm.json" \
        >/dev/null 2>>"$out/bench.log"
    wait $pytest_pid
    tail -5 "$out/pytest.log"
    step part2 "${PART2_S:-170}" "$python" $bench $quick --parts 2 --out "$out/part2.json" \
        --progress "$progress" >/dev/null 2>>"$out/bench.log"
    step part1 "${PART1_S:-130}" "$python" $bench $quick --parts 1 --out "$out/part1.json" \
        --progress "$progress" >/dev/null 2>>"$out/bench.log"
    step profile "${PROFILE_S:-75}" "$python" tools/analysis/profile_step.py \
        --kernels 13 9 7 31 51d --out "$out/profile.json" --progress "$progress" \
        >"$out/profile.md" 2>>"$out/bench.log"
fi
echo "=== targets ($((SECONDS - start_all))s into the run)"
if grep -q '"part": "part[12]"' "$progress" 2>/dev/null; then
    "$python" $bench --summarise "$progress" >"$out/targets.json"
    "$python" $bench --summarise "$progress" --table | tee "$out/targets.md"
else
    echo "no benchmark figure was taken: see $out/bench.log"
fi
echo "=== done in $((SECONDS - start_all))s (limit ${total}s)"
