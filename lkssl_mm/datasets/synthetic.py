"""Deterministic generated datasets in the ImageNet, COCO and ADE20K on-disk formats.

Tests and the end-to-end demo train on these instead of downloaded data. The images hold
learnable structure rather than noise, and part of it is long-range:

* **cls** (ImageNet layout, read by mmpretrain ``CustomDataset``/``ImageNet`` with
  ``ann_file='meta/<split>.txt'``, ``data_prefix='<split>'``; a ``classes`` file path is
  *not* resolved against ``data_root`` by mmpretrain, so pass ``CLS_CLASSES`` or the full
  path of ``meta/classes.txt``): each image holds 4-7 non-overlapping objects that all have
  the class's shape type, each in its own palette colour, size and rotation, on a grey
  background (one level for all images, with a faint gradient and texture) with
  distractors. The class is what every crop of an image shares; colours change from
  object to object and the background level does not change from image to image, so
  neither identifies an image (see ``cls_layout``).
* **det** (COCO layout, read by mmdet ``CocoDataset``): 1-4 non-overlapping shape instances
  per image with polygon masks; categories ``circle, square, triangle, cross`` (ids 1-4).
* **seg** (ADE20K layout, ``reduce_zero_label=True``): 2-5 possibly overlapping shapes;
  label maps use 0 = "other" (a thin border strip in some images, ignored after reduction),
  1 = background and 2-5 = the shapes. mmseg's ``ADE20KDataset`` only accepts subsets of the
  150 ADE classes in ``metainfo``, so read it with ``BaseSegDataset(img_suffix='.jpg',
  seg_map_suffix='.png', ...)`` or an ``ADE20KDataset`` subclass whose ``METAINFO`` holds
  ``SEG_CLASSES``/``SEG_PALETTE``.

Every image is drawn from its own random generator seeded by ``(seed, task, split, index)``,
so the output only depends on the arguments (and on the Pillow/libjpeg build), not on the
number of workers. ``generate`` skips work when ``meta.json`` already records the requested
parameters and writes ``meta.json`` last.
"""
from __future__ import annotations

import json
import math
import multiprocessing
import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from multiprocessing.pool import Pool
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

GENERATOR_VERSION = 4

SHAPES = ('circle', 'square', 'triangle', 'cross')
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

TASKS = ('cls', 'det', 'seg')
SPLITS = ('train', 'val')
TASK_DIRS = {'cls': 'imagenet', 'det': 'coco', 'seg': 'ade/ADEChallengeData2016'}
# (image size, train count, val count); for cls the counts are per class.
PRESETS: dict[str, dict[str, tuple[int, int, int]]] = {
    'tiny': {'cls': (32, 24, 12), 'det': (64, 16, 8), 'seg': (64, 16, 8)},
    'small': {'cls': (64, 320, 80), 'det': (128, 192, 48), 'seg': (128, 192, 48)},
    'full': {'cls': (128, 2400, 600), 'det': (256, 3000, 600), 'seg': (256, 3000, 600)},
}

_TASK_IDS = {'cls': 1, 'det': 2, 'seg': 3}
_SPLIT_IDS = {'train': 0, 'val': 1}
_JPEG_QUALITY = 92
_CROSS_ARM = 0.3  # half-width of a cross arm relative to its half-length


# --------------------------------------------------------------------------- geometry
@dataclass(frozen=True)
class Shape:
    """One drawn object.

    Args:
        kind: One of ``SHAPES``.
        cx: Centre x in pixels.
        cy: Centre y in pixels.
        radius: Circumradius in pixels (the shape fits in this circle).
        angle: Rotation in degrees.
        color: RGB fill colour.
    """

    kind: str
    cx: float
    cy: float
    radius: float
    angle: float
    color: tuple[int, int, int]

    def polygon(self) -> list[tuple[float, float]]:
        """Vertices in pixels, rounded to 1/100 px (drawn and annotated alike)."""
        return shape_polygon(self.kind, self.cx, self.cy, self.radius, self.angle)


