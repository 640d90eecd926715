"""Large depthwise kernels: plain, re-parameterised (RepLKNet) and decomposed (SLaK).

All three are built from :class:`DepthwiseConv2d`, so a faster depthwise kernel
speeds every form up. The re-parameterisable forms train with several
conv+BN branches and merge them into plain biased depthwise convolutions with
:meth:`switch_to_deploy`, giving the same outputs.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .dwconv import DepthwiseConv2d, KernelSize

LK_MODES = ('plain', 'reparam', 'decomposed')


def _pair(kernel_size: KernelSize) -> Tuple[int, int]:
    return (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)


class ConvBN(nn.Module):
    """A bias-free depthwise convolution followed by BatchNorm.

    Args:
        channels (int): Number of channels.
        kernel_size (int | tuple[int, int]): Odd kernel height and width.
    """

    def __init__(self, channels: int, kernel_size: KernelSize):
        super().__init__()
        self.conv = DepthwiseConv2d(channels, kernel_size, bias=False)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))

    @torch.no_grad()
    def fused_kernel_bias(self, pad_to: Optional[Tuple[int, int]] = None):
        """The (kernel, bias) of the equivalent biased convolution.

        Args:
            pad_to (tuple[int, int], optional): Zero-pad the kernel to this
                (odd) size, centred, so that it can be added to a larger one.
        """
        bn = self.bn
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        kernel = self.conv.weight * scale.reshape(-1, 1, 1, 1)
        bias = bn.bias - bn.running_mean * scale
        if pad_to is not None:
            kernel = pad_kernel(kernel, pad_to)
        return kernel, bias


def pad_kernel(kernel: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Zero-pad a (C, 1, kh, kw) kernel to ``size``, keeping it centred."""
    dh, dw = size[0] - kernel.shape[-2], size[1] - kernel.shape[-1]
    if dh < 0 or dw < 0 or dh % 2 or dw % 2:
        raise ValueError(f'cannot centre a {tuple(kernel.shape[-2:])} kernel in {size}')
    return F.pad(kernel, [dw // 2, dw // 2, dh // 2, dh // 2])


def _deploy_conv(channels: int, kernel: torch.Tensor, bias: torch.Tensor) -> DepthwiseConv2d:
    conv = DepthwiseConv2d(channels, tuple(kernel.shape[-2:]), bias=True)
    conv.weight.data.copy_(kernel)
    conv.bias.data.copy_(bias)
    return conv.to(kernel.device)


class _SmallKernelBranch(nn.Module):
    """The optional parallel small-kernel conv+BN (``small_conv``) of both re-param forms."""

    small_conv: Optional[ConvBN]

    def _plus_small(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``out`` plus the small branch's output on ``x`` (when there is one)."""
        return out if self.small_conv is None else out + self.small_conv(x)

    def _fold_small(self, kernel: torch.Tensor, bias: torch.Tensor):
        """(kernel, bias) with the small branch's fused kernel (centred) and bias added."""
        if self.small_conv is None:
            return kernel, bias
        small_kernel, small_bias = self.small_conv.fused_kernel_bias(tuple(kernel.shape[-2:]))
        return kernel + small_kernel, bias + small_bias


class ReparamLargeKernelConv(_SmallKernelBranch):
    """RepLKNet-style large kernel: KxK conv+BN plus a parallel small-kernel conv+BN.

    After :meth:`switch_to_deploy` both branches are merged into one biased
    KxK depthwise convolution (``lk_reparam``).

    Args:
        channels (int): Number of channels.
        kernel_size (int): The large (odd) kernel size K.
        small_kernel (int, optional): The parallel small kernel size; None
            for no small branch.
        deploy (bool): Build the merged form directly. Defaults to False.
    """

    def __init__(self, channels: int, kernel_size: int, *, small_kernel: Optional[int] = 5,
                 deploy: bool = False):
        super().__init__()
        self.channels = channels
        self.kernel_size = (kernel_size, kernel_size)
        if deploy:
            self.lk_reparam = DepthwiseConv2d(channels, kernel_size, bias=True)
            return
        self.lk_origin = ConvBN(channels, kernel_size)
        self.small_conv = ConvBN(channels, small_kernel) if small_kernel else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if hasattr(self, 'lk_reparam'):
            return self.lk_reparam(x)
        return self._plus_small(self.lk_origin(x), x)

    @torch.no_grad()
    def switch_to_deploy(self) -> None:
        """Merge the branches into ``lk_reparam`` (idempotent)."""
        if hasattr(self, 'lk_reparam'):
            return
        kernel, bias = self._fold_small(*self.lk_origin.fused_kernel_bias())
        self.lk_reparam = _deploy_conv(self.channels, kernel, bias)
        del self.lk_origin, self.small_conv


class DecomposedLargeKernelConv(_SmallKernelBranch):
    """SLaK-style decomposed kernel: K x N + N x K (+ small k x k) conv+BN branches.

    Covers a KxK receptive field at the cost of two thin kernels. After
    :meth:`switch_to_deploy` the small kernel is folded into the K x N branch,
    leaving two biased depthwise convolutions (``lk_h`` and ``lk_w``).

    Args:
        channels (int): Number of channels.
        kernel_size (int): The long side K (odd).
        width (int): The short side N (odd, < K). Defaults to 5.
        small_kernel (int, optional): Parallel small square kernel (odd,
            <= N); None for none. Defaults to 5.
        deploy (bool): Build the merged form directly. Defaults to False.
    """

    def __init__(self, channels: int, kernel_size: int, *, width: int = 5,
                 small_kernel: Optional[int] = 5, deploy: bool = False):
        super().__init__()
        self.channels = channels
        self.kernel_size = (kernel_size, kernel_size)
        self.shapes = ((kernel_size, width), (width, kernel_size))
        if deploy:
            self.lk_h = DepthwiseConv2d(channels, self.shapes[0], bias=True)
            self.lk_w = DepthwiseConv2d(channels, self.shapes[1], bias=True)
            return
        self.lkb_h = ConvBN(channels, self.shapes[0])
        self.lkb_w = ConvBN(channels, self.shapes[1])
        self.small_conv = ConvBN(channels, small_kernel) if small_kernel else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if hasattr(self, 'lk_h'):
            return self.lk_h(x) + self.lk_w(x)
        return self._plus_small(self.lkb_h(x) + self.lkb_w(x), x)

    @torch.no_grad()
    def switch_to_deploy(self) -> None:
        """Fold BNs and the small kernel into two biased convolutions (idempotent)."""
        if hasattr(self, 'lk_h'):
            return
        kernel_h, bias_h = self._fold_small(*self.lkb_h.fused_kernel_bias())
        kernel_w, bias_w = self.lkb_w.fused_kernel_bias()
        self.lk_h = _deploy_conv(self.channels, kernel_h, bias_h)
        self.lk_w = _deploy_conv(self.channels, kernel_w, bias_w)
        del self.lkb_h, self.lkb_w, self.small_conv


def check_odd_kernel(name: str, value, minimum: int = 3) -> int:
    """Validate one odd kernel size and return it.

    Args:
        name (str): The argument name used in the error message.
        value: The value to check.
        minimum (int): Smallest allowed size. Defaults to 3.

    Raises:
        ValueError: If ``value`` is not an odd int >= ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum \
            or value % 2 == 0:
        raise ValueError(f'{name} must be an odd int >= {minimum}, got {value!r}')
    return value


def build_large_kernel_conv(channels: int, *, kernel_size: int, mode: str = 'plain',
                            small_kernel: Optional[int] = None, decompose_width: int = 5,
                            deploy: bool = False) -> nn.Module:
    """Build the depthwise token mixer of one block from its mixer config.

    Every option is keyword-only, so a block passes its whole mixer config
    as one dict (``build_large_kernel_conv(channels, **mixer_cfg)``), as
    mmpretrain's ``ConvNeXtBlock`` does with ``dw_conv_cfg``: two integers
    (``small_kernel``, ``decompose_width``) cannot be swapped by position.

    Args:
        channels (int): Number of channels.
        kernel_size (int): The (odd) kernel size K.
        mode (str): 'plain' (one biased KxK conv, as in ConvNeXt), 'reparam'
            (RepLKNet) or 'decomposed' (SLaK).
        small_kernel (int, optional): Parallel small kernel for 'reparam' and
            'decomposed'; ignored by 'plain'. None disables it.
        decompose_width (int): N of the K x N / N x K kernels in
            'decomposed' mode. Defaults to 5.
        deploy (bool): Build re-parameterised forms already merged.
    """
    if mode == 'plain':
        return DepthwiseConv2d(channels, kernel_size, bias=True)
    if small_kernel is not None:
        check_odd_kernel('small_kernel', small_kernel)
        if small_kernel >= kernel_size:
            raise ValueError(
                f'small_kernel ({small_kernel}) must be smaller than kernel_size ({kernel_size})')
    if mode == 'reparam':
        return ReparamLargeKernelConv(channels, kernel_size, small_kernel=small_kernel,
                                      deploy=deploy)
    if mode == 'decomposed':
        check_odd_kernel('decompose_width', decompose_width, minimum=1)
        if decompose_width >= kernel_size:
            raise ValueError(f'decompose_width ({decompose_width}) must be smaller than '
                             f'kernel_size ({kernel_size})')
        if small_kernel is not None and small_kernel > decompose_width:
            raise ValueError(f'small_kernel ({small_kernel}) must be <= decompose_width '
                             f'({decompose_width}) so that it merges into the K x N kernel')
        return DecomposedLargeKernelConv(channels, kernel_size, width=decompose_width,
                                         small_kernel=small_kernel, deploy=deploy)
    raise ValueError(f'lk_mode must be one of {LK_MODES}, got {mode!r}')
