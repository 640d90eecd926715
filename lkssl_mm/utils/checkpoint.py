"""Safe loading of full mmengine checkpoints with PyTorch >= 2.6.

PyTorch 2.6 made ``torch.load(weights_only=True)`` the default; mmengine 0.10
calls ``torch.load`` without the argument, so resuming from its own full
checkpoints fails (``UnpicklingError: Weights only load failed``): they hold
the message hub's :class:`HistoryBuffer` objects, numpy arrays, scalars and
dtypes. Instead of switching ``weights_only`` off (which would let a
checkpoint run arbitrary code), :func:`allow_mmengine_checkpoints` adds exactly
those types to torch's allow-list. HistoryBuffer pickles its statistics
methods as ``getattr(HistoryBuffer, 'mean')``; ``getattr`` is therefore mapped
to :func:`_history_buffer_getattr`, which resolves only those names.
"""
import pickle

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

_BUFFER_STATISTICS = frozenset({'min', 'max', 'mean', 'current'})


def _history_buffer_getattr(obj, name: str):
    """``getattr`` restricted to HistoryBuffer's statistics methods."""
    allowed = _BUFFER_STATISTICS | set(HistoryBuffer._statistics_methods)
    if obj is HistoryBuffer and name in allowed:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r}, {name!r}); only HistoryBuffer statistics '
        'are allowed (lkssl_mm.utils.checkpoint)')


def _numpy_globals() -> list:
    multiarray = np.core.multiarray if np.__version__ < '2' else np._core.multiarray
    dtype_classes = [getattr(np.dtypes, name) for name in dir(np.dtypes)
                     if name.endswith('DType')]
    return [np.ndarray, np.dtype, multiarray.scalar, multiarray._reconstruct] + dtype_classes


def allow_mmengine_checkpoints() -> None:
    """Allow-list the types full mmengine checkpoints contain (idempotent)."""
    if not hasattr(torch.serialization, 'add_safe_globals'):
        return  # PyTorch < 2.4 loads them without an allow-list
    torch.serialization.add_safe_globals(
        [HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr')] + _numpy_globals())