def _unit_template(kind: str) -> tuple[tuple[float, float], ...]:
    """Vertices of a shape with circumradius 1 centred at the origin.

    Geometry is computed with scalar Python floats (not numpy/BLAS kernels, whose results can
    depend on memory alignment) so that the rounded annotations are reproducible.

    Args:
        kind: One of ``SHAPES``.
    """
    if kind in ('circle', 'triangle'):
        degrees = [15.0 * k for k in range(24)] if kind == 'circle' else [-90.0, 30.0, 150.0]
        return tuple((math.cos(math.radians(d)), math.sin(math.radians(d))) for d in degrees)
    if kind == 'square':
        h = 1 / math.sqrt(2)
        return ((-h, -h), (h, -h), (h, h), (-h, h))
    if kind == 'cross':
        a = 1 / math.sqrt(1 + _CROSS_ARM**2)
        w = _CROSS_ARM * a
        return ((-w, -a), (w, -a), (w, -w), (a, -w), (a, w), (w, w), (w, a), (-w, a), (-w, w),
                (-a, w), (-a, -w), (-w, -w))
    raise ValueError(f'unknown shape {kind!r}, expected one of {SHAPES}')


_TEMPLATES = {kind: _unit_template(kind) for kind in SHAPES}


def shape_polygon(kind: str, cx: float, cy: float, radius: float,
                  angle: float = 0.0) -> list[tuple[float, float]]:
    """Vertices of a rotated, scaled and translated shape.

    Args:
        kind: One of ``SHAPES``.
        cx: Centre x in pixels.
        cy: Centre y in pixels.
        radius: Circumradius in pixels.
        angle: Rotation in degrees.

    Returns:
        The vertices as ``(x, y)`` tuples rounded to two decimals.
    """
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    return [(round(cx + radius * (c * x - s * y), 2), round(cy + radius * (s * x + c * y), 2))
            for x, y in _TEMPLATES[kind]]


def polygon_area(points: Sequence[tuple[float, float]]) -> float:
    """Area of a simple polygon (shoelace formula, exactly rounded sum).

    Args:
        points: Vertices in order.
    """
    pairs = zip(points, list(points[1:]) + [points[0]])
    return abs(math.fsum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in pairs)) / 2


def polygon_bbox(points: Sequence[tuple[float, float]]) -> list[float]:
    """COCO ``[x, y, w, h]`` box of a polygon.

    Args:
        points: Vertices.
    """
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return [min(xs), min(ys), round(max(xs) - min(xs), 2), round(max(ys) - min(ys), 2)]


# --------------------------------------------------------------------------- drawing
def image_rng(seed: int, task: str, split: str, index: int) -> np.random.Generator:
    """The random generator of one image, derived from ``(seed, task, split, index)``.

    Args:
        seed: Global non-negative seed.
        task: One of ``TASKS``.
        split: One of ``SPLITS``.
        index: Index of the image within the split.
    """
    return np.random.default_rng([seed, _TASK_IDS[task], _SPLIT_IDS[split], index])


#: Object colours: a few saturated hues (jittered per object), independent of the label.
OBJECT_PALETTE = ((220, 40, 40), (40, 170, 60), (40, 80, 220), (230, 200, 40),
                  (200, 60, 200), (40, 190, 200))
#: Grey levels of the detection and segmentation backgrounds.
BACKGROUND_LEVELS = (96, 128, 160)
#: The classification background level: one for all images. A level drawn per image is
#: shared by every crop of the image, and DINO learnt it (docs/dino.md, "Learning check").
CLS_BACKGROUND_LEVEL = 128


