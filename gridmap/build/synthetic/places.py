"""Synthetic places for the demo: cameras, the community office and police post.

Cameras go where street offices put them (domain.md): at main intersections, looking along the
main roads, and at compound entrances, looking in. Work happens in a metric CRS.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.io.osm import MAIN_HIGHWAYS

ENTRANCE_HIGHWAYS = frozenset({"service", "footway", "path", "pedestrian", "living_street"})
INTERSECTION_SPACING_M = 150.0
ENTRANCE_SPACING_M = 120.0


def bearing_deg(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Return the bearing from a to b in degrees clockwise from north (metric coordinates)."""
    return math.degrees(math.atan2(b[0] - a[0], b[1] - a[1])) % 360.0


def _spaced(
    candidates: list[tuple[float, int]], xy: dict[int, np.ndarray], spacing: float, most: int
) -> list[int]:
    chosen: list[int] = []
    for _score, node in sorted(candidates, key=lambda c: (-c[0], c[1])):
        if all(np.hypot(*(xy[node] - xy[c])) >= spacing for c in chosen):
            chosen.append(node)
        if len(chosen) == most:
            break
    return chosen


def _leaving(streets_m: gpd.GeoDataFrame, node: int, classes: frozenset[str]) -> list[float]:
    """Return bearings of the streets of ``classes`` leaving ``node``, 15 m along each."""
    out: list[float] = []
    for row in streets_m[
        (streets_m["u"] == node) & streets_m["highway"].isin(classes)
    ].itertuples():
        line = row.geometry
        p0 = line.interpolate(0)
        p1 = line.interpolate(min(15.0, line.length))
        b = bearing_deg((p0.x, p0.y), (p1.x, p1.y))
        if all(min(abs(b - o), 360 - abs(b - o)) > 30 for o in out):
            out.append(b)
    return out


def make_cameras(
    streets_m: gpd.GeoDataFrame,
    nodes_m: gpd.GeoDataFrame,
    rng: np.random.Generator,
    *,
    intersections: int = 14,
    entrances: int = 12,
) -> gpd.GeoDataFrame:
    """Return cameras at main intersections and compound entrances (metric CRS)."""
    xy = {int(r.osmid): np.array([r.geometry.x, r.geometry.y]) for r in nodes_m.itertuples()}
    main_edges = streets_m[streets_m["highway"].isin(MAIN_HIGHWAYS)]
    main_count = pd.concat([main_edges["u"], main_edges["v"]]).value_counts()
    counts = nodes_m.set_index("osmid")["street_count"]
    cand = [(float(c), int(n)) for n, c in main_count.items() if counts.get(n, 0) >= 3 and c >= 3]
    rows, geoms = [], []
    for node in _spaced(cand, xy, INTERSECTION_SPACING_M, intersections):
        names = streets_m.loc[(streets_m["u"] == node) & streets_m["name"].notna(), "name"].unique()
        label = "与".join(sorted(names)[:2]) + "路口" if len(names) else "路口"
        for b in _leaving(streets_m, node, MAIN_HIGHWAYS)[:2]:
            ptz = rng.random() < 0.2
            rows.append(
                {
                    "name": label,
                    "kind": "ptz" if ptz else "fixed",
                    "height_m": float(rng.choice([6.0, 7.0, 8.0])),
                    "bearing_deg": round(b, 1),
                    "fov_deg": 360.0 if ptz else float(rng.choice([60.0, 75.0, 90.0])),
                    "range_m": float(rng.choice([60.0, 80.0, 100.0])),
                    "target": "intersection",
                }
            )
            offset = np.array([math.sin(math.radians(b)), math.cos(math.radians(b))]) * 4.0
            geoms.append(shapely.Point(*(xy[node] + offset)))
    side = streets_m[streets_m["highway"].isin(ENTRANCE_HIGHWAYS)]
    drive_nodes = set(streets_m.loc[streets_m["drive"].astype(bool), "u"]) | set(
        streets_m.loc[streets_m["drive"].astype(bool), "v"]
    )
    taken = [np.asarray(g.coords[0]) for g in geoms]
    cand = [
        (float(counts.get(n, 0)), int(n))
        for n in sorted(set(side["u"]) & drive_nodes)
        if all(np.hypot(*(xy[int(n)] - t)) > 60 for t in taken)
    ]
    for node in _spaced(cand, xy, ENTRANCE_SPACING_M, entrances):
        bearings = _leaving(streets_m, node, ENTRANCE_HIGHWAYS)
        if not bearings:
            continue
        dome = rng.random() < 0.25
        rows.append(
            {
                "name": "小区出入口",
                "kind": "dome" if dome else "fixed",
                "height_m": float(rng.choice([3.5, 4.0, 5.0])),
                "bearing_deg": round(bearings[0], 1),
                "fov_deg": 360.0 if dome else 70.0,
                "range_m": 30.0 if dome else 50.0,
                "target": "entrance",
            }
        )
        geoms.append(shapely.Point(*xy[node]))
    cams = gpd.GeoDataFrame(rows, geometry=geoms, crs=streets_m.crs)
    cams.insert(0, "code", [f"CAM{i + 1:04d}" for i in range(len(cams))])
    cams["source"] = "synthetic"
    return cams


def make_offices(buildings_m: gpd.GeoDataFrame, community_name: str) -> gpd.GeoDataFrame:
    """Return a community office and a community police post (metric CRS).

    The office goes in the residential building nearest the households' centre of mass, the
    police post in the one nearest a point 300 m east of it: near, but not in the same block.
    """
    homes = buildings_m[buildings_m["households"] > 0]
    pts = homes.geometry.representative_point()
    w = homes["households"].to_numpy(float)
    centre = np.array([(pts.x * w).sum() / w.sum(), (pts.y * w).sum() / w.sum()])
    d = np.hypot(pts.x - centre[0], pts.y - centre[1]).to_numpy()
    office = pts.iloc[int(np.argmin(d))]
    d2 = np.hypot(pts.x - (centre[0] + 300), pts.y - centre[1]).to_numpy()
    post = pts.iloc[int(np.argmin(d2))]
    return gpd.GeoDataFrame(
        {
            "kind": ["community_office", "police_post"],
            "name": [f"{community_name}居委会", f"{community_name}警务室"],
            "osm_tag": [None, None],
            "phone": ["025-00000000", "110"],
            "source": ["synthetic", "synthetic"],
        },
        geometry=[office, post],
        crs=buildings_m.crs,
    )
