"""DINO projection head (MLP + L2-normalised bottleneck + weight-normalised prototypes)."""
import math
from typing import Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.registry import MODELS

#: Attribute set on the prototype-layer parameters; :class:`DINOOptimWrapper`
#: drops their gradients during the first ``freeze_last_layer_epochs`` epochs.
LAST_LAYER_ATTR = 'dino_last_layer'


class WeightNormLinear(nn.Module):
    """Bias-free linear layer with weight normalisation, ``W = g * V / ||V||`` per row.

    Written here instead of ``torch.nn.utils.weight_norm`` (deprecated) or its
    parametrisation (awkward to deep-copy into an EMA teacher).

    Args:
        in_features (int): Input size.
        out_features (int): Output size (number of prototypes).
        norm_weight (bool): Fix ``g`` to 1 (DINO's ``norm_last_layer``).
    """

    def __init__(self, in_features: int, out_features: int, norm_weight: bool = True):
        super().__init__()
        self.weight_v = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.kaiming_uniform_(self.weight_v, a=math.sqrt(5))
        self.weight_g = nn.Parameter(torch.ones(out_features, 1), requires_grad=not norm_weight)
        for param in (self.weight_v, self.weight_g):
            setattr(param, LAST_LAYER_ATTR, True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight_g * F.normalize(self.weight_v, dim=1)
        return F.linear(x, weight)


@MODELS.register_module()
class DINONeck(BaseModule):
    """The DINO projection head, as a neck: pooled features -> prototype logits.

    Accepts a backbone output tuple (uses the last entry); 4-D feature maps
    (CNNs with ``gap_before_final_norm=False``, Swin) are global-average-pooled,
    2-D vectors (LKConvNeXt default, ViT class token) pass through.

    Args:
        in_channels (int): Backbone feature size.
        hidden_channels (int): MLP hidden size. Defaults to 2048.
        bottleneck_channels (int): Bottleneck size. Defaults to 256.
        out_channels (int): Number of prototypes. Defaults to 65536.
        num_layers (int): MLP layers (>= 1). Defaults to 3.
        use_bn (bool): BatchNorm after hidden layers. Defaults to False.
        norm_last_layer (bool): Fix the prototype norms to 1. Defaults to True.
    """

    def __init__(self, in_channels: int, hidden_channels: int = 2048,
                 bottleneck_channels: int = 256, out_channels: int = 65536,
                 num_layers: int = 3, use_bn: bool = False, norm_last_layer: bool = True):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f'num_layers must be >= 1, got {num_layers}')
        self.in_channels = in_channels
        widths = [in_channels] + [hidden_channels] * (num_layers - 1) + [bottleneck_channels]
        layers = []
        for i in range(num_layers):
            layers.append(nn.Linear(widths[i], widths[i + 1]))
            if i < num_layers - 1:
                if use_bn:
                    layers.append(nn.BatchNorm1d(widths[i + 1]))
                layers.append(nn.GELU())
        self.mlp = nn.Sequential(*layers)
        self.last_layer = WeightNormLinear(bottleneck_channels, out_channels, norm_last_layer)

    def init_weights(self) -> None:
        """DINO's init: truncated normal (std 0.02) MLP weights, zero biases."""
        for module in self.mlp.modules():
            if isinstance(module, nn.Linear):
                trunc_normal_(module.weight, std=.02)
                nn.init.zeros_(module.bias)

    def forward(self, inputs: Union[torch.Tensor, Sequence[torch.Tensor]]) -> torch.Tensor:
        x = inputs if isinstance(inputs, torch.Tensor) else inputs[-1]
        if x.dim() == 4:
            x = x.mean((2, 3))
        if x.shape[-1] != self.in_channels:
            raise ValueError(f'DINONeck.in_channels is {self.in_channels} but the backbone '
                             f'gives {x.shape[-1]} channels')
        x = F.normalize(self.mlp(x), dim=-1, p=2)
        return self.last_layer(x)