def _background(rng: np.random.Generator, size: int,
                levels: Sequence[int] = BACKGROUND_LEVELS) -> tuple[np.ndarray, int]:
    """A plain grey background with a faint gradient and faint low-frequency texture.

    Backgrounds and colours are nuisance variables: they carry no label. They are
    drawn from few values so that they do not identify an image either. With unique
    saturated backgrounds (generator version 1), or unique muted ones and free object
    colours (version 2), self-supervised methods learnt to match the crops of an
    image by its background and colours and never by its shapes (docs/dino.md).

    Args:
        rng: Random generator of the image.
        size: Image side in pixels.
        levels: Grey levels to draw the background's level from.

    Returns:
        Float array of shape (size, size, 3) in [0, 255], and the index of its grey level
        in ``levels``.
    """
    level_index = int(rng.integers(len(levels)))
    level = float(levels[level_index])
    theta = float(rng.uniform(0, 2 * math.pi))
    ramp = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    grad = (ramp[None, :] * np.float32(math.cos(theta)) +
            ramp[:, None] * np.float32(math.sin(theta))) * np.float32(8.0) + np.float32(level)
    grid = int(rng.integers(3, 6))
    coarse = np.clip(128 + rng.normal(0, 6, size=(grid, grid)), 0, 255).astype(np.uint8)
    texture = Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC)
    grad = grad[..., None] + (np.asarray(texture, np.float32)[..., None] - 128)
    grad = np.repeat(grad, 3, axis=2)
    return np.clip(grad, 0, 255, out=grad), level_index


def _object_color(rng: np.random.Generator) -> tuple[int, int, int]:
    """A palette colour with a small per-channel jitter.

    Args:
        rng: Random generator of the image.
    """
    base = OBJECT_PALETTE[int(rng.integers(len(OBJECT_PALETTE)))]
    jitter = rng.integers(-15, 16, size=3)
    return tuple(int(np.clip(c + j, 0, 255)) for c, j in zip(base, jitter))


def _draw_distractors(rng: np.random.Generator, draw: ImageDraw.ImageDraw, size: int,
                      count: int) -> None:
    """Small blobs and thin lines that carry no label.

    Args:
        rng: Random generator of the image.
        draw: Drawing context of the RGB image.
        size: Image side in pixels.
        count: How many distractors to draw.
    """
    for _ in range(count):
        grey = int(rng.integers(40, 216))
        color = (grey, grey, grey)
        x, y = rng.uniform(0, size, size=2)
        if rng.random() < 0.5:
            r = max(1.0, rng.uniform(0.01, 0.025) * size)
            ry = r * rng.uniform(0.5, 1.0)
            draw.ellipse([x - r, y - ry, x + r, y + ry], fill=color)
        else:
            length = rng.uniform(0.08, 0.25) * size
            t = rng.uniform(0, math.pi)
            end = (x + length * math.cos(t), y + length * math.sin(t))
            draw.line([(x, y), end], fill=color, width=1)


def _add_noise(rng: np.random.Generator, image: Image.Image) -> np.ndarray:
    """Mild Gaussian pixel noise.

    Args:
        rng: Random generator of the image.
        image: RGB image.

    Returns:
        uint8 array of shape (H, W, 3).
    """
    arr = np.asarray(image, np.float32)
    noise = rng.standard_normal(arr.shape, dtype=np.float32)
    noise *= np.float32(rng.uniform(2.0, 6.0))
    noise += arr
    return np.rint(np.clip(noise, 0, 255, out=noise), out=noise).astype(np.uint8)


def _canvas(rng: np.random.Generator, size: int,
            levels: Sequence[int] = BACKGROUND_LEVELS) -> tuple[Image.Image, int]:
    """The background as a PIL image, and the index of its grey level.

    Args:
        rng: Random generator of the image.
        size: Image side in pixels.
        levels: Grey levels to draw the background's level from.
    """
    array, level_index = _background(rng, size, levels)
    return Image.fromarray(np.rint(array).astype(np.uint8)), level_index


def _random_angle(rng: np.random.Generator) -> float:
    """Mild rotation jitter that keeps every shape recognisable."""
    return round(float(rng.uniform(-20.0, 20.0)), 2)


# --------------------------------------------------------------------------- samples
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
                                round(float(r), 2), _random_angle(rng), _object_color(rng)))
    return shapes


