#!/usr/bin/env bash
# Download a wheelhouse for an offline machine that already has CUDA PyTorch, so that
# `LKSSL_WHEELHOUSE=DIR tools/setup_env.sh` sets lkssl_mm up there without a package index
# (docs/install.md; the GPU acceptance run of docs/gpu.md).
#
# Usage: tools/make_wheelhouse.sh DIR [PYTHON_VERSION]     (default 3.12, manylinux x86-64)
#   CARRY="name ..."  the pins of requirements/pins.txt to download (default below: what a
#                     CUDA PyTorch image usually lacks); the machine's own packages serve
#                     for the other pins, and setup_env.sh names those that differ
#
# The mmcv source goes in too (setup_env.sh builds its CUDA ops there, once, and caches the
# wheel). Every download is one pinned version, without dependencies: the list is complete
# for the machine kind it was made for, and setup_env.sh's import check says what is missing.
set -euo pipefail
dir=${1:?usage: tools/make_wheelhouse.sh DIR [PYTHON_VERSION]}
pyver=${2:-3.12}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PINS="$ROOT/requirements/pins.txt"
CARRY=${CARRY:-"setuptools wheel ninja numpy mmengine mmpretrain mmdet mmsegmentation ftfy
wcwidth pycocotools shapely addict yapf platformdirs termcolor mat4py model-index ordered-set
importlib_metadata lazy-importer terminaltables prettytable"}
python=${PYTHON:-python3}

pin() {
  local line
  line=$(grep -E "^$1==" "$PINS" | head -n1) || { echo "no pin for $1 in $PINS" >&2; exit 1; }
  echo "$line"
}

mkdir -p "$dir"
pip_download() {
  "$python" -m pip --disable-pip-version-check -q download --no-deps -d "$dir" "$@" 2>&1 \
    | { grep -v -e 'is ignored: it is neither a file nor a directory' || true; } >&2
}
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 \
         manylinux2014_x86_64 manylinux1_x86_64; do
  platforms+=(--platform "$p")
done
for name in $CARRY; do
  pip_download --only-binary=:all: --python-version "$pyver" --implementation cp \
    "${platforms[@]}" "$(pin "$name")"
done
pip_download --no-binary :all: "$(pin mmcv)"
total=$(du -sm "$dir" | cut -f1)
echo "[make_wheelhouse] $(ls "$dir" | wc -l) files, ${total} MiB in $dir (python $pyver)" >&2
