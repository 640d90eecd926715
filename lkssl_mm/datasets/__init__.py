"""Datasets of lkssl_mm: the synthetic data generator and data transforms."""
from .synthetic import (
    CLS_CLASSES,
    DET_CLASSES,
    DET_PALETTE,
    SEG_CLASSES,
    SEG_PALETTE,
    data_options,
    data_roots,
    generate,
    load_meta,
)
from .transforms import CorruptImageError, StrictLoadImageFromFile, image_bytes_problem

__all__ = [
    'CLS_CLASSES', 'DET_CLASSES', 'DET_PALETTE', 'SEG_CLASSES', 'SEG_PALETTE', 'data_options',
    'data_roots', 'generate', 'load_meta', 'CorruptImageError', 'StrictLoadImageFromFile',
    'image_bytes_problem'
]
