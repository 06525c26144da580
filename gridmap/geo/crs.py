"""Coordinate reference systems of imported files: naming them, converting to WGS84, UTM zones.

Besides EPSG codes, Chinese data comes in two non-EPSG datums: GCJ-02 (Amap/Tencent) and BD-09
(Baidu), converted with :mod:`gridmap.chinacoords`. CGCS2000 (EPSG:4490) differs from WGS84 by
centimetres and is treated as WGS84. :func:`detect_china_datum` guesses which of WGS84, GCJ-02
and BD-09 a file uses by comparing it with streets or buildings already in the workspace.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from gridmap.errors import CoordinateError
from gridmap.geo import chinacoords
from gridmap.schema import STORAGE_EPSG

__all__ = [
    "ChinaDatum",
    "SourceCRS",
    "detect_china_datum",
    "resolve_crs",
    "to_wgs84",
    "utm_crs",
]

ChinaDatum = Literal["wgs84", "gcj02", "bd09"]

#: Geographic CRSs within centimetres of WGS84: no transformation needed at map precision.
WGS84_LIKE_EPSG = frozenset({4326, 4490})

#: How much better the best datum of :func:`detect_china_datum` must be than the runner-up.
DETECT_MIN_RATIO = 0.6  # best median at most 60 % of the runner-up's (40 % smaller)
DETECT_MIN_GAIN_M = 20.0  # and at least this many metres smaller
DETECT_MAX_P = 0.01  # and nearer for more points than chance allows (sign test)
DETECT_TIE_M = 1.0  # distances closer than this count as ties in the sign test
DETECT_MAX_POINTS = 2000

_ALIASES: dict[str, str] = {
    "wgs84": "EPSG:4326",
    "wgs-84": "EPSG:4326",
    "wgs 84": "EPSG:4326",
    "cgcs2000": "EPSG:4490",
    "cgcs-2000": "EPSG:4490",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "gcj": "gcj02",
    "mars": "gcj02",
    "amap": "gcj02",
    "gaode": "gcj02",
    "tencent": "gcj02",
    "高德": "gcj02",
    "火星坐标": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "bd09ll": "bd09",
    "baidu": "bd09",
    "百度": "bd09",
}

_CONVERTERS = {
    "gcj02": chinacoords.gcj02_to_wgs84,
    "bd09": chinacoords.bd09_to_wgs84,
}


@dataclass(frozen=True)
class SourceCRS:
    """The coordinate system of a file: a pyproj CRS, or a Chinese datum on top of WGS84.

    ``name`` is what gridmap reports ("EPSG:4326", "gcj02", "bd09", ...); ``crs`` the pyproj CRS
    of the coordinates (EPSG:4326 for gcj02 and bd09); ``china_datum`` is "gcj02" or "bd09" when
    the coordinates carry that offset, else None.
    """

    name: str
    crs: pyproj.CRS
    china_datum: Literal["gcj02", "bd09"] | None = None

    @property
    def is_wgs84_like(self) -> bool:
        """Return True when the coordinates are WGS84 degrees (or within centimetres of it)."""
        return self.china_datum is None and self.crs.to_epsg() in WGS84_LIKE_EPSG

    @property
    def is_geographic(self) -> bool:
        """Return True when the coordinates are longitude/latitude degrees."""
        return self.crs.is_geographic


def resolve_crs(spec: str | int | pyproj.CRS | SourceCRS) -> SourceCRS:
    """Return the :class:`SourceCRS` named by ``spec`` (EPSG:n, n, wgs84, cgcs2000, gcj02, bd09)."""
    if isinstance(spec, SourceCRS):
        return spec
    if isinstance(spec, pyproj.CRS):
        return _from_pyproj(spec)
    text = str(spec).strip()
    key = text.lower()
    alias = _ALIASES.get(key)
    if alias == "gcj02" or alias == "bd09":
        datum: Literal["gcj02", "bd09"] = "gcj02" if alias == "gcj02" else "bd09"
        return SourceCRS(datum, pyproj.CRS.from_epsg(STORAGE_EPSG), datum)
    if alias is not None:
        text = alias
    elif re.fullmatch(r"\d{4,6}", text):
        text = f"EPSG:{text}"
    try:
        crs = pyproj.CRS.from_user_input(text)
    except pyproj.exceptions.CRSError:
        raise CoordinateError(
            f"Unknown coordinate reference system '{spec}'. Use an EPSG code such as EPSG:4326, "
            "or one of wgs84, cgcs2000, gcj02 (Amap/Tencent), bd09 (Baidu)."
        ) from None
    return _from_pyproj(crs)


def _from_pyproj(crs: pyproj.CRS) -> SourceCRS:
    epsg = crs.to_epsg()
    name = f"EPSG:{epsg}" if epsg else crs.name
    return SourceCRS(name, crs)


def to_wgs84(
    gdf: gpd.GeoDataFrame, source: str | int | pyproj.CRS | SourceCRS | None = None
) -> gpd.GeoDataFrame:
    """Return a copy of ``gdf`` in EPSG:4326, reading its coordinates as ``source`` (or its CRS)."""
    if source is None:
        source = gdf.crs if gdf.crs is not None else STORAGE_EPSG
    src = resolve_crs(source)
    out = gdf.copy()
    if src.china_datum is not None:
        geoms = chinacoords.transform_geometries(out.geometry, _CONVERTERS[src.china_datum])
        out[out.geometry.name] = geoms.array
    elif not src.is_wgs84_like:
        return out.set_crs(src.crs, allow_override=True).to_crs(STORAGE_EPSG)
    return out.set_crs(STORAGE_EPSG, allow_override=True)


def utm_crs(lon: float, lat: float) -> pyproj.CRS:
    """Return the WGS84 UTM zone CRS (EPSG:326xx north, 327xx south) containing lon/lat."""
    zone = int(np.clip(np.floor((float(lon) + 180.0) / 6.0) + 1, 1, 60))
    return pyproj.CRS.from_epsg((32600 if float(lat) >= 0 else 32700) + zone)


def _distances(
    lon: np.ndarray, lat: np.ndarray, tree: shapely.STRtree, to_utm: pyproj.Transformer
) -> np.ndarray:
    x, y = to_utm.transform(lon, lat)
    points = shapely.points(np.asarray(x), np.asarray(y))
    _, dist = tree.query_nearest(points, return_distance=True, all_matches=False)
    return np.asarray(dist, dtype="float64")


def _sign_test(better: np.ndarray) -> float:
    """Return the chance of at least this many wins among the non-ties if both were equal."""
    wins = int(np.sum(better > DETECT_TIE_M))
    n = wins + int(np.sum(better < -DETECT_TIE_M))
    if n == 0:
        return 1.0
    return sum(math.comb(n, i) for i in range(wins, n + 1)) / 2**n


def detect_china_datum(
    points_wgs84_assumed: gpd.GeoSeries, reference: gpd.GeoSeries
) -> ChinaDatum | None:
    """Return the datum (wgs84, gcj02, bd09) that puts the input nearest the reference, or None.

    Each geometry's representative point is read as WGS84, as GCJ-02 and as BD-09, and its
    distance (metres, in the UTM zone) to the nearest reference geometry measured. A datum wins
    when its median distance is at least 40 % and 20 m smaller than the runner-up's and, as a
    guard against chance with few or scattered points, it is nearer for clearly more points than
    not (sign test, p < 1 %). Otherwise the answer is None: ask the user.
    """
    geoms = np.asarray(points_wgs84_assumed.array)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if reference.crs is not None and reference.crs.to_epsg() != STORAGE_EPSG:
        reference = reference.to_crs(STORAGE_EPSG)
    ref = np.asarray(reference.array)
    ref = ref[~(shapely.is_missing(ref) | shapely.is_empty(ref))]
    if len(geoms) == 0 or len(ref) == 0:
        return None
    if len(geoms) > DETECT_MAX_POINTS:  # an even sample is plenty
        geoms = geoms[np.linspace(0, len(geoms) - 1, DETECT_MAX_POINTS).astype(int)]
    reps = shapely.point_on_surface(geoms)
    lon, lat = shapely.get_x(reps), shapely.get_y(reps)
    xmin, ymin, xmax, ymax = shapely.total_bounds(ref)
    utm = utm_crs((xmin + xmax) / 2.0, (ymin + ymax) / 2.0)
    to_utm = pyproj.Transformer.from_crs(STORAGE_EPSG, utm, always_xy=True)
    tree = shapely.STRtree(shapely.transform(ref, to_utm.transform, interleaved=False))
    dist: dict[ChinaDatum, np.ndarray] = {
        "wgs84": _distances(lon, lat, tree, to_utm),
        "gcj02": _distances(*chinacoords.gcj02_to_wgs84(lon, lat), tree, to_utm),
        "bd09": _distances(*chinacoords.bd09_to_wgs84(lon, lat), tree, to_utm),
    }
    medians = {k: float(np.median(v)) for k, v in dist.items()}
    ranked = sorted(medians, key=medians.__getitem__)
    best, second = ranked[0], ranked[1]
    if medians[best] > DETECT_MIN_RATIO * medians[second]:
        return None
    if medians[second] - medians[best] < DETECT_MIN_GAIN_M:
        return None
    if _sign_test(dist[second] - dist[best]) >= DETECT_MAX_P:
        return None
    return best
