"""Parameter and FLOP counts of config-built models (mmengine's analysis).

FLOPs count every tap of a depthwise kernel, as the papers do, even where
:func:`lkssl_mm.ops.depthwise_conv2d` runs fewer (a kernel larger than its
feature map is cut to the taps that reach it).

mmengine's FLOP counter (fvcore's) has no handle for
``aten::scaled_dot_product_attention``, the fused attention that mmpretrain's
ViT calls on PyTorch 2, so it would leave out the attention's two matrix
products; :func:`sdpa_flop_jit` counts them as the unfused ``q @ k^T`` and
``attn @ v`` are counted.
"""
from math import prod
from typing import Any, List, Optional, Tuple

import torch
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.analysis.jit_handles import get_shape
from mmengine.analysis.print_helper import _format_size  # mmengine's 4.47G / 28.6M
from mmengine.config import Config
from torch.nn.modules.batchnorm import _BatchNorm

from lkssl_mm.ops.dwconv import whole_kernels
from lkssl_mm.utils.builder import build_model


def config_complexity(config: str, shape: Tuple[int, int] = (224, 224),
                      cfg_options: Optional[dict] = None) -> dict:
    """Params and FLOPs of a config's model.

    Args:
        config (str): Config path.
        shape (tuple[int, int]): Input height and width.
        cfg_options (dict, optional): Overrides, as ``--cfg-options`` gives them.

    Returns:
        dict: ``config``, ``input_shape``, ``measured`` ('model' or
        'backbone'), ``params``, ``flops`` (multiply-adds), their readable
        forms, and ``model_params`` (whole model).
    """
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    model = build_model(cfg).eval()
    is_classifier = type(model).__name__ == 'ImageClassifier'
    target = model if is_classifier else model.backbone
    params, flops = parameter_count(target)[''], count_flops(target, (3, *shape))
    return dict(config=config, input_shape=[3, *shape],
                measured='model' if is_classifier else 'backbone',
                params=int(params), flops=int(flops),
                params_str=_format_size(params), flops_str=_format_size(flops),
                model_params=sum(p.numel() for p in model.parameters()))


def sdpa_flop_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """Multiply-adds of ``scaled_dot_product_attention(q, k, v)``: ``q @ k^T`` and ``@ v``.

    Args:
        inputs (list): The traced op's inputs: query (..., L, E), key (..., S, E),
            value (..., S, Ev), then the optional arguments.
        outputs (list): Unused.
    """
    query, key, value = (get_shape(v) for v in inputs[:3])
    batch = prod(query[:-2])
    length, source = query[-2], key[-2]
    return batch * length * source * (query[-1] + value[-1])


def flop_analyzer(model: torch.nn.Module, input_shape: Tuple[int, ...]) -> FlopAnalyzer:
    """The mmengine analyzer of one forward of a (1, *input_shape) random input.

    The fused attention is counted (:func:`sdpa_flop_jit`); warnings about
    operators without FLOPs (norms, activations) and unused modules are off.
    """
    inputs = (torch.randn(1, *input_shape, device=next(model.parameters()).device), )
    analyzer = FlopAnalyzer(model, inputs)
    analyzer.set_op_handle('aten::scaled_dot_product_attention', sdpa_flop_jit)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    with whole_kernels():  # traced (and cached) now: every tap of a kernel counts
        analyzer.total()
    return analyzer


def count_flops(model: torch.nn.Module, input_shape: Tuple[int, ...]) -> int:
    """Multiply-adds of one forward of a (1, *input_shape) random input, attention included."""
    return flop_analyzer(model, input_shape).total()


#: Operators whose multiply-adds published model sizes count: the weight layers (and the
#: attention products of Transformers). Norm layers fold into the weights at inference.
WEIGHT_OPERATORS = ('conv', 'linear', 'matmul', 'bmm', 'einsum',
                    'scaled_dot_product_attention')


def backbone_complexity(config: str, num_classes: int = 1000,
                        shape: Tuple[int, int] = (224, 224), sparsity: float = 0.0,
                        deploy: bool = False, cfg_options: Optional[dict] = None) -> dict:
    """Params and FLOPs of a backbone base config, counted as papers publish them.

    The config's ``backbone`` gets global average pooling (when it returns feature
    maps) and a ``num_classes`` linear head, the form of published ImageNet sizes.
    FLOPs are the multiply-adds of :data:`WEIGHT_OPERATORS` (mmengine's analysis).

    Args:
        config (str): A base config that defines ``backbone`` and ``backbone_channels``
            (``configs/_base_/models/*.py``).
        num_classes (int): Classes of the linear head. Defaults to 1000.
        shape (tuple[int, int]): Input height and width. Defaults to (224, 224).
        sparsity (float): Count as if this fraction of every convolution and linear
            weight were zero, spread evenly over the layers (SLaK publishes the sizes
            left by its 40 % sparse training). Defaults to 0.
        deploy (bool): Count the inference form: re-parameterised kernels merged
            (``switch_to_deploy``) and every BatchNorm folded into its convolution
            (its two parameters per channel become one bias), as RepLKNet publishes.
        cfg_options (dict, optional): Overrides, as ``--cfg-options`` gives them
            (e.g. ``{'backbone.kernel_size': [31, 29, 27, 13]}``).

    Returns:
        dict: ``config``, ``input_shape``, ``sparsity``, ``deploy``, ``params`` and
        ``flops`` (as counted), ``dense_params`` and ``dense_flops``.

    Raises:
        ValueError: If the config has no ``backbone`` or ``sparsity`` is not in [0, 1).
    """
    from mmpretrain.registry import MODELS
    if not 0 <= sparsity < 1:
        raise ValueError(f'sparsity must be in [0, 1), got {sparsity}')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if 'backbone' not in cfg or 'backbone_channels' not in cfg:
        raise ValueError(f'{config} defines no backbone / backbone_channels; give a base '
                         'config from configs/_base_/models/')
    model = build_model(Config(dict(default_scope='mmpretrain', model=dict(
        type='ImageClassifier', backbone=cfg.backbone,
        head=dict(type='LinearClsHead', num_classes=num_classes,
                  in_channels=cfg.backbone_channels[-1]))))).eval()
    with torch.no_grad():
        if model.backbone(torch.zeros(1, 3, 32, 32))[-1].dim() == 4:  # feature maps
            model.neck = MODELS.build(dict(type='GlobalAveragePooling'))
    if deploy and hasattr(model.backbone, 'switch_to_deploy'):
        model.backbone.switch_to_deploy()
    params = sum(p.numel() for p in model.parameters())
    if deploy:
        params -= sum(m.weight.numel() for m in model.modules() if isinstance(m, _BatchNorm))
    by_operator = flop_analyzer(model, (3, *shape)).by_operator()
    flops = sum(by_operator.get(op, 0) for op in WEIGHT_OPERATORS)
    weights = sum(p.numel() for p in model.parameters() if p.ndim in (2, 4))
    weight_flops = by_operator.get('conv', 0) + by_operator.get('linear', 0)
    return dict(config=config, input_shape=[3, *shape], sparsity=sparsity, deploy=deploy,
                params=int(round(params - sparsity * weights)),
                flops=int(round(flops - sparsity * weight_flops)),
                dense_params=int(params), dense_flops=int(flops))
