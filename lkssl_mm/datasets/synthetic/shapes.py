"""Shapes: the four object kinds, their exact polygons, areas and boxes.

Geometry is computed with scalar Python floats (not numpy/BLAS kernels, whose
results can depend on memory alignment) and rounded to 1/100 px, so the drawn
pixels and the written annotations are reproducible.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

SHAPES = ('circle', 'square', 'triangle', 'cross')
_CROSS_ARM = 0.3  # half-width of a cross arm relative to its half-length


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
