"""Normalisation layers and helpers shared by the backbones.

``LN2d`` (channels-first LayerNorm) is registered in mmengine's root model
registry so that mmpretrain, mmdet and mmseg configs all resolve it; mmdet and
mmseg ship no such layer.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.registry import MODELS


@MODELS.register_module('LN2d', force=False)
class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channel dimension of an (N, C, H, W) tensor.

    Args:
        num_channels (int): Number of channels.
        eps (float): Added to the variance. Defaults to 1e-6.
    """

    _abbr_ = 'ln'

    def __init__(self, num_channels: int, eps: float = 1e-6, **kwargs):
        super().__init__(num_channels, eps=eps, **kwargs)

    def forward(self, x: torch.Tensor, data_format: str = 'channel_first') -> torch.Tensor:
        if data_format == 'channel_last':
            return super().forward(x)
        return layer_norm_nhwc(x.permute(0, 2, 3, 1), self).permute(0, 3, 1, 2)


def layer_norm_nhwc(x: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
    """Apply any :class:`nn.LayerNorm` (or subclass) to a channels-last tensor."""
    return F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)


def build_norm(norm_cfg: dict, channels: int) -> nn.Module:
    """Build a norm layer from an OpenMMLab config (``LN2d``, ``BN``, ``SyncBN``...).

    Args:
        norm_cfg (dict): The norm config, e.g. ``dict(type='LN2d', eps=1e-6)``.
        channels (int): Number of channels.
    """
    return build_norm_layer(norm_cfg, channels)[1]


def is_layer_norm(module: nn.Module) -> bool:
    """Whether ``module`` normalises over channels only (a LayerNorm)."""
    return isinstance(module, nn.LayerNorm)
