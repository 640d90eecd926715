"""Backbones (registered in mmengine's root registry: visible to mmpretrain, mmdet, mmseg)."""
from .lk_convnext import LKConvNeXt, LKConvNeXtBlock

__all__ = ['LKConvNeXt', 'LKConvNeXtBlock']
