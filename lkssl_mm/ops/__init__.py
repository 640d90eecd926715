"""Fast operators with pure-PyTorch reference paths."""
from .dwconv import depthwise_conv2d, dwconv_impl, select_impl, set_dwconv_impl

__all__ = ['depthwise_conv2d', 'dwconv_impl', 'select_impl', 'set_dwconv_impl']
