"""Fast operators with pure-PyTorch reference paths."""
from .dwconv import depthwise_conv2d

__all__ = ['depthwise_conv2d']
