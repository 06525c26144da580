"""Synthetic house numbers for buildings OSM gives no address: street name + number.

Each unnamed building takes the nearest named street and a number by its place along that
street (1, 2, 3 … from the street's start), so that the demo register reads like one.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely


def street_addresses(
    buildings_m: gpd.GeoDataFrame, streets_m: gpd.GeoDataFrame
) -> list[str | None]:
    """Return an address per building: its OSM address if any, else "<street><n>号"."""
    named = streets_m[streets_m["name"].notna()]
    if named.empty:
        return list(buildings_m["address"])
    lines = {
        name: shapely.line_merge(shapely.union_all(g.geometry.values))
        for name, g in named.groupby("name")
    }
    names = list(lines)
    geoms = np.asarray([lines[n] for n in names], dtype=object)
    points = shapely.point_on_surface(buildings_m.geometry.values)
    nearest = shapely.STRtree(geoms).nearest(points)
    along = np.array([geoms[j].project(p) for j, p in zip(nearest, points, strict=True)])
    out: list[str | None] = list(buildings_m["address"])
    for j, name in enumerate(names):
        mine = np.flatnonzero((nearest == j) & np.array([a is None or a != a for a in out]))
        for n, i in enumerate(mine[np.argsort(along[mine], kind="stable")], start=1):
            out[i] = f"{name}{n}号"
    return out
