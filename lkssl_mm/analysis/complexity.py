"""Parameter and FLOP counts of config-built models (mmengine's analysis).

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
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import DefaultScope, init_default_scope


def build_model_from_config(cfg: Config) -> torch.nn.Module:
    """Build ``cfg.model`` in the config's default scope (mmpretrain, mmdet, mmseg)."""
    scope = cfg.get('default_scope', 'mmpretrain')
    if DefaultScope.get_current_instance() is None or \
            DefaultScope.get_current_instance().scope_name != scope:
        init_default_scope(scope)
    with ROOT_MODELS.switch_scope_and_registry(scope) as registry:
        return registry.build(cfg.model)


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
    model = build_model_from_config(cfg).eval()
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


def count_flops(model: torch.nn.Module, input_shape: Tuple[int, ...]) -> int:
    """Multiply-adds of one forward of a (1, *input_shape) random input, attention included."""
    inputs = (torch.randn(1, *input_shape, device=next(model.parameters()).device), )
    analyzer = FlopAnalyzer(model, inputs)
    analyzer.set_op_handle('aten::scaled_dot_product_attention', sdpa_flop_jit)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    return analyzer.total()

