"""Conversions between WGS84, GCJ-02 (Amap/Tencent "Mars" coordinates) and BD-09 (Baidu).

GCJ-02 is WGS84 with a deliberate, position-dependent offset of a few hundred metres, computed on
the Krasovsky ellipsoid; it applies inside China only (outside, GCJ-02 equals WGS84). BD-09 adds
Baidu's own offset on top of GCJ-02. Every converter takes longitude and latitude in degrees, as
numpy arrays or scalars, and returns ``(lon, lat)`` of the same shape (floats for scalar input).
The inverses solve the forward formula by fixed-point iteration to better than 1e-9 degrees.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely

__all__ = [
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "in_china",
    "transform_geometries",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

ArrayLike = npt.ArrayLike
Coords = tuple[Any, Any]
Converter = Callable[[Any, Any], Coords]
G = TypeVar("G")

#: Semi-major axis and squared eccentricity of the Krasovsky 1940 ellipsoid used by GCJ-02.
KRASOVSKY_A = 6378245.0
KRASOVSKY_EE = 0.00669342162296594323
#: The constant of the BD-09 formula.
X_PI = np.pi * 3000.0 / 180.0

#: The rough bounding box in which GCJ-02 applies (the usual convention of the formula).
CHINA_LON = (72.004, 137.8347)
CHINA_LAT = (0.8293, 55.8271)

_TOLERANCE = 1e-10  # degrees; about 0.01 mm
_MAX_ITERATIONS = 30


def _arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray, bool]:
    x = np.asarray(lon, dtype="float64")
    y = np.asarray(lat, dtype="float64")
    scalar = x.ndim == 0 and y.ndim == 0
    x, y = np.broadcast_arrays(x, y)
    return x, y, scalar


def _result(x: np.ndarray, y: np.ndarray, scalar: bool) -> Coords:
    if scalar:
        return float(x), float(y)
    return x, y


def in_china(lon: ArrayLike, lat: ArrayLike) -> Any:
    """Return True where a point lies in the box where GCJ-02 differs from WGS84."""
    x, y, scalar = _arrays(lon, lat)
    inside = (x >= CHINA_LON[0]) & (x <= CHINA_LON[1]) & (y >= CHINA_LAT[0]) & (y <= CHINA_LAT[1])
    return bool(inside) if scalar else inside


def _offset_lat(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    d = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    d += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    d += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    d += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return d


def _offset_lon(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    d = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    d += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    d += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    d += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return d


def _gcj_forward(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dlat = _offset_lat(lon - 105.0, lat - 35.0)
    dlon = _offset_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - KRASOVSKY_EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (KRASOVSKY_A / sqrtmagic * np.cos(radlat) * np.pi)
    inside = in_china(lon, lat)
    return np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat)


def _bd_forward(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd_approx_inverse(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = lon - 0.0065
    y = lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def _invert(
    forward: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    lon: np.ndarray,
    lat: np.ndarray,
    start: tuple[np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``forward(x, y) == (lon, lat)`` by fixed-point iteration from ``start``."""
    x, y = (np.array(a, dtype="float64", copy=True) for a in start)
    for _ in range(_MAX_ITERATIONS):
        fx, fy = forward(x, y)
        dx = fx - lon
        dy = fy - lat
        x = x - dx
        y = y - dy
        if not np.any(np.abs(dx) > _TOLERANCE) and not np.any(np.abs(dy) > _TOLERANCE):
            break
    return x, y


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> Coords:
    """Convert WGS84 longitude/latitude to GCJ-02 (unchanged outside China)."""
    x, y, scalar = _arrays(lon, lat)
    return _result(*_gcj_forward(x, y), scalar)


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> Coords:
    """Convert GCJ-02 longitude/latitude to WGS84 by iterating the forward formula (< 1e-9°)."""
    x, y, scalar = _arrays(lon, lat)
    return _result(*_invert(_gcj_forward, x, y, (x, y)), scalar)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> Coords:
    """Convert GCJ-02 longitude/latitude to BD-09 (Baidu)."""
    x, y, scalar = _arrays(lon, lat)
    return _result(*_bd_forward(x, y), scalar)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> Coords:
    """Convert BD-09 (Baidu) longitude/latitude to GCJ-02, refining the usual inverse formula."""
    x, y, scalar = _arrays(lon, lat)
    return _result(*_invert(_bd_forward, x, y, _bd_approx_inverse(x, y)), scalar)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> Coords:
    """Convert WGS84 longitude/latitude to BD-09 (Baidu) via GCJ-02."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> Coords:
    """Convert BD-09 (Baidu) longitude/latitude to WGS84 via GCJ-02."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def transform_geometries(geoms: G, func: Converter) -> G:
    """Return ``geoms`` (geometry, array of geometries or GeoSeries) with ``func`` applied to every vertex."""

    def apply(x: np.ndarray, y: np.ndarray, z: np.ndarray | None = None) -> tuple:
        nx, ny = func(x, y)
        return (nx, ny) if z is None else (nx, ny, z)

    if isinstance(geoms, gpd.GeoSeries):
        values = shapely.transform(
            np.asarray(geoms.array), apply, include_z=None, interleaved=False
        )
        return gpd.GeoSeries(values, index=geoms.index, crs=geoms.crs, name=geoms.name)
    return shapely.transform(geoms, apply, include_z=None, interleaved=False)
