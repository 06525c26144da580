"""WGS84 / GCJ-02 / BD-09 conversions: known values, round trips across China, outside China."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely

from gridmap.geo import chinacoords as cc

GEOD = pyproj.Geod(ellps="WGS84")

# Tiananmen. GCJ-02 and BD-09 values worked out from the published formulas (Krasovsky ellipsoid,
# x_pi = pi * 3000 / 180), to 1e-6 degrees.
WGS = (116.397128, 39.916527)
GCJ = (116.403372, 39.917931)
BD = (116.409739, 39.924269)


def china_grid() -> tuple[np.ndarray, np.ndarray]:
    """Return a grid of points across China (roughly Kashgar to Harbin, Hainan to Heilongjiang)."""
    lon, lat = np.meshgrid(np.arange(74.0, 134.5, 2.5), np.arange(18.0, 53.5, 2.5))
    return lon.ravel() + 0.123, lat.ravel() + 0.0456


def metres(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    """Return the geodesic distances in metres between two sets of points."""
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


def test_gcj02_known_point() -> None:
    lon, lat = cc.wgs84_to_gcj02(*WGS)
    assert lon == pytest.approx(GCJ[0], abs=1e-6)
    assert lat == pytest.approx(GCJ[1], abs=1e-6)
    # the commonly quoted rounded value
    assert (lon, lat) == pytest.approx((116.403364, 39.917930), abs=1e-5)
    assert cc.gcj02_to_wgs84(*GCJ) == pytest.approx(WGS, abs=1e-6)


def test_bd09_known_point() -> None:
    assert cc.gcj02_to_bd09(*GCJ) == pytest.approx(BD, abs=1e-5)
    assert cc.wgs84_to_bd09(*WGS) == pytest.approx(BD, abs=1e-6)
    assert cc.bd09_to_gcj02(*BD) == pytest.approx(GCJ, abs=1e-6)
    assert cc.bd09_to_wgs84(*BD) == pytest.approx(WGS, abs=1e-6)


def test_scalars_give_floats_and_arrays_keep_shape() -> None:
    lon, lat = cc.wgs84_to_gcj02(*WGS)
    assert type(lon) is float and type(lat) is float
    grid_lon = np.full((2, 3), WGS[0])
    grid_lat = np.full((2, 3), WGS[1])
    out_lon, out_lat = cc.wgs84_to_gcj02(grid_lon, grid_lat)
    assert out_lon.shape == (2, 3) and out_lat.shape == (2, 3)
    assert np.allclose(out_lon, GCJ[0], atol=1e-6)


@pytest.mark.parametrize(
    ("forward", "inverse"),
    [
        (cc.wgs84_to_gcj02, cc.gcj02_to_wgs84),
        (cc.wgs84_to_bd09, cc.bd09_to_wgs84),
        (cc.gcj02_to_bd09, cc.bd09_to_gcj02),
    ],
)
def test_round_trips_across_china_within_1m(forward, inverse) -> None:
    lon, lat = china_grid()
    assert cc.in_china(lon, lat).all()
    back_lon, back_lat = inverse(*forward(lon, lat))
    assert metres(lon, lat, back_lon, back_lat).max() < 1.0
    # the inverse is iterated, not the one-step approximation: far better than a metre
    assert np.abs(back_lon - lon).max() < 1e-7
    assert np.abs(back_lat - lat).max() < 1e-7


def test_offsets_are_a_few_hundred_metres() -> None:
    lon, lat = china_grid()
    shift = metres(lon, lat, *cc.wgs84_to_gcj02(lon, lat))
    assert shift.min() > 20 and shift.max() < 1500
    assert np.median(shift) > 200


@pytest.mark.parametrize(("lon", "lat"), [(2.3522, 48.8566), (-74.006, 40.7128), (151.2, -33.9)])
def test_outside_china_unchanged(lon: float, lat: float) -> None:
    assert not cc.in_china(lon, lat)
    assert cc.wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert cc.gcj02_to_wgs84(lon, lat) == (lon, lat)


def test_in_china_vectorised() -> None:
    inside = cc.in_china(np.array([118.79, 2.35, 116.4]), np.array([32.04, 48.85, 39.9]))
    assert inside.tolist() == [True, False, True]


def test_transform_geometries_keeps_index_crs_and_z() -> None:
    poly = shapely.Polygon([(118.79, 32.04, 5), (118.80, 32.04, 6), (118.80, 32.05, 7)])
    series = gpd.GeoSeries([poly, shapely.Point(118.79, 32.04), None], index=[7, 8, 9], crs=4326)
    out = cc.transform_geometries(series, cc.wgs84_to_gcj02)
    assert isinstance(out, gpd.GeoSeries)
    assert out.index.tolist() == [7, 8, 9] and out.crs == series.crs
    assert out.iloc[0].has_z and shapely.get_coordinates(out.iloc[0], include_z=True)[0, 2] == 5
    assert out.iloc[1].coords[0] == pytest.approx(cc.wgs84_to_gcj02(118.79, 32.04))
    assert out.iloc[2] is None
    back = cc.transform_geometries(out, cc.gcj02_to_wgs84)
    assert shapely.equals_exact(back.iloc[0], poly, tolerance=1e-9)


def test_transform_single_geometry() -> None:
    line = shapely.LineString([(118.79, 32.04), (118.80, 32.05)])
    out = cc.transform_geometries(line, cc.wgs84_to_bd09)
    assert isinstance(out, shapely.LineString)
    assert out.coords[1] == pytest.approx(cc.wgs84_to_bd09(118.80, 32.05))
