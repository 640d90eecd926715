"""COCO layout (mmdet ``CocoDataset``) of the det scenes: boxes and polygon masks.

``coco/{train,val}2017/<12-digit id>.jpg`` and ``annotations/instances_<split>2017.json``;
categories ``circle, square, triangle, cross`` (ids 1-4).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..scenes import DET_CLASSES, DET_PALETTE, Sample, render_det
from ..shapes import SHAPES, Shape, polygon_area, polygon_bbox
from .base import GENERATOR_VERSION, DatasetFormat, save_jpeg


def det_file(index: int) -> str:
    """COCO-style file name of detection image ``index``."""
    return f'{index + 1:012d}.jpg'


def coco_annotation(shape: Shape, ann_id: int, image_id: int) -> dict[str, Any]:
    """The COCO record of one instance.

    Args:
        shape: The drawn instance.
        ann_id: Annotation id.
        image_id: Id of its image.
    """
    polygon = shape.polygon()
    return {'id': ann_id, 'image_id': image_id, 'category_id': SHAPES.index(shape.kind) + 1,
            'segmentation': [[v for point in polygon for v in point]],
            'area': round(polygon_area(polygon), 2), 'bbox': polygon_bbox(polygon),
            'iscrowd': 0}


class CocoFormat(DatasetFormat):
    """Detection / instance segmentation images with one COCO json per split."""

    task = 'det'
    folder = 'coco'
    presets = {'tiny': (64, 16, 8), 'small': (128, 192, 48), 'full': (256, 3000, 600)}
    class_info = {'classes': list(DET_CLASSES), 'palette': [list(c) for c in DET_PALETTE],
                  'category_ids': list(range(1, len(DET_CLASSES) + 1))}
    render = staticmethod(render_det)

    def prepare_split(self, root: Path, split: str) -> None:
        (root / 'annotations').mkdir(parents=True, exist_ok=True)
        (root / f'{split}2017').mkdir(parents=True, exist_ok=True)

    def write_image(self, root: Path, split: str, index: int, sample: Sample) -> None:
        save_jpeg(sample.image, root / f'{split}2017' / det_file(index))

    def finish_split(self, root: Path, split: str, size: int,
                     shapes: list[list[Shape]]) -> dict[str, Any]:
        images, anns = [], []
        for index, image_shapes in enumerate(shapes):
            images.append({'id': index + 1, 'file_name': det_file(index), 'height': size,
                           'width': size})
            anns.extend(coco_annotation(s, len(anns) + 1, index + 1) for s in image_shapes)
        categories = [{'id': i + 1, 'name': name, 'supercategory': 'shape'}
                      for i, name in enumerate(DET_CLASSES)]
        coco = {'info': {'description': 'lkssl_mm synthetic shapes',
                         'version': str(GENERATOR_VERSION)},
                'licenses': [], 'images': images, 'annotations': anns,
                'categories': categories}
        path = root / 'annotations' / f'instances_{split}2017.json'
        path.write_text(json.dumps(coco, separators=(',', ':')))
        return {'num_instances': len(anns)}
