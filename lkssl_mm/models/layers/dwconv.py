"""The depthwise convolution layer every large-kernel block is built from."""
from typing import Tuple, Union

import torch
import torch.nn as nn

from lkssl_mm.ops import depthwise_conv2d

KernelSize = Union[int, Tuple[int, int]]


class DepthwiseConv2d(nn.Conv2d):
    """Stride-1, "same"-padded depthwise convolution.

    A subclass of :class:`torch.nn.Conv2d` (so initialisers, state-dict keys
    and checkpoints of plain ``nn.Conv2d`` depthwise layers carry over) whose
    forward goes through :func:`lkssl_mm.ops.depthwise_conv2d`, the single
    place where a faster kernel replaces cuDNN.

    Args:
        channels (int): Number of input and output channels.
        kernel_size (int | tuple[int, int]): Odd kernel height and width.
        bias (bool): Whether to add a learnable bias. Defaults to True.
    """

    def __init__(self, channels: int, kernel_size: KernelSize, bias: bool = True):
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        if kh % 2 == 0 or kw % 2 == 0:
            raise ValueError(f'DepthwiseConv2d needs odd kernel sizes, got {(kh, kw)}')
        super().__init__(channels, channels, (kh, kw), stride=1,
                         padding=(kh // 2, kw // 2), groups=channels, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return depthwise_conv2d(x, self.weight, self.bias, self.padding)
