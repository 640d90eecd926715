"""Data transforms."""
from .loading import CorruptImageError, StrictLoadImageFromFile, image_bytes_problem

__all__ = ['CorruptImageError', 'StrictLoadImageFromFile', 'image_bytes_problem']
