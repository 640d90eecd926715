"""The 'auto' choice of depthwise-convolution implementation, per shape and pass.

For a shape key (C, bucketed H and W, kernel, dtype, layout, batch bucket) the
forward pass and the backward pass of every implementation in
:data:`~lkssl_mm.ops.dwconv_impls.PASS_IMPLS` are timed once, on copies of the
first real inputs, and the fastest is kept for each pass (so a forward on
tensor cores may pair with a backward on another kernel). Decisions live in
memory and in ``~/.cache/lkssl_mm/dwconv_dispatch.json`` (``LKSSL_DWCONV_CACHE``
moves it, ``0`` keeps them in memory only), in a section per device, software
stack and kernel version. Where nothing may be measured (CUDA-graph capture,
``LKSSL_DWCONV_MEASURE=0``) a persisted decision or :func:`heuristic_impl`
is used.
"""
import functools
import json
import os
import statistics
import time
import warnings
from pathlib import Path
from typing import Callable, Dict, Iterable, Optional

import torch

from lkssl_mm.utils.fileio import write_atomically

from .dwconv_impls import (
    PASS_IMPLS,
    TRITON_IMPLS,
    backward_pass,
    forward_pass,
    kernels_module,
    triton_ops,
)

ENV_CACHE = 'LKSSL_DWCONV_CACHE'
ENV_MEASURE = 'LKSSL_DWCONV_MEASURE'
SMALL_KERNEL = 7  # cuDNN's fast depthwise path covers kernels up to 7x7
PASSES = ('fwd', 'bwd')
Decision = Dict[str, str]  # pass ('fwd' | 'bwd') -> implementation
Timings = Dict[str, Dict[str, float]]  # implementation -> pass -> milliseconds

_decisions: Dict[str, Decision] = {}
_persisted_loaded = False


def _batch_bucket(n: int) -> int:
    return 1 << max(0, n - 1).bit_length()


def shape_key(x: torch.Tensor, weight: torch.Tensor, dtype: Optional[torch.dtype] = None) -> str:
    """Dispatch key: channels, bucketed H and W, kernel, dtype, layout, batch bucket.

    Args:
        x (Tensor): Input (N, C, H, W).
        weight (Tensor): Kernel (C, 1, kh, kw).
        dtype (torch.dtype, optional): Compute dtype if not ``x.dtype`` (autocast).

    Returns:
        str: The key.
    """
    ops = kernels_module()
    n, c, h, w = x.shape
    kh, kw = weight.shape[-2:]
    layout = 'cl' if ops.is_channels_last(x) else 'nchw'
    dtype = str(dtype or x.dtype).replace('torch.', '')
    return (f'C{c}_H{ops.size_bucket(h)}_W{ops.size_bucket(w)}_k{kh}x{kw}_{dtype}_{layout}'
            f'_N{_batch_bucket(n)}')


def heuristic_impl(kh: int, kw: int, dtype: Optional[torch.dtype] = None) -> str:
    """Choice without measuring, from the H100 figures of docs/speed.md (v1 kernels).

    cuDNN up to 7x7, and for fp32 up to 9x9 (where the direct kernel measured
    0.89x cuDNN); the direct Triton kernel above. The v2 kernels enter only
    through measurement until GPU figures say where they win.

    Args:
        kh (int): Kernel height.
        kw (int): Kernel width.
        dtype (torch.dtype, optional): Compute dtype.
    """
    k = max(kh, kw)
    if k <= SMALL_KERNEL or (dtype == torch.float32 and k <= 9):
        return 'torch'
    return 'triton'


def can_measure() -> bool:
    """Whether timing implementations is allowed here (not while capturing CUDA graphs)."""
    if os.environ.get(ENV_MEASURE, '1') == '0':
        return False
    return not (torch.cuda.is_available() and torch.cuda.is_current_stream_capturing())


def auto_decision(x: torch.Tensor, weight: torch.Tensor,
                  bias: Optional[torch.Tensor] = None) -> Decision:
    """The implementation per pass for these (already autocast) tensors under 'auto'.

    cuDNN/oneDNN on the CPU, for kernels up to 7x7 and where Triton cannot run;
    otherwise the measured (or persisted, or heuristic) choice for the shape key.
    """
    kh, kw = weight.shape[-2:]
    ops = triton_ops()
    if not x.is_cuda or ops is None or max(kh, kw) <= SMALL_KERNEL \
            or ops.check_supported(x, weight) is not None:
        return dict.fromkeys(PASSES, 'torch')
    key = shape_key(x, weight)
    if not can_measure():
        _load_persisted()
        return _decisions.get(key) or dict.fromkeys(PASSES, heuristic_impl(kh, kw, x.dtype))
    return decide(key, lambda: measure_passes(x, weight, bias))


def resolve(impl: str, pass_: str, x: torch.Tensor, weight: torch.Tensor,
            bias: Optional[torch.Tensor] = None) -> str:
    """The implementation that runs pass ``pass_`` when ``impl`` was requested.

    Args:
        impl (str): 'auto', 'torch' or a Triton implementation name.
        pass_ (str): 'fwd' or 'bwd'.
        x (Tensor): Input (already in the compute dtype).
        weight (Tensor): Kernel.
        bias (Tensor, optional): Bias.

    Returns:
        str: One of :data:`PASS_IMPLS`.
    """
    if impl == 'auto':
        return auto_decision(x, weight, bias)[pass_]
    if impl in TRITON_IMPLS and kernels_module().check_supported(x, weight) is not None:
        return 'torch'
    return impl


