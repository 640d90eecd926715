"""LKConvNeXt: ConvNeXt with large, re-parameterisable or decomposed depthwise kernels.

Registered in mmengine's root model registry, so mmpretrain, mmdet and mmseg
configs all build it with ``type='LKConvNeXt'``. With ``kernel_size=7``,
``lk_mode='plain'`` and LayerNorm its state dict and outputs are those of
mmpretrain's ``ConvNeXt`` (same parameter names).
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn.bricks import DropPath
from mmengine.model import BaseModule, ModuleList, Sequential
from mmengine.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

from ..layers.large_kernel import LK_MODES, build_large_kernel_conv, check_odd_kernel
from ..layers.norm import build_norm, is_layer_norm, layer_norm_nhwc

ARCH_SETTINGS: Dict[str, Dict[str, List[int]]] = {
    'atto': dict(depths=[2, 2, 6, 2], channels=[40, 80, 160, 320]),
    'femto': dict(depths=[2, 2, 6, 2], channels=[48, 96, 192, 384]),
    'pico': dict(depths=[2, 2, 6, 2], channels=[64, 128, 256, 512]),
    'nano': dict(depths=[2, 2, 8, 2], channels=[80, 160, 320, 640]),
    'tiny': dict(depths=[3, 3, 9, 3], channels=[96, 192, 384, 768]),
    'small': dict(depths=[3, 3, 27, 3], channels=[96, 192, 384, 768]),
    'base': dict(depths=[3, 3, 27, 3], channels=[128, 256, 512, 1024]),
    'large': dict(depths=[3, 3, 27, 3], channels=[192, 384, 768, 1536]),
}

CONVNEXT_INIT = [
    dict(type='TruncNormal', layer=['Conv2d', 'Linear'], std=.02, bias=0.),
    dict(type='Constant', layer=['LayerNorm'], val=1., bias=0.),
]


def parse_kernel_sizes(kernel_size: Union[int, Sequence[int]], num_stages: int) -> List[int]:
    """Expand ``kernel_size`` (one int or one per stage) and validate it.

    Raises:
        ValueError: Naming ``kernel_size`` and the bad value.
    """
    if isinstance(kernel_size, int) and not isinstance(kernel_size, bool):
        sizes = [kernel_size] * num_stages
    elif isinstance(kernel_size, Sequence) and not isinstance(kernel_size, str):
        sizes = list(kernel_size)
        if len(sizes) != num_stages:
            raise ValueError(f'kernel_size must be one int or {num_stages} ints (one per '
                             f'stage), got {kernel_size!r}')
    else:
        raise ValueError(f'kernel_size must be one int or {num_stages} ints, '
                         f'got {kernel_size!r}')
    for i, size in enumerate(sizes):
        check_odd_kernel(f'kernel_size[{i}]' if len(set(sizes)) > 1 else 'kernel_size', size)
    return sizes


class LKConvNeXtBlock(BaseModule):
    """ConvNeXt block with a configurable large depthwise kernel.

    ``depthwise mixer -> norm -> Linear (x mlp_ratio) -> GELU -> Linear ->
    layer scale -> drop path -> residual``; the pointwise layers run channels-last.

    Args:
        channels (int): Number of channels.
        mixer_cfg (dict): The depthwise mixer, as keyword arguments of
            :func:`build_large_kernel_conv`: ``kernel_size`` (odd), ``mode``
            ('plain', 'reparam' or 'decomposed'), ``small_kernel``,
            ``decompose_width``, ``deploy``. Defaults to a plain 7x7 kernel
            (ConvNeXt). One dict, as mmpretrain's ``ConvNeXtBlock(dw_conv_cfg)``.
        norm_cfg (dict): Norm config (LayerNorm or BatchNorm family).
        act_cfg (dict): Activation config.
        mlp_ratio (float): Hidden expansion of the pointwise MLP.
        drop_path_rate (float): Stochastic depth rate of this block.
        layer_scale_init_value (float): Initial layer scale; <= 0 disables it.
        with_cp (bool): Use gradient checkpointing.
    """

    def __init__(self, channels: int, *, mixer_cfg: dict = dict(kernel_size=7),
                 norm_cfg: dict = dict(type='LN2d', eps=1e-6),
                 act_cfg: dict = dict(type='GELU'), mlp_ratio: float = 4.,
                 drop_path_rate: float = 0., layer_scale_init_value: float = 1e-6,
                 with_cp: bool = False):
        super().__init__()
        self.with_cp = with_cp
        self.depthwise_conv = build_large_kernel_conv(channels, **mixer_cfg)
        self.norm = build_norm(norm_cfg, channels)
        hidden = int(mlp_ratio * channels)
        self.pointwise_conv1 = nn.Linear(channels, hidden)
        self.act = MODELS.build(act_cfg)
        self.pointwise_conv2 = nn.Linear(hidden, channels)
        self.gamma = nn.Parameter(layer_scale_init_value * torch.ones(channels)) \
            if layer_scale_init_value > 0 else None
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        x = self.depthwise_conv(x)
        if is_layer_norm(self.norm):
            x = layer_norm_nhwc(x.permute(0, 2, 3, 1), self.norm)
        else:
            x = self.norm(x).permute(0, 2, 3, 1)
        x = self.pointwise_conv2(self.act(self.pointwise_conv1(x)))
        if self.gamma is not None:
            x = x * self.gamma
        return self.drop_path(x.permute(0, 3, 1, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return x + cp.checkpoint(self._residual, x, use_reentrant=False)
        return x + self._residual(x)


@MODELS.register_module()
class LKConvNeXt(BaseModule):
    """ConvNeXt macro design with large depthwise kernels.

    A 4x4 patchify stem, four stages separated by norm + 2x2 strided-conv
    downsampling, ConvNeXt blocks whose depthwise kernel size is set per stage
    (7 is ConvNeXt; 9..51 the large-kernel variants of *The Counterattack of
    CNNs in Self-Supervised Learning*). The kernel can be plain, RepLKNet-style
    re-parameterised, or SLaK-style decomposed.

    Args:
        arch (str | dict): One of :data:`ARCH_SETTINGS` ('tiny', 'small',
            'base', 'large', ...) or a dict with ``depths`` and ``channels``.
        kernel_size (int | Sequence[int]): Depthwise kernel size, one int for
            all stages or one per stage; odd and >= 3. Defaults to 7.
        lk_mode (str): 'plain', 'reparam' or 'decomposed'. Defaults to 'plain'.
        small_kernel (int, optional): Parallel small kernel of 'reparam' /
            'decomposed' (RepLKNet and SLaK use 5). Defaults to None.
        decompose_width (int): N of the decomposed K x N kernels. Defaults to 5.
        widen_factor (float): Multiplies every stage's channels (SLaK's width
            factor, e.g. 1.3). Defaults to 1.0.
        in_channels (int): Image channels. Defaults to 3.
        stem_patch_size (int): Stem patch size. Defaults to 4.
        norm_cfg (dict): Norm everywhere: ``dict(type='LN2d', eps=1e-6)``
            (ConvNeXt), ``dict(type='BN')`` or ``dict(type='SyncBN')``.
        act_cfg (dict): Activation of the MLP. Defaults to GELU.
        mlp_ratio (float): MLP expansion. Defaults to 4.
        drop_path_rate (float): Stochastic depth, linearly increasing over
            blocks. Defaults to 0.
        layer_scale_init_value (float): Layer scale init; <= 0 disables it.
        out_indices (int | Sequence[int]): Stages to output, each with its own
            norm (``norm{i}``). Defaults to -1 (last stage).
        frozen_stages (int): Freeze the stem/downsampling and blocks of the
            first ``frozen_stages`` stages; all stages (linear probing) also
            freezes the output norms. Defaults to 0.
        norm_eval (bool): Keep BatchNorm layers in eval mode while training
            (detection fine-tuning). Defaults to False.
        gap_before_final_norm (bool): Global-average-pool before the output
            norm and return (N, C) vectors (classification, SSL). Defaults to
            True; set False for dense tasks.
        with_cp (bool): Gradient checkpointing per block. Defaults to False.
        deploy (bool): Build re-parameterised kernels already merged.
        init_cfg (dict | list[dict], optional): Defaults to ConvNeXt's init
            (truncated normal 0.02 for conv/linear, LayerNorm ones/zeros).
    """

    arch_settings = ARCH_SETTINGS

    def __init__(self, arch: Union[str, dict] = 'tiny',
                 kernel_size: Union[int, Sequence[int]] = 7, lk_mode: str = 'plain',
                 small_kernel: Optional[int] = None, decompose_width: int = 5,
                 widen_factor: float = 1.0, in_channels: int = 3, stem_patch_size: int = 4,
                 norm_cfg: dict = dict(type='LN2d', eps=1e-6),
                 act_cfg: dict = dict(type='GELU'), mlp_ratio: float = 4.,
                 drop_path_rate: float = 0., layer_scale_init_value: float = 1e-6,
                 out_indices: Union[int, Sequence[int]] = -1, frozen_stages: int = 0,
                 norm_eval: bool = False, gap_before_final_norm: bool = True,
                 with_cp: bool = False, deploy: bool = False,
                 init_cfg: Optional[Union[dict, list]] = CONVNEXT_INIT):
        super().__init__(init_cfg=init_cfg)
        arch = self._parse_arch(arch)
        self.depths = list(arch['depths'])
        self.channels = [int(round(c * widen_factor)) for c in arch['channels']]
        self.num_stages = len(self.depths)
        if lk_mode not in LK_MODES:
            raise ValueError(f'lk_mode must be one of {LK_MODES}, got {lk_mode!r}')
        self.kernel_sizes = parse_kernel_sizes(kernel_size, self.num_stages)
        self.out_indices = self._parse_out_indices(out_indices)
        if not 0 <= frozen_stages <= self.num_stages:
            raise ValueError(f'frozen_stages must be in [0, {self.num_stages}], '
                             f'got {frozen_stages}')
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.gap_before_final_norm = gap_before_final_norm

        rates = torch.linspace(0, drop_path_rate, sum(self.depths)).tolist()
        self.downsample_layers = ModuleList([nn.Sequential(
            nn.Conv2d(in_channels, self.channels[0], stem_patch_size, stem_patch_size),
            build_norm(norm_cfg, self.channels[0]))])
        self.stages = ModuleList()
        for i, (depth, channels) in enumerate(zip(self.depths, self.channels)):
            if i > 0:
                self.downsample_layers.append(nn.Sequential(
                    build_norm(norm_cfg, self.channels[i - 1]),
                    nn.Conv2d(self.channels[i - 1], channels, kernel_size=2, stride=2)))
            first = sum(self.depths[:i])
            mixer_cfg = dict(kernel_size=self.kernel_sizes[i], mode=lk_mode,
                             small_kernel=small_kernel, decompose_width=decompose_width,
                             deploy=deploy)
            self.stages.append(Sequential(*[
                LKConvNeXtBlock(channels, mixer_cfg=mixer_cfg, norm_cfg=norm_cfg,
                                act_cfg=act_cfg, mlp_ratio=mlp_ratio,
                                drop_path_rate=rates[first + j],
                                layer_scale_init_value=layer_scale_init_value, with_cp=with_cp)
                for j in range(depth)]))
            if i in self.out_indices:
                self.add_module(f'norm{i}', build_norm(norm_cfg, channels))
        self._freeze_stages()

    def _parse_arch(self, arch: Union[str, dict]) -> dict:
        if isinstance(arch, str):
            if arch not in self.arch_settings:
                raise ValueError(f'arch must be one of {sorted(self.arch_settings)} or a '
                                 f'dict, got {arch!r}')
            return self.arch_settings[arch]
        if not isinstance(arch, dict) or not {'depths', 'channels'} <= set(arch) \
                or len(arch['depths']) != len(arch['channels']):
            raise ValueError('arch dict needs "depths" and "channels" of equal length, '
                             f'got {arch!r}')
        return arch

    def _parse_out_indices(self, out_indices: Union[int, Sequence[int]]) -> List[int]:
        indices = [out_indices] if isinstance(out_indices, int) else list(out_indices)
        parsed = []
        for index in indices:
            if not -self.num_stages <= index < self.num_stages:
                raise ValueError(f'out_indices entries must be in [-{self.num_stages}, '
                                 f'{self.num_stages - 1}], got {out_indices!r}')
            parsed.append(index % self.num_stages)
        return parsed

    @property
    def out_channels(self) -> List[int]:
        """Channels of each output, in ``out_indices`` order."""
        return [self.channels[i] for i in self.out_indices]

    def forward(self, x: torch.Tensor) -> tuple:
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(self.downsample_layers[i](x))
            if i in self.out_indices:
                norm = getattr(self, f'norm{i}')
                if self.gap_before_final_norm:
                    outs.append(norm(x.mean((-2, -1), keepdim=True)).flatten(1))
                else:
                    outs.append(norm(x))
        return tuple(outs)

    def _freeze_stages(self) -> None:
        frozen = [m for i in range(self.frozen_stages)
                  for m in (self.downsample_layers[i], self.stages[i])]
        if self.frozen_stages == self.num_stages:  # linear probing: the output norms too
            frozen += [getattr(self, f'norm{i}') for i in self.out_indices]
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self

    def switch_to_deploy(self) -> None:
        """Merge every re-parameterisable kernel into plain convolutions."""
        for module in self.modules():
            if module is not self and hasattr(module, 'switch_to_deploy'):
                module.switch_to_deploy()

    def get_layer_depth(self, param_name: str, prefix: str = ''):
        """Layer id of a parameter for layer-wise lr decay (ConvNeXt/BEiT scheme).

        The stem is layer 0, stages 0 and 1 (with their downsampling) layers 1
        and 2, stage 2 is split into groups of three blocks, and the last stage
        is the last layer; the output norms (``norm0..3``) and parameters
        outside the backbone go one above, as in mmpretrain's ``ConvNeXt`` and
        mmdet's/mmseg's ConvNeXt rule.

        Args:
            param_name (str): Parameter name.
            prefix (str): Prefix of backbone parameters, e.g. 'backbone.'.

        Returns:
            tuple[int, int]: The layer id and the number of layer ids.
        """
        groups_in_stage2 = (self.depths[2] + 2) // 3
        max_layer_id = 3 + groups_in_stage2
        num_layers = max_layer_id + 2
        if not param_name.startswith(prefix):
            return max_layer_id + 1, num_layers
        parts = param_name[len(prefix):].split('.')
        if parts[0] == 'downsample_layers':
            stage = int(parts[1])
            layer_id = {0: 0, 1: 2, 2: 3}.get(stage, max_layer_id)
        elif parts[0] == 'stages':
            stage, block = int(parts[1]), int(parts[2])
            layer_id = {0: 1, 1: 2, 2: 3 + block // 3}.get(stage, max_layer_id)
        else:
            layer_id = max_layer_id + 1
        return layer_id, num_layers

    def get_stage_depth(self, param_name: str, prefix: str = ''):
        """Stage id of a parameter for stage-wise lr decay (mmseg's ConvNeXt scheme).

        Every downsampling layer (the stem included) is id 0, stage ``i`` is
        ``i + 1``; the output norms and parameters outside the backbone are
        the top id, ``num_stages + 1``.

        Args:
            param_name (str): Parameter name.
            prefix (str): Prefix of backbone parameters, e.g. 'backbone.'.

        Returns:
            tuple[int, int]: The stage id and the number of stage ids.
        """
        num_ids = self.num_stages + 2
        if not param_name.startswith(prefix):
            return num_ids - 1, num_ids
        parts = param_name[len(prefix):].split('.')
        if parts[0] == 'downsample_layers':
            return 0, num_ids
        if parts[0] == 'stages':
            return int(parts[1]) + 1, num_ids
        return num_ids - 1, num_ids
