"""Layer-wise or stage-wise learning-rate decay for any backbone that reports depths.

mmdet and mmseg each ship a ``LearningRateDecayOptimizerConstructor`` that
recognises ConvNeXt/BEiT parameter names; mmpretrain's constructor only lives
in its own registry. This one asks the backbone for each parameter's layer id
(``get_layer_depth``: LKConvNeXt, mmpretrain's ConvNeXt, ViT and Swin have
it) or stage id (``get_stage_depth``: LKConvNeXt), so one constructor serves
every backbone of the paper's comparison, and it is registered in mmengine's
root registry, so mmpretrain, mmdet and mmseg configs all find it. With the
same ``paramwise_cfg`` it gives every ConvNeXt parameter the lr and weight
decay of mmdet's and mmseg's constructor (tested).
"""
from typing import Callable, List, Tuple

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS

NO_DECAY_NAMES = ('pos_embed', 'cls_token', 'absolute_pos_embed',
                  'relative_position_bias_table', 'gamma', 'mask_token')

#: ``decay_type`` -> the backbone method that gives a parameter's (id, number of ids).
DEPTH_METHODS = {'layer_wise': 'get_layer_depth', 'stage_wise': 'get_stage_depth'}


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Scale each parameter's lr by ``decay_rate ** (top - id)``.

    ``id`` is the parameter's layer or stage id from the backbone; ``top``
    is the id of everything above the backbone (necks, heads), which keeps
    the full lr, and of the backbone's own top layer (its output norms).

    ``paramwise_cfg`` keys:

    * ``decay_rate`` (float): per-id lr decay, e.g. 0.95 (detection) or
      0.9 (segmentation); 1.0 disables it.
    * ``decay_type`` (str, default 'layer_wise'): 'layer_wise' asks
      ``backbone.get_layer_depth``; 'stage_wise' asks
      ``backbone.get_stage_depth`` (one lr per stage, as mmseg's ConvNeXt
      UperNet recipe).
    * ``num_layers`` (int, optional): mmdet's/mmseg's ``num_layers``, the
      highest id inside the backbone: the top becomes ``num_layers + 1``.
      Defaults to the backbone's own count. mmseg's ConvNeXt-T recipe sets
      6 with 'stage_wise' (stage ids 0-4), which leaves two unused ids
      between the last stage and the top; setting it reproduces that.
    * ``no_decay_flat`` (bool, default True): no weight decay on 1-D
      parameters (norms, biases, layer scales) and on position embeddings /
      class tokens.

    Raises:
        ValueError: On an unknown ``decay_type``, or a backbone id above
            ``num_layers``.
        TypeError: If the backbone lacks the method ``decay_type`` needs.
    """

    def add_params(self, params: List[dict], module: nn.Module, **kwargs) -> None:
        model = module.module if hasattr(module, 'module') else module
        depth_of = self._depth_function(getattr(model, 'backbone', None))
        decay_rate = float(self.paramwise_cfg.get('decay_rate', 1.0))
        no_decay_flat = self.paramwise_cfg.get('no_decay_flat', True)
        summary = {}
        for name, param in model.named_parameters():
            if not param.requires_grad:
                continue
            layer_id, top = depth_of(name)
            scale = decay_rate ** (top - layer_id)
            no_decay = no_decay_flat and (param.ndim == 1 or name.endswith('.bias') or any(
                key in name for key in NO_DECAY_NAMES))
            weight_decay = 0.0 if no_decay else (self.base_wd or 0.0)
            params.append(dict(params=[param], lr=self.base_lr * scale, lr_scale=scale,
                               weight_decay=weight_decay, param_name=name))
            summary.setdefault(layer_id, scale)
        decay_type = self.paramwise_cfg.get('decay_type', 'layer_wise')
        print_log(f'{decay_type} lr decay {decay_rate:.3g}: ' + ', '.join(
            f'id {k}: x{v:.3g}' for k, v in sorted(summary.items())), logger='current')

    def _depth_function(self, backbone: nn.Module) -> Callable[[str], Tuple[int, int]]:
        """``name -> (id, top id)`` for the configured decay type and ``num_layers``."""
        decay_type = self.paramwise_cfg.get('decay_type', 'layer_wise')
        if decay_type not in DEPTH_METHODS:
            raise ValueError(f'paramwise_cfg.decay_type must be one of {sorted(DEPTH_METHODS)}, '
                             f'got {decay_type!r}')
        method = DEPTH_METHODS[decay_type]
        if not hasattr(backbone, method):
            other = [k for k, m in DEPTH_METHODS.items() if hasattr(backbone, m)]
            hint = f"; it supports decay_type={other[0]!r}" if other else ''
            raise TypeError(f'LayerDecayOptimWrapperConstructor with decay_type={decay_type!r} '
                            f'needs model.backbone.{method}(); {type(backbone).__name__} has '
                            f'none{hint}')
        backbone_depth = getattr(backbone, method)
        num_layers = self.paramwise_cfg.get('num_layers')

        def depth_of(name: str) -> Tuple[int, int]:
            layer_id, count = backbone_depth(name, 'backbone.')
            if num_layers is None:
                return layer_id, count - 1
            if layer_id == count - 1:
                return num_layers + 1, num_layers + 1
            if layer_id > num_layers:
                raise ValueError(f'paramwise_cfg.num_layers={num_layers} but {name} has '
                                 f'{decay_type} id {layer_id}; num_layers must be at least '
                                 f'{count - 2} for {type(backbone).__name__}')
            return layer_id, num_layers + 1

        return depth_of
