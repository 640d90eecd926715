"""Scenes: what each task's images show, and the labels drawn with them.

* cls: 4-7 non-overlapping objects that all have the class's shape type, each in
  its own palette colour, size and rotation, on one grey level for every image
  (with a faint gradient and texture) and distractors. The class is what every
  crop of an image shares; nothing else identifies an image.
* det: 1-4 non-overlapping shapes of any kind.
* seg: 2-5 shapes that may overlap and be cut by the border, with a label map
  (0 = "other" border strip, 1 = background, 2-5 = the shapes).

Each ``render_*`` draws one image from its own generator
(:func:`~.drawing.image_rng`), so an image depends only on its arguments.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from .drawing import (
    BACKGROUND_LEVELS,
    CLS_BACKGROUND_LEVEL,
    OBJECT_PALETTE,
    add_noise,
    canvas,
    draw_distractors,
    image_rng,
    object_color,
    random_angle,
)
from .shapes import SHAPES, Shape

#: Classification classes: the shape type shared by all objects of an image.
CLS_CLASSES = SHAPES
#: Objects per classification image (inclusive range) and their radius relative to the side.
CLS_OBJECTS = (4, 7)
CLS_RADIUS = (0.07, 0.12)
DET_CLASSES = SHAPES
DET_PALETTE = ((220, 20, 60), (0, 130, 200), (60, 180, 75), (255, 165, 0))
SEG_CLASSES = ('background', ) + SHAPES
SEG_PALETTE = ((120, 120, 120), ) + DET_PALETTE
SEG_OTHER = 0  # "other" in the stored label maps; 255 (ignored) after reduce_zero_label
SEG_BACKGROUND = 1  # stored label of the background; shapes follow as 2, 3, 4, 5


@dataclass
class Sample:
    """One generated image and the geometry it was drawn from.

    Args:
        image: uint8 RGB array (H, W, 3).
        shapes: The labelled objects in drawing order.
        label: Class index (cls only).
        label_map: uint8 label map (seg only), stored values (0 other, 1 background, 2+).
        background: Index of the background grey level in ``BACKGROUND_LEVELS``.
    """

    image: np.ndarray
    shapes: list[Shape]
    label: int | None = None
    label_map: np.ndarray | None = None
    background: int | None = None


def _backdrop(seed: int, task: str, split: str, index: int, size: int,
              distractors: tuple[int, int] = (2, 6),
              levels: Sequence[int] = BACKGROUND_LEVELS):
    """The first draws of every scene: its generator, the background and the distractors.

    Args:
        seed: Global seed.
        task: The scene's random stream (a key of ``drawing.STREAMS``).
        split: One of ``SPLITS``.
        index: Image index.
        size: Image side in pixels.
        distractors: Range (high exclusive) of the number of distractors.
        levels: Grey levels of the background.

    Returns:
        tuple: The image's generator, the PIL image, its drawing context and the
        index of its background level.
    """
    rng = image_rng(seed, task, split, index)
    image, background = canvas(rng, size, levels)
    draw = ImageDraw.Draw(image)
    draw_distractors(rng, draw, size, int(rng.integers(*distractors)))
    return rng, image, draw, background


def _paint(draw: ImageDraw.ImageDraw, shapes: list[Shape]) -> None:
    """Fill every shape's polygon with its colour, in order."""
    for shape in shapes:
        draw.polygon(shape.polygon(), fill=shape.color)


def cls_layout(rng: np.random.Generator, label: int, size: int) -> list[Shape]:
    """The objects of a classification image: 4-7 of the class's shape, none overlapping.

    Each object draws its own colour, so the colours vary *within* an image. In
    generator versions 1-3 the class was the vertical order of two shapes with one
    colour each: every crop of an image then shared its background and two colours,
    and self-supervised methods matched crops by those instead of by shapes
    (docs/dino.md, "Learning check").

    Args:
        rng: Random generator of the image.
        label: Class index into ``CLS_CLASSES``.
        size: Image side in pixels.
    """
    count = int(rng.integers(CLS_OBJECTS[0], CLS_OBJECTS[1] + 1))
    shapes: list[Shape] = []
    for _ in range(100 * count):  # rejection sampling on the circumcircles
        if len(shapes) == count:
            break
        r = max(2.0, rng.uniform(*CLS_RADIUS) * size)
        cx, cy = rng.uniform(r, size - r, size=2)
        if all(math.hypot(cx - s.cx, cy - s.cy) > r + s.radius + 1 for s in shapes):
            shapes.append(Shape(CLS_CLASSES[label], round(float(cx), 2), round(float(cy), 2),
                                round(float(r), 2), random_angle(rng), object_color(rng)))
    return shapes


def render_cls(seed: int, split: str, index: int, size: int) -> Sample:
    """Draw classification image ``index`` of ``split`` (label ``index % 4``).

    Args:
        seed: Global seed.
        split: One of ``SPLITS``.
        index: Image index; the label is ``index % len(CLS_CLASSES)``.
        size: Image side in pixels.
    """
    label = index % len(CLS_CLASSES)
    rng, image, draw, _ = _backdrop(seed, 'cls', split, index, size, distractors=(2, 5),
                                    levels=(CLS_BACKGROUND_LEVEL, ))
    shapes = cls_layout(rng, label, size)
    _paint(draw, shapes)
    return Sample(add_noise(rng, image), shapes, label=label)


