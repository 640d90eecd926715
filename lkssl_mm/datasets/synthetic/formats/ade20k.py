"""ADE20K layout (mmseg, ``reduce_zero_label=True``) of the seg scenes.

``ade/ADEChallengeData2016/{images,annotations}/{training,validation}/ADE_*.{jpg,png}``.
Label maps store 0 = "other" (ignored after the reduction), 1 = background and 2-5 = the
shapes. mmseg's ``ADE20KDataset`` only accepts subsets of ADE's 150 classes in
``metainfo``, so read it with ``BaseSegDataset(img_suffix='.jpg', seg_map_suffix='.png',
...)`` or an ``ADE20KDataset`` subclass whose ``METAINFO`` holds ``SEG_CLASSES`` /
``SEG_PALETTE``.
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image

from ..scenes import SEG_BACKGROUND, SEG_CLASSES, SEG_OTHER, SEG_PALETTE, Sample, render_seg
from ..shapes import SHAPES
from .base import DatasetFormat, save_jpeg

_FOLDERS = {'train': 'training', 'val': 'validation'}


def seg_stem(split: str, index: int) -> str:
    """ADE20K-style file stem of segmentation image ``index``."""
    return f'ADE_{_FOLDERS[split][:5]}_{index + 1:08d}'


class ADE20KFormat(DatasetFormat):
    """Semantic segmentation images and label maps in ADE20K's folders."""

    task = 'seg'
    folder = 'ade/ADEChallengeData2016'
    presets = {'tiny': (64, 16, 8), 'small': (128, 192, 48), 'full': (256, 3000, 600)}
    class_info = {'classes': list(SEG_CLASSES), 'palette': [list(c) for c in SEG_PALETTE],
                  'stored_label_values': {
                      'other': SEG_OTHER, 'background': SEG_BACKGROUND,
                      **{k: SEG_BACKGROUND + 1 + i for i, k in enumerate(SHAPES)}},
                  'reduce_zero_label': True}
    render = staticmethod(render_seg)

    def prepare_split(self, root: Path, split: str) -> None:
        for kind in ('images', 'annotations'):
            (root / kind / _FOLDERS[split]).mkdir(parents=True, exist_ok=True)

    def write_image(self, root: Path, split: str, index: int, sample: Sample) -> None:
        stem = seg_stem(split, index)
        save_jpeg(sample.image, root / 'images' / _FOLDERS[split] / f'{stem}.jpg')
        Image.fromarray(sample.label_map).save(
            root / 'annotations' / _FOLDERS[split] / f'{stem}.png')
