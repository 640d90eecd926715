"""ImageNet layout (mmpretrain ``CustomDataset`` / ``ImageNet``) of the cls scenes.

``imagenet/{train,val}/<class>/<split>_<index>.JPEG`` and ``meta/{classes,train,val}.txt``
(``ann_file='meta/<split>.txt'``, ``data_prefix='<split>'``). mmpretrain does not resolve a
``classes`` file path against ``data_root``: pass ``CLS_CLASSES`` or the full path of
``meta/classes.txt``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..scenes import CLS_CLASSES, Sample, render_cls
from ..shapes import Shape
from .base import DatasetFormat, save_jpeg


def cls_file(split: str, index: int) -> str:
    """Path of a classification image relative to ``imagenet/<split>``.

    Args:
        split: ``train`` or ``val``.
        index: Image index (its class is ``index % 4``).
    """
    return f'{CLS_CLASSES[index % len(CLS_CLASSES)]}/{split}_{index:06d}.JPEG'


class ImageNetFormat(DatasetFormat):
    """Classification images in class folders, with mmpretrain's list files."""

    task = 'cls'
    folder = 'imagenet'
    # counts are images per class
    presets = {'tiny': (32, 24, 12), 'small': (64, 320, 80), 'full': (128, 2400, 600)}
    class_info = {'classes': list(CLS_CLASSES)}
    render = staticmethod(render_cls)
    resizable = True

    def num_images(self, count: int) -> int:
        return count * len(CLS_CLASSES)

    def prepare_split(self, root: Path, split: str) -> None:
        (root / 'meta').mkdir(parents=True, exist_ok=True)
        (root / 'meta' / 'classes.txt').write_text('\n'.join(CLS_CLASSES) + '\n')
        for name in CLS_CLASSES:
            (root / split / name).mkdir(parents=True, exist_ok=True)

    def write_image(self, root: Path, split: str, index: int, sample: Sample) -> None:
        save_jpeg(sample.image, root / split / cls_file(split, index))

    def finish_split(self, root: Path, split: str, size: int,
                     shapes: list[list[Shape]]) -> dict[str, Any]:
        lines = [f'{cls_file(split, i)} {i % len(CLS_CLASSES)}\n' for i in range(len(shapes))]
        (root / 'meta' / f'{split}.txt').write_text(''.join(lines))
        return {'images_per_class': len(shapes) // len(CLS_CLASSES)}
