"""The one interface every output format implements, and what formats share."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..scenes import Sample
from ..shapes import Shape

#: Version of everything the generator writes (recorded in meta.json and COCO's info);
#: bump it when a drawn image or a written file changes.
GENERATOR_VERSION = 4
SIZES = ('tiny', 'small', 'full')
_JPEG_QUALITY = 92


def save_jpeg(array: np.ndarray, path: Path) -> None:
    """Save an RGB array as JPEG (the quality every format uses).

    Args:
        array: uint8 RGB array.
        path: Destination file.
    """
    Image.fromarray(array).save(path, format='JPEG', quality=_JPEG_QUALITY)


class DatasetFormat:
    """One task's images in one on-disk layout (ImageNet, COCO, ADE20K).

    The driver calls, per split, :meth:`prepare_split`, then :meth:`write_image`
    for every index (in worker processes, in any order), then
    :meth:`finish_split` with every image's shapes in index order. A new task
    is a scene (``scenes.py``), a random stream (``drawing.STREAMS``) and one
    subclass listed in ``formats.FORMATS``.

    Attributes:
        task: The task name (``cls``, ``det``, ``seg``).
        folder: Its data root, relative to the output folder.
        presets: ``{size: (image side, train count, val count)}`` for every
            name in :data:`SIZES`.
        class_info: What ``meta.json`` records about the classes.
        render: The scene, ``render(seed, split, index, size) -> Sample``.
        resizable: Whether ``generate(img_size=...)`` overrides the preset's side.
    """

    task: str
    folder: str
    presets: dict[str, tuple[int, int, int]]
    class_info: dict[str, Any]
    render: Callable[[int, str, int, int], Sample]
    resizable: bool = False

    def num_images(self, count: int) -> int:
        """Images of a split whose preset count is ``count``."""
        return count

    def prepare_split(self, root: Path, split: str) -> None:
        """Create the folders (and files written once) of ``split`` under ``root``."""
        raise NotImplementedError

    def write_image(self, root: Path, split: str, index: int, sample: Sample) -> None:
        """Write the file(s) of image ``index``."""
        raise NotImplementedError

    def finish_split(self, root: Path, split: str, size: int,
                     shapes: list[list[Shape]]) -> dict[str, Any]:
        """Write the split's annotation files; returns per-split statistics for meta.json."""
        return {}
