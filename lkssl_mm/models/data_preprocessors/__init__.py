"""Data preprocessors (registered in mmpretrain's registry)."""
from .multicrop import MultiCropDataPreprocessor, apply_photometric, photometric_steps

__all__ = ['MultiCropDataPreprocessor', 'apply_photometric', 'photometric_steps']
