"""Depthwise 2-D convolution: the one entry point every depthwise layer calls.

The reference path is :func:`torch.nn.functional.conv2d` with
``groups=channels`` (cuDNN on the GPU). The Triton kernels of
:mod:`lkssl_mm.ops.dwconv_triton` plug in for stride-1 "same" convolutions:

* ``impl='torch'``: always ``F.conv2d``.
* ``impl='triton'``: the Triton kernels (CUDA tensors; CPU tensors only under
  ``TRITON_INTERPRET=1``). Configurations they do not cover (stride, padding
  other than "same", even or over-63 kernels) fall back to ``F.conv2d``.
* ``impl='auto'``: ``F.conv2d`` on the CPU and for kernels up to 7x7 (cuDNN's
  fast path); otherwise, per shape key (C, H, W, kh, kw, dtype, layout, batch
  bucket), times forward+backward of both once and keeps the faster. Decisions
  are cached in memory and in ``~/.cache/lkssl_mm/dwconv_dispatch.json``
  (``LKSSL_DWCONV_CACHE``: another file, or ``0`` to keep them in memory only).

The implementation is chosen by, in order: the ``impl`` argument, the one set
with :func:`set_dwconv_impl` / :func:`dwconv_impl`, the environment variable
``LKSSL_DWCONV_IMPL``, then 'auto'. Layers should leave ``impl`` as None.
"""
import functools
import json
import os
import statistics
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F

IMPLS = ('auto', 'torch', 'triton')
ENV_IMPL = 'LKSSL_DWCONV_IMPL'
ENV_CACHE = 'LKSSL_DWCONV_CACHE'
SMALL_KERNEL = 7  # cuDNN's fast depthwise path covers kernels up to 7x7

_forced: Optional[str] = None
_decisions: Dict[str, str] = {}
_persisted_loaded = False


def _pair(v: Union[int, Sequence[int]]) -> Tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


@functools.cache
def _kernels_module():
    """:mod:`dwconv_triton`, imported on first use (it imports Triton when installed)."""
    from . import dwconv_triton
    return dwconv_triton


def _triton_ops():
    """The Triton kernels module, or None when Triton is missing."""
    ops = _kernels_module()
    return ops if ops.triton_available() else None


def set_dwconv_impl(impl: Optional[str]) -> None:
    """Set the implementation used when a call passes ``impl=None``.

    Args:
        impl (str | None): 'auto', 'torch' or 'triton'; None goes back to the
            environment variable ``LKSSL_DWCONV_IMPL`` (default 'auto').
    """
    global _forced
    _forced = _check_impl(impl) if impl is not None else None


@contextmanager
def dwconv_impl(impl: Optional[str]):
    """Context manager form of :func:`set_dwconv_impl`."""
    previous = _forced
    set_dwconv_impl(impl)
    try:
        yield
    finally:
        set_dwconv_impl(previous)


def _check_impl(impl: str) -> str:
    if impl not in IMPLS:
        raise ValueError(f'depthwise conv impl must be one of {IMPLS}, got {impl!r}')
    return impl


def requested_impl(impl: Optional[str] = None) -> str:
    """The implementation asked for: argument, then forced, then environment, then 'auto'."""
    for candidate in (impl, _forced, os.environ.get(ENV_IMPL) or None):
        if candidate is not None:
            return _check_impl(candidate)
    return 'auto'