def decide(key: str, measure: Callable[[], Timings]) -> Decision:
    """The cached choice for ``key``, measuring (and persisting) it the first time.

    Args:
        key (str): Shape key from :func:`shape_key`.
        measure (callable): Returns milliseconds per implementation and pass.

    Returns:
        dict: The fastest implementation per pass ('fwd', 'bwd').
    """
    _load_persisted()
    if key not in _decisions:
        times = measure()
        _decisions[key] = {p: min(times, key=lambda impl: times[impl][p]) for p in PASSES}
        _persist(key, times)
    return _decisions[key]


def clear_decisions() -> None:
    """Forget measured decisions (in memory; the JSON file is reread on next use)."""
    global _persisted_loaded
    _decisions.clear()
    _persisted_loaded = False


def decisions() -> Dict[str, Decision]:
    """A copy of the in-memory dispatch table (shape key -> pass -> implementation)."""
    return {key: dict(choice) for key, choice in _decisions.items()}


# ----------------------------------------------------------------------------- persistence
def _cache_path() -> Optional[Path]:
    value = os.environ.get(ENV_CACHE, '')
    if value in ('0', 'off', 'none'):
        return None
    if value:
        return Path(value)
    return Path.home() / '.cache' / 'lkssl_mm' / 'dwconv_dispatch.json'


def cache_section() -> str:
    """Cached decisions are only valid for one device, software stack and kernel version."""
    ops = triton_ops()
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu'
    triton_version = ops.triton.__version__ if ops is not None else 'none'
    kernel_version = ops.KERNEL_VERSION if ops is not None else 0
    return (f'{device}|torch {torch.__version__}|cudnn {torch.backends.cudnn.version()}'
            f'|triton {triton_version}|kernels v{kernel_version}')


def _read_cache(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _load_persisted() -> None:
    global _persisted_loaded
    if _persisted_loaded:
        return
    _persisted_loaded = True
    path = _cache_path()
    if path is None:
        return
    section = _read_cache(path).get(cache_section(), {})
    for key, entry in section.items():
        if isinstance(entry, dict) and all(entry.get(p) in PASS_IMPLS for p in PASSES):
            _decisions.setdefault(key, {p: entry[p] for p in PASSES})


def _persist(key: str, times: Timings) -> None:
    path = _cache_path()
    if path is None:
        return
    try:
        data = _read_cache(path)
        data.setdefault(cache_section(), {})[key] = dict(_decisions[key], ms=times)
        write_atomically(json.dumps(data, indent=1, sort_keys=True), path)
    except OSError as err:
        warnings.warn(f'could not write the depthwise-conv dispatch cache {path}: {err}',
                      stacklevel=3)


# ----------------------------------------------------------------------------- timing
def time_call(step: Callable[[], None], device: torch.device) -> float:
    """Milliseconds of one ``step()``: CUDA events on a CUDA device, else the wall clock."""
    if device.type != 'cuda':
        start = time.perf_counter()
        step()
        return (time.perf_counter() - start) * 1e3
    begin = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    begin.record()
    step()
    end.record()
    end.synchronize()
    return begin.elapsed_time(end)


def median_ms(step: Callable[[], None], device: torch.device, warmup: int = 2,
              reps: int = 5) -> float:
    """Median milliseconds of ``step()`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        step()
    return statistics.median(time_call(step, device) for _ in range(reps))


def measure_passes(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
                   impls: Iterable[str] = PASS_IMPLS, warmup: int = 2, reps: int = 5
                   ) -> Timings:
    """Forward and backward milliseconds of each implementation on these inputs.

    A failure (compilation, resources) is reported as a warning and counts as
    infinitely slow. The inputs' values are reused and the upstream gradient is
    ones, so no random numbers are drawn (training runs stay reproducible).

    Args:
        x (Tensor): Input, in the compute dtype.
        weight (Tensor): Kernel.
        bias (Tensor, optional): Bias.
        impls (Iterable[str]): Implementations to time.
        warmup (int): Untimed calls first (compilation, autotuning).
        reps (int): Timed calls.

    Returns:
        dict: ``{impl: {'fwd': ms, 'bwd': ms}}``.
    """
    x, weight = x.detach(), weight.detach()
    bias = None if bias is None else bias.detach()
    grad = torch.ones_like(x)
    mask = (True, True, bias is not None)
    times: Timings = {}
    with torch.no_grad():
        for impl in impls:
            steps = {'fwd': functools.partial(forward_pass, impl, x, weight, bias),
                     'bwd': functools.partial(backward_pass, impl, grad, x, weight,
                                              bias is not None, mask)}
            try:
                times[impl] = {p: median_ms(steps[p], x.device, warmup, reps) for p in PASSES}
            except Exception as err:  # noqa: BLE001 - fall back to cuDNN on any kernel failure
                warnings.warn(f'depthwise conv {impl} failed for {tuple(x.shape)} '
                              f'{tuple(weight.shape)}: {err!r}', stacklevel=3)
                times[impl] = dict.fromkeys(PASSES, float('inf'))
    return times


__all__ = ['shape_key', 'heuristic_impl', 'can_measure', 'auto_decision', 'resolve', 'decide',
           'clear_decisions', 'decisions', 'cache_section', 'time_call', 'median_ms',
           'measure_passes', 'SMALL_KERNEL', 'PASSES', 'ENV_CACHE', 'ENV_MEASURE']
