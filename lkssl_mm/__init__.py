"""lkssl_mm: large-kernel CNNs for self-supervised learning in OpenMMLab.

``import lkssl_mm`` registers every module the plugin provides (configs do it
with ``custom_imports=dict(imports=['lkssl_mm'])``) and lets ``torch.load``
read full mmengine checkpoints safely (see :mod:`lkssl_mm.utils.checkpoint`).
"""
from .utils.checkpoint import allow_mmengine_checkpoints
from .version import __version__

allow_mmengine_checkpoints()

from . import datasets, engine, evaluation, models  # noqa: E402,F401

__all__ = ['__version__']
