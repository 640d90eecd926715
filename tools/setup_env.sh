#!/usr/bin/env bash
# Set up (or reuse) the Python environment lkssl_mm runs in. Idempotent.
#
# * Uses the active virtual environment ($VIRTUAL_ENV) when there is one,
#   otherwise creates .venv in the checkout.
# * Keeps an existing torch (e.g. a user's CUDA build); otherwise installs the
#   torch/torchvision pinned in requirements/pins.txt.
# * Builds mmcv from source with its ops (CUDA ops when nvcc and a GPU are
#   present) and caches the wheel in $LKSSL_CACHE (default
#   ~/.cache/lkssl_mm), keyed by mmcv/torch/python/CUDA versions, so that a
#   second set-up takes seconds.
# * Installs the remaining pins and the package itself (editable).
# * Writes a stamp; when nothing changed, a later run returns at once.
#
# Usage: tools/setup_env.sh            (prints the python to use on its last line)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PINS="$ROOT/requirements/pins.txt"
CACHE="${LKSSL_CACHE:-$HOME/.cache/lkssl_mm}"
BASE_PYTHON="${PYTHON:-python3}"

log() { echo "[setup_env] $*" >&2; }
pin() { grep -E "^$1==" "$PINS" | head -n1 | cut -d= -f3; }

if [[ -n "${VIRTUAL_ENV:-}" ]]; then
  VENV="$VIRTUAL_ENV"
else
  VENV="$ROOT/.venv"
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating virtual environment $VENV"
    "$BASE_PYTHON" -m venv "$VENV"
  fi
fi
PY="$VENV/bin/python"
# pip, without the warnings this machine kind's pip config prints for every package
pip_quiet() {
  "$PY" -m pip --disable-pip-version-check -q "$@" 2>&1 \
    | { grep -v -e 'is ignored: it is neither a file nor a directory' || true; } >&2
}
PIP=(pip_quiet)

STAMP="$VENV/.lkssl_mm_setup"
want_stamp="$(cat "$PINS" "$ROOT/setup.py" "$0" | sha256sum | cut -c1-16)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want_stamp" ]] \
   && "$PY" -c "import lkssl_mm, mmcv.ops, mmdet, mmseg, mmpretrain" 2>/dev/null; then
  log "environment up to date ($VENV)"
  echo "$PY"
  exit 0
fi

log "build tools"
"${PIP[@]}" install "pip>=23" "setuptools==$(pin setuptools)" "wheel==$(pin wheel)" \
  "ninja==$(pin ninja)"

if "$PY" -c "import torch, torchvision" 2>/dev/null; then
  log "keeping installed torch $("$PY" -c 'import torch; print(torch.__version__)')"
else
  log "installing torch==$(pin torch) torchvision==$(pin torchvision)"
  "${PIP[@]}" install "torch==$(pin torch)" "torchvision==$(pin torchvision)"
fi

MMCV_VERSION="$(pin mmcv)"
have_mmcv() {
  "$PY" - "$MMCV_VERSION" <<'EOF' 2>/dev/null
import sys
import mmcv
from mmcv.ops import nms  # noqa: F401  (fails when mmcv was built without ops)
sys.exit(0 if mmcv.__version__ == sys.argv[1] else 1)
EOF
}

if have_mmcv; then
  log "mmcv $MMCV_VERSION with ops already installed"
else
  key="$("$PY" - "$MMCV_VERSION" <<'EOF'
import shutil, sys, torch
cuda = torch.version.cuda if (torch.cuda.is_available() and shutil.which('nvcc')) else None
print(f"mmcv{sys.argv[1]}-torch{torch.__version__.split('+')[0]}-"
      f"py{sys.version_info.major}{sys.version_info.minor}-"
      f"{'cu' + cuda.replace('.', '') if cuda else 'cpu'}")
EOF
)"
  wheel_dir="$CACHE/wheels/$key"
  if ! ls "$wheel_dir"/mmcv-*.whl >/dev/null 2>&1; then
    log "building mmcv $MMCV_VERSION from source ($key); this takes about 10 minutes once"
    build="$(mktemp -d)"
    "${PIP[@]}" download --no-deps --no-binary :all: --no-build-isolation \
      "mmcv==$MMCV_VERSION" -d "$build"
    tar -xzf "$build"/mmcv-*.tar.gz -C "$build"
    src="$(ls -d "$build"/mmcv-*/)"
    torch_inc="$("$PY" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "include"))')"
    if grep -qs "C++20 or later" "$torch_inc/ATen/ATen.h"; then
      log "torch headers need C++20: patching mmcv's -std flags"
      sed -i -e 's/-std=c++14/-std=c++20/g' -e 's/-std=c++17/-std=c++20/g' "$src/setup.py"
    fi
    export MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}"
    if [[ "$key" == *-cu* ]]; then export FORCE_CUDA=1; fi
    "${PIP[@]}" wheel --no-build-isolation --no-deps -w "$build/dist" "$src"
    mkdir -p "$wheel_dir"
    cp "$build"/dist/mmcv-*.whl "$wheel_dir/"
    rm -rf "$build"
  else
    log "reusing cached mmcv wheel $wheel_dir"
  fi
  "${PIP[@]}" install --no-deps --force-reinstall "$wheel_dir"/mmcv-*.whl
fi

log "OpenMMLab stack and the package"
grep -Ev '^(#|$|torch==|torchvision==|mmcv==)' "$PINS" > "$VENV/.lkssl_mm_reqs.txt"
"${PIP[@]}" install -r "$VENV/.lkssl_mm_reqs.txt"
# mmcv's own requirements (addict, yapf, ...), without letting pip touch mmcv itself
"${PIP[@]}" install addict packaging Pillow pyyaml yapf
"${PIP[@]}" install --no-deps -e "$ROOT"
"$PY" -c "import lkssl_mm, mmcv.ops, mmdet, mmseg, mmpretrain"

echo "$want_stamp" > "$STAMP"
log "environment ready ($VENV)"
echo "$PY"
