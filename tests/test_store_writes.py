"""The write path of the workspace: issue 5's defects 1-7 and the editing contract.

Every test here writes, so each takes its own tiny workspace (tests/conftest.py) whose few
features one can check by hand: one grid, two buildings, two cameras, two households each
with one person.
"""

from __future__ import annotations

import sqlite3
import subprocess

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gridmap import store
from gridmap.errors import (
    BusyError,
    ConflictError,
    ConstraintError,
    CoordinateError,
    FeatureNotFoundError,
    GeometryError,
    GridmapError,
    InputError,
    SchemaError,
    WorkspaceError,
)
from gridmap.store.gpkg import workspace as gpkg_workspace

from .conftest import TINY_BOX, tiny_layers


def _fid(ws, layer, **where):
    return int(ws.read(layer, where=where).index[0])


# -- defect 1: a geometry alone can be updated on every layer ------------------------------------


def test_update_of_geometry_alone_keeps_required_columns(tiny_workspace):
    fid = _fid(tiny_workspace, "grids", code="320102001001001")
    smaller = shapely.box(TINY_BOX[0], TINY_BOX[1], TINY_BOX[2] - 0.0005, TINY_BOX[3])
    with tiny_workspace.transaction(user="planner") as tx:
        version = tx.update("grids", fid, {"geometry": smaller})
    grid = tiny_workspace.feature("grids", fid).iloc[0]
    assert version == 2 and grid["version"] == 2 and grid["updated_by"] == "planner"
    assert grid["code"] == "320102001001001" and grid["name"] == "第1网格"
    assert grid.geometry.geom_type == "MultiPolygon"
    assert abs(grid.geometry.area - smaller.area) < 1e-12


def test_a_vertex_added_on_an_edge_is_written_a_ring_started_elsewhere_is_not(tiny_workspace):
    """A vertex on a straight edge is a change (a neighbour takes one where an edited border
    meets it, so that shared borders stay the same chain of vertices), though the shape is
    topologically the same; the same ring started at another vertex, or run the other way,
    is none (no new version)."""
    fid = _fid(tiny_workspace, "grids", code="320102001001001")
    minx, miny, maxx, maxy = TINY_BOX
    ring = [(minx, miny), (maxx, miny), (maxx, maxy), (minx, maxy)]
    for moved in (ring[2:] + ring[:2], ring[::-1]):
        with tiny_workspace.transaction() as tx:
            assert tx.update("grids", fid, {"geometry": shapely.Polygon(moved)}) == 1
    mid = (maxx, round((miny + maxy) / 2, 7))
    with tiny_workspace.transaction() as tx:
        version = tx.update(
            "grids", fid, {"geometry": shapely.Polygon([*ring[:2], mid, *ring[2:]])}
        )
    stored = tiny_workspace.feature("grids", fid).iloc[0]
    assert version == 2 and int(stored["version"]) == 2
    assert mid in set(map(tuple, shapely.get_coordinates(stored.geometry).tolist()))


# -- defect 2: every write goes through the rules ------------------------------------------------


def test_update_and_append_refuse_what_an_import_refuses(tiny_workspace):
    ws = tiny_workspace
    cam2 = _fid(ws, "cameras", code="CAM2")
    grid = _fid(ws, "grids", code="320102001001001")
    with pytest.raises(ConstraintError, match="already has code 'CAM1'"), ws.transaction() as tx:
        tx.update("cameras", cam2, {"code": "CAM1"})
    cams = tiny_layers()["cameras"].assign(code=["CAM9", "CAM1"])
    with pytest.raises(ConstraintError, match="already has code 'CAM1'"):
        ws.append("cameras", cams)
    with pytest.raises(SchemaError, match="empty, but every row needs one"), ws.transaction() as tx:
        tx.update("grids", grid, {"name": None})
    with pytest.raises(SchemaError, match="not one of"), ws.transaction() as tx:
        tx.update("cameras", cam2, {"kind": "banana"})
    utm_box = shapely.box(668000, 3546000, 668200, 3546200)  # UTM 50N metres, taken as degrees
    with pytest.raises(CoordinateError, match="look like metres"), ws.transaction() as tx:
        tx.update("grids", grid, {"geometry": utm_box})
    with pytest.raises(GeometryError, match="holds polygons only"), ws.transaction() as tx:
        tx.update("grids", grid, {"geometry": shapely.Point(118.786, 32.041)})
    bowtie = shapely.Polygon(
        [(118.785, 32.040), (118.786, 32.041), (118.786, 32.040), (118.785, 32.041)]
    )
    with pytest.raises(GeometryError, match="crosses itself"), ws.transaction() as tx:
        tx.update("grids", grid, {"geometry": bowtie})
    with pytest.raises(SchemaError, match="has no column"), ws.transaction() as tx:
        tx.update("grids", grid, {"colour": "red"})
    community = gpd.GeoDataFrame(
        {"code": ["320102001001"], "name": ["小社区"]}, geometry=[shapely.box(*TINY_BOX)], crs=4326
    )
    ws.append("community", community)
    far = tiny_layers()["cameras"].assign(code=["FAR1", "FAR2"])
    far.geometry = [shapely.Point(119.5, 32.04)] * 2  # 70 km east, still degrees
    with pytest.raises(CoordinateError, match="outside the workspace area"):
        ws.append("cameras", far)
    assert sorted(ws.read("cameras")["code"]) == ["CAM1", "CAM2"]  # nothing changed
    assert ws.read("grids").iloc[0]["name"] == "第1网格"


