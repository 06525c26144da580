"""Borders that run beside a street instead of on it, and the fix that moves them onto it.

Grid borders should follow street centre lines (or the community edge): a street is where a
grid worker's round naturally ends, and a border a few metres off the street leaves a strip of
one grid on the far side, with its buildings. Hand-drawn and imported borders often do. Here,
for each pair of neighbouring grids of one community whose shared border has a street within
:data:`NEAR_M` of it, the two grids are cut along those streets; a piece of the cut that is
mostly one grid but holds a thin strip (narrower than :data:`NEAR_M`) of the other, lying
between the border and the street, is a finding, and its fix gives the strip to the grid on
its side of the street, which moves the border onto the centre line.

Geometry in a metric CRS (the area's UTM zone); lengths in metres, areas in m². Plain data only.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.grids.findings import Finding

#: A border this close to a street centre line (m) is meant to follow it; strips narrower
#: than this between a border and a street are findings.
NEAR_M = 12.0
#: Strips smaller than this (m²) are digitising noise.
MIN_STRIP_M2 = 20.0
#: A strip must run along the border and the street for at least this far (m).
MIN_RUN_M = 10.0
#: A border within this of a street (m) is on it.
ON_STREET_M = 1.0


def _strip_is_thin(strip: BaseGeometry, near_m: float) -> bool:
    """True when no part of ``strip`` is wider than ``near_m`` (its inner buffer vanishes)."""
    core = shapely.buffer(strip, -near_m / 2)
    return bool(shapely.area(core) < 0.02 * shapely.area(strip))


def _pieces(union: BaseGeometry, cut: BaseGeometry) -> list[BaseGeometry]:
    """Return the faces of ``union`` cut along the lines ``cut``."""
    noded = shapely.union_all([shapely.boundary(union), cut])
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    inside = shapely.contains_properly(union, shapely.point_on_surface(faces))
    return list(faces[inside])


def _strips(
    a: BaseGeometry, b: BaseGeometry, near: BaseGeometry, near_m: float
) -> list[tuple[int, BaseGeometry]]:
    """Return ``(side, strip)`` for each thin strip of grid ``a`` (side 0) or ``b`` (side 1)
    that the streets ``near`` cut off onto the other grid's side."""
    union = shapely.union(a, b)
    cut = shapely.intersection(near, union)
    if shapely.is_empty(cut):
        return []
    out = []
    for face in _pieces(union, cut):
        in_a = float(shapely.area(shapely.intersection(face, a)))
        areas = (in_a, float(shapely.area(face)) - in_a)  # the two grids tile the face
        minor = 0 if areas[0] < areas[1] else 1
        if areas[minor] < MIN_STRIP_M2:
            continue
        strip = shapely.intersection(face, (a, b)[minor])
        if not _strip_is_thin(strip, near_m):
            continue
        major = shapely.intersection(face, (a, b)[1 - minor])
        border = shapely.intersection(shapely.boundary(strip), shapely.boundary(major))
        on_street = shapely.intersection(shapely.boundary(strip), shapely.buffer(cut, ON_STREET_M))
        if shapely.length(border) < MIN_RUN_M or shapely.length(on_street) < MIN_RUN_M:
            continue
        out.append((minor, strip))
    return out


#: Borders are sampled this often (m) to find the ones that run beside a street.
SAMPLE_M = 3.0


