"""Street blocks: the faces the street network cuts an area into, and which buildings they hold.

Grid boundaries in practice run along streets and lanes, so blocks are the natural units to
build grids from. All geometry is in a metric CRS.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

#: Two units are neighbours when they share at least this much boundary, metres.
MIN_SHARED_BOUNDARY_M = 1.0


def street_blocks(area: BaseGeometry, lines: Sequence[BaseGeometry] | np.ndarray) -> np.ndarray:
    """Return the faces into which ``lines`` (streets) and the area's boundary cut ``area``.

    The faces tile the area: no overlap, no gap. Dangling street ends are ignored.
    """
    clipped = shapely.intersection(np.asarray(lines, dtype=object), area)
    clipped = clipped[~shapely.is_empty(clipped)]
    noded = shapely.union_all(np.concatenate([clipped, [area.boundary]]))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    inside = shapely.contains_xy(area, *shapely.get_coordinates(shapely.point_on_surface(faces)).T)
    return faces[inside]


def locate(points_of: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """Return the index of the polygon holding each geometry's inner point (nearest if none)."""
    pts = shapely.point_on_surface(points_of)
    tree = shapely.STRtree(polygons)
    out = np.full(len(pts), -1)
    hit_pt, hit_poly = tree.query(pts, predicate="within")
    out[hit_pt] = hit_poly
    missing = np.flatnonzero(out < 0)
    if len(missing):
        out[missing] = tree.nearest(pts[missing])
    return out


def adjacency(polygons: np.ndarray, min_shared: float = MIN_SHARED_BOUNDARY_M) -> list[set[int]]:
    """Return, for each polygon, the polygons it shares a boundary with (not just a corner):
    at least ``min_shared`` metres of it (metric CRS)."""
    tree = shapely.STRtree(polygons)
    left, right = tree.query(polygons, predicate="intersects")
    out: list[set[int]] = [set() for _ in range(len(polygons))]
    boundaries = shapely.boundary(polygons)
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i < j:
            shared = shapely.length(shapely.intersection(boundaries[i], boundaries[j]))
            if shared >= min_shared:
                out[i].add(j)
                out[j].add(i)
    return out
