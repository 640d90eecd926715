"""Export LKConvNeXt weights as a state dict of timm's ``ConvNeXt``.

timm's ``ConvNeXt`` takes one depthwise kernel size per stage
(``kernel_sizes``), so an LKConvNeXt is a timm ConvNeXt with other kernels
once every token mixer is one biased KxK depthwise convolution: RepLKNet
re-parameterised branches are folded (``switch_to_deploy``) and SLaK's
decomposed K x N + N x K kernels are summed into their dense KxK equivalent
(exact, though it gives up the decomposition's speed). BatchNorm variants map
to timm's ``norm_layer='batchnorm2d'`` with ``conv_mlp=True`` (timm needs
1x1-conv MLPs for any norm other than LayerNorm; same weights, reshaped).

What timm's ConvNeXt cannot express is refused with :class:`TimmExportError`
naming the setting and the reason: a hidden MLP width other than 4x (timm has
no ``mlp_ratio``), an activation or norm it does not build, a BatchNorm eps
other than 1e-5 (timm ignores ``norm_eps`` for it), other than four stages.

timm is not needed to export; :func:`compare_with_timm` (used by the tests
and ``tools/model_converters/lkconvnext2timm.py`` when timm is installed)
loads the result with ``strict=True`` and compares the pooled features.
"""
import copy
import os.path as osp
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

from lkssl_mm.utils.ssl_checkpoint import check_backbone_checkpoint, save_atomically

from ..backbones.lk_convnext import LKConvNeXt
from ..layers.norm import is_layer_norm

#: timm's ConvNeXt variants and what their entry points set
#: (timm/models/convnext.py, ``convnext_atto`` ... ``convnext_large``).
TIMM_VARIANTS: Dict[str, dict] = {
    'atto': dict(depths=(2, 2, 6, 2), dims=(40, 80, 160, 320), conv_mlp=True),
    'femto': dict(depths=(2, 2, 6, 2), dims=(48, 96, 192, 384), conv_mlp=True),
    'pico': dict(depths=(2, 2, 6, 2), dims=(64, 128, 256, 512), conv_mlp=True),
    'nano': dict(depths=(2, 2, 8, 2), dims=(80, 160, 320, 640), conv_mlp=True),
    'tiny': dict(depths=(3, 3, 9, 3), dims=(96, 192, 384, 768), conv_mlp=False),
    'small': dict(depths=(3, 3, 27, 3), dims=(96, 192, 384, 768), conv_mlp=False),
    'base': dict(depths=(3, 3, 27, 3), dims=(128, 256, 512, 1024), conv_mlp=False),
    'large': dict(depths=(3, 3, 27, 3), dims=(192, 384, 768, 1536), conv_mlp=False),
}
#: timm's defaults for what it does not take as arguments, or takes with these values.
TIMM_LN_EPS = 1e-6  # timm.layers.LayerNorm / LayerNorm2d
TIMM_BN_EPS = 1e-5  # torch.nn.BatchNorm2d, which timm builds for 'batchnorm2d'
TIMM_MLP_RATIO = 4
TIMM_PATCH_SIZE = 4  # the stem patch size its output stride 32 is planned for
TIMM_STAGES = 4


class TimmExportError(ValueError):
    """The backbone uses something timm's ConvNeXt cannot express."""


@dataclass
class TimmExport:
    """A timm ConvNeXt state dict and the ``timm.create_model`` call it is for.

    Args:
        model_name (str): timm model name, e.g. ``'convnext_tiny'``.
        kwargs (dict): Keyword arguments of ``timm.create_model``.
        state_dict (dict): Weights; loads with ``strict=True``.
        merged_mixers (int): Token mixers that were folded or merged into one
            dense kernel (0 when all were plain already).
    """

    model_name: str
    kwargs: dict
    state_dict: Dict[str, torch.Tensor]
    merged_mixers: int = 0

    def create_model_call(self) -> str:
        """The exact ``timm.create_model(...)`` call, as Python source."""
        args = ''.join(f', {key}={value!r}' for key, value in self.kwargs.items())
        return f'timm.create_model({self.model_name!r}{args})'


