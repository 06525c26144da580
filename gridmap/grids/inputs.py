"""Checks of what a grid partition is built from: metric CRS, communities that tile.

Each check raises :class:`gridmap.errors.InputError` with a message a planner can act on.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.errors import InputError
from gridmap.grids import checks


def given_communities(
    communities: gpd.GeoDataFrame, area: BaseGeometry | None, crs: Any
) -> tuple[gpd.GeoDataFrame, BaseGeometry]:
    """Check communities to split: coded, one piece each, not overlapping, covering ``area``.

    Return them (slivers of their outlines dropped) and the area they tile: their union.
    """
    metric_crs(communities, "communities")
    if not communities.crs.equals(crs):
        raise InputError("The communities and the buildings are in different CRS.")
    if not len(communities):
        raise InputError("There are no communities to split into grids.")
    if "code" not in communities or communities["code"].isna().any():
        raise InputError("Every community needs a code to number its grids by.")
    if not communities["code"].is_unique:
        raise InputError("Two communities share a code.")
    polys = []
    for code, geom in zip(communities["code"], communities.geometry.values, strict=True):
        parts = [p for p in shapely.get_parts(geom) if p.area > checks.SLIVER_M2]
        if len(parts) != 1:
            what = "is empty" if not parts else f"is in {len(parts)} pieces"
            raise InputError(
                f"Community {code} {what}: grids are drawn in communities of one piece."
            )
        polys.append(parts[0])
    out = communities.copy()
    out.geometry = polys
    found = checks.tiling(np.asarray(polys, dtype=object), shapely.union_all(polys))
    if found:
        raise InputError("The communities are not a clean partition: " + "; ".join(found) + ".")
    union = shapely.union_all(polys)
    if area is not None:
        off = shapely.symmetric_difference(area, union).area
        if off > checks.AREA_TOLERANCE_M2 + checks.REL_TOLERANCE * area.area:
            raise InputError(
                f"The communities do not cover the area: they differ from it by {off:.0f} m²."
            )
    return out, union


def metric_crs(frame: gpd.GeoDataFrame, what: str) -> Any:
    """Return the frame's CRS, or raise unless it is a projected (metric) one."""
    if frame.crs is None:
        raise InputError(f"The {what} have no CRS: give them in the area's UTM zone.")
    if not frame.crs.is_projected:
        raise InputError(
            f"The {what} are in {frame.crs.to_string()}, degrees: project them to the area's "
            "UTM zone (metres) first."
        )
    return frame.crs
