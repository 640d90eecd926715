"""The implementations of each pass of a depthwise convolution.

A pass is the forward convolution or the backward (input, weight and bias
gradients together). Every implementation computes the same stride-1,
"same"-padded convolution:

* ``'torch'``: ``F.conv2d`` / ``aten.convolution_backward`` (cuDNN on the GPU,
  oneDNN on the CPU): the reference;
* ``'triton'``, ``'triton_window'``, ``'triton_tc'``: the ``direct``,
  ``window`` and ``tc`` kernel families of :mod:`lkssl_mm.ops.dwconv_kernels`.

Inputs arrive already cast to the compute dtype (autocast is applied by the
caller), in NCHW or channels_last.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

TRITON_IMPLS = {'triton': 'direct', 'triton_window': 'window', 'triton_tc': 'tc'}
PASS_IMPLS = ('torch', *TRITON_IMPLS)
Grads = Tuple[Optional[torch.Tensor], Optional[torch.Tensor], Optional[torch.Tensor]]


_kernels = None


def kernels_module():
    """:mod:`dwconv_triton`, imported on first use (it imports Triton when installed)."""
    global _kernels
    if _kernels is None:
        from . import dwconv_triton
        _kernels = dwconv_triton
    return _kernels


def triton_ops():
    """The Triton kernels module, or None when Triton is missing."""
    ops = kernels_module()
    return ops if ops.triton_available() else None


def memory_format(x: torch.Tensor) -> torch.memory_format:
    """channels_last if ``x`` is (and is not also plain contiguous), else contiguous."""
    return torch.channels_last if kernels_module().is_channels_last(x) \
        else torch.contiguous_format


def forward_pass(impl: str, x: torch.Tensor, weight: torch.Tensor,
                 bias: Optional[torch.Tensor]) -> torch.Tensor:
    """The convolution's output with implementation ``impl`` (no autograd).

    Args:
        impl (str): One of :data:`PASS_IMPLS`.
        x (Tensor): Input (N, C, H, W), NCHW or channels_last.
        weight (Tensor): Kernel (C, 1, kh, kw), kh and kw odd.
        bias (Tensor, optional): Bias (C,).

    Returns:
        Tensor: Output in ``x``'s dtype and memory format.
    """
    if impl == 'torch':
        kh, kw = weight.shape[-2:]
        y = F.conv2d(x, weight, bias, 1, (kh // 2, kw // 2), 1, x.shape[1])
        return y.contiguous(memory_format=memory_format(x))
    return kernels_module().conv_forward(x, weight, bias, variant=TRITON_IMPLS[impl])


def backward_pass(impl: str, grad: torch.Tensor, x: torch.Tensor, weight: torch.Tensor,
                  has_bias: bool, output_mask: Sequence[bool]) -> Grads:
    """Input, weight and bias gradients with implementation ``impl`` (no autograd).

    Args:
        impl (str): One of :data:`PASS_IMPLS`.
        grad (Tensor): Gradient of the output, shape of ``x``.
        x (Tensor): The forward input.
        weight (Tensor): The forward kernel (C, 1, kh, kw).
        has_bias (bool): Whether the forward pass had a bias.
        output_mask (Sequence[bool]): Which of (input, weight, bias) gradients
            to compute.

    Returns:
        tuple: (grad_x, grad_weight, grad_bias) in the dtypes and layouts of
        x, weight and weight; None where not asked for (or no bias).
    """
    want_x, want_w, want_b = (bool(m) for m in output_mask)
    want_b = want_b and has_bias
    c, _, kh, kw = weight.shape
    grad = grad.contiguous(memory_format=memory_format(x))
    if impl == 'torch':
        grad_x, grad_w, grad_b = torch.ops.aten.convolution_backward(
            grad, x, weight, [c] if want_b else None, [1, 1], [kh // 2, kw // 2], [1, 1], False,
            [0, 0], c, [want_x, want_w, want_b])
        if grad_x is not None:
            grad_x = grad_x.contiguous(memory_format=memory_format(x))
    else:
        ops, variant = kernels_module(), TRITON_IMPLS[impl]
        grad_x = ops.conv_forward(grad, weight, None, flip=True, variant=variant) \
            if want_x else None
        grad_w = grad_b = None
        if want_w:
            grad_w, grad_b = ops.conv_weight_grad(x, grad, (kh, kw), variant, with_bias=want_b)
        elif want_b:
            grad_b = grad.sum((0, 2, 3), dtype=torch.float32)
    return (grad_x,
            None if grad_w is None else grad_w.to(weight.dtype).contiguous(),
            None if grad_b is None or not want_b else grad_b.to(weight.dtype))


__all__ = ['TRITON_IMPLS', 'PASS_IMPLS', 'forward_pass', 'backward_pass', 'kernels_module',
           'triton_ops', 'memory_format']
