"""Optimizer wrappers and constructors."""
from .dino_optim_wrapper import (
                                 AMP_WRAPPERS,
                                 DINOAmpOptimWrapper,
                                 DINOOptimWrapper,
                                 clip_grad_norm_per_param,
)
from .layer_decay import LayerDecayOptimWrapperConstructor

__all__ = ['AMP_WRAPPERS', 'DINOOptimWrapper', 'DINOAmpOptimWrapper', 'clip_grad_norm_per_param',
           'LayerDecayOptimWrapperConstructor']