def render_cls(seed: int, split: str, index: int, size: int) -> Sample:
    """Draw classification image ``index`` of ``split`` (label ``index % 4``).

    Args:
        seed: Global seed.
        split: One of ``SPLITS``.
        index: Image index; the label is ``index % len(CLS_CLASSES)``.
        size: Image side in pixels.
    """
    rng = image_rng(seed, 'cls', split, index)
    label = index % len(CLS_CLASSES)
    image, _ = _canvas(rng, size, (CLS_BACKGROUND_LEVEL, ))
    draw = ImageDraw.Draw(image)
    _draw_distractors(rng, draw, size, int(rng.integers(2, 5)))
    shapes = cls_layout(rng, label, size)
    for shape in shapes:
        draw.polygon(shape.polygon(), fill=shape.color)
    return Sample(_add_noise(rng, image), shapes, label=label)


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
                                round(float(r), 2), _random_angle(rng),
                                _object_color(rng)))
    return shapes


def render_det(seed: int, split: str, index: int, size: int) -> Sample:
    """Draw detection image ``index`` of ``split``.

    Args:
        seed: Global seed.
        split: One of ``SPLITS``.
        index: Image index.
        size: Image side in pixels.
    """
    rng = image_rng(seed, 'det', split, index)
    image, background = _canvas(rng, size)
    draw = ImageDraw.Draw(image)
    _draw_distractors(rng, draw, size, int(rng.integers(2, 6)))
    shapes = det_layout(rng, size)
    for shape in shapes:
        draw.polygon(shape.polygon(), fill=shape.color)
    return Sample(_add_noise(rng, image), shapes, background=background)


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
                            _random_angle(rng), _object_color(rng)))
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
    """Draw segmentation image ``index`` of ``split`` and its label map.

    Args:
        seed: Global seed.
        split: One of ``SPLITS``.
        index: Image index.
        size: Image side in pixels.
    """
    rng = image_rng(seed, 'seg', split, index)
    image, background = _canvas(rng, size)
    label_map = Image.new('L', (size, size), SEG_BACKGROUND)
    draw, draw_label = ImageDraw.Draw(image), ImageDraw.Draw(label_map)
    _draw_distractors(rng, draw, size, int(rng.integers(2, 6)))
    other_color = tuple(int(c) for c in rng.integers(0, 256, size=3))
    for box in _border_strip(rng, size):
        draw.rectangle(box, fill=other_color)
        draw_label.rectangle(box, fill=SEG_OTHER)
    shapes = seg_layout(rng, size)
    for shape in shapes:  # painter's order, image and label map alike
        polygon = shape.polygon()
        draw.polygon(polygon, fill=shape.color)
        draw_label.polygon(polygon, fill=SEG_BACKGROUND + 1 + SHAPES.index(shape.kind))
    return Sample(_add_noise(rng, image), shapes, label_map=np.asarray(label_map),
                  background=background)


# --------------------------------------------------------------------------- writers
_SEG_FOLDERS = {'train': 'training', 'val': 'validation'}
_RENDERERS: dict[str, Callable[[int, str, int, int], Sample]] = {
    'cls': render_cls, 'det': render_det, 'seg': render_seg}


def cls_file(split: str, index: int) -> str:
    """Path of a classification image relative to ``imagenet/<split>``.

    Args:
        split: One of ``SPLITS``.
        index: Image index.
    """
    return f'{CLS_CLASSES[index % len(CLS_CLASSES)]}/{split}_{index:06d}.JPEG'


def _det_file(index: int) -> str:
    """COCO-style file name of detection image ``index``."""
    return f'{index + 1:012d}.jpg'


def _seg_stem(split: str, index: int) -> str:
    """ADE20K-style file stem of segmentation image ``index``."""
    return f'ADE_{_SEG_FOLDERS[split][:5]}_{index + 1:08d}'


def _save_jpeg(array: np.ndarray, path: Path) -> None:
    """Save an RGB array as JPEG.

    Args:
        array: uint8 RGB array.
        path: Destination file.
    """
    Image.fromarray(array).save(path, format='JPEG', quality=_JPEG_QUALITY)


