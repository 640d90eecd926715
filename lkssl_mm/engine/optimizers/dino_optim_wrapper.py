"""Optimizer wrappers with DINO's two gradient manipulations.

mmengine's :class:`OptimWrapper` clips the global gradient norm or values;
the DINO reference instead clips each parameter's gradient norm separately and
drops the prototype layer's gradients during the first epoch(s). Both happen
between backward and the optimizer step, the one place a wrapper controls in
plain and distributed (DDP) training alike, hence these wrappers.
"""
from typing import Optional

import torch
from mmengine.logging import MessageHub
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS

from lkssl_mm.models.necks.dino_neck import LAST_LAYER_ATTR


def clip_grad_norm_per_param(params, max_norm: float) -> torch.Tensor:
    """Scale each parameter's gradient so that its norm is at most ``max_norm``.

    Args:
        params (Iterable[Parameter]): Parameters (those without grad are skipped).
        max_norm (float): Largest allowed norm per parameter.

    Returns:
        Tensor: The largest gradient norm before clipping (for logging).
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    norms = torch.stack([g.detach().norm(2).float() for g in grads])
    for grad, coef in zip(grads, (max_norm / (norms + 1e-6)).clamp(max=1.0)):
        grad.mul_(coef.to(grad.dtype))
    return norms.max()


class _DINOGradMixin:
    """Per-parameter clipping and early-epoch freezing of the prototype layer.

    Args:
        clip_grad (dict, optional): ``dict(type='param_norm', max_norm=3.0)``
            for DINO's per-parameter clipping; 'norm' / 'value' behave as in
            mmengine.
        freeze_last_layer_epochs (int): Epochs during which parameters tagged
            ``dino_last_layer`` get no update. Defaults to 1.
    """

    def __init__(self, *args, clip_grad: Optional[dict] = None,
                 freeze_last_layer_epochs: int = 1, **kwargs):
        self.param_clip_norm = None
        if clip_grad is not None and clip_grad.get('type') == 'param_norm':
            self.param_clip_norm = float(clip_grad['max_norm'])
            clip_grad = None
        super().__init__(*args, clip_grad=clip_grad, **kwargs)
        self.freeze_last_layer_epochs = freeze_last_layer_epochs

    def _params(self):
        return [p for group in self.optimizer.param_groups for p in group['params']]

    def _prepare_grads(self) -> None:
        epoch = MessageHub.get_current_instance().get_info('epoch', 0)
        if epoch < self.freeze_last_layer_epochs:
            for param in self._params():
                if getattr(param, LAST_LAYER_ATTR, False):
                    param.grad = None
        if self.param_clip_norm is not None:
            largest = clip_grad_norm_per_param(self._params(), self.param_clip_norm)
            self.message_hub.update_scalar('train/max_param_grad_norm', float(largest))


@OPTIM_WRAPPERS.register_module()
class DINOOptimWrapper(_DINOGradMixin, OptimWrapper):
    """:class:`OptimWrapper` with DINO's gradient handling (see module docstring)."""

    def step(self, **kwargs) -> None:
        self._prepare_grads()
        super().step(**kwargs)


@OPTIM_WRAPPERS.register_module()
class DINOAmpOptimWrapper(_DINOGradMixin, AmpOptimWrapper):
    """:class:`AmpOptimWrapper` with DINO's gradient handling; unscales first."""

    def step(self, **kwargs) -> None:
        if self.param_clip_norm is not None:
            self.loss_scaler.unscale_(self.optimizer)
        self._prepare_grads()
        super().step(**kwargs)


#: The mixed-precision counterpart of each plain wrapper, used by ``--amp``.
AMP_WRAPPERS = {'OptimWrapper': 'AmpOptimWrapper', 'DINOOptimWrapper': 'DINOAmpOptimWrapper'}
