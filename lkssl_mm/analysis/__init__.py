"""Model analysis: effective receptive field, complexity."""
from .complexity import backbone_complexity, config_complexity
from .erf import compute_erf, high_contribution_area_ratio, save_erf_heatmap

__all__ = ['backbone_complexity', 'config_complexity', 'compute_erf',
           'high_contribution_area_ratio', 'save_erf_heatmap']
