"""Export backbones to other libraries' models (timm's ConvNeXt)."""
from .timm_convnext import (
    TimmExport,
    TimmExportError,
    build_export_backbone,
    compare_with_timm,
    dense_depthwise_kernel,
    export_checkpoint_to_timm,
    lkconvnext_to_timm,
)

__all__ = ['TimmExport', 'TimmExportError', 'build_export_backbone', 'compare_with_timm',
           'dense_depthwise_kernel', 'export_checkpoint_to_timm', 'lkconvnext_to_timm']
