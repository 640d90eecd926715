"""Data transforms."""
from .loading import CorruptImageError, StrictLoadImageFromFile, image_bytes_problem
from .multicrop import PHOTOMETRIC_PARAMS, MultiCrop, sample_crop_box

__all__ = ['CorruptImageError', 'StrictLoadImageFromFile', 'image_bytes_problem', 'MultiCrop',
           'PHOTOMETRIC_PARAMS', 'sample_crop_box']
