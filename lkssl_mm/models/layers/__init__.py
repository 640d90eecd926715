"""Building blocks: the depthwise layer, large-kernel mixers, norms."""
from .dwconv import DepthwiseConv2d
from .large_kernel import (
                           ConvBN,
                           DecomposedLargeKernelConv,
                           ReparamLargeKernelConv,
                           build_large_kernel_conv,
)
from .norm import LayerNorm2d, build_norm

__all__ = ['DepthwiseConv2d', 'ConvBN', 'ReparamLargeKernelConv', 'DecomposedLargeKernelConv',
           'build_large_kernel_conv', 'LayerNorm2d', 'build_norm']
