"""Datasets of lkssl_mm."""
from .synthetic import (
    CLS_CLASSES,
    DET_CLASSES,
    DET_PALETTE,
    SEG_CLASSES,
    SEG_PALETTE,
    data_roots,
    generate,
    load_meta,
)

__all__ = [
    'CLS_CLASSES', 'DET_CLASSES', 'DET_PALETTE', 'SEG_CLASSES', 'SEG_PALETTE', 'data_roots',
    'generate', 'load_meta'
]