def _shared_borders(
    grids: gpd.GeoDataFrame, only: set[str] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(i, j, border)`` for each pair of grids of one community that share a border
    at least :data:`MIN_RUN_M` long (and name a grid of ``only``, when given)."""
    codes = grids["code"].astype(str).to_numpy()
    geoms = np.asarray(grids.geometry.values, dtype=object)
    community = grids["community_code"].astype(str).to_numpy()
    i, j = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = (i < j) & (community[i] == community[j])
    if only is not None:
        keep &= np.isin(codes[i], list(only)) | np.isin(codes[j], list(only))
    i, j = i[keep], j[keep]
    rings = shapely.boundary(geoms)
    shared = shapely.intersection(rings[i], rings[j])
    long = shapely.length(shared) >= MIN_RUN_M
    return i[long], j[long], shared[long]


def _beside_streets(shared: np.ndarray, tree: shapely.STRtree, near_m: float) -> np.ndarray:
    """Return the indices of the borders that run beside a street — off it, within ``near_m``
    of it and roughly parallel (the distance changing by less than half the way along) — for at
    least :data:`MIN_RUN_M`, sampled every :data:`SAMPLE_M`. A border that only meets a street
    end on is not beside it."""
    if not len(shared):
        return np.zeros(0, dtype=int)
    # sampled along each part of a border: the step from one part to the next is no border
    parts, border = shapely.get_parts(shared, return_index=True)
    points, part = shapely.get_coordinates(shapely.segmentize(parts, SAMPLE_M), return_index=True)
    which = border[part]
    # the distance to the nearest street where one is this close (a step of at most SAMPLE_M
    # changes it by at most that: a point farther off is never beside one, nor next to one
    # that is); infinite beyond
    reach = near_m + SAMPLE_M
    samples = shapely.points(points)
    pi, si = tree.query(samples, predicate="dwithin", distance=reach)
    dist = np.full(len(points), np.inf)
    if len(pi):
        np.minimum.at(dist, pi, shapely.distance(samples[pi], tree.geometries[si]))
    step = np.hypot(*np.diff(points, axis=0).T)
    with np.errstate(invalid="ignore"):  # inf - inf: both far off, not beside
        change = np.abs(np.diff(dist))
    beside = (
        (part[1:] == part[:-1])
        & (change <= 0.5 * step)
        & (dist[1:] > ON_STREET_M)
        & (dist[1:] <= near_m)
    )
    runs = np.bincount(which[1:][beside], weights=step[beside], minlength=len(shared))
    return np.flatnonzero(runs >= MIN_RUN_M)


def off_street(
    grids: gpd.GeoDataFrame,
    streets: np.ndarray,
    *,
    near_m: float = NEAR_M,
    only: set[str] | None = None,
) -> list[Finding]:
    """Return a finding for each thin strip of a grid cut off by a street beside its border.

    Parameters
    ----------
    grids
        ``code``, ``community_code`` and geometry (a planar coverage), metric CRS.
    streets
        Street centre lines (LineStrings, each street once), same CRS.
    near_m
        How far (m) a border may run beside a street and still be meant to follow it.
    only
        Codes of the grids to report on (an edit's re-check), or ``None`` for all.

    Returns
    -------
    list of Finding
        Kind ``off_street``, grids ``(strip's grid, other grid)``, located at the strip, with
        the fix that gives the strip to the other grid (``{"op": "give", "to": …}``).
    """
    if len(grids) < 2 or not len(streets):
        return []
    codes = grids["code"].astype(str).to_numpy()
    geoms = np.asarray(grids.geometry.values, dtype=object)
    street_tree = shapely.STRtree(streets)
    i, j, shared = _shared_borders(grids, only)
    out: list[Finding] = []
    for k in _beside_streets(shared, street_tree, near_m):
        i_k, j_k = int(i[k]), int(j[k])
        near = shapely.union_all(
            streets[street_tree.query(shared[k], predicate="dwithin", distance=near_m)]
        )
        for side, strip in _strips(geoms[i_k], geoms[j_k], near, near_m):
            mine, other = (codes[i_k], codes[j_k]) if side == 0 else (codes[j_k], codes[i_k])
            area = float(shapely.area(strip))
            run = float(shapely.length(shapely.intersection(shapely.boundary(strip), shared[k])))
            run = run if np.isfinite(run) else 0.0  # (NaN: no boundary; JSON has no NaN)
            width = area / run if run > 0 else 0.0
            out.append(
                Finding(
                    "off_street",
                    (mine, other),
                    strip,
                    area,
                    f"The border of grids {mine} and {other} runs {width:.0f} m beside a "
                    f"street: {area:.0f} m² of grid {mine} lie across the street, on {other}'s "
                    f"side. Give them to {other} to move the border onto the street.",
                    f"网格 {mine} 与 {other} 的边界偏离街道中心线约 {width:.0f} 米：网格 {mine} "
                    f"有 {area:.0f} 平方米在街道另一侧。划给 {other} 即可使边界沿街道中心线。",
                    {"width_m": round(width, 1), "run_m": round(run, 1)},
                    ({"op": "give", "to": other},),
                )
            )
    return out


__all__ = ["MIN_STRIP_M2", "NEAR_M", "off_street"]
