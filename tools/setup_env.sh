#!/usr/bin/env bash
# Set up (or reuse) the Python environment lkssl_mm runs in. Idempotent.
#
# * Uses the active virtual environment ($VIRTUAL_ENV) when there is one,
#   otherwise creates .venv in the checkout.
# * Keeps an existing torch (e.g. a user's CUDA build); otherwise installs the
#   torch/torchvision pinned in requirements/pins.txt.
# * Builds mmcv from source with its ops and caches the wheel in $LKSSL_CACHE
#   (default ~/.cache/lkssl_mm), keyed by mmcv/torch/python/CUDA versions and
#   CUDA architectures, so that a second set-up takes seconds. With nvcc and a
#   GPU the CUDA ops are built for the architectures of the visible GPUs only
#   (TORCH_CUDA_ARCH_LIST, e.g. "9.0" on an H100/H200; set it yourself to build
#   for others, e.g. "8.0;9.0" for a cluster of A100s and H100s), with MAX_JOBS
#   parallel jobs (default: all cores). The build time is printed; an interrupted build
#   resumes with what it had compiled ($LKSSL_CACHE/build/<key>).
# * Installs the remaining pins and the package itself (editable).
# * Writes a stamp; when nothing changed, a later run returns at once.
#
# Usage: tools/setup_env.sh [--plan]   (prints the python to use on its last line)
#   --plan   print what a set-up would do (environment, torch, mmcv build and cache,
#            wheelhouse) and change nothing
# Environment:
#   LKSSL_CACHE       wheel cache (default ~/.cache/lkssl_mm)
#   LKSSL_WHEELHOUSE  a folder of wheels (tools/make_wheelhouse.sh) for a machine without a
#                     package index: pip installs offline, exactly the wheels found there
#                     (with --no-deps), and keeps the machine's own packages for the other
#                     pins (each one that differs from its pin is named)
#   TORCH_CUDA_ARCH_LIST, MAX_JOBS   see above
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PINS="$ROOT/requirements/pins.txt"
CACHE="${LKSSL_CACHE:-$HOME/.cache/lkssl_mm}"
BASE_PYTHON="${PYTHON:-python3}"
PLAN=0
case "${1:-}" in
  --plan) PLAN=1 ;;
  "") ;;
  *) echo "usage: tools/setup_env.sh [--plan]" >&2; exit 2 ;;
esac

log() { echo "[setup_env] $*" >&2; }
pin() { grep -E "^$1==" "$PINS" | head -n1 | cut -d= -f3; }

WHEELHOUSE="${LKSSL_WHEELHOUSE:-}"
if [[ -n "$WHEELHOUSE" ]]; then
  if [[ ! -d "$WHEELHOUSE" ]]; then
    log "LKSSL_WHEELHOUSE=$WHEELHOUSE is not a folder (make one with tools/make_wheelhouse.sh)"
    exit 1
  fi
  WHEELHOUSE="$(cd "$WHEELHOUSE" && pwd)"
  # every pip call below then works offline, from the wheelhouse only
  export PIP_NO_INDEX=1 PIP_FIND_LINKS="$WHEELHOUSE"
fi

if [[ -n "${VIRTUAL_ENV:-}" ]]; then
  VENV="$VIRTUAL_ENV"
