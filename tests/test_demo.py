"""End to end on the real extract: OSM reading and the demo workspace built from it."""

from __future__ import annotations

import bz2
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.build.demo import DEMO_OSM, build_demo
from gridmap.errors import OsmError
from gridmap.geo.crs import utm_crs
from gridmap.io.osm import read_osm
from gridmap.schema import VISIT_CATEGORIES
from gridmap.service.streets import street_graph

from .conftest import DEMO_TODAY


@pytest.fixture(scope="module")
def extract():
    return read_osm(DEMO_OSM)


def test_osm_streets_are_highways_only(extract):
    s = extract.streets
    assert 400 < len(s) < 700  # SOURCES.md: 453 walk-like edges in the bbox
    assert s["highway"].notna().all()
    assert not s["highway"].isin(["yes", "building"]).any()
    assert s["drive"].sum() > 300 and s["walk"].all()
    assert (s["length_m"] > 0).all()
    names = set(s["name"].dropna())
    assert {"长江路", "洪武北路", "二条巷", "三条巷"} <= names
    nodes = set(extract.street_nodes["osmid"])
    assert set(s["u"]) | set(s["v"]) <= nodes


def test_osm_buildings_and_facilities(extract):
    b = extract.buildings
    assert len(b) == 851  # as measured in shared/geodata/SOURCES.md
    assert (b["levels_source"] == "osm").sum() == 93
    assert b.geometry.is_valid.all()
    kinds = extract.facilities["kind"].value_counts()
    assert kinds["police_post"] == 6 and kinds["school"] >= 10


def test_osm_errors(tmp_path: Path):
    bad = tmp_path / "bad.osm"
    bad.write_text("this is not xml")
    with pytest.raises(OsmError, match=r"Cannot read bad\.osm"):
        read_osm(bad)
    empty = tmp_path / "empty.osm.bz2"
    empty.write_bytes(bz2.compress(b'<osm version="0.6"><node id="1" lat="32" lon="118"/></osm>'))
    with pytest.raises(OsmError, match="no streets"):
        read_osm(empty)
    with pytest.raises(OsmError, match="No such OSM file"):
        read_osm(tmp_path / "missing.osm")


def test_demo_grids_tile_the_area(demo_workspace):
    crs = utm_crs(118.79, 32.04)
    grids = demo_workspace.read("grids").to_crs(crs)
    community = demo_workspace.read("community").to_crs(crs)
    geoms = grids.geometry.values
    assert shapely.is_valid(geoms).all()
    # storage keeps coordinates to about 1 cm, so neighbours may differ by slivers that thin:
    # no overlap and no gap may be wider than 10 cm
    overlaps = [
        shapely.intersection(geoms[i], geoms[j])
        for i in range(len(geoms))
        for j in range(i + 1, len(geoms))
        if shapely.intersects(geoms[i], geoms[j])
    ]
    area = shapely.union_all(community.geometry.values)
    gap = shapely.difference(area, shapely.union_all(geoms))
    assert all(shapely.buffer(o, -0.05).is_empty for o in overlaps)
    assert shapely.buffer(gap, -0.05).is_empty
    assert sum(o.area for o in overlaps) < 10.0 and gap.area < 10.0  # square metres, of 2.8 km²
    # each grid is one piece (two lobes that touch at a point are two parts of a valid
    # MultiPolygon, as the storage's coverage cleaning writes them)
    assert all(len(shapely.get_parts(shapely.buffer(g, 0.01))) == 1 for g in geoms)
    assert shapely.coverage_is_valid(np.asarray(demo_workspace.read("grids").geometry.values))
    # grid boundaries run along streets: most of their length lies within 5 m of one
    streets = demo_workspace.read("streets").to_crs(crs)
    inner = shapely.difference(
        shapely.union_all(shapely.boundary(geoms)), shapely.boundary(area).buffer(0.5)
    )
    along = shapely.intersection(inner, shapely.union_all(streets.geometry.values).buffer(5))
    assert along.length > 0.6 * inner.length
    # every grid lies in one community, and the communities are its code prefix
    for g in grids.itertuples():
        host = community[community["code"] == g.community_code].geometry.iloc[0]
        assert shapely.difference(g.geometry, host).area < 1.0