def _make_image(job: tuple[str, str, int, str, int, int]) -> list[Shape]:
    """Render one image, write its file(s) and return its shapes (runs in workers).

    Args:
        job: ``(task, root, seed, split, index, size)``.
    """
    task, root, seed, split, index, size = job
    sample = _RENDERERS[task](seed, split, index, size)
    if task == 'cls':
        _save_jpeg(sample.image, Path(root) / split / cls_file(split, index))
    elif task == 'det':
        _save_jpeg(sample.image, Path(root) / f'{split}2017' / _det_file(index))
    else:
        stem = _seg_stem(split, index)
        _save_jpeg(sample.image, Path(root) / 'images' / _SEG_FOLDERS[split] / f'{stem}.jpg')
        label_path = Path(root) / 'annotations' / _SEG_FOLDERS[split] / f'{stem}.png'
        Image.fromarray(sample.label_map).save(label_path)
    return sample.shapes


def _make_split(task: str, root: Path, seed: int, size: int, split: str, total: int,
                pool: Pool | None, verbose: bool) -> list[list[Shape]]:
    """Write all images of one split, in parallel when a pool is given.

    Args:
        task: One of ``TASKS``.
        root: Data root of the task.
        seed: Global seed.
        size: Image side in pixels.
        split: One of ``SPLITS``.
        total: Number of images.
        pool: Worker pool, or None to work in this process.
        verbose: Print progress about every quarter.

    Returns:
        The shapes of every image, in index order.
    """
    jobs = [(task, str(root), seed, split, index, size) for index in range(total)]
    chunk = max(1, min(64, total // 64))
    results = pool.imap(_make_image, jobs, chunk) if pool else map(_make_image, jobs)
    start, step, shapes = time.perf_counter(), max(1, math.ceil(total / 4)), []
    for done, item in enumerate(results, 1):
        shapes.append(item)
        if verbose and (done % step == 0 or done == total):
            print(f'[synthetic] {task}/{split}: {done}/{total} images '
                  f'({time.perf_counter() - start:.1f}s)', flush=True)
    return shapes


def _write_cls(root: Path, seed: int, size: int, counts: dict[str, int], pool: Pool | None,
               verbose: bool) -> dict[str, Any]:
    """Write the ImageNet-style classification set.

    Args:
        root: The ``imagenet`` folder.
        seed: Global seed.
        size: Image side in pixels.
        counts: Images per class for each split.
        pool: Worker pool or None.
        verbose: Print progress.
    """
    (root / 'meta').mkdir(parents=True, exist_ok=True)
    (root / 'meta' / 'classes.txt').write_text('\n'.join(CLS_CLASSES) + '\n')
    for split, per_class in counts.items():
        for name in CLS_CLASSES:
            (root / split / name).mkdir(parents=True, exist_ok=True)
        total = per_class * len(CLS_CLASSES)
        _make_split('cls', root, seed, size, split, total, pool, verbose)
        lines = [f'{cls_file(split, i)} {i % len(CLS_CLASSES)}\n' for i in range(total)]
        (root / 'meta' / f'{split}.txt').write_text(''.join(lines))
    return {'num_images': {s: n * len(CLS_CLASSES) for s, n in counts.items()},
            'images_per_class': dict(counts)}


def _coco_annotation(shape: Shape, ann_id: int, image_id: int) -> dict[str, Any]:
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


def _write_det(root: Path, seed: int, size: int, counts: dict[str, int], pool: Pool | None,
               verbose: bool) -> dict[str, Any]:
    """Write the COCO-style detection / instance segmentation set.

    Args:
        root: The ``coco`` folder.
        seed: Global seed.
        size: Image side in pixels.
        counts: Number of images for each split.
        pool: Worker pool or None.
        verbose: Print progress.
    """
    (root / 'annotations').mkdir(parents=True, exist_ok=True)
    categories = [{'id': i + 1, 'name': name, 'supercategory': 'shape'}
                  for i, name in enumerate(DET_CLASSES)]
    num_instances = {}
    for split, total in counts.items():
        (root / f'{split}2017').mkdir(parents=True, exist_ok=True)
        all_shapes = _make_split('det', root, seed, size, split, total, pool, verbose)
        images, anns = [], []
        for index, shapes in enumerate(all_shapes):
            images.append({'id': index + 1, 'file_name': _det_file(index), 'height': size,
                           'width': size})
            anns.extend(_coco_annotation(s, len(anns) + 1, index + 1) for s in shapes)
        coco = {'info': {'description': 'lkssl_mm synthetic shapes',
                         'version': str(GENERATOR_VERSION)},
                'licenses': [], 'images': images, 'annotations': anns,
                'categories': categories}
        path = root / 'annotations' / f'instances_{split}2017.json'
        path.write_text(json.dumps(coco, separators=(',', ':')))
        num_instances[split] = len(anns)
    return {'num_images': dict(counts), 'num_instances': num_instances}


def _write_seg(root: Path, seed: int, size: int, counts: dict[str, int], pool: Pool | None,
               verbose: bool) -> dict[str, Any]:
    """Write the ADE20K-style semantic segmentation set.

    Args:
        root: The ``ADEChallengeData2016`` folder.
        seed: Global seed.
        size: Image side in pixels.
        counts: Number of images for each split.
        pool: Worker pool or None.
        verbose: Print progress.
    """
    for split, total in counts.items():
        for kind in ('images', 'annotations'):
            (root / kind / _SEG_FOLDERS[split]).mkdir(parents=True, exist_ok=True)
        _make_split('seg', root, seed, size, split, total, pool, verbose)
    return {'num_images': dict(counts)}


_WRITERS = {'cls': _write_cls, 'det': _write_det, 'seg': _write_seg}
_CLASS_INFO: dict[str, dict[str, Any]] = {
    'cls': {'classes': list(CLS_CLASSES)},
    'det': {'classes': list(DET_CLASSES), 'palette': [list(c) for c in DET_PALETTE],
            'category_ids': list(range(1, len(DET_CLASSES) + 1))},
    'seg': {'classes': list(SEG_CLASSES), 'palette': [list(c) for c in SEG_PALETTE],
            'stored_label_values': {'other': SEG_OTHER, 'background': SEG_BACKGROUND,
                                    **{k: SEG_BACKGROUND + 1 + i for i, k in enumerate(SHAPES)}},
            'reduce_zero_label': True},
}


# --------------------------------------------------------------------------- driver
def task_params(task: str, size: str, seed: int, img_size: int | None = None) -> dict[str, Any]:
    """The parameters that fully determine the files of one task.

    Args:
        task: One of ``TASKS``.
        size: Preset name (``tiny``, ``small`` or ``full``).
        seed: Global seed.
        img_size: Override of the classification image size.
    """
    side, n_train, n_val = PRESETS[size][task]
    if task == 'cls' and img_size is not None:
        side = int(img_size)
    return {'version': GENERATOR_VERSION, 'size': size, 'seed': int(seed), 'img_size': side,
            'num_train': n_train, 'num_val': n_val}


def data_roots(out_dir: str | Path) -> dict[str, str]:
    """The ``data_root`` of each task under ``out_dir`` (for configs).

    Args:
        out_dir: The folder given to ``generate``.
    """
    return {task: str(Path(out_dir) / sub) for task, sub in TASK_DIRS.items()}


def load_meta(out_dir: str | Path) -> dict[str, Any] | None:
    """``meta.json`` under ``out_dir``, or None when missing or unreadable.

    Args:
        out_dir: The folder given to ``generate``.
    """
    path = Path(out_dir) / 'meta.json'
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and isinstance(meta.get('tasks'), dict) else None


def _check_args(size: str, seed: int, tasks: Iterable[str],
                img_size: int | None) -> tuple[str, ...]:
    """Validate the arguments of ``generate``; returns the tasks in canonical order.

    Args:
        size: Preset name.
        seed: Global seed.
        tasks: Requested tasks (an iterable or a comma-separated string).
        img_size: Classification image size override.
    """
    if size not in PRESETS:
        raise ValueError(f'unknown size {size!r}, expected one of {tuple(PRESETS)}')
    if int(seed) < 0:
        raise ValueError(f'seed must be non-negative, got {seed}')
    if img_size is not None and int(img_size) < 16:
        raise ValueError(f'img_size must be at least 16, got {img_size}')
    wanted = set(tasks.split(',') if isinstance(tasks, str) else tasks)
    unknown = wanted - set(TASKS)
    if unknown or not wanted:
        raise ValueError(f'tasks must be a non-empty subset of {TASKS}, got {sorted(wanted)}')
    return tuple(t for t in TASKS if t in wanted)


def _open_pool(workers: int) -> Pool | None:
    """A process pool for ``workers > 1`` (fork where available), else None.

    Args:
        workers: Number of worker processes.
    """
    if workers <= 1:
        return None
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context('fork' if 'fork' in methods else 'spawn')
    return ctx.Pool(workers)


def _generate_task(out: Path, task: str, params: dict[str, Any], pool: Pool | None,
                   verbose: bool) -> dict[str, Any]:
    """(Re)write the files of one task from scratch and return its meta entry.

    Args:
        out: Output folder.
        task: One of ``TASKS``.
        params: From ``task_params``.
        pool: Worker pool or None.
        verbose: Print progress.
    """
    root = out / TASK_DIRS[task]
    if root.exists():
        shutil.rmtree(root)
    counts = {'train': params['num_train'], 'val': params['num_val']}
    start = time.perf_counter()
    stats = _WRITERS[task](root, params['seed'], params['img_size'], counts, pool, verbose)
    if verbose:
        print(f'[synthetic] {task} written to {root} in {time.perf_counter() - start:.1f}s',
              flush=True)
    return {'params': params, 'data_root': TASK_DIRS[task], **_CLASS_INFO[task], **stats}


def generate(out_dir: str | Path, size: str = 'tiny', seed: int = 0,
             tasks: Iterable[str] = TASKS, img_size: int | None = None, force: bool = False,
             verbose: bool = True, workers: int = 1) -> dict[str, Any]:
    """Generate (or reuse) the synthetic datasets under ``out_dir``.

    A task whose entry in an existing ``meta.json`` records the same parameters is skipped
    unless ``force``. ``meta.json`` is removed before anything is written and written again
    last, so an interrupted run is redone the next time.

    Args:
        out_dir: Output folder (created if needed).
        size: Preset: ``tiny`` (tests), ``small`` (CPU demo) or ``full`` (GPU).
        seed: Global non-negative seed.
        tasks: Any of ``cls``, ``det``, ``seg`` (or a comma-separated string).
        img_size: Overrides the classification image size of the preset.
        force: Regenerate even when ``meta.json`` matches.
        verbose: Print progress.
        workers: Worker processes that draw and save images (1: this process only). The
            output does not depend on it.

    Returns:
        The content of ``meta.json``.
    """
    tasks = _check_args(size, seed, tasks, img_size)
    out = Path(out_dir)
    old = load_meta(out)
    old_tasks = old['tasks'] if old else {}
    wanted = {t: task_params(t, size, seed, img_size) for t in tasks}
    todo = [t for t in tasks if force or old_tasks.get(t, {}).get('params') != wanted[t]]
    if not todo:
        if verbose:
            print(f'[synthetic] {out} already holds {size}/seed={seed} data for '
                  f'{",".join(tasks)} (meta.json matches); skipping (use --force to redo)',
                  flush=True)
        return old
    out.mkdir(parents=True, exist_ok=True)
    (out / 'meta.json').unlink(missing_ok=True)
    kept = {t: v for t, v in old_tasks.items()
            if t not in todo and v.get('params', {}).get('version') == GENERATOR_VERSION}
    for task in tasks:
        if task not in todo and verbose:
            print(f'[synthetic] {task}: up to date, kept', flush=True)
    pool = _open_pool(min(int(workers), os.cpu_count() or 1))
    try:
        new = {task: _generate_task(out, task, wanted[task], pool, verbose) for task in todo}
    finally:
        if pool is not None:  # every job has finished (or failed) by now
            pool.terminate()
            pool.join()
    meta = {'generator': 'lkssl_mm.datasets.synthetic', 'version': GENERATOR_VERSION,
            'size': size, 'seed': int(seed),
            'tasks': {t: {**kept, **new}[t] for t in TASKS if t in kept or t in new}}
    (out / 'meta.json').write_text(json.dumps(meta, indent=2) + '\n')
    return meta
