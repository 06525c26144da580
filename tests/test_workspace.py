"""The GeoPackage workspace: round trips, transactions, bbox queries, the street graph."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from gridmap import store
from gridmap.errors import (
    FeatureNotFoundError,
    InputError,
    LayerNotFoundError,
    WorkspaceError,
    WorkspaceExistsError,
)
from gridmap.schema import LAYER_ORDER, LAYERS
from gridmap.service.streets import street_graph

from .conftest import TINY_BOX, make_tiny_workspace, tiny_layers


def test_round_trip_keeps_values_and_types(tiny_workspace):
    b = tiny_workspace.read("buildings")
    assert list(b["osm_id"]) == [101, 102]
    assert list(b["name"]) == ["一号楼", "二号楼"]
    assert b["levels"].iloc[0] == 6 and pd.isna(b["levels"].iloc[1])
    assert b["residential"].iloc[0] is True or b["residential"].iloc[0] == True  # noqa: E712
    assert pd.isna(b["residential"].iloc[1])
    assert b.crs.to_epsg() == 4326
    # polygons are stored as multipolygons, coordinates unchanged
    expected = tiny_layers()["buildings"].geometry.iloc[0]
    assert b.geometry.iloc[0].geom_type == "MultiPolygon"
    assert b.geometry.iloc[0].equals(shapely.MultiPolygon([expected]))


def test_dates_and_times_round_trip(tiny_workspace):
    people = tiny_workspace.read("people")
    assert people["birth_date"].iloc[0] == pd.Timestamp("1950-01-02")
    visit = gpd.GeoDataFrame(
        {
            "visit_id": ["V1"],
            "household_id": ["H1"],
            "visited_at": [pd.Timestamp("2026-11-02 09:30")],
        },
        geometry=[shapely.Point(118.786, 32.041)],
        crs=4326,
    )
    tiny_workspace.append("visits", visit)
    got = tiny_workspace.read("visits")["visited_at"].iloc[0]
    # naive local time (Asia/Shanghai) is stored as UTC
    assert got == pd.Timestamp("2026-11-02 01:30", tz="UTC")


def test_attribute_table_has_no_geometry(tiny_workspace):
    people = tiny_workspace.read("people")
    assert not isinstance(people, gpd.GeoDataFrame)
    # a bbox selects people by where their household is
    assert len(tiny_workspace.read("people", bbox=TINY_BOX)) == 2
    assert len(tiny_workspace.read("people", bbox=(0, 0, 1, 1))) == 0
    assert tiny_workspace.count("people", bbox=TINY_BOX) == 2


def test_bbox_uses_extent_overlap(tiny_workspace):
    minx, miny, maxx, maxy = TINY_BOX
    midx = (minx + maxx) / 2
    west = tiny_workspace.read("buildings", bbox=(minx, miny, midx, maxy))
    assert list(west["osm_id"]) == [101]
    assert tiny_workspace.count("buildings", bbox=(0, 0, 1, 1)) == 0
    assert tiny_workspace.count("buildings") == 2
    with pytest.raises(InputError, match="min <= max"):
        tiny_workspace.read("buildings", bbox=(1, 1, 0, 0))


def test_where_and_paging(tiny_workspace):
    one = tiny_workspace.read("streets", where={"name": "二条巷"})
    assert len(one) == 2
    page = tiny_workspace.read("streets", limit=2, offset=1)
    assert list(page.index) == [2, 3]
    with pytest.raises(InputError, match="no column"):
        tiny_workspace.read("streets", where={"nope": 1})


def test_unknown_layer_and_feature(tiny_workspace):
    with pytest.raises(LayerNotFoundError, match="no layer 'roads'"):
        tiny_workspace.read("roads")
    with pytest.raises(FeatureNotFoundError):
        tiny_workspace.feature("buildings", 99)


def test_failed_transaction_changes_nothing(tiny_workspace):
    before = tiny_workspace.read("buildings")
    audit_before = len(tiny_workspace.audit_log())
    bad = gpd.GeoDataFrame({"name": ["x"]}, geometry=[shapely.Point(0, 0)], crs=4326)
    with (
        pytest.raises(InputError, match="needs the column"),
        tiny_workspace.transaction(action="two steps") as tx,
    ):
        tx.replace("buildings", tiny_layers()["buildings"].iloc[:1])  # succeeds inside tx
        tx.replace("cameras", bad)  # fails: cameras need code and kind
    after = tiny_workspace.read("buildings")
    assert len(after) == len(before) == 2
    assert len(tiny_workspace.audit_log()) == audit_before


def test_transaction_writes_audit_and_versions(tiny_workspace):
    v0 = tiny_workspace.info("buildings").version
    with tiny_workspace.transaction(user="planner1", action="rename") as tx:
        tx.update("buildings", 1, {"name": "一号楼（新）"})
    assert tiny_workspace.read("buildings")["name"].iloc[0] == "一号楼（新）"
    assert tiny_workspace.info("buildings").version == v0 + 1
    log = tiny_workspace.audit_log(limit=1)
    assert log["user"].iloc[0] == "planner1" and log["layers"].iloc[0] == "buildings"


def test_update_geometry_moves_rtree(tiny_workspace):
    far = shapely.box(118.80, 32.06, 118.801, 32.061)
    with tiny_workspace.transaction() as tx:
        tx.update("buildings", 1, {"geometry": far})
    assert tiny_workspace.count("buildings", bbox=(118.7999, 32.0599, 118.8011, 32.0611)) == 1
    assert tiny_workspace.count("buildings", bbox=TINY_BOX) == 1
    with tiny_workspace.transaction() as tx:
        assert tx.delete("buildings", [1]) == 1
    assert tiny_workspace.count("buildings", bbox=(118.7999, 32.0599, 118.8011, 32.0611)) == 0


def test_street_graph_walk_and_drive(tiny_workspace):
    drive = street_graph(tiny_workspace, "drive")
    walk = street_graph(tiny_workspace, "walk")
    assert drive.has_edge(2, 3) and not drive.has_edge(3, 2)  # one-way for cars
    assert walk.has_edge(3, 2)  # walkable both ways
    assert drive.number_of_edges() == 5 and walk.number_of_edges() == 6
    assert walk.nodes[2]["x"] == pytest.approx((TINY_BOX[0] + TINY_BOX[2]) / 2)
    assert walk.edges[2, 4, 0]["length"] == 200.0
    with pytest.raises(InputError):
        street_graph(tiny_workspace, "bike")


def test_building_is_atomic(tmp_path: Path):
    target = tmp_path / "ws.gpkg"
    with pytest.raises(RuntimeError), store.building(target):
        raise RuntimeError("interrupted")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
    make_tiny_workspace(target)
    with pytest.raises(WorkspaceExistsError):
        make_tiny_workspace(target)
    with pytest.raises(InputError, match="gpkg"), store.building(tmp_path / "ws.sqlite"):
        pass


def test_open_rejects_missing_and_foreign_files(tmp_path: Path):
    with pytest.raises(WorkspaceError, match="No workspace"):
        store.open_workspace(tmp_path / "none.gpkg")
    junk = tmp_path / "junk.gpkg"
    junk.write_text("not sqlite")
    with pytest.raises(WorkspaceError, match="not a GeoPackage"):
        store.open_workspace(junk)
    other = tmp_path / "other.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(0, 0)], crs=4326).to_file(other)
    with pytest.raises(WorkspaceError, match="not a gridmap workspace"):
        store.open_workspace(other)


def test_gdal_reads_every_layer(tiny_workspace):
    layers = dict(pyogrio.list_layers(tiny_workspace.path))
    for name in LAYER_ORDER:
        geom = LAYERS[name].geometry
        assert name in layers
        if geom:
            assert layers[name].upper().replace(" ", "") == geom
    b = gpd.read_file(tiny_workspace.path, layer="buildings", engine="pyogrio")
    assert b.crs.to_epsg() == 4326 and list(b["name"]) == ["一号楼", "二号楼"]
    # GDAL's spatial filter uses our R-tree
    west = gpd.read_file(
        tiny_workspace.path,
        layer="buildings",
        bbox=(TINY_BOX[0], TINY_BOX[1], 118.7855, TINY_BOX[3]),
    )
    assert list(west["osm_id"]) == [101]


@pytest.mark.gdal
def test_ogrinfo_lists_layers_in_epsg_4326(tiny_workspace):
    if not shutil.which("ogrinfo"):
        pytest.skip("gdal-bin is not installed")
    out = subprocess.run(
        ["ogrinfo", "-ro", "-so", str(tiny_workspace.path), "buildings"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Geometry: Multi Polygon" in out.stdout
    assert 'ID["EPSG",4326]' in out.stdout or "EPSG:4326" in out.stdout or "WGS 84" in out.stdout
    assert out.stderr.strip() == ""
    out = subprocess.run(
        ["ogrinfo", "-ro", "-q", str(tiny_workspace.path)],
        capture_output=True,
        text=True,
        check=True,
    )
    for name in LAYER_ORDER:
        assert f": {name}" in out.stdout


def test_bulk_insert_indexes_every_row_and_keeps_the_trigger(tiny_workspace):
    lons = [118.78 + i * 0.0001 for i in range(100)]
    many = gpd.GeoDataFrame(
        {
            "incident_id": [f"E{i}" for i in range(100)],
            "occurred_at": ["2026-01-01 10:00"] * 100,
            "kind": ["theft"] * 100,
        },
        geometry=[shapely.Point(x, 32.04) for x in lons],
        crs=4326,
    )
    fids = tiny_workspace.append("incidents", many)
    assert fids == list(range(1, 101))
    assert tiny_workspace.count("incidents", bbox=(118.78, 32.0, 118.78495, 32.1)) == 50
    # a later single insert still goes through the standard trigger
    tiny_workspace.append("incidents", many.iloc[:1].assign(incident_id="X1"))
    assert tiny_workspace.count("incidents", bbox=(118.77995, 32.0, 118.78005, 32.1)) == 2
    # a failed bulk insert rolls back rows, index entries and the dropped trigger alike
    bad = many.assign(kind=None)
    with pytest.raises(Exception), tiny_workspace.transaction() as tx:  # noqa: B017
        tx.append("incidents", many.assign(incident_id=[f"Y{i}" for i in range(100)]))
        tx.append("cameras", bad)
    assert tiny_workspace.count("incidents") == 101
    tiny_workspace.append("incidents", many.iloc[:1].assign(incident_id="X2"))
    assert tiny_workspace.count("incidents", bbox=(118.77995, 32.0, 118.78005, 32.1)) == 3
    gdal = gpd.read_file(
        tiny_workspace.path, layer="incidents", bbox=(118.78, 32.0, 118.78495, 32.1)
    )
    assert len(gdal) == 52  # the 50 plus the two single inserts at 118.78


def test_keys_stay_unique(tiny_workspace):
    cams = tiny_layers()["cameras"]
    with pytest.raises(InputError, match=r"already has code 'CAM1' \(and 1 more\)"):
        tiny_workspace.append("cameras", cams)
    twice = pd.concat([cams.assign(code="N1"), cams.assign(code="N1")])
    with pytest.raises(InputError, match="'N1' is already used in row 1"):
        tiny_workspace.append("cameras", twice)
    assert tiny_workspace.count("cameras") == 2
    tiny_workspace.replace("cameras", cams)  # replacing with the same keys is fine
    assert tiny_workspace.count("cameras") == 2