def test_demo_no_building_split_and_balanced(demo_workspace):
    crs = utm_crs(118.79, 32.04)
    grids = demo_workspace.read("grids").to_crs(crs).set_index("code")
    b = demo_workspace.read("buildings").to_crs(crs)
    for row in b.itertuples():
        inside = shapely.difference(row.geometry, grids.geometry[row.grid_code]).area
        assert inside < 0.01 * row.geometry.area + 0.5, row.osm_id
    # roughly 300-500 households: street blocks are lumpy, so allow a few just outside
    assert grids["households"].between(250, 550).all()
    assert grids["households"].between(300, 500).mean() >= 0.9
    assert grids["households"].sum() == b["households"].sum()
    assert grids.index.str.fullmatch(r"320102001\d{6}").all() and grids.index.is_unique


def test_demo_grid_codes_read_west_to_east_north_to_south(demo_workspace):
    grids = demo_workspace.read("grids")
    first = grids[grids["community_code"] == grids["community_code"].iloc[0]]
    c = first.geometry.representative_point()
    # the first grid lies in the northern part of its community, the last in the southern
    assert c.y.iloc[0] > c.y.median() > c.y.iloc[-1]


def test_demo_register_rates(demo_workspace):
    people = demo_workspace.read("people")
    households = demo_workspace.read("households")
    assert 0.28 < people["migrant"].mean() < 0.40  # domain.md: about one third
    for cat in VISIT_CATEGORIES:
        assert households[cat].sum() > 20, cat
    assert people["id_number"].str.fullmatch(r"\d{17}[\dX]").all()
    assert (people["source"] == "synthetic").all()
    assert set(people["household_id"]) == set(households["household_id"])
    # addresses read like addresses: street, number, unit, room (no bare OSM ids)
    assert households["address"].str.fullmatch(r"\D+\d+号\d+单元\d+室|.+\d+单元\d+室").all()
    assert not households["address"].str.contains(r"\d{7,}").any()
    per = people.groupby("household_id").size()
    assert (households.set_index("household_id")["members"] == per).all()


def test_demo_visits_and_incidents(demo_workspace):
    visits = demo_workspace.read("visits")
    start = pd.Timestamp(DEMO_TODAY - timedelta(days=130), tz="UTC")
    assert visits["visited_at"].between(start, pd.Timestamp(DEMO_TODAY, tz="UTC")).all()
    assert set(visits["category"]) <= {*VISIT_CATEGORIES, "routine"}
    assert visits["worker"].notna().all()
    inc = demo_workspace.read("incidents")
    span = inc["occurred_at"].max() - inc["occurred_at"].min()
    assert timedelta(days=300) < span <= timedelta(days=366)
    assert {"burglary", "vehicle_theft", "dispute"} <= set(inc["kind"])
    # clustered: burglaries lie closer to each other than as many homes drawn by households
    crs = utm_crs(118.79, 32.04)
    assert _median_nn(inc[inc["kind"] == "burglary"].to_crs(crs).geometry) < 0.7 * _baseline_nn(
        demo_workspace, crs, (inc["kind"] == "burglary").sum()
    )


def _median_nn(points) -> float:
    xy = shapely.get_coordinates(points.values)
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    np.fill_diagonal(d, np.inf)
    return float(np.median(d.min(axis=1)))


def _baseline_nn(ws, crs, n: int) -> float:
    homes = ws.read("buildings").to_crs(crs)
    homes = homes[homes["households"] > 0]
    pts = homes.geometry.representative_point()
    w = homes["households"].to_numpy(float)
    rng = np.random.default_rng(0)
    runs = [_median_nn(pts.iloc[rng.choice(len(pts), n, p=w / w.sum())]) for _ in range(20)]
    return float(np.mean(runs))


def test_demo_cameras_and_offices(demo_workspace):
    cams = demo_workspace.read("cameras")
    assert len(cams) >= 20
    assert cams["bearing_deg"].between(0, 360).all() and (cams["range_m"] > 0).all()
    assert {"intersection", "entrance"} <= set(cams["target"])
    fac = demo_workspace.read("facilities")
    synthetic = fac[fac["source"] == "synthetic"]
    n_comm = demo_workspace.count("community")
    assert (synthetic["kind"] == "community_office").sum() == n_comm
    assert (synthetic["kind"] == "police_post").sum() == n_comm
    assert fac["grid_code"].notna().all()


