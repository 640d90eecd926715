"""Atomic local writes: the one way lkssl_mm writes a file that must not be half-written.

mmengine's ``LocalBackend.put`` opens the destination and writes into it, so a
process killed during a checkpoint save leaves a truncated file under the
final name. :func:`atomic_file` writes to a temporary file in the same
folder, flushes it to disk and renames it over the destination (an atomic
operation on POSIX file systems): a reader sees the old file or the new one,
never half of one. :func:`write_atomically` (bytes or text) and
:func:`save_atomically` (``torch.save``) use it, and ``import lkssl_mm``
registers :class:`AtomicLocalBackend` as mmengine's backend for local paths,
so every checkpoint mmengine writes goes through it too.
"""
import os
import os.path as osp
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator, Union

import torch
from mmengine.fileio.backends import LocalBackend, register_backend


@contextmanager
def atomic_file(filepath: Union[str, Path], mode: str = 'wb') -> Iterator[IO]:
    """Open a temporary file beside ``filepath``; on success it replaces ``filepath``.

    On any error (or interruption) the temporary file is removed and
    ``filepath`` keeps its previous content.

    Args:
        filepath (str | Path): Destination; its folder is created if needed.
        mode (str): ``'wb'`` or ``'w'``.
    """
    directory = osp.dirname(osp.abspath(filepath))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(filepath)}.', suffix='.tmp',
                               dir=directory)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def write_atomically(data: Union[bytes, str], filepath: Union[str, Path]) -> None:
    """Write ``data`` (bytes, or text as UTF-8) to ``filepath`` atomically.

    Args:
        data (bytes | str): Content.
        filepath (str | Path): Destination; its folder is created if needed.
    """
    if isinstance(data, str):
        data = data.encode('utf-8')
    with atomic_file(filepath) as f:
        f.write(data)


def save_atomically(obj, filepath: Union[str, Path]) -> None:
    """``torch.save(obj)`` to ``filepath`` atomically.

    Args:
        obj: What to save (a checkpoint dict).
        filepath (str | Path): Destination; its folder is created if needed.
    """
    with atomic_file(filepath) as f:
        torch.save(obj, f)


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend, with atomic ``put`` and ``put_text``."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        write_atomically(obj, filepath)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        write_atomically(obj.encode(encoding), filepath)


def use_atomic_local_writes() -> None:
    """Make mmengine write local files atomically (idempotent)."""
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