def test_a_frame_in_utm_is_converted_not_refused(tiny_workspace):
    cams = tiny_layers()["cameras"].assign(code=["U1", "U2"]).to_crs(32650)
    tiny_workspace.append("cameras", cams)
    got = tiny_workspace.read("cameras", where={"code": "U1"}).geometry.iloc[0]
    assert abs(got.x - tiny_layers()["cameras"].geometry.iloc[0].x) < 1e-7


def test_tables_carry_the_rules_for_other_programs(tiny_workspace):
    """Edits made by QGIS or sqlite3 meet the same constraints (they never see gridmap)."""
    from gridmap.store.gpkg import encoding

    conn = sqlite3.connect(tiny_workspace.path, isolation_level=None)  # each statement commits
    encoding.register_functions(conn)  # QGIS and GDAL provide these to the R-tree triggers
    for sql in (
        "UPDATE grids SET name = NULL",
        "UPDATE grids SET code = ''",
        "UPDATE cameras SET code = 'CAM1'",
        "UPDATE cameras SET kind = 'banana'",
        "UPDATE cameras SET range_m = 'far'",
        "UPDATE households SET rented = 2",
        "INSERT INTO people (person_id, household_id, name) VALUES ('P9', 'NOPE', 'x')",
    ):
        conn.execute("PRAGMA foreign_keys = ON")
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(sql)
    conn.execute("UPDATE cameras SET range_m = 75 WHERE code = 'CAM1'")  # a good edit
    conn.commit()
    conn.close()
    cam = tiny_workspace.read("cameras", where={"code": "CAM1"}).iloc[0]
    assert cam["range_m"] == 75 and cam["version"] == 2  # the trigger counted it
    assert cam["updated_by"] == "(other program)"


@pytest.mark.gdal
def test_gdal_edits_obey_the_rules(tiny_workspace):
    bad = subprocess.run(
        ["ogrinfo", str(tiny_workspace.path), "-sql", "UPDATE cameras SET kind = 'banana'"],
        capture_output=True,
        text=True,
    )
    assert "CHECK constraint failed" in bad.stderr + bad.stdout
    assert set(tiny_workspace.read("cameras")["kind"]) == {"fixed", "dome"}


# -- defect 3: a failed COMMIT never wedges the connection; busy is a gridmap error --------------


