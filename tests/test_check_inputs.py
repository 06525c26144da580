"""The checks' layers in memory (gridmap.service.check_inputs): read once, read again only
where a write changed them — by gridmap or by another program — and always what the file
holds."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import shapely

from gridmap import store
from gridmap.build.synthetic.district import build_district
from gridmap.service import check_inputs, grid_checks
from gridmap.store.gpkg import encoding as geopackage


@pytest.fixture
def ws(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Any:
    made = tmp_path_factory.getbasetemp() / "check_inputs.gpkg"
    if not made.exists():
        build_district(made, grids=12, buildings=600, seed=5)
    copy = store.GeoPackageWorkspace(made, read_only=True).backup(tmp_path / "d.gpkg")
    with store.GeoPackageWorkspace(copy) as opened:
        yield opened


def reads(monkeypatch: pytest.MonkeyPatch, ws: store.Workspace) -> list[tuple[str, Any]]:
    """Record each ``ws.read`` of a layer the memo keeps: (layer, its ``where``)."""
    seen: list[tuple[str, Any]] = []
    read = ws.read

    def spy(layer: str, **kw: Any) -> Any:
        if layer in check_inputs.COLUMNS:
            seen.append((layer, kw.get("where")))
        return read(layer, **kw)

    monkeypatch.setattr(ws, "read", spy)
    return seen


def fresh_check(ws: store.Workspace) -> Any:
    """The whole check of ``ws``'s file as a newly opened workspace sees it."""
    with store.GeoPackageWorkspace(ws.path, read_only=True) as other:  # type: ignore[attr-defined]
        return grid_checks.validate(other)


def same(a: Any, b: Any) -> bool:
    keys = [[(f.kind, f.grids, round(f.value, 3)) for f in v.findings] for v in (a, b)]
    return keys[0] == keys[1] and a.figures.equals(b.figures)


def test_an_unchanged_workspace_is_not_read_again(ws, monkeypatch) -> None:
    grid_checks.validate(ws)
    seen = reads(monkeypatch, ws)
    grid_checks.validate(ws)
    assert seen == []


def test_a_gridmap_write_rereads_only_the_rows_it_changed(ws, monkeypatch) -> None:
    first = grid_checks.validate(ws, bounds=(0, 0))  # every grid with households: a finding
    b = ws.read("buildings").iloc[0]
    with ws.transaction(user="test", action="edit") as tx:
        tx.update("buildings", int(b.name), {"households": int(b["households"]) + 900})
    seen = reads(monkeypatch, ws)
    after = grid_checks.validate(ws, bounds=(0, 0))
    assert seen == [("buildings", {"fid": [int(b.name)]})]
    assert same(grid_checks.validate(ws), fresh_check(ws))

    def held(v: Any) -> float:  # the grid's households as the check counts them
        (found,) = [f for f in v.findings if f.kind == "households_range" and f.grids == (code,)]
        return float(found.value)

    code = b["grid_code"]
    assert held(after) - held(first) == 900


def test_another_programs_edit_is_seen(ws) -> None:
    """QGIS moving a footprint and deleting another: the versions move, the memo follows."""
    grid_checks.validate(ws)
    b = ws.read("buildings")
    moved, gone = int(b.index[0]), int(b.index[1])
    outside = shapely.affinity.translate(b.geometry.iloc[0], xoff=0.05)  # 5 km east
    with contextlib.closing(sqlite3.connect(ws.path)) as conn, conn:  # type: ignore[attr-defined]
        geopackage.register_functions(conn)  # GDAL provides these to the R-tree triggers
        blob = geopackage.encode([outside], 4326)[0]
        conn.execute("UPDATE buildings SET geom = ? WHERE fid = ?", (blob, moved))
        conn.execute("DELETE FROM buildings WHERE fid = ?", (gone,))
    after = grid_checks.validate(ws)
    assert same(after, fresh_check(ws))
    frame = check_inputs.layer_frame(ws, "buildings", after.crs)
    assert gone not in frame.index and moved in frame.index
    assert frame.loc[moved].geometry.centroid.x > b.to_crs(after.crs).geometry.iloc[0].centroid.x


def test_new_rows_and_a_box_come_out_as_the_store_reads_them(ws) -> None:
    crs = grid_checks.metric_crs(ws)
    check_inputs.layer_frame(ws, "buildings", crs)
    b = ws.read("buildings")
    extra = b.iloc[[0]].drop(columns=["version", "updated_at", "updated_by"])
    extra["osm_id"] = None
    extra["geometry"] = [shapely.affinity.translate(b.geometry.iloc[0], yoff=2e-4)]
    with ws.transaction(user="test", action="add") as tx:
        (fid,) = tx.append("buildings", extra)
    minx, miny, maxx, maxy = b.total_bounds
    box = (minx, miny, (minx + maxx) / 2, (miny + maxy) / 2)
    mine = check_inputs.layer_frame(ws, "buildings", crs, box=box, storage=True)
    stored = ws.read("buildings", bbox=box, columns=["households"], system=False)
    assert list(mine.index) == list(stored.index)
    assert bool(shapely.equals_exact(mine.geometry.values, stored.geometry.values, 0).all())
    assert fid in check_inputs.layer_frame(ws, "buildings", crs).index
