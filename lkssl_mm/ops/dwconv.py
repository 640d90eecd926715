"""Depthwise 2-D convolution: the one entry point every depthwise layer calls.

The reference path is :func:`torch.nn.functional.conv2d` with
``groups=channels`` (cuDNN on the GPU). The Triton kernels of
:mod:`lkssl_mm.ops.dwconv_triton` plug in for stride-1 "same" convolutions:

* ``impl='torch'``: always ``F.conv2d``.
* ``impl='triton'``, ``'triton_window'``, ``'triton_tc'``: one Triton kernel
  family (direct taps; input reuse along W; tensor cores), CUDA tensors, or
  CPU tensors under ``TRITON_INTERPRET=1``. Configurations they do not cover
  (stride, padding other than "same", even or over-63 kernels) fall back to
  ``F.conv2d``.
* ``impl='auto'``: ``F.conv2d`` on the CPU and for kernels up to 7x7 (cuDNN's
  fast path); otherwise each pass (forward; backward) runs the implementation
  measured fastest for the shape (:mod:`lkssl_mm.ops.dwconv_dispatch`).

Whatever the implementation, a "same" stride-1 kernel larger than the feature
map is first cut to the taps that can reach the map (:func:`reachable_kernel`):
on an H x W map only the central (2H - 1) x (2W - 1) taps ever meet a pixel,
the others multiply padding zeros. The result and every gradient are the same
(the cut taps' gradients are exactly zero either way); the work is not: a 13x13
kernel on a 2x2 map (the demo's 32 px crops in its last stages) does 3x3's, a
51x51 one on a 7x7 map (224 px, stage 4) 13x13's.

The implementation is chosen by, in order: the ``impl`` argument, the one set
with :func:`set_dwconv_impl` / :func:`dwconv_impl`, the environment variable
``LKSSL_DWCONV_IMPL``, then 'auto'. Layers should leave ``impl`` as None.
Triton-capable calls go through ``torch.ops.lkssl_mm.depthwise_conv2d`` when
compiling (:mod:`lkssl_mm.ops.dwconv_op`), so ``torch.compile`` sees no graph
break.
"""
import os
from contextlib import contextmanager
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F

from .dwconv_dispatch import (
    ENV_CACHE,
    SMALL_KERNEL,
    clear_decisions,
    decide,
    decisions,
    heuristic_impl,
    measure_passes,
    median_ms,
    resolve,
    shape_key,
    time_call,
)
from .dwconv_impls import (
    PASS_IMPLS,
    TRITON_IMPLS,
    backward_pass,
    forward_pass,
    kernels_module,
    triton_ops,
)
from .dwconv_op import depthwise_conv2d_apply

IMPLS = ('auto', 'torch', *TRITON_IMPLS)
ENV_IMPL = 'LKSSL_DWCONV_IMPL'

_forced: Optional[str] = None
_cut_kernels = True


def _pair(v: Union[int, Sequence[int]]) -> Tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def set_dwconv_impl(impl: Optional[str]) -> None:
    """Set the implementation used when a call passes ``impl=None``.

    Args:
        impl (str | None): One of :data:`IMPLS`; None goes back to the
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


@contextmanager
def whole_kernels():
    """Run every kernel whole inside this block (no :func:`reachable_kernel` cut).

    For FLOP counts by the papers' definition (a kernel's every tap counts,
    :mod:`lkssl_mm.analysis.complexity`) and for the cut's benchmark baseline;
    results are the same either way.
    """
    global _cut_kernels
    previous, _cut_kernels = _cut_kernels, False
    try:
        yield
    finally:
        _cut_kernels = previous


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


def reachable_kernel(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The part of a "same" stride-1 kernel that can reach an ``x``-sized map.

    An output pixel of an H-row map meets input rows at offsets -(H - 1)..H - 1,
    so kernel rows further than H - 1 from the centre only ever multiply the zero
    padding; likewise for columns. Cutting them (the padding shrinks with them)
    gives the same output and the same gradients for the taps kept; the cut
    taps' gradient is zero with or without the cut (autograd's slice backward
    fills them with zeros).

    Args:
        x (Tensor): Input (N, C, H, W).
        weight (Tensor): Kernel (C, 1, kh, kw), kh and kw odd.

    Returns:
        Tensor: ``weight`` itself, or a contiguous copy of its central
        min(kh, 2H - 1) x min(kw, 2W - 1) taps (autograd flows back through it).
    """
    kh, kw = weight.shape[-2:]
    height, width = x.shape[-2:]
    if height == 0 or width == 0 or (kh < 2 * height and kw < 2 * width):
        return weight
    top, left = max(kh - 2 * height + 1, 0) // 2, max(kw - 2 * width + 1, 0) // 2
    return weight[..., top:kh - top, left:kw - left].contiguous()