else
  VENV="$ROOT/.venv"
  if [[ ! -x "$VENV/bin/python" && $PLAN == 0 ]]; then
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
stamp_current() {
  [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want_stamp" ]] \
    && "$PY" -c "import lkssl_mm, mmcv.ops, mmdet, mmseg, mmpretrain" 2>/dev/null
}

MMCV_VERSION="$(pin mmcv)"
have_mmcv() {
  "$PY" - "$MMCV_VERSION" <<'EOF' 2>/dev/null
import sys
import mmcv
from mmcv.ops import nms  # noqa: F401  (fails when mmcv was built without ops)
sys.exit(0 if mmcv.__version__ == sys.argv[1] else 1)
EOF
}

# The mmcv build of this machine, one KEY=VALUE a line: KEY (the cache folder's name),
# ARCHS (TORCH_CUDA_ARCH_LIST, empty for a CPU build) and ARCHS_FROM (where they came from).
mmcv_build_settings() {
  "$PY" - "$MMCV_VERSION" <<'EOF'
import os, re, shutil, sys
import torch
cuda = torch.version.cuda if (torch.cuda.is_available() and shutil.which('nvcc')) else None
archs, origin = os.environ.get('TORCH_CUDA_ARCH_LIST', '').strip(), 'TORCH_CUDA_ARCH_LIST'
if cuda and not archs:
    capabilities = sorted({torch.cuda.get_device_capability(i)
                           for i in range(torch.cuda.device_count())})
    archs = ';'.join(f'{major}.{minor}' for major, minor in capabilities)
    origin = 'the visible GPUs (' + ', '.join(sorted({torch.cuda.get_device_name(i)
                                                        for i in range(torch.cuda.device_count())})) + ')'
key = (f"mmcv{sys.argv[1]}-torch{torch.__version__.split('+')[0]}-"
       f"py{sys.version_info.major}{sys.version_info.minor}-")
if cuda:
    # '8.0;9.0+PTX' -> 'sm80.sm90ptx': a wheel built for other architectures is another entry
    parts = [re.sub(r'[^0-9a-z]', '', a.lower().replace('+', '')) for a in re.split(r'[;\s]+', archs) if a]
    key += f"cu{cuda.replace('.', '')}-" + '.'.join('sm' + p for p in parts)
else:
    key += 'cpu'
    archs, origin = '', 'no CUDA build (no GPU or no nvcc)'
print(f'KEY={key}\nARCHS={archs}\nARCHS_FROM={origin}')
EOF
}

if [[ $PLAN == 1 ]]; then
  log "plan only: nothing is changed"
  log "environment: $VENV$([[ -x "$PY" ]] || echo ' (would be created)')"
  log "wheelhouse: ${WHEELHOUSE:-none (packages from the index)}"
  if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want_stamp" ]]; then
    log "stamp: current (a set-up returns at once if the packages import)"
  else
    log "stamp: out of date or missing (a set-up would install)"
  fi
  if [[ -x "$PY" ]] && "$PY" -c "import torch" 2>/dev/null; then
    log "torch: keep $("$PY" -c 'import torch; print(torch.__version__)')"
    settings="$(mmcv_build_settings)"
    key="$(sed -n 's/^KEY=//p' <<<"$settings")"
    archs="$(sed -n 's/^ARCHS=//p' <<<"$settings")"
    if have_mmcv; then
      log "mmcv: $MMCV_VERSION with ops installed"
    elif ls "$CACHE/wheels/$key"/mmcv-*.whl >/dev/null 2>&1; then
      log "mmcv: reuse cached wheel $CACHE/wheels/$key"
    else
      log "mmcv: build $key"
    fi
    log "mmcv build settings: key $key, TORCH_CUDA_ARCH_LIST='$archs' from" \
        "$(sed -n 's/^ARCHS_FROM=//p' <<<"$settings"), MAX_JOBS=${MAX_JOBS:-$(nproc)}"
  else
    log "torch: install torch==$(pin torch) torchvision==$(pin torchvision)"
  fi
  echo "$PY"
  exit 0
fi

if stamp_current; then
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

if have_mmcv; then
  log "mmcv $MMCV_VERSION with ops already installed"
else
  settings="$(mmcv_build_settings)"
  key="$(sed -n 's/^KEY=//p' <<<"$settings")"
  archs="$(sed -n 's/^ARCHS=//p' <<<"$settings")"
  wheel_dir="$CACHE/wheels/$key"
  if ! ls "$wheel_dir"/mmcv-*.whl >/dev/null 2>&1; then
    # Built in place in a folder kept until the wheel exists: an interrupted build (a time
    # limit, a lost connection) resumes with the objects it had compiled (ninja).
    build="$CACHE/build/$key"
    torch_inc="$("$PY" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "include"))')"
    cxx20=0
    grep -qs "C++20 or later" "$torch_inc/ATen/ATen.h" && cxx20=1
    if [[ -f "$build/.unpacked" ]]; then
      log "resuming the interrupted mmcv build in $build"
    else
      rm -rf "$build" && mkdir -p "$build"
      "${PIP[@]}" download --no-deps --no-binary :all: --no-build-isolation \
        "mmcv==$MMCV_VERSION" -d "$build"
      tar -xzf "$build"/mmcv-*.tar.gz -C "$build"
      if [[ $cxx20 == 1 ]]; then
        log "torch headers need C++20: patching mmcv's -std flags"
        sed -i -e 's/-std=c++14/-std=c++20/g' -e 's/-std=c++17/-std=c++20/g' \
          "$(ls -d "$build"/mmcv-*/)setup.py"
      fi
      touch "$build/.unpacked"
    fi
    src="$(ls -d "$build"/mmcv-*/)"
    # nvcc gets no -std from mmcv; torch would add -std=c++17
    [[ $cxx20 == 1 ]] && export MMCV_CUDA_ARGS="${MMCV_CUDA_ARGS:--std=c++20}"
    export MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}"
    if [[ "$key" == *-cu* ]]; then
      export FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="$archs"
      log "building mmcv $MMCV_VERSION with CUDA ops for TORCH_CUDA_ARCH_LIST='$archs' (from" \
          "$(sed -n 's/^ARCHS_FROM=//p' <<<"$settings")), MAX_JOBS=$MAX_JOBS ($key)"
    else
      log "building mmcv $MMCV_VERSION with CPU ops, MAX_JOBS=$MAX_JOBS ($key);" \
          "about 10 minutes on 2 cores, once"
    fi
    build_start=$SECONDS
    "${PIP[@]}" wheel --no-build-isolation --no-deps -w "$build/dist" "$src"
    log "mmcv build: $((SECONDS - build_start)) s ($key, MAX_JOBS=$MAX_JOBS)"
    mkdir -p "$wheel_dir"
    cp "$build"/dist/mmcv-*.whl "$wheel_dir/"
    rm -rf "$build"
  else
    log "reusing cached mmcv wheel $wheel_dir"
  fi
  "${PIP[@]}" install --no-deps --force-reinstall "$wheel_dir"/mmcv-*.whl
