"""Checks that grids are what a partition claims: one piece each, tiling the area, holding
their buildings whole. Geometry in a metric CRS; areas in square metres.

Each check returns a list of plain-language findings (empty: all is well), so that a solve can
refuse a bad partition (:class:`gridmap.solve.SolveError`) and an editing page can show them.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

#: Parts and slivers smaller than this are left by geometry operations, square metres.
SLIVER_M2 = 0.01
#: Overlap or gap allowed between grids, in all, square metres (plus :data:`REL_TOLERANCE`).
AREA_TOLERANCE_M2 = 1.0
#: ... and as a share of the area.
REL_TOLERANCE = 1e-6


def pieces(geom: BaseGeometry) -> int:
    """Return the number of parts of ``geom`` larger than a sliver."""
    return sum(1 for p in shapely.get_parts(geom) if p.area > SLIVER_M2)


def contiguity(geoms: np.ndarray, codes: list[str]) -> list[str]:
    """Return a finding for each grid that is empty or in more than one piece."""
    out = []
    for code, g in zip(codes, geoms, strict=True):
        n = pieces(g)
        if n != 1:
            out.append(f"grid {code} is in {n} pieces" if n else f"grid {code} is empty")
    return out


def tiling(geoms: np.ndarray, area: BaseGeometry) -> list[str]:
    """Return findings if the grids overlap, leave gaps in ``area`` or reach outside it."""
    tol = AREA_TOLERANCE_M2 + REL_TOLERANCE * area.area
    union = shapely.union_all(geoms)
    out = []
    overlap = float(shapely.area(geoms).sum()) - union.area
    if overlap > tol:
        out.append(f"grids overlap by {overlap:.1f} m²")
    gap = shapely.difference(area, union).area
    if gap > tol:
        out.append(f"grids leave {gap:.1f} m² of the area uncovered")
    outside = shapely.difference(union, area).area
    if outside > tol:
        out.append(f"grids reach {outside:.1f} m² outside the area")
    return out


def within(geoms: np.ndarray, codes: list[str], hosts: np.ndarray, what: str) -> list[str]:
    """Return a finding for each grid not inside its host (its community), by area."""
    out = []
    for code, g, host in zip(codes, geoms, hosts, strict=True):
        spill = shapely.difference(g, host).area
        if spill > AREA_TOLERANCE_M2 + REL_TOLERANCE * host.area:
            out.append(f"grid {code} reaches {spill:.1f} m² outside its {what}")
    return out


def buildings_whole(
    footprints: np.ndarray, building_grid: np.ndarray, geoms_by_code: dict[str, BaseGeometry]
) -> list[str]:
    """Return findings for buildings without a grid or not inside the grid they belong to.

    A building counts as inside when at most 1 % of it (plus 0.5 m², digitising noise) lies
    outside; footprints that overlap across grids stay with one of them.
    """
    out = []
    unknown = sorted({str(c) for c in building_grid if c not in geoms_by_code})
    if unknown:
        out.append(f"buildings belong to grids that do not exist: {', '.join(unknown[:5])}")
        return out
    grid_of = np.asarray([geoms_by_code[c] for c in building_grid], dtype=object)
    spill = shapely.area(shapely.difference(footprints, grid_of))
    bad = np.flatnonzero(spill > 0.01 * shapely.area(footprints) + 0.5)
    if len(bad):
        out.append(
            f"{len(bad)} building(s) lie partly outside their grid "
            f"(first: building {int(bad[0])}, {float(spill[bad[0]]):.1f} m² outside)"
        )
    return out
