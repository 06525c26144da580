"""Weighted recursive bisection: points or buildings split into compact groups of near-equal
weight, the first cut of a heavy block before issue 8's shortest cuts, and the start of a
partition (:func:`gridmap.grids.partition.balanced_regions`). Coordinates in metres (a
metric CRS); weights are households.
"""

from __future__ import annotations

import numpy as np
import shapely


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
    return bisect(gxy, gw, min(k, n))[groups]


__all__ = ["bisect", "bisect_buildings", "overlap_groups"]