def _prepare(weight: torch.Tensor, x: torch.Tensor, padding, stride):
    """The kernel and padding to run: "same" by default, cut to what reaches the map."""
    if padding is None:
        padding = (weight.shape[-2] // 2, weight.shape[-1] // 2)
    if not _cut_kernels or not _same_padding(weight, padding, stride):
        return weight, padding
    weight = reachable_kernel(x, weight)
    return weight, (weight.shape[-2] // 2, weight.shape[-1] // 2)


def _triton_unavailable_reason(x: torch.Tensor) -> Optional[str]:
    ops = triton_ops()
    if ops is None:
        return 'the triton package is not installed'
    if x.is_cuda or ops.interpreter_enabled():
        return None
    if ops.interpret_flag():
        return ('TRITON_INTERPRET=1 was set after lkssl_mm.ops.dwconv_triton was imported; '
                'set it before importing lkssl_mm')
    return (f'the Triton kernels need CUDA tensors (got {x.device.type}); set '
            'TRITON_INTERPRET=1 before importing lkssl_mm to run them on the CPU (slow)')


def _route(x: torch.Tensor, weight: torch.Tensor, padding, stride,
           impl: Optional[str]) -> str:
    """'torch' for a plain ``F.conv2d`` call, else the implementation the op is asked for.

    Raises:
        RuntimeError: If a Triton implementation is requested but cannot run.
    """
    impl = requested_impl(impl)
    if impl == 'torch' or not _same_padding(weight, padding, stride):
        return 'torch'
    if impl in TRITON_IMPLS:
        reason = _triton_unavailable_reason(x)
        if reason is not None:
            raise RuntimeError(f'depthwise_conv2d(impl={impl!r}): {reason}')
        return impl
    if not x.is_cuda or triton_ops() is None or max(weight.shape[-2:]) <= SMALL_KERNEL:
        return 'torch'
    return 'auto'


def _cast(t: Optional[torch.Tensor], dtype: Optional[torch.dtype]) -> Optional[torch.Tensor]:
    if t is None or dtype is None or not t.is_floating_point():
        return t
    return t.to(dtype)


def autocast_inputs(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor]):
    """Cast to the autocast dtype like ``F.conv2d`` does (conv runs in lower precision)."""
    device_type = x.device.type
    if not x.is_floating_point() or not torch.is_autocast_enabled(device_type):
        return x, weight, bias
    dtype = torch.get_autocast_dtype(device_type)
    return _cast(x, dtype), _cast(weight, dtype), _cast(bias, dtype)


def select_impl(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
                padding=None, stride=1, impl: Optional[str] = None, pass_: str = 'fwd') -> str:
    """The implementation :func:`depthwise_conv2d` runs for one pass of these arguments.

    Under 'auto' this may measure (once per shape key).

    Args:
        x (Tensor): Input (N, C, H, W).
        weight (Tensor): Kernel (C, 1, kh, kw).
        bias (Tensor, optional): Bias (C,).
        padding (tuple[int, int], optional): Defaults to "same".
        stride (int | tuple[int, int]): Stride.
        impl (str, optional): Requested implementation (see :func:`requested_impl`).
        pass_ (str): 'fwd' or 'bwd'.

    Returns:
        str: 'torch' or a Triton implementation name.

    Raises:
        RuntimeError: If a Triton implementation is requested but cannot run
            (no Triton, or a CPU tensor without the interpreter).
    """
    weight, padding = _prepare(weight, x, padding, stride)
    route = _route(x, weight, padding, stride, impl)
    if route == 'torch':
        return 'torch'
    return resolve(route, pass_, *autocast_inputs(x, weight, bias))


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
        impl (str, optional): One of :data:`IMPLS`. Defaults to the one set by
            :func:`set_dwconv_impl`, else the environment variable
            ``LKSSL_DWCONV_IMPL``, else 'auto'.
        stride (int | tuple[int, int]): Stride; anything but 1 runs F.conv2d.

    Returns:
        Tensor: Output of shape (N, C, H', W') (H' = H, W' = W for stride 1
        and "same" padding).
    """
    weight, padding = _prepare(weight, x, padding, stride)
    route = _route(x, weight, padding, stride, impl)
    if route != 'torch':
        cx, cweight, cbias = autocast_inputs(x, weight, bias)
        if kernels_module().check_supported(cx, cweight) is None and x.numel() > 0:
            return depthwise_conv2d_apply(cx, cweight, cbias, route)
    return F.conv2d(x, weight, bias, stride, padding, 1, x.shape[1])


__all__ = ['depthwise_conv2d', 'select_impl', 'reachable_kernel', 'whole_kernels',
           'set_dwconv_impl', 'dwconv_impl',
           'requested_impl', 'autocast_inputs', 'shape_key', 'heuristic_impl', 'decide',
           'decisions', 'clear_decisions', 'measure_passes', 'median_ms', 'time_call',
           'forward_pass', 'backward_pass', 'IMPLS', 'PASS_IMPLS', 'ENV_IMPL', 'ENV_CACHE']
