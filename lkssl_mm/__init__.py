"""lkssl_mm: large-kernel CNNs for self-supervised learning in OpenMMLab.

``import lkssl_mm`` registers every module the plugin provides (configs do it
with ``custom_imports=dict(imports=['lkssl_mm'])``) and lets ``torch.load``
read full mmengine checkpoints safely (see :mod:`lkssl_mm.utils.checkpoint`);
mmengine then writes local files (checkpoints) atomically
(:mod:`lkssl_mm.utils.fileio`).
"""
from .utils.checkpoint import allow_mmengine_checkpoints
from .utils.fileio import use_atomic_local_writes
from .version import __version__

allow_mmengine_checkpoints()
use_atomic_local_writes()

from . import datasets, engine, evaluation, models  # noqa: E402,F401

__all__ = ['__version__']
