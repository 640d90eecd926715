"""Layer-wise learning-rate decay for any backbone with ``get_layer_depth``.

mmdet and mmseg each ship a ``LearningRateDecayOptimizerConstructor`` that
recognises ConvNeXt/BEiT parameter names; mmpretrain's constructor only lives
in its own registry. This one asks the backbone for each parameter's layer id
(``get_layer_depth``: LKConvNeXt, mmpretrain's ConvNeXt, ViT and Swin have
it), so one constructor serves every backbone of the paper's comparison, and it
is registered in mmengine's root registry, so mmpretrain, mmdet and mmseg
configs all find it.
"""
from typing import List

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS

NO_DECAY_NAMES = ('pos_embed', 'cls_token', 'absolute_pos_embed',
                  'relative_position_bias_table', 'gamma', 'mask_token')


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Scale each parameter's lr by ``decay_rate ** (num_layers - 1 - layer_id)``.

    ``paramwise_cfg`` keys:

    * ``decay_rate`` (float): per-layer lr decay, e.g. 0.95 (detection) or
      0.9 (segmentation); 1.0 disables it.
    * ``no_decay_flat`` (bool, default True): no weight decay on 1-D
      parameters (norms, biases, layer scales) and on position embeddings /
      class tokens.

    Parameters outside ``model.backbone`` (necks, heads) get the full lr.

    Raises:
        TypeError: If the backbone has no ``get_layer_depth`` method.
    """

    def add_params(self, params: List[dict], module: nn.Module, **kwargs) -> None:
        model = module.module if hasattr(module, 'module') else module
        backbone = getattr(model, 'backbone', None)
        if not hasattr(backbone, 'get_layer_depth'):
            raise TypeError('LayerDecayOptimWrapperConstructor needs model.backbone.'
                            f'get_layer_depth(); {type(backbone).__name__} has none')
        decay_rate = float(self.paramwise_cfg.get('decay_rate', 1.0))
        no_decay_flat = self.paramwise_cfg.get('no_decay_flat', True)
        summary = {}
        for name, param in model.named_parameters():
            if not param.requires_grad:
                continue
            layer_id, num_layers = backbone.get_layer_depth(name, 'backbone.')
            scale = decay_rate ** (num_layers - 1 - layer_id)
            no_decay = no_decay_flat and (param.ndim == 1 or name.endswith('.bias') or any(
                key in name for key in NO_DECAY_NAMES))
            weight_decay = 0.0 if no_decay else (self.base_wd or 0.0)
            params.append(dict(params=[param], lr=self.base_lr * scale, lr_scale=scale,
                               weight_decay=weight_decay, param_name=name))
            summary.setdefault(layer_id, scale)
        print_log(f'layer-wise lr decay {decay_rate:.3g}: ' + ', '.join(
            f'layer {k}: x{v:.3g}' for k, v in sorted(summary.items())), logger='current')