fi

log "OpenMMLab stack and the package"
if [[ -n "$WHEELHOUSE" ]]; then
  # offline: exactly the wheels of the wheelhouse; the machine's own packages for the rest
  wheels=()
  for wheel in "$WHEELHOUSE"/*.whl; do
    [[ -e "$wheel" && "$(basename "$wheel")" != mmcv-* ]] && wheels+=("$wheel")
  done
  if [[ ${#wheels[@]} -gt 0 ]]; then
    "${PIP[@]}" install --no-deps "${wheels[@]}"
  fi
  "$PY" - "$PINS" <<'EOF' >&2
import sys
from importlib.metadata import PackageNotFoundError, version

STAND_INS = {'opencv-python': ('opencv-python-headless', 'opencv-contrib-python')}
for line in open(sys.argv[1]):
    line = line.strip()
    if not line or line.startswith('#') or '==' not in line:
        continue
    name, wanted = line.split('==', 1)
    for dist in (name, *STAND_INS.get(name, ())):
        try:
            have = f'{dist} {version(dist)}'
            break
        except PackageNotFoundError:
            have = None
    if have != f'{name} {wanted}':
        print(f'[setup_env] kept from the machine: {have or "nothing"} (pin {name}=={wanted})')
EOF
else
  grep -Ev '^(#|$|torch==|torchvision==|mmcv==)' "$PINS" > "$VENV/.lkssl_mm_reqs.txt"
  "${PIP[@]}" install -r "$VENV/.lkssl_mm_reqs.txt"
  # mmcv's own requirements (addict, yapf, ...), without letting pip touch mmcv itself
  "${PIP[@]}" install addict packaging Pillow pyyaml yapf
fi
"${PIP[@]}" install --no-deps --no-build-isolation -e "$ROOT"
"$PY" -c "import lkssl_mm, mmcv.ops, mmdet, mmseg, mmpretrain"

echo "$want_stamp" > "$STAMP"
log "environment ready ($VENV)"
echo "$PY"