#: What ``cls_attributes`` reports of a classification image, with each one's number of
#: values: the class and nuisance variables that carry no label.
CLS_ATTRIBUTES = {'class': len(CLS_CLASSES), 'largest_colour': len(OBJECT_PALETTE),
                  'object_count': CLS_OBJECTS[1] - CLS_OBJECTS[0] + 1}


def palette_index(color: Sequence[int]) -> int:
    """Index of the ``OBJECT_PALETTE`` colour nearest to a (jittered) object colour."""
    return int(np.argmin([sum((int(a) - b)**2 for a, b in zip(color, base))
                          for base in OBJECT_PALETTE]))


def cls_attributes(seed: int, split: str, index: int, size: int) -> dict[str, int]:
    """The label and the nuisance variables of classification image ``index``.

    Replays the image's generator, so it needs only the parameters recorded in
    ``meta.json``. ``tools/analysis/knn_probe.py`` uses it to measure what features
    encode besides the class.

    Args:
        seed: Global seed.
        split: One of ``SPLITS``.
        index: Image index.
        size: Image side in pixels.

    Returns:
        One integer per key of ``CLS_ATTRIBUTES``: the class, the palette colour of
        the largest object and the number of objects (minus the smallest possible
        count).
    """
    sample = render_cls(seed, split, index, size)
    largest = max(sample.shapes, key=lambda shape: shape.radius)
    return {'class': sample.label, 'largest_colour': palette_index(largest.color),
            'object_count': len(sample.shapes) - CLS_OBJECTS[0]}


def det_layout(rng: np.random.Generator, size: int) -> list[Shape]:
    """1-4 non-overlapping shapes (rejection sampling on their circumcircles).

    Args:
        rng: Random generator of the image.
        size: Image side in pixels.
    """
    wanted = int(rng.integers(1, 5))
    shapes: list[Shape] = []
    for _ in range(60):
        if len(shapes) == wanted:
            break
        r = rng.uniform(0.05, 0.225) * size  # diameter 10-45 % of the side
        cx, cy = rng.uniform(r + 1, size - r - 1, size=2)
        if all(math.hypot(cx - s.cx, cy - s.cy) > r + s.radius + 2 for s in shapes):
            kind = SHAPES[int(rng.integers(len(SHAPES)))]
            shapes.append(Shape(kind, round(float(cx), 2), round(float(cy), 2),
                                round(float(r), 2), random_angle(rng),
                                object_color(rng)))
    return shapes


def render_det(seed: int, split: str, index: int, size: int) -> Sample:
    """Draw detection image ``index`` of ``split`` (arguments as :func:`render_cls`)."""
    rng, image, draw, background = _backdrop(seed, 'det', split, index, size)
    shapes = det_layout(rng, size)
    _paint(draw, shapes)
    return Sample(add_noise(rng, image), shapes, background=background)


def seg_layout(rng: np.random.Generator, size: int) -> list[Shape]:
    """2-5 shapes that may overlap and may be cut by the image border.

    Args:
        rng: Random generator of the image.
        size: Image side in pixels.
    """
    shapes = []
    for _ in range(int(rng.integers(2, 6))):
        r = rng.uniform(0.06, 0.20) * size
        cx, cy = rng.uniform(0.1, 0.9, size=2) * size
        kind = SHAPES[int(rng.integers(len(SHAPES)))]
        shapes.append(Shape(kind, round(float(cx), 2), round(float(cy), 2), round(float(r), 2),
                            random_angle(rng), object_color(rng)))
    return shapes


def _border_strip(rng: np.random.Generator, size: int) -> list[tuple[int, int, int, int]]:
    """Rectangles of the "other" border strip (none in about half of the images).

    Args:
        rng: Random generator of the image.
        size: Image side in pixels.

    Returns:
        Inclusive pixel boxes ``(x0, y0, x1, y1)``.
    """
    if rng.random() < 0.5:
        return []
    width = int(rng.integers(1, max(1, size // 32) + 1))
    sides = rng.random(4) < 0.5
    sides[int(rng.integers(4))] = True
    boxes = [(0, 0, size - 1, width - 1), (size - width, 0, size - 1, size - 1),
             (0, size - width, size - 1, size - 1), (0, 0, width - 1, size - 1)]
    return [box for box, keep in zip(boxes, sides) if keep]


def render_seg(seed: int, split: str, index: int, size: int) -> Sample:
    """Draw segmentation image ``index`` of ``split``, label map too (args: :func:`render_cls`)."""
    rng, image, draw, background = _backdrop(seed, 'seg', split, index, size)
    label_map = Image.new('L', (size, size), SEG_BACKGROUND)
    draw_label = ImageDraw.Draw(label_map)
    other_color = tuple(int(c) for c in rng.integers(0, 256, size=3))
    for box in _border_strip(rng, size):
        draw.rectangle(box, fill=other_color)
        draw_label.rectangle(box, fill=SEG_OTHER)
    shapes = seg_layout(rng, size)
    for shape in shapes:  # painter's order, image and label map alike
        polygon = shape.polygon()
        draw.polygon(polygon, fill=shape.color)
        draw_label.polygon(polygon, fill=SEG_BACKGROUND + 1 + SHAPES.index(shape.kind))
    return Sample(add_noise(rng, image), shapes, label_map=np.asarray(label_map),
                  background=background)
