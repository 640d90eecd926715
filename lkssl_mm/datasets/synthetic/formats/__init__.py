"""Output formats: one module per on-disk layout, each a :class:`DatasetFormat`."""
from .ade20k import ADE20KFormat
from .base import GENERATOR_VERSION, SIZES, DatasetFormat, save_jpeg
from .coco import CocoFormat
from .imagenet import ImageNetFormat, cls_file

#: Every task, in the order it is generated and recorded.
FORMATS = {fmt.task: fmt for fmt in (ImageNetFormat(), CocoFormat(), ADE20KFormat())}
TASKS = tuple(FORMATS)

__all__ = ['ADE20KFormat', 'CocoFormat', 'DatasetFormat', 'FORMATS', 'GENERATOR_VERSION',
           'ImageNetFormat', 'SIZES', 'TASKS', 'cls_file', 'save_jpeg']