def build_export_backbone(backbone_cfg: dict) -> LKConvNeXt:
    """Build a config's LKConvNeXt in the form timm reproduces: pooled, last-stage output.

    Args:
        backbone_cfg (dict): ``cfg.model.backbone`` of any lkssl_mm config.

    Raises:
        TimmExportError: If the backbone is not an LKConvNeXt.
    """
    kind = str(backbone_cfg.get('type', '')).split('.')[-1]
    if kind != 'LKConvNeXt':
        raise TimmExportError(f'model.backbone.type={backbone_cfg.get("type")!r}: only '
                              'LKConvNeXt backbones export to timm ConvNeXt')
    cfg = dict(backbone_cfg, out_indices=-1, gap_before_final_norm=True, frozen_stages=0,
               init_cfg=None)
    return MODELS.build(cfg).eval()


@torch.no_grad()
def dense_depthwise_kernel(mixer: nn.Module, kernel_size: int,
                           where: str = 'mixer') -> Tuple[torch.Tensor, torch.Tensor]:
    """The single biased KxK depthwise kernel equivalent to a token mixer.

    The mixer (plain, re-parameterised or decomposed, in eval mode) is
    copied in float64 and deployed (``switch_to_deploy`` folds BatchNorms and
    small kernels); its remaining parallel depthwise convolutions are
    zero-padded to KxK and summed, then rounded once to the mixer's dtype.
    The result is checked against the original mixer on a random input, so
    a mixer that is not a sum of depthwise KxK filters is refused instead of
    exported wrongly.

    Args:
        mixer (nn.Module): The block's ``depthwise_conv``.
        kernel_size (int): K of the stage.
        where (str): The mixer's name, for error messages.

    Returns:
        tuple[Tensor, Tensor]: Weight (C, 1, K, K) and bias (C,), in the
        mixer's dtype.

    Raises:
        TimmExportError: If the mixer is not equivalent to one KxK depthwise conv.
    """
    dtype = next(mixer.parameters()).dtype
    reference = copy.deepcopy(mixer).float().eval()
    deployed = copy.deepcopy(reference).double()
    if hasattr(deployed, 'switch_to_deploy'):
        previous = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)  # the merged convolutions it creates, too
        try:
            deployed.switch_to_deploy()
        finally:
            torch.set_default_dtype(previous)
    convs = [m for m in deployed.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise TimmExportError(f'{where} ({type(mixer).__name__}) has no convolution')
    channels = convs[0].out_channels
    weight = torch.zeros(channels, 1, kernel_size, kernel_size, dtype=torch.float64)
    bias = torch.zeros(channels, dtype=torch.float64)
    for conv in convs:
        kh, kw = conv.kernel_size
        if conv.groups != channels or conv.stride != (1, 1) or kh > kernel_size \
                or kw > kernel_size or conv.padding != (kh // 2, kw // 2):
            raise TimmExportError(f'{where}: {type(conv).__name__} {tuple(conv.weight.shape)} '
                                  f'is not a stride-1 "same" depthwise conv within '
                                  f'{kernel_size}x{kernel_size}; timm\'s conv_dw cannot hold it')
        top, left = (kernel_size - kh) // 2, (kernel_size - kw) // 2
        weight[:, :, top:top + kh, left:left + kw] += conv.weight
        if conv.bias is not None:
            bias += conv.bias
    # check on an input that is not square, so that swapped K x N / N x K would show; in
    # float32 (CPU depthwise convolutions in float64 are two orders of magnitude slower),
    # where rounding stays below 1e-5 of the output and a wrong kernel does not
    probe = torch.randn(1, channels, kernel_size + 2, kernel_size + 5,
                        generator=torch.Generator().manual_seed(0))
    expected = reference(probe)
    got = F.conv2d(probe, weight.float(), bias.float(), padding=kernel_size // 2,
                   groups=channels)
    error = (expected - got).abs().max().item() if got.shape == expected.shape else float('inf')
    if not error <= 1e-5 * max(1.0, expected.abs().max().item()):
        raise TimmExportError(f'{where} ({type(mixer).__name__}) is not one {kernel_size}x'
                              f'{kernel_size} depthwise convolution (max difference {error:.3g} '
                              'from the dense kernel built from its convolutions)')
    return weight.to(dtype), bias.to(dtype)


def _norm_kind(backbone: LKConvNeXt) -> Tuple[str, float]:
    """('ln' | 'bn', eps) of the backbone's norms, which must all agree."""
    norms = [backbone.downsample_layers[0][1]] + \
        [layer[0] for layer in list(backbone.downsample_layers)[1:]] + \
        [block.norm for stage in backbone.stages for block in stage] + \
        [getattr(backbone, f'norm{backbone.num_stages - 1}')]
    kinds = set()
    for norm in norms:
        if is_layer_norm(norm):
            kinds.add(('ln', float(norm.eps)))
        elif isinstance(norm, _BatchNorm):
            kinds.add(('bn', float(norm.eps)))
        else:
            raise TimmExportError(f'norm_cfg: {type(norm).__name__} layers; timm\'s ConvNeXt '
                                  'builds LayerNorm or BatchNorm2d')
    if len(kinds) > 1:
        raise TimmExportError(f'norm_cfg: the backbone mixes norms {sorted(kinds)}; timm\'s '
                              'ConvNeXt uses one norm layer everywhere')
    kind, eps = kinds.pop()
    if kind == 'bn' and eps != TIMM_BN_EPS:
        raise TimmExportError(f'norm_cfg: BatchNorm eps={eps}; timm applies norm_eps only to '
                              f'LayerNorm, its BatchNorm2d keeps eps={TIMM_BN_EPS}')
    return kind, eps


def _timm_activation(act: nn.Module) -> Optional[str]:
    """Timm's ``act_layer`` name for the MLP activation (None: timm's default, GELU)."""
    if type(act) is nn.GELU:
        return None if act.approximate == 'none' else 'gelu_tanh'
    names = {nn.ReLU: 'relu', nn.SiLU: 'silu'}
    if type(act) in names:
        return names[type(act)]
    raise TimmExportError(f'act_cfg: {type(act).__name__} in the MLPs; the export knows '
                          'timm\'s gelu, gelu_tanh, relu and silu')


def _timm_arguments(backbone: LKConvNeXt, norm: Tuple[str, float]) -> Tuple[str, dict, bool]:
    """Timm model name, ``create_model`` keyword arguments and whether the MLPs are 1x1 convs."""
    if backbone.num_stages != TIMM_STAGES:
        raise TimmExportError(f'arch: {backbone.num_stages} stages; timm\'s ConvNeXt has '
                              f'{TIMM_STAGES}')
    block = backbone.stages[0][0]
    stem = backbone.downsample_layers[0][0]
    for i, stage in enumerate(backbone.stages):
        hidden, channels = stage[0].pointwise_conv1.out_features, backbone.channels[i]
        if hidden != TIMM_MLP_RATIO * channels:
            raise TimmExportError(
                f'mlp_ratio: stage {i} expands {channels} channels to {hidden} '
                f'(ratio {hidden / channels:g}); timm\'s ConvNeXt has no mlp_ratio argument '
                f'and always uses {TIMM_MLP_RATIO}')
    depths, dims = tuple(backbone.depths), tuple(backbone.channels)
    variant = next((name for name, args in TIMM_VARIANTS.items()
                    if args['depths'] == depths and args['dims'] == dims), None)
    kwargs = {}
    if variant is None:  # any variant with the dims given explicitly; tiny has Linear MLPs
        variant = 'tiny'
        kwargs.update(depths=depths, dims=dims)
    kwargs['kernel_sizes'] = tuple(backbone.kernel_sizes)
    act = _timm_activation(block.act)
    if act is not None:
        kwargs['act_layer'] = act
    kind, eps = norm
    conv_mlp = TIMM_VARIANTS[variant]['conv_mlp']
    if kind == 'bn':
        kwargs['norm_layer'] = 'batchnorm2d'
        conv_mlp = True  # timm asserts conv_mlp for norms other than LayerNorm
    elif eps != TIMM_LN_EPS:
        kwargs['norm_eps'] = eps
    if conv_mlp != TIMM_VARIANTS[variant]['conv_mlp']:
        kwargs['conv_mlp'] = conv_mlp
    if stem.in_channels != 3:
        kwargs['in_chans'] = stem.in_channels
    if stem.kernel_size[0] != TIMM_PATCH_SIZE:
        raise TimmExportError(
            f'stem_patch_size={stem.kernel_size[0]}: timm\'s ConvNeXt plans its strides for a '
            f'{TIMM_PATCH_SIZE}x{TIMM_PATCH_SIZE} stem (after a 2x2 one it adds a downsampling '
            'layer to the first stage, after a larger one it dilates the last stage instead '
            'of striding)')
    kwargs['num_classes'] = 0
    return f'convnext_{variant}', kwargs, conv_mlp


def lkconvnext_to_timm(backbone: LKConvNeXt) -> TimmExport:
    """Map an LKConvNeXt (with its weights) to timm's ConvNeXt.

    Args:
        backbone (LKConvNeXt): The backbone; it is not changed. Its last
            stage's output norm becomes timm's ``head.norm``.

    Returns:
        TimmExport: The model name, ``create_model`` arguments and state dict.

    Raises:
        TimmExportError: Naming what timm's ConvNeXt cannot express and why.
    """
    last_norm = f'norm{backbone.num_stages - 1}'
    if not hasattr(backbone, last_norm):
        raise TimmExportError(f'out_indices={backbone.out_indices}: the last stage has no '
                              f'output norm ({last_norm}), which becomes timm\'s head.norm')
    name, kwargs, conv_mlp = _timm_arguments(backbone, _norm_kind(backbone))
    state: Dict[str, torch.Tensor] = {}

    def put(prefix: str, module: nn.Module) -> None:
        for key, value in module.state_dict().items():
            state[f'{prefix}.{key}'] = value.detach().clone()

    stem = backbone.downsample_layers[0]
    put('stem.0', stem[0])
    put('stem.1', stem[1])
    merged = 0
    for i, stage in enumerate(backbone.stages):
        if i > 0:
            put(f'stages.{i}.downsample.0', backbone.downsample_layers[i][0])
            put(f'stages.{i}.downsample.1', backbone.downsample_layers[i][1])
        for j, block in enumerate(stage):
            out = f'stages.{i}.blocks.{j}'
            weight, bias = dense_depthwise_kernel(
                block.depthwise_conv, backbone.kernel_sizes[i], f'stages.{i}.{j}.depthwise_conv')
            merged += not isinstance(block.depthwise_conv, nn.Conv2d)
            state[f'{out}.conv_dw.weight'], state[f'{out}.conv_dw.bias'] = weight, bias
            put(f'{out}.norm', block.norm)
            for src, dst in (('pointwise_conv1', 'fc1'), ('pointwise_conv2', 'fc2')):
                linear = getattr(block, src)
                weight = linear.weight.detach().clone()
                state[f'{out}.mlp.{dst}.weight'] = weight[:, :, None, None] if conv_mlp \
                    else weight
                state[f'{out}.mlp.{dst}.bias'] = linear.bias.detach().clone()
            # timm.create_model drops ls_init_value=None, so its blocks always have a layer
            # scale: without one, the export's is 1
            state[f'{out}.gamma'] = block.gamma.detach().clone() if block.gamma is not None \
                else torch.ones(backbone.channels[i])
    put('head.norm', getattr(backbone, last_norm))
    return TimmExport(name, kwargs, state, merged)


@torch.no_grad()
def compare_with_timm(backbone: LKConvNeXt, export: TimmExport, image_size: int = 224,
                      batch_size: int = 2, seed: int = 0) -> Dict[str, float]:
    """Load ``export`` into timm (``strict=True``) and compare its pooled features.

    Args:
        backbone (LKConvNeXt): The backbone exported, in the form
            :func:`build_export_backbone` builds (pooled last-stage output).
        export (TimmExport): Its export.
        image_size (int): Side of the random test images.
        batch_size (int): Number of random test images.
        seed (int): Seed of the images.

    Returns:
        dict: ``max_abs_diff``, the largest absolute difference between the two
        models' features, and ``max_abs_feature``, the largest feature (the
        scale that difference is rounding of).

    Raises:
        ImportError: Without timm.
        RuntimeError: If timm refuses the state dict (missing/unexpected keys).
    """
    import timm
    if not backbone.gap_before_final_norm or backbone.out_indices[-1] != backbone.num_stages - 1:
        raise ValueError('compare_with_timm needs the pooled last-stage backbone '
                         '(build_export_backbone)')
    model = timm.create_model(export.model_name, **export.kwargs).eval()
    model.load_state_dict(export.state_dict, strict=True)
    images = torch.randn(batch_size, backbone.downsample_layers[0][0].in_channels, image_size,
                         image_size, generator=torch.Generator().manual_seed(seed))
    ours = backbone.eval()(images)[-1]
    return dict(max_abs_diff=(ours - model(images)).abs().max().item(),
                max_abs_feature=ours.abs().max().item())


def export_checkpoint_to_timm(src: str, dst: str, backbone_cfg: dict, which: str = 'teacher',
                              compare: bool = True, image_size: int = 224) -> dict:
    """Write the timm ConvNeXt state dict of an SSL or backbone checkpoint.

    Args:
        src (str): SSL checkpoint (its ``which`` backbone is used), converted
            ``backbone.*`` checkpoint or downstream checkpoint.
        dst (str): Output path: a plain state dict (written atomically).
        backbone_cfg (dict): The config's ``model.backbone`` the weights are for.
        which (str): 'teacher' (default) or 'student' backbone of an SSL checkpoint.
        compare (bool): If timm is installed, load the result into timm and
            report the largest feature difference (``max_abs_diff``).
        image_size (int): Image side of that comparison.

    Returns:
        dict: The report: source prefix, ``create_model`` call, keys dropped
        (output norms of earlier stages), merged mixers, ``max_abs_diff`` and
        ``max_abs_feature`` of the comparison.

    Raises:
        NotAnSSLCheckpoint: If ``src`` cannot be read or holds no backbone.
        ValueError: If the weights do not fit the config's backbone, or ``dst`` is ``src``.
        TimmExportError: If timm's ConvNeXt cannot express the backbone.
    """
    if osp.abspath(src) == osp.abspath(dst):
        raise ValueError(f'refusing to overwrite the source checkpoint {src}')
    backbone = build_export_backbone(backbone_cfg)
    weights, keys, prefix = check_backbone_checkpoint(src, backbone, which)
    last_norm = f'norm{backbone.num_stages - 1}.'
    if any(key.startswith(last_norm) for key in keys['new_output_norms']):
        raise TimmExportError(f'{src} has no weights for the last stage\'s output norm '
                              f'({last_norm[:-1]}), which becomes timm\'s head.norm')
    backbone.load_state_dict(weights, strict=False)
    export = lkconvnext_to_timm(backbone)
    report = dict(source=src, destination=dst, prefix=prefix, model_name=export.model_name,
                  create_model=export.create_model_call(), kwargs=export.kwargs,
                  tensors=len(export.state_dict), merged_mixers=export.merged_mixers,
                  dropped=keys['unexpected'], max_abs_diff=None, max_abs_feature=None)
    if compare:
        try:
            report.update(compare_with_timm(backbone, export, image_size))
        except ImportError:
            report['max_abs_diff'] = 'timm not installed: not compared'
    save_atomically(export.state_dict, dst)
    return report
