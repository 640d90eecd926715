"""Deterministic generated datasets in the ImageNet, COCO and ADE20K on-disk formats.

Tests and the end-to-end demo train on these instead of downloaded data. The images hold
learnable structure rather than noise, and part of it is long-range. The package reads
bottom-up:

* :mod:`.shapes`: the object kinds and their exact polygons;
* :mod:`.drawing`: each image's random generator and its nuisance variables
  (background, colours, distractors, noise);
* :mod:`.scenes`: what each task's images show (``render_cls``, ``render_det``,
  ``render_seg``) and the labels drawn with them;
* :mod:`.formats`: one module per on-disk layout (ImageNet, COCO, ADE20K), each a
  :class:`~.formats.DatasetFormat` listed in ``FORMATS``;
* :mod:`.driver`: ``generate``, which (re)writes tasks in parallel and records them in
  ``meta.json``; :mod:`.roots`: where each task lands and the ``--cfg-options`` that
  point the configs there.

It needs only numpy and Pillow (``tools/data/make_synthetic.py`` loads it without the
OpenMMLab stack).
"""
from .drawing import CLS_BACKGROUND_LEVEL, OBJECT_PALETTE, SPLITS, image_rng
from .driver import generate, load_meta, task_params
from .formats import FORMATS, GENERATOR_VERSION, SIZES, TASKS, DatasetFormat, cls_file
from .roots import CONFIG_LOADERS, data_options, data_roots
from .scenes import (
    CLS_ATTRIBUTES,
    CLS_CLASSES,
    CLS_OBJECTS,
    DET_CLASSES,
    DET_PALETTE,
    SEG_BACKGROUND,
    SEG_CLASSES,
    SEG_OTHER,
    SEG_PALETTE,
    Sample,
    cls_attributes,
    palette_index,
    render_cls,
    render_det,
    render_seg,
)
from .shapes import SHAPES, Shape, polygon_area, polygon_bbox, shape_polygon

__all__ = [
    'CLS_ATTRIBUTES', 'CLS_BACKGROUND_LEVEL', 'CLS_CLASSES', 'CLS_OBJECTS', 'CONFIG_LOADERS',
    'DET_CLASSES', 'DET_PALETTE', 'DatasetFormat', 'FORMATS', 'GENERATOR_VERSION',
    'OBJECT_PALETTE', 'SEG_BACKGROUND', 'SEG_CLASSES', 'SEG_OTHER', 'SEG_PALETTE', 'SHAPES',
    'SIZES', 'SPLITS', 'Sample', 'Shape', 'TASKS', 'cls_attributes', 'cls_file',
    'data_options', 'data_roots', 'generate', 'image_rng', 'load_meta', 'palette_index',
    'polygon_area', 'polygon_bbox', 'render_cls', 'render_det', 'render_seg', 'shape_polygon',
    'task_params',
]