def _same_padding(weight: torch.Tensor, padding, stride) -> bool:
    """Whether this is the stride-1 "same" convolution the Triton kernels compute."""
    kh, kw = weight.shape[-2:]
    if _pair(stride) != (1, 1):
        return False
    if isinstance(padding, str):
        return padding == 'same' and kh % 2 == 1 and kw % 2 == 1
    return _pair(padding) == (kh // 2, kw // 2)


def _triton_unavailable_reason(x: torch.Tensor) -> Optional[str]:
    ops = _triton_ops()
    if ops is None:
        return 'the triton package is not installed'
    if x.is_cuda or ops.interpreter_enabled():
        return None
    if ops.interpret_flag():
        return ('TRITON_INTERPRET=1 was set after lkssl_mm.ops.dwconv_triton was imported; '
                'set it before importing lkssl_mm')
    return (f'the Triton kernels need CUDA tensors (got {x.device.type}); set '
            'TRITON_INTERPRET=1 before importing lkssl_mm to run them on the CPU (slow)')


def select_impl(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
                padding=None, stride=1, impl: Optional[str] = None) -> str:
    """The implementation :func:`depthwise_conv2d` uses for these arguments.

    Args:
        x (Tensor): Input (N, C, H, W).
        weight (Tensor): Kernel (C, 1, kh, kw).
        bias (Tensor, optional): Bias (C,).
        padding (tuple[int, int], optional): Defaults to "same".
        stride (int | tuple[int, int]): Stride.
        impl (str, optional): Requested implementation (see :func:`requested_impl`).

    Returns:
        str: 'torch' or 'triton'.

    Raises:
        RuntimeError: If 'triton' is requested but cannot run (no Triton, or a
            CPU tensor without the interpreter).
    """
    impl = requested_impl(impl)
    if padding is None:
        padding = (weight.shape[-2] // 2, weight.shape[-1] // 2)
    if impl == 'torch' or not _same_padding(weight, padding, stride):
        return 'torch'
    if impl == 'triton':
        reason = _triton_unavailable_reason(x)
        if reason is not None:
            raise RuntimeError(f"depthwise_conv2d(impl='triton'): {reason}")
        return 'torch' if _unsupported(x, weight) else 'triton'
    if not x.is_cuda or _triton_ops() is None:
        return 'torch'
    return _auto_choice(x, weight, bias)


def depthwise_conv2d(x: torch.Tensor,
                     weight: torch.Tensor,
                     bias: Optional[torch.Tensor] = None,
                     padding: Optional[Tuple[int, int]] = None,
                     impl: Optional[str] = None,
                     stride: Union[int, Tuple[int, int]] = 1) -> torch.Tensor:
    """Depthwise convolution, by default stride 1 with "same" padding.

    Args:
        x (Tensor): Input of shape (N, C, H, W), NCHW or channels_last.
        weight (Tensor): Kernel of shape (C, 1, kh, kw), kh and kw odd.
        bias (Tensor, optional): Bias of shape (C,).
        padding (int | tuple[int, int] | str, optional): As for ``F.conv2d``;
            defaults to (kh // 2, kw // 2).
        impl (str, optional): 'torch', 'triton' or 'auto'. Defaults to the one
            set by :func:`set_dwconv_impl`, else the environment variable
            ``LKSSL_DWCONV_IMPL``, else 'auto'.
        stride (int | tuple[int, int]): Stride; anything but 1 runs F.conv2d.

    Returns:
        Tensor: Output of shape (N, C, H', W') (H' = H, W' = W for stride 1
        and "same" padding).
    """
    if padding is None:
        padding = (weight.shape[-2] // 2, weight.shape[-1] // 2)
    if select_impl(x, weight, bias, padding, stride, impl) == 'triton':
        return _triton_ops().triton_depthwise_conv2d(x, weight, bias)
    return F.conv2d(x, weight, bias, stride, padding, 1, x.shape[1])


# ----------------------------------------------------------------------------- auto
def _effective_dtype(x: torch.Tensor) -> Optional[torch.dtype]:
    """The dtype the convolution runs in: the autocast dtype when enabled, else None."""
    device_type = x.device.type
    if x.is_floating_point() and torch.is_autocast_enabled(device_type):
        return torch.get_autocast_dtype(device_type)
    return None


def _unsupported(x: torch.Tensor, weight: torch.Tensor) -> Optional[str]:
    return _kernels_module().check_supported(x, weight, dtype=_effective_dtype(x))


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
    ops = _kernels_module()
    n, c, h, w = x.shape
    kh, kw = weight.shape[-2:]
    layout = 'cl' if ops.is_channels_last(x) else 'nchw'
    dtype = str(dtype or x.dtype).replace('torch.', '')
    return (f'C{c}_H{ops.size_bucket(h)}_W{ops.size_bucket(w)}_k{kh}x{kw}_{dtype}_{layout}'
            f'_N{_batch_bucket(n)}')


def heuristic_impl(kh: int, kw: int) -> str:
    """Choice without measuring: cuDNN up to 7x7, Triton above."""
    return 'torch' if max(kh, kw) <= SMALL_KERNEL else 'triton'


def _can_measure() -> bool:
    if os.environ.get('LKSSL_DWCONV_MEASURE', '1') == '0':
        return False
    compiling = getattr(torch.compiler, 'is_compiling', lambda: False)()
    return not compiling and not torch.cuda.is_current_stream_capturing()


def _auto_choice(x, weight, bias) -> str:
    kh, kw = weight.shape[-2:]
    if max(kh, kw) <= SMALL_KERNEL or _unsupported(x, weight):
        return 'torch'
    dtype = _effective_dtype(x)
    key = shape_key(x, weight, dtype)
    if not _can_measure():
        _load_persisted()
        return _decisions.get(key, heuristic_impl(kh, kw))

    def measure():
        ops = _kernels_module()
        return measure_impls(*(ops.cast_floating(t, dtype) for t in (x, weight, bias)))

    return decide(key, measure)


def decide(key: str, measure: Callable[[], Dict[str, float]]) -> str:
    """The cached choice for ``key``, measuring (and persisting) it the first time.

    Args:
        key (str): Shape key from :func:`shape_key`.
        measure (callable): Returns milliseconds per implementation name.

    Returns:
        str: The faster implementation.
    """
    _load_persisted()
    if key not in _decisions:
        times = measure()
        _decisions[key] = min(times, key=times.get)
        _persist(key, times)
    return _decisions[key]


def clear_decisions() -> None:
    """Forget measured decisions (in memory; the JSON file is reread on next use)."""
    global _persisted_loaded
    _decisions.clear()
    _persisted_loaded = False


def decisions() -> Dict[str, str]:
    """A copy of the in-memory dispatch table (shape key -> implementation)."""
    return dict(_decisions)


def _cache_path() -> Optional[Path]:
    value = os.environ.get(ENV_CACHE, '')
    if value in ('0', 'off', 'none'):
        return None
    if value:
        return Path(value)
    return Path.home() / '.cache' / 'lkssl_mm' / 'dwconv_dispatch.json'


def _cache_section() -> str:
    """Cached decisions are only valid for one device, software stack and kernel version."""
    ops = _triton_ops()
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
    section = _read_cache(path).get(_cache_section(), {})
    for key, entry in section.items():
        _decisions.setdefault(key, entry['impl'])


def _persist(key: str, times: Dict[str, float]) -> None:
    path = _cache_path()
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = _read_cache(path)
        data.setdefault(_cache_section(), {})[key] = dict(impl=_decisions[key], ms=times)
        tmp = path.with_name(f'{path.name}.{os.getpid()}.tmp')
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(tmp, path)
    except OSError as err:
        warnings.warn(f'could not write the depthwise-conv dispatch cache {path}: {err}',
                      stacklevel=3)


def _torch_conv(x, weight, bias):
    kh, kw = weight.shape[-2:]
    return F.conv2d(x, weight, bias, 1, (kh // 2, kw // 2), 1, x.shape[1])


def _triton_conv(x, weight, bias):
    return _triton_ops().triton_depthwise_conv2d(x, weight, bias)


IMPL_FNS = {'torch': _torch_conv, 'triton': _triton_conv}


def time_fwd_bwd(fn: Callable, x: torch.Tensor, weight: torch.Tensor,
                 bias: Optional[torch.Tensor] = None, warmup: int = 2, reps: int = 5) -> float:
    """Median milliseconds of forward plus backward (input, weight, bias gradients).

    Args:
        fn (callable): ``fn(x, weight, bias) -> Tensor``.
        x (Tensor): Input; a copy with ``requires_grad`` is used.
        weight (Tensor): Kernel; a copy with ``requires_grad`` is used.
        bias (Tensor, optional): Bias; a copy with ``requires_grad`` is used.
        warmup (int): Untimed calls first (compilation, autotuning).
        reps (int): Timed calls.

    Returns:
        float: Median time of one forward+backward in milliseconds (CUDA events
        on the GPU, wall clock on the CPU).
    """
    leaves = [t.detach().clone().requires_grad_() for t in (x, weight, bias) if t is not None]
    grad = None

    def step():
        nonlocal grad
        y = fn(*leaves, None) if bias is None else fn(*leaves)
        grad = torch.ones_like(y) if grad is None else grad
        torch.autograd.grad(y, leaves, grad)

    with torch.enable_grad():
        for _ in range(warmup):
            step()
        return statistics.median(time_call(step, x.device) for _ in range(reps))


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


def measure_impls(x: torch.Tensor, weight: torch.Tensor,
                  bias: Optional[torch.Tensor] = None) -> Dict[str, float]:
    """Forward+backward milliseconds of each implementation on copies of the inputs.

    A Triton failure (compilation, resources) is reported as a warning and
    counts as infinitely slow. The inputs' values are reused, so no random
    numbers are drawn (training runs stay reproducible).
    """
    times = {}
    with torch.autocast(x.device.type, enabled=False):
        for name, fn in IMPL_FNS.items():
            try:
                times[name] = time_fwd_bwd(fn, x, weight, bias)
            except Exception as err:  # noqa: BLE001 - fall back to cuDNN on any kernel failure
                warnings.warn(f'depthwise conv {name} failed for {tuple(x.shape)} '
                              f'{tuple(weight.shape)}: {err!r}', stacklevel=3)
                times[name] = float('inf')
    return times


__all__ = ['depthwise_conv2d', 'select_impl', 'set_dwconv_impl', 'dwconv_impl',
           'requested_impl', 'shape_key', 'heuristic_impl', 'decide', 'decisions',
           'clear_decisions', 'measure_impls', 'time_fwd_bwd', 'time_call', 'IMPLS']
