"""Self-supervised algorithms (registered in mmpretrain's registry)."""
from .dino import DINO, DINOTeacher
from .dino_vit import DINOViT

__all__ = ['DINO', 'DINOTeacher', 'DINOViT']
