"""Self-supervised algorithms (registered in mmpretrain's registry)."""
from .dino import DINO, DINOTeacher

__all__ = ['DINO', 'DINOTeacher']
