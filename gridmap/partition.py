"""A first partition of an area into grids of balanced workload.

The method: weighted recursive bisection of the buildings (households as weights) gives each grid
a compact set of whole buildings; the grid's polygon is then the Voronoi region of its buildings'
outlines, so that grids tile the area with no overlap and no gap and no building is split.
All geometry here is in a metric CRS (the caller projects; see :func:`gridmap.crs.utm_crs`).
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

#: Spacing of the points sampled along building outlines for the Voronoi regions, metres.
SAMPLE_SPACING_M = 8.0


def bisect(xy: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    """Split points into ``k`` compact groups of near-equal total weight.

    Parameters
    ----------
    xy
        (n, 2) coordinates in metres.
    weights
        (n,) non-negative weights (households per building).
    k
        Number of groups, at least 1 and at most n.

    Returns
    -------
    numpy.ndarray
        (n,) group label of each point, 0 .. k-1.
    """
    n = len(xy)
    if not 1 <= k <= max(n, 1):
        raise ValueError(f"cannot split {n} buildings into {k} grids")
    labels = np.zeros(n, dtype=int)
    stack = [(np.arange(n), k, 0)]
    while stack:
        idx, parts, first = stack.pop()
        if parts == 1:
            labels[idx] = first
            continue
        left_parts = parts // 2
        pts = xy[idx]
        axis = int(np.ptp(pts[:, 1]) > np.ptp(pts[:, 0]))
        order = idx[np.argsort(pts[:, axis], kind="stable")]
        w = weights[order].astype(float) + 1e-9  # zero-weight buildings still split by place
        cum = np.cumsum(w)
        cut = int(np.searchsorted(cum, cum[-1] * left_parts / parts)) + 1
        cut = min(max(cut, left_parts), len(order) - (parts - left_parts))
        stack.append((order[:cut], left_parts, first))
        stack.append((order[cut:], parts - left_parts, first + left_parts))
    return labels


def overlap_groups(footprints: np.ndarray, min_overlap_m2: float = 0.5) -> np.ndarray:
    """Return a group id per footprint; footprints that overlap share one (they go together)."""
    n = len(footprints)
    parent = np.arange(n)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    tree = shapely.STRtree(footprints)
    left, right = tree.query(footprints, predicate="intersects")
    for i, j in zip(left, right, strict=True):
        if i < j and shapely.intersection(footprints[i], footprints[j]).area > min_overlap_m2:
            parent[root(i)] = root(j)
    roots = np.array([root(i) for i in range(n)])
    return np.unique(roots, return_inverse=True)[1]


def bisect_buildings(footprints: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    """Split buildings into ``k`` balanced compact groups, keeping overlapping ones together."""
    groups = overlap_groups(footprints)
    n = int(groups.max()) + 1 if len(groups) else 0
    xy = shapely.get_coordinates(shapely.point_on_surface(footprints))
    gxy = np.zeros((n, 2))
    np.add.at(gxy, groups, xy)
    gxy /= np.bincount(groups, minlength=n)[:, None]
    gw = np.bincount(groups, weights=weights.astype(float), minlength=n)
    return bisect(gxy, gw, k)[groups]


def grid_polygons(
    buildings: np.ndarray, labels: np.ndarray, area: BaseGeometry
) -> list[BaseGeometry]:
    """Return one polygon per label that tiles ``area`` and holds its buildings whole.

    Parameters
    ----------
    buildings
        Building footprints (shapely polygons, metric CRS).
    labels
        Grid label of each building, 0 .. k-1.
    area
        The area to tile (metric CRS); it should contain the buildings.
    """
    k = int(labels.max()) + 1
    outlines = shapely.segmentize(shapely.boundary(buildings), SAMPLE_SPACING_M)
    coords, owner = shapely.get_coordinates(outlines, return_index=True)
    centres = shapely.get_coordinates(shapely.point_on_surface(buildings))
    coords = np.vstack([coords, centres])
    owner = np.concatenate([owner, np.arange(len(buildings))])
    coords, first = np.unique(np.round(coords, 3), axis=0, return_index=True)
    owner = owner[first]
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(coords), extend_to=area, ordered=True)
    )
    everything = shapely.union_all(buildings)
    grids: list[BaseGeometry] = []
    for g in range(k):
        own = shapely.union_all(buildings[labels == g])
        region = shapely.coverage_union_all(cells[labels[owner] == g])
        grids.append(
            shapely.intersection(shapely.union(shapely.difference(region, everything), own), area)
        )
    grids = _reassign_orphans(grids, [buildings[labels == g] for g in range(k)])
    taken = shapely.Polygon()
    out = []
    for g in grids:  # settle overlaps left by overlapping footprints: first grid keeps them
        out.append(shapely.make_valid(shapely.difference(g, taken)))
        taken = shapely.union(taken, g)
    return out


def _reassign_orphans(grids: list[BaseGeometry], members: list[np.ndarray]) -> list[BaseGeometry]:
    """Give each piece of a grid that holds none of its buildings to the neighbour it borders most."""
    grids = list(grids)
    for i, grid in enumerate(grids):
        parts = shapely.get_parts(grid)
        if len(parts) < 2:
            continue
        keep = [p for p in parts if shapely.intersects(p, members[i]).any()]
        if not keep:
            keep = [max(parts, key=lambda p: p.area)]
        for part in parts:
            if any(part is q for q in keep):
                continue
            border = [
                shapely.length(shapely.intersection(part.buffer(0.01), other.boundary))
                if j != i
                else -1.0
                for j, other in enumerate(grids)
            ]
            j = int(np.argmax(border))
            if border[j] > 0:
                grids[j] = shapely.union(grids[j], part)
            else:
                keep.append(part)
        grids[i] = shapely.union_all(keep)
    return grids


def reading_order(polygons: list[BaseGeometry]) -> list[int]:
    """Return indices that number polygons west to east in rows from north to south."""
    if not polygons:
        return []
    centres = shapely.get_coordinates(shapely.centroid(np.asarray(polygons, dtype=object)))
    total = shapely.union_all(polygons)
    band = math.sqrt(total.area / len(polygons))
    top = centres[:, 1].max()
    rows = np.floor((top - centres[:, 1]) / band + 0.5).astype(int)
    return sorted(range(len(polygons)), key=lambda i: (rows[i], centres[i, 0]))


def grid_count(total_households: int, target: int = 400) -> int:
    """Return how many grids give about ``target`` households each (at least 1)."""
    return max(1, round(total_households / target))