def test_failed_commit_rolls_back_and_the_next_write_works(tmp_path, monkeypatch):
    from .conftest import make_tiny_workspace

    monkeypatch.setattr(gpkg_workspace, "BUSY_TIMEOUT_S", 0.2)
    ws = make_tiny_workspace(tmp_path / "t.gpkg")  # rollback-journal mode, as built
    assert ws.journal_mode() == "delete"
    reader = sqlite3.connect(ws.path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM grids").fetchone()  # holds a shared lock
    fid = _fid(ws, "cameras", code="CAM1")
    with pytest.raises(BusyError) as caught, ws.transaction() as tx:
        tx.update("cameras", fid, {"range_m": 60.0})
    assert caught.value.status == 503 and caught.value.code == "workspace_busy"
    assert not isinstance(caught.value, sqlite3.Error)
    reader.execute("COMMIT")
    reader.close()
    assert ws.read("cameras", where={"code": "CAM1"}).iloc[0]["range_m"] == 50  # rolled back
    with ws.transaction() as tx:  # the same thread's connection is not stuck in a transaction
        tx.update("cameras", fid, {"range_m": 61.0})
    assert ws.read("cameras", where={"code": "CAM1"}).iloc[0]["range_m"] == 61


def test_a_held_write_lock_is_busy_not_a_raw_error(tiny_workspace, monkeypatch):
    monkeypatch.setattr(gpkg_workspace, "BUSY_TIMEOUT_S", 0.1)
    ws = store.GeoPackageWorkspace(tiny_workspace.path)
    other = sqlite3.connect(ws.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(BusyError, match="busy"):
        ws.append("cameras", tiny_layers()["cameras"].assign(code=["B1", "B2"]))
    other.execute("ROLLBACK")
    other.close()
    ws.append("cameras", tiny_layers()["cameras"].assign(code=["B1", "B2"]))
    assert ws.count("cameras") == 4


# -- defect 4: WAL while served; a single file where one is wanted -------------------------------


def test_wal_lets_readers_and_a_writer_work_at_once(tiny_workspace, tmp_path, monkeypatch):
    monkeypatch.setattr(gpkg_workspace, "BUSY_TIMEOUT_S", 0.2)
    ws = store.GeoPackageWorkspace(tiny_workspace.path)
    assert ws.journal_mode("wal") == "wal"
    reader = sqlite3.connect(ws.path, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM cameras").fetchone()[0] == 2
    ws.append("cameras", tiny_layers()["cameras"].assign(code=["W1", "W2"]))  # not blocked
    assert reader.execute("SELECT count(*) FROM cameras").fetchone()[0] == 2  # its snapshot
    reader.execute("COMMIT")
    reader.close()
    copy = ws.backup(tmp_path / "copy.gpkg")
    assert not copy.with_name("copy.gpkg-wal").exists()
    one = store.GeoPackageWorkspace(copy)
    assert one.journal_mode() == "delete" and one.count("cameras") == 4


# -- defect 5: ids are stable and come from the database -----------------------------------------


def test_replace_keeps_the_ids_of_rows_it_keeps(tiny_workspace):
    ws = tiny_workspace
    before = ws.read("cameras")
    ids = dict(zip(before["code"], before.index, strict=True))
    cams = tiny_layers()["cameras"]
    cams = pd.concat([cams.iloc[[1]].assign(range_m=99.0), cams.iloc[[0]].assign(code="CAM3")])
    ws.replace("cameras", gpd.GeoDataFrame(cams, crs=4326))
    after = ws.read("cameras")
    got = dict(zip(after["code"], after.index, strict=True))
    assert got["CAM2"] == ids["CAM2"]  # kept, and changed in place
    assert after.loc[got["CAM2"], "range_m"] == 99 and after.loc[got["CAM2"], "version"] == 2
    assert "CAM1" not in got and got["CAM3"] > max(ids.values())  # a new id, never an old one


def test_ids_are_never_reused(tiny_workspace):
    ws = tiny_workspace
    top = int(ws.read("cameras").index.max())
    with ws.transaction() as tx:
        tx.delete("cameras", [top])
    new = ws.append("cameras", tiny_layers()["cameras"].iloc[[0]].assign(code="N1"))
    assert new == [top + 1]


# -- defect 6: relations are enforced ------------------------------------------------------------


def test_deleting_a_household_deletes_its_people_and_records_them(tiny_workspace):
    ws = tiny_workspace
    h1 = _fid(ws, "households", household_id="H1")
    with ws.transaction(user="clerk") as tx:
        assert tx.delete("households", [h1]) == 1
    assert list(ws.read("people")["person_id"]) == ["P2"]
    hist = ws.history(layer="people")
    gone = hist[hist["op"] == "delete"].iloc[0]
    assert gone["before"]["name"] == "王小明" and gone["user"] == "clerk"


def test_a_household_with_visits_cannot_be_deleted(tiny_workspace):
    ws = tiny_workspace
    visit = gpd.GeoDataFrame(
        {"visit_id": ["V1"], "household_id": ["H1"], "visited_at": ["2026-11-20 10:00"]},
        geometry=[shapely.Point(118.7853, 32.0403)],
        crs=4326,
    )
    ws.append("visits", visit)
    with pytest.raises(ConstraintError, match="kept as a record"), ws.transaction() as tx:
        tx.delete("households", [_fid(ws, "households", household_id="H1")])
    assert ws.count("households") == 2 and ws.count("people") == 2


def test_a_person_needs_an_existing_household(tiny_workspace):
    person = pd.DataFrame({"person_id": ["P9"], "household_id": ["H404"], "name": ["赵六"]})
    with pytest.raises(ConstraintError, match="household_id 'H404' is not in layer 'households'"):
        tiny_workspace.append("people", person)


# -- defect 7: no raw SQLite errors, no mutated arguments ----------------------------------------


def test_replace_inside_a_transaction_joins_it(tiny_workspace):
    ws = tiny_workspace
    with ws.transaction() as tx:
        ws.replace("cameras", tiny_layers()["cameras"].iloc[[0]])  # nested: joins tx
        assert tx.read("cameras").shape[0] == 1  # the transaction sees its own write
    assert ws.count("cameras") == 1
    with pytest.raises(RuntimeError), ws.transaction():
        ws.replace("cameras", tiny_layers()["cameras"])
        raise RuntimeError("stop")
    assert ws.count("cameras") == 1  # the inner write went with the outer


def test_empty_update_and_caller_dict(tiny_workspace):
    ws = tiny_workspace
    fid = _fid(ws, "cameras", code="CAM1")
    with pytest.raises(InputError, match="Nothing to change"), ws.transaction() as tx:
        tx.update("cameras", fid, {})
    values = {"range_m": 70.0, "geometry": shapely.Point(118.7861, 32.0401)}
    with ws.transaction() as tx:
        tx.update("cameras", fid, values)
    assert set(values) == {"range_m", "geometry"}  # not popped
    with pytest.raises(FeatureNotFoundError), ws.transaction() as tx:
        tx.update("cameras", 10**6, {"range_m": 1.0})


def test_no_sqlite_error_leaves_the_store(tmp_path):
    bad = tmp_path / "bad.gpkg"
    bad.write_bytes(b"not a database at all" * 100)
    with pytest.raises(WorkspaceError) as caught:
        store.open_workspace(bad)
    assert not isinstance(caught.value, sqlite3.Error)


# -- the contract: versions, history, as-of, undo, paging, exact bbox ----------------------------


def test_a_stale_edit_is_a_conflict(tiny_workspace):
    ws = tiny_workspace
    fid = _fid(ws, "cameras", code="CAM1")
    read_version = int(ws.feature("cameras", fid)["version"].iloc[0])
    with ws.transaction(user="a") as tx:
        tx.update("cameras", fid, {"range_m": 80.0}, expected_version=read_version)
    with pytest.raises(ConflictError) as caught, ws.transaction(user="b") as tx:
        tx.update("cameras", fid, {"range_m": 90.0}, expected_version=read_version)
    assert caught.value.status == 409 and caught.value.actual == 2
    with pytest.raises(ConflictError), ws.transaction(user="b") as tx:
        tx.delete("cameras", [fid], expected_versions={fid: read_version})
    assert ws.feature("cameras", fid)["range_m"].iloc[0] == 80


def test_history_as_of_and_undo(tiny_workspace):
    ws = tiny_workspace
    start = int(ws.audit_log(limit=1)["fid"].iloc[0])
    fid = _fid(ws, "cameras", code="CAM1")
    with ws.transaction(user="u1", action="move camera") as tx:
        tx.update("cameras", fid, {"geometry": shapely.Point(118.7862, 32.0402), "range_m": 40.0})
        tx.update("cameras", fid, {"range_m": 45.0})
    moved = int(ws.audit_log(limit=1)["fid"].iloc[0])
    with ws.transaction(user="u2") as tx:
        tx.delete("cameras", [_fid(ws, "cameras", code="CAM2")])
    deleted = int(ws.audit_log(limit=1)["fid"].iloc[0])
    rows = ws.history(fid=fid, layer="cameras")
    assert list(rows["op"]) == ["update", "update", "insert"]
    assert rows.iloc[1]["before"]["range_m"] == 50 and rows.iloc[1]["after"]["range_m"] == 40
    assert rows.iloc[1]["before"]["geometry"].startswith("POINT")
    then = ws.as_of("cameras", start)
    assert sorted(then["code"]) == ["CAM1", "CAM2"] and then.loc[fid, "range_m"] == 50
    assert list(then["version"]) == [1, 1]  # as they were then
    assert ws.as_of("cameras", moved).loc[fid, "range_m"] == 45
    with pytest.raises(ConflictError, match="undo that one first"):
        ws.undo(start)  # the tiny build's insert was changed by later transactions
    ws.undo(deleted, user="u3")
    back = ws.read("cameras")
    assert sorted(back["code"]) == ["CAM1", "CAM2"]
    assert int(back[back["code"] == "CAM2"].index[0]) in then.index  # the same id came back
    ws.undo(moved)
    cam = ws.feature("cameras", fid).iloc[0]
    assert cam["range_m"] == 50 and cam.geometry.equals(then.loc[fid].geometry)


def test_keyset_paging_and_columns(tiny_workspace):
    ws = tiny_workspace
    first = ws.read("streets", limit=2)
    rest = ws.read("streets", after=int(first.index[-1]))
    assert list(first.index) + list(rest.index) == list(ws.read("streets").index)
    slim = ws.read("streets", columns=["name"])
    assert set(slim.columns) == {"name", "geometry", "version", "updated_at", "updated_by"}
    assert set(ws.read("streets", columns=["name"], system=False).columns) == {"name", "geometry"}


def test_bbox_tests_the_geometry_not_its_rectangle(tiny_workspace):
    """A diagonal street's rectangle meets a box its line misses: it must not be returned."""
    minx, miny, maxx, maxy = TINY_BOX
    diagonal = tiny_layers()["streets"].iloc[[0]].assign(u=7, v=8, key=0)
    diagonal.geometry = [shapely.LineString([(minx, miny), (maxx, maxy)])]
    fid = tiny_workspace.append("streets", diagonal)[0]
    corner = (
        maxx - 0.0003,
        miny + 0.0001,
        maxx - 0.0001,
        miny + 0.0003,
    )  # south-east, off the line
    got = tiny_workspace.read("streets", bbox=corner)
    assert fid not in got.index
    assert all(shapely.intersects(g, shapely.box(*corner)) for g in got.geometry)
    assert tiny_workspace.count("streets", bbox=corner) == len(got)
    assert fid in tiny_workspace.read("streets", bbox=(minx, miny, maxx, maxy)).index


def test_errors_are_gridmap_errors_with_codes():
    for cls in (BusyError, ConflictError, ConstraintError):
        assert issubclass(cls, GridmapError) and cls.code
    assert ConflictError("x").status == 409 and BusyError("x").status == 503


def test_workspace_is_a_context_manager(tmp_path):
    from .conftest import make_tiny_workspace

    with make_tiny_workspace(tmp_path / "c.gpkg") as ws:
        assert ws.count("grids") == 1
    assert ws.count("grids") == 1  # connections reopen after close


def test_old_workspaces_are_refused_then_upgraded(tmp_path):
    from .conftest import make_tiny_workspace

    ws = make_tiny_workspace(tmp_path / "old.gpkg")
    ids = list(ws.read("cameras").index)
    ws.close()
    conn = sqlite3.connect(tmp_path / "old.gpkg")
    conn.execute("UPDATE gridmap_meta SET value = '1' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(WorkspaceError, match="gridmap upgrade"):
        store.open_workspace(tmp_path / "old.gpkg")
    kept = store.upgrade(tmp_path / "old.gpkg")
    assert kept.exists()
    new = store.open_workspace(tmp_path / "old.gpkg")
    assert list(new.read("cameras").index) == ids and new.count("people") == 2


def test_update_many_checks_each_row_and_records_each(tiny_workspace):
    ws = tiny_workspace
    cams = ws.read("cameras")
    ids = list(cams.index)
    with ws.transaction(user="bulk") as tx:
        versions = tx.update_many(
            "cameras", {ids[0]: {"range_m": 11.0}, ids[1]: {"range_m": 22.0, "kind": "ptz"}}
        )
    assert versions == {ids[0]: 2, ids[1]: 2}
    assert list(ws.read("cameras")["range_m"]) == [11.0, 22.0]
    assert len(ws.history(layer="cameras")) == 3  # the insert and two updates
    with pytest.raises(SchemaError, match="not one of"), ws.transaction() as tx:
        tx.update_many("cameras", {ids[0]: {"kind": "dome"}, ids[1]: {"kind": "banana"}})
    with pytest.raises(ConflictError), ws.transaction() as tx:
        tx.update_many("cameras", {ids[0]: {"range_m": 1.0}}, expected_versions={ids[0]: 1})
    assert list(ws.read("cameras")["kind"]) == ["fixed", "ptz"]  # nothing of either went in


def test_undo_in_any_order_once_later_changes_are_undone(tiny_workspace):
    ws = tiny_workspace
    fid = _fid(ws, "cameras", code="CAM1")
    with ws.transaction() as tx:
        tx.update("cameras", fid, {"range_m": 41.0})
    first = int(ws.audit_log(limit=1)["fid"].iloc[0])
    with ws.transaction() as tx:
        tx.update("cameras", fid, {"range_m": 42.0})
    second = int(ws.audit_log(limit=1)["fid"].iloc[0])
    with pytest.raises(ConflictError, match=f"by transaction {second}"):
        ws.undo(first)
    ws.undo(second)
    with pytest.raises(ConflictError, match="undone already"):
        ws.undo(second)
    ws.undo(first)  # the later change is undone: the first can go now
    assert ws.feature("cameras", fid)["range_m"].iloc[0] == 50
    conn = sqlite3.connect(ws.path)  # another program edits it: undo must not overwrite that
    from gridmap.store.gpkg import encoding

    encoding.register_functions(conn)
    with ws.transaction() as tx:
        tx.update("cameras", fid, {"range_m": 43.0})
    third = int(ws.audit_log(limit=1)["fid"].iloc[0])
    conn.execute("UPDATE cameras SET range_m = 44 WHERE fid = ?", (fid,))
    conn.commit()
    conn.close()
    with pytest.raises(ConflictError, match="another program"):
        ws.undo(third)


def test_a_renamed_household_takes_its_people_along_in_the_history(tiny_workspace):
    ws = tiny_workspace
    h1 = _fid(ws, "households", household_id="H1")
    with ws.transaction(user="clerk") as tx:
        tx.update("households", h1, {"household_id": "H1x"})
    person = ws.read("people", where={"person_id": "P1"}).iloc[0]
    assert person["household_id"] == "H1x" and person["updated_by"] == "clerk"
    changes = ws.history(layer="people")
    assert changes.iloc[0]["after"] == {"household_id": "H1x"}
    start = int(ws.audit_log(limit=2)["fid"].iloc[1])
    assert list(ws.as_of("people", start)["household_id"]) == ["H1", "H2"]


def test_a_failed_inner_transaction_leaves_the_outer_one_whole(tiny_workspace):
    ws = tiny_workspace
    cam1, cam2 = (_fid(ws, "cameras", code=c) for c in ("CAM1", "CAM2"))
    with ws.transaction() as tx:
        with pytest.raises(RuntimeError), ws.transaction() as inner:
            inner.update("cameras", cam1, {"range_m": 1.0})
            raise RuntimeError("inner fails")
        tx.update("cameras", cam2, {"range_m": 2.0})
    assert list(ws.read("cameras")["range_m"]) == [50.0, 2.0]
    assert ws.history(layer="cameras").iloc[0]["after"] == {"range_m": 2.0}


def test_undo_of_an_insert_refuses_rows_added_since(tiny_workspace):
    ws = tiny_workspace
    home = tiny_layers()["households"].iloc[[0]].assign(household_id="H9")
    ws.append("households", home)
    added = int(ws.audit_log(limit=1)["fid"].iloc[0])
    ws.append("people", pd.DataFrame({"person_id": ["P9"], "household_id": ["H9"], "name": ["x"]}))
    with pytest.raises(ConflictError, match="added since"):
        ws.undo(added)
    assert ws.count("people") == 3


def test_replace_refuses_to_take_people_along_unless_asked(tiny_workspace):
    ws = tiny_workspace
    only_h2 = tiny_layers()["households"].iloc[[1]]
    with pytest.raises(
        ConstraintError, match=r"would delete 1 of its rows .* 1 row\(s\) of 'people'"
    ):
        ws.replace("households", only_h2)
    assert ws.count("people") == 2
    with ws.transaction() as tx:
        tx.replace("households", only_h2, cascade=True)
    assert list(ws.read("people")["person_id"]) == ["P2"]


def test_upgrade_names_the_rows_that_break_the_new_rules(tmp_path):
    """An old gridmap let a camera kind 'banana' in: upgrade says which row, changes nothing."""
    from gridmap.store.gpkg import encoding

    from .conftest import make_tiny_workspace

    path = tmp_path / "old.gpkg"
    make_tiny_workspace(path).close()
    conn = sqlite3.connect(path)
    encoding.register_functions(conn)
    conn.execute("UPDATE gridmap_meta SET value = '1' WHERE key = 'schema_version'")
    conn.execute("PRAGMA ignore_check_constraints = ON")  # what the old tables allowed
    conn.execute("UPDATE cameras SET kind = 'banana' WHERE code = 'CAM2'")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(
        InputError, match=r"cameras: kind is empty or not one of its choices in feature\(s\) 2"
    ):
        store.upgrade(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.gpkg"]