def test_demo_meta_marks_synthetic_and_attribution(demo_workspace):
    meta = demo_workspace.meta()
    assert meta["synthetic"] is True
    assert meta["attribution"] == "© OpenStreetMap contributors"
    assert meta["generated"]["today"] == DEMO_TODAY.isoformat()
    assert set(demo_workspace.read("streets")["source"]) == {"osm"}


@pytest.mark.slow
def test_demo_is_deterministic(demo_workspace, tmp_path: Path):
    again = build_demo(tmp_path / "again.gpkg", today=DEMO_TODAY)
    from gridmap.store import open_workspace

    other = open_workspace(again)
    for layer in ("grids", "households", "people", "incidents", "cameras"):
        a, b = demo_workspace.read(layer), other.read(layer)
        pd.testing.assert_frame_equal(
            pd.DataFrame(a.drop(columns=["geometry", "updated_at"], errors="ignore")),
            pd.DataFrame(b.drop(columns=["geometry", "updated_at"], errors="ignore")),
        )


def test_street_graph_from_the_workspace(demo_workspace):
    import networkx as nx

    walk = street_graph(demo_workspace, "walk")
    drive = street_graph(demo_workspace, "drive")
    assert nx.is_strongly_connected(walk)  # every street walkable both ways, one piece
    assert nx.is_weakly_connected(drive)
    assert set(drive.edges(keys=False)) <= set(walk.edges(keys=False))
    # stored lengths are the geodesic lengths of the stored lines
    crs = utm_crs(118.79, 32.04)
    streets = demo_workspace.read("streets")
    metric = streets.to_crs(crs).geometry.length.to_numpy()
    assert np.allclose(streets["length_m"].to_numpy(), metric, rtol=0.01, atol=0.5)
    # node ids are OSM's: every edge end is a stored street node
    nodes = set(demo_workspace.read("street_nodes")["osmid"])
    assert set(walk.nodes) <= nodes


def _tiny_osm(path: Path, *, bounds: bool, building_far: bool = False) -> Path:
    """A ring street around a block, one building, no amenities: the least an extract can be."""
    b = (118.7881, 32.0441) if building_far else (118.7810, 32.0410)
    nodes = [(1, 118.780, 32.040), (2, 118.785, 32.040), (3, 118.785, 32.045), (4, 118.780, 32.045)]
    nodes += [
        (11, b[0], b[1]),
        (12, b[0] + 0.0005, b[1]),
        (13, b[0] + 0.0005, b[1] + 0.0005),
        (14, b[0], b[1] + 0.0005),
    ]
    xml = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    if bounds:
        xml.append('<bounds minlat="32.039" minlon="118.779" maxlat="32.046" maxlon="118.786"/>')
    xml += [f'<node id="{i}" lat="{lat}" lon="{lon}"/>' for i, lon, lat in nodes]
    xml.append(
        '<way id="100"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>'
        '<tag k="highway" v="residential"/><tag k="name" v="测试路"/></way>'
    )
    xml.append(
        '<way id="200"><nd ref="11"/><nd ref="12"/><nd ref="13"/><nd ref="14"/><nd ref="11"/>'
        '<tag k="building" v="yes"/></way>'
    )
    xml.append("</osm>")
    path.write_text("\n".join(xml), encoding="utf-8")
    return path


def test_osm_minimal_extracts(tmp_path: Path):
    ext = read_osm(_tiny_osm(tmp_path / "ring.osm", bounds=True))
    assert len(ext.streets) >= 1 and len(ext.buildings) == 1  # a ring street is kept
    assert len(ext.facilities) == 0 and list(ext.facilities.columns)[:2] == ["kind", "name"]
    # no <bounds> and a building off the streets: the streets' extent is used
    ext = read_osm(_tiny_osm(tmp_path / "far.osm", bounds=False, building_far=True))
    assert len(ext.streets) >= 1
    with pytest.raises(OsmError, match="min < max"):
        read_osm(tmp_path / "ring.osm", bbox=(118.79, 32.04, 118.78, 32.05))
    with pytest.raises(OsmError, match="No street lies inside the area"):
        read_osm(tmp_path / "ring.osm", bbox=(0.0, 0.0, 1.0, 1.0))


def test_demo_needs_homes(tmp_path: Path):
    from gridmap.errors import InputError

    with pytest.raises(InputError, match="too few homes"):
        build_demo(tmp_path / "d.gpkg", osm_path=_tiny_osm(tmp_path / "ring.osm", bounds=True))
    assert not (tmp_path / "d.gpkg").exists()
