"""Codes and names of communities and grids, and grid polygons ready for storage.

Codes follow DB11/T 2157 in spirit: district 6 digits (GB/T 2260) + street 3 + community 3 +
grid 3, numbered west to east in rows from north to south
(:func:`gridmap.grids.partition.reading_order`).
"""

from __future__ import annotations

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.errors import InputError
from gridmap.schema import STORAGE_CRS, STORAGE_PRECISION_DEG

#: The most communities of a street, or grids of a community, a 3-digit sequence can number.
MAX_SEQUENCE = 999


def sequence_code(prefix: str, n: int) -> str:
    """Return ``prefix`` followed by the 3-digit sequence number ``n`` (1-based)."""
    if not 1 <= n <= MAX_SEQUENCE:
        raise InputError(
            f"Codes under {prefix} number at most {MAX_SEQUENCE} areas; {n} do not fit. "
            "Use a larger target."
        )
    return f"{prefix}{n:03d}"


def check_prefix(prefix: str) -> str:
    """Return the 9-digit district + street prefix of community codes, or raise InputError."""
    if not (len(prefix) == 9 and prefix.isdigit()):
        raise InputError(
            f"Community codes start with district (6 digits) and street (3 digits), not '{prefix}'."
        )
    return prefix


def community_names(polys: list[BaseGeometry], streets: gpd.GeoDataFrame) -> list[str]:
    """Name each community after the named street with most length inside it (metric CRS).

    A street names one community only; a community with no unused named street is called
    第N社区 after its place in ``polys``.
    """
    names: list[str] = []
    named = streets[streets["name"].notna()] if "name" in streets else streets.iloc[:0]
    for n, poly in enumerate(polys):
        inside = named[named.intersects(poly)]
        lengths = inside.geometry.intersection(poly).length.groupby(inside["name"]).sum()
        pick = next(
            (s for s in lengths.sort_values(ascending=False).index if f"{s}社区" not in names), None
        )
        names.append(f"{pick}社区" if pick else f"第{n + 1}社区")
    return names


def storage_polygon(geom: BaseGeometry) -> shapely.MultiPolygon:
    """Return ``geom`` (lon/lat) valid, snapped to the storage grid, as a MultiPolygon.

    Projecting can pinch thin slivers; snapping to :data:`gridmap.schema.STORAGE_PRECISION_DEG`
    (about 1 cm) drops them.
    """
    snapped = shapely.set_precision(shapely.make_valid(geom), STORAGE_PRECISION_DEG)
    parts = [p for p in shapely.get_parts(snapped) if p.geom_type == "Polygon" and not p.is_empty]
    if not parts:  # a collection: take its polygons
        parts = [
            p for p in shapely.get_parts(shapely.get_parts(snapped)) if p.geom_type == "Polygon"
        ]
    return shapely.MultiPolygon(parts)


def storage_polygons(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return a coverage (grids, communities) projected to EPSG:4326 on the storage grid.

    Each outline is made valid (:func:`storage_polygon`), then the whole layer is cleaned as
    one coverage (:func:`gridmap.grids.topology.clean`), so that a border two areas share is
    the same chain of vertices in both — which snapping each outline on its own does not keep.
    """
    from gridmap.grids.plan import clean

    out = frame.to_crs(STORAGE_CRS)
    valid = [storage_polygon(g) for g in out.geometry.values]
    out.geometry = list(clean(valid, STORAGE_PRECISION_DEG))
    return out
