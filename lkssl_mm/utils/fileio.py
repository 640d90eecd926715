"""Atomic local writes for everything mmengine saves (checkpoints above all).

mmengine's ``LocalBackend.put`` opens the destination and writes into it, so a
process killed during a checkpoint save leaves a truncated file under the
final name. :class:`AtomicLocalBackend` writes to a temporary file in the same
folder, flushes it to disk and renames it over the destination (an atomic
operation on POSIX file systems): a reader sees the old file or the new one,
never half of one. ``import lkssl_mm`` registers it as mmengine's backend for
local paths.
"""
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import Union

from mmengine.fileio.backends import LocalBackend, register_backend


def write_atomically(data: bytes, filepath: Union[str, Path]) -> None:
    """Write ``data`` to ``filepath`` through a temporary file and a rename.

    Args:
        data (bytes): Content.
        filepath (str | Path): Destination; its folder is created if needed.
    """
    directory = osp.dirname(osp.abspath(filepath))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(filepath)}.', suffix='.tmp',
                               dir=directory)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend, with atomic ``put`` and ``put_text``."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        write_atomically(obj, filepath)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        write_atomically(obj.encode(encoding), filepath)


def use_atomic_local_writes() -> None:
    """Make mmengine write local files atomically (idempotent)."""
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
