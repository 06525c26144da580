"""The gridmap command: init, import, export, info, serve, demo."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pyogrio
import pytest

from gridmap.build.demo import DEMO_OSM
from gridmap.cli import main
from gridmap.geo.chinacoords import wgs84_to_gcj02
from gridmap.store import open_workspace


@pytest.fixture(scope="module")
def inited(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "ws.gpkg"
    assert main(["-q", "init", str(path), "--osm", str(DEMO_OSM), "--title", "长江路"]) == 0
    return path


def test_init_builds_osm_layers(inited, capsys):
    ws = open_workspace(inited)
    assert ws.count("buildings") == 851 and ws.count("streets") > 400 and ws.count("grids") == 0
    assert ws.get_meta("title") == "长江路" and ws.get_meta("synthetic") is False
    assert main(["info", str(inited)]) == 0
    out = capsys.readouterr().out
    assert "buildings" in out and "851" in out and "OpenStreetMap" in out


def test_init_refuses_to_overwrite(inited, capsys):
    assert main(["-q", "init", str(inited), "--osm", str(DEMO_OSM)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_init_bad_osm_leaves_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.osm"
    bad.write_text("<osm><way id='1'>")
    target = tmp_path / "ws.gpkg"
    assert main(["-q", "init", str(target), "--osm", str(bad)]) == 2
    assert "Cannot read bad.osm" in capsys.readouterr().err
    assert not target.exists()


def _camera_csv(path: Path, gcj: bool) -> list[tuple[float, float]]:
    truth = [(118.7870, 32.0430), (118.7890, 32.0445), (118.7912, 32.0401)]
    rows = []
    for i, (lon, lat) in enumerate(truth):
        x, y = wgs84_to_gcj02(lon, lat) if gcj else (lon, lat)
        rows.append(
            {
                "编号": f"N{i}",
                "code": f"N{i}",
                "kind": "dome",
                "经度": float(x),
                "纬度": float(y),
                "name": f"新探头{i}",
            }
        )
    pd.DataFrame(rows).drop(columns="编号").to_csv(path, index=False, encoding="gbk")
    return truth


def test_import_appends_and_replaces(inited, tmp_path, capsys):
    csv = tmp_path / "cams.csv"
    truth = _camera_csv(csv, gcj=True)
    ws = open_workspace(inited)
    before = ws.count("cameras")
    assert main(["import", str(inited), "cameras", str(csv), "--crs", "gcj02"]) == 0
    assert "Appended 3 row(s)" in capsys.readouterr().out
    cams = ws.read("cameras", where={"kind": "dome"})
    got = sorted(zip(cams.geometry.x, cams.geometry.y, strict=True))
    for (gx, gy), (tx, ty) in zip(got, sorted(truth), strict=True):
        assert abs(gx - tx) < 1e-5 and abs(gy - ty) < 1e-5  # about 1 m
    assert ws.count("cameras") == before + 3
    assert main(["import", str(inited), "cameras", str(csv), "--crs", "gcj02", "--replace"]) == 0
    assert ws.count("cameras") == 3
    assert ws.audit_log(limit=1)["action"].iloc[0].startswith("import cams.csv (replace)")


def test_failed_import_changes_nothing(inited, tmp_path, capsys):
    ws = open_workspace(inited)
    before = (ws.count("cameras"), len(ws.audit_log()))
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "code,kind,lon,lat\nA,fixed,118.787,32.043\nB,fixed,32.044,118.789\n", encoding="utf-8"
    )
    assert main(["import", str(inited), "cameras", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "row 3" in err and "swapped" in err  # spreadsheet row: the header is row 1
    assert (ws.count("cameras"), len(ws.audit_log())) == before


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "csv", "xlsx", "shp"])
def test_export_every_format(demo_path, tmp_path, fmt, capsys):
    out = tmp_path / f"cameras.{fmt}"
    assert main(["export", str(demo_path), "cameras", "-f", fmt, "-o", str(out)]) == 0
    assert "Exported 'cameras'" in capsys.readouterr().out
    n = open_workspace(demo_path).count("cameras")
    if fmt in ("geojson", "gpkg", "shp"):
        frame = gpd.read_file(out, engine="pyogrio")
        assert len(frame) == n and frame.crs.to_epsg() == 4326
        assert frame.geometry.x.between(118.77, 118.80).all()
    if fmt == "geojson":
        assert "synthetic" in json.loads(out.read_text(encoding="utf-8"))["attribution"]
    if fmt == "gpkg":
        meta = pyogrio.read_info(out, layer="cameras")["layer_metadata"]
        assert "synthetic" in meta["ATTRIBUTION"]
    if fmt == "csv":
        table = pd.read_csv(out, encoding="utf-8-sig")
        assert len(table) == n and {"lon", "lat", "bearing_deg"} <= set(table.columns)
    if fmt == "xlsx":
        book = openpyxl.load_workbook(out)
        assert book.sheetnames == ["cameras", "about"]
        assert book["cameras"].max_row == n + 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".gridmap-export")] == []


def test_export_carries_osm_attribution(demo_path, tmp_path):
    out = tmp_path / "streets.geojson"
    assert main(["-q", "export", str(demo_path), "streets", "-o", str(out)]) == 0
    assert (
        "© OpenStreetMap contributors" in json.loads(out.read_text(encoding="utf-8"))["attribution"]
    )
    shp = tmp_path / "streets.shp"
    assert main(["-q", "export", str(demo_path), "streets", "-o", str(shp)]) == 0
    assert "OpenStreetMap" in (tmp_path / "streets.notice.txt").read_text(encoding="utf-8")


def test_export_masks_personal_data_unless_asked(writable_demo, tmp_path, capsys):
    ws = str(writable_demo.path)
    out = tmp_path / "households.csv"
    assert main(["-q", "export", ws, "households", "-o", str(out), "--lang", "zh-CN"]) == 0
    table = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    assert "所属网格" in table.columns and "地址" in table.columns
    assert "户主姓名" not in table.columns and "联系电话" not in table.columns  # the masked view
    assert not table["地址"].str.contains("室").any()  # the building, not the room
    assert "脱敏" in (tmp_path / "households.notice.txt").read_text(encoding="utf-8")
    # people come to masked readers as figures per grid, not rows
    assert main(["-q", "export", ws, "people", "-o", str(tmp_path / "p.csv")]) == 2
    assert "figures" in capsys.readouterr().err
    full = tmp_path / "people_full.csv"
    assert main(["-q", "export", ws, "people", "-o", str(full), "--personal"]) == 0
    people = pd.read_csv(full, encoding="utf-8-sig", dtype=str)
    assert not people["name"].str.contains(r"\*").any() and len(people) == 59_377
    assert writable_demo.read_log(limit=1).iloc[0]["action"] == "cli export"  # recorded


def test_export_errors(demo_path, writable_demo, tmp_path, capsys):
    p = str(tmp_path / "p.geojson")
    assert (
        main(["export", str(writable_demo.path), "people", "-f", "geojson", "-o", p, "--personal"])
        == 2
    )
    assert "has no geometry" in capsys.readouterr().err
    assert main(["export", str(demo_path), "cameras", "-o", str(tmp_path / "c.doc")]) == 2
    assert "formats are" in capsys.readouterr().err
    assert (
        main(["export", str(tmp_path / "none.gpkg"), "cameras", "-o", str(tmp_path / "c.csv")]) == 2
    )
    assert "No workspace" in capsys.readouterr().err


def test_serve_on_a_busy_port_says_so(demo_path, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", str(demo_path), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"Cannot listen on 127.0.0.1:{port}" in err and f"--port {port + 1}" in err


def test_demo_no_serve_builds_once(tmp_path, capsys):
    target = tmp_path / "demo.gpkg"
    assert main(["-q", "demo", "--workspace", str(target), "--no-serve"]) == 0
    assert "Demo workspace built" in capsys.readouterr().out
    assert open_workspace(target).count("grids") > 40
    assert main(["-q", "demo", "--workspace", str(target), "--no-serve"]) == 0
    assert "Using existing demo workspace" in capsys.readouterr().out


def test_demo_on_another_extract(tmp_path, capsys):
    beijing = (
        Path(__file__).resolve().parents[2]
        / "shared"
        / "geodata"
        / "beijing_haidian_cau_east_2026.osm.bz2"
    )
    if not beijing.exists():
        pytest.skip("shared/geodata is not beside the checkout")
    target = tmp_path / "bj.gpkg"
    args = ["-q", "demo", "--workspace", str(target), "--no-serve", "--osm", str(beijing)]
    assert main([*args, "--district", "110108:海淀区"]) == 0
    ws = open_workspace(target)
    grids = ws.read("grids")
    assert grids["code"].str.startswith("110108").all()
    assert grids["households"].between(250, 550).all()
    assert ws.read("community")["district"].iloc[0] == "海淀区"
    assert ws.get_meta("title") == "beijing_haidian_cau_east_2026（演示数据）"
    assert main([*args, "--rebuild", "--district", "11010"]) == 2
    assert "6 digits" in capsys.readouterr().err


def test_spreadsheet_round_trip_with_chinese_titles(demo_path, tmp_path, capsys):
    out = tmp_path / "cameras.csv"
    assert main(["-q", "export", str(demo_path), "cameras", "-o", str(out), "--lang", "zh-CN"]) == 0
    assert "personal data masked" not in capsys.readouterr().out  # cameras hold none
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert set(table["类型"]) <= {"固定枪机", "云台摄像机", "球机"}  # coded values as titles
    copy = tmp_path / "copy.gpkg"
    copy.write_bytes(demo_path.read_bytes())
    assert main(["-q", "import", str(copy), "cameras", str(out), "--replace"]) == 0
    before = open_workspace(demo_path).read("cameras")
    after = open_workspace(copy).read("cameras")
    assert list(after["kind"]) == list(before["kind"])  # titles read back as codes
    assert list(after["code"]) == list(before["code"])


def test_interrupted_build_leaves_nothing(tmp_path, monkeypatch, capsys):
    from gridmap.store.gpkg.transaction import GpkgTransaction as _GpkgTransaction

    real = _GpkgTransaction.replace

    def replace(self, layer, frame):
        if layer == "visits":  # Ctrl+C halfway through writing the layers
            raise KeyboardInterrupt
        return real(self, layer, frame)

    monkeypatch.setattr(_GpkgTransaction, "replace", replace)
    target = tmp_path / "demo.gpkg"
    assert main(["-q", "demo", "--workspace", str(target), "--no-serve"]) == 130
    assert "nothing was changed" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # no workspace, no temporary file


def test_reimporting_a_masked_export_is_refused(demo_path, tmp_path, capsys):
    copy = tmp_path / "copy.gpkg"
    copy.write_bytes(demo_path.read_bytes())
    before = open_workspace(copy).read("households", limit=50)
    # the masked view has no household id: it cannot replace the register
    masked = tmp_path / "masked.csv"
    assert main(["-q", "export", str(copy), "households", "-o", str(masked)]) == 0
    assert main(["import", str(copy), "households", str(masked), "--replace"]) == 2
    assert "household_id" in capsys.readouterr().err
    # masked values (a sheet edited from a masked copy) are refused where they stand
    full = tmp_path / "full.csv"
    assert main(["-q", "export", str(copy), "households", "-o", str(full), "--personal"]) == 0
    edited = pd.read_csv(full, encoding="utf-8-sig", dtype=str)
    edited.loc[0, "head_name"] = "张**"
    edited.to_csv(tmp_path / "edited.csv", index=False, encoding="utf-8-sig")
    assert main(["import", str(copy), "households", str(tmp_path / "edited.csv"), "--replace"]) == 2
    err = capsys.readouterr().err
    assert "row 2" in err and "masked value" in err and "--personal" in err
    # a sheet without the personal columns would erase them: refused unless --force
    pd.read_csv(full, encoding="utf-8-sig").drop(columns=["head_name", "phone"]).to_csv(
        tmp_path / "slim.csv", index=False, encoding="utf-8-sig"
    )
    assert main(["import", str(copy), "households", str(tmp_path / "slim.csv"), "--replace"]) == 2
    assert "would erase the personal data in head_name, phone" in capsys.readouterr().err
    after = open_workspace(copy).read("households", limit=50)
    pd.testing.assert_frame_equal(before, after)  # nothing changed
    assert main(["-q", "import", str(copy), "households", str(full), "--replace"]) == 0
    assert (
        open_workspace(copy).read("households", limit=1)["head_name"].iloc[0]
        == before["head_name"].iloc[0]
    )


@pytest.mark.parametrize("fmt", ["geojson", "csv", "shp"])
def test_grids_export_imports_back(demo_path, tmp_path, fmt):
    copy = tmp_path / "copy.gpkg"
    copy.write_bytes(demo_path.read_bytes())
    out = tmp_path / f"grids.{fmt}"
    assert main(["-q", "export", str(copy), "grids", "-o", str(out), "--lang", "zh-CN"]) == 0
    before = open_workspace(copy).read("grids")
    assert main(["-q", "import", str(copy), "grids", str(out), "--replace"]) == 0
    after = open_workspace(copy).read("grids")
    assert list(after["code"]) == list(before["code"])
    assert list(after["community_code"]) == list(before["community_code"])
    assert list(after["worker_phone"]) == list(before["worker_phone"])
    assert after.geometry.is_valid.all()
    assert abs(after.to_crs(32650).area.sum() - before.to_crs(32650).area.sum()) < 1.0


def test_import_twice_is_refused(inited, tmp_path, capsys):
    csv = tmp_path / "cams2.csv"
    pd.DataFrame(
        {
            "code": ["D1", "D2"],
            "kind": ["fixed", "dome"],
            "lon": [118.787, 118.788],
            "lat": [32.043, 32.043],
        }
    ).to_csv(csv, index=False)
    assert main(["-q", "import", str(inited), "cameras", str(csv)]) == 0
    assert main(["-q", "import", str(inited), "cameras", str(csv)]) == 2
    assert "already has code 'D1' (and 1 more)" in capsys.readouterr().err
    dup = tmp_path / "dup.csv"
    dup.write_text(
        "code,kind,lon,lat\nE1,fixed,118.787,32.043\nE1,dome,118.788,32.043\n", encoding="utf-8"
    )
    assert main(["-q", "import", str(inited), "cameras", str(dup)]) == 2
    err = capsys.readouterr().err
    assert "row 3, column 'code'" in err and "already used in row 2" in err


# -- gridmap grids auto ------------------------------------------------------------------------

COMMUNITY = "320102001002"
METRIC = "EPSG:32650"


@pytest.fixture
def demo_copy(demo_path, tmp_path) -> Path:
    copy = tmp_path / "copy.gpkg"
    copy.write_bytes(demo_path.read_bytes())
    return copy


def _state(path: Path) -> dict[str, pd.DataFrame]:
    ws = open_workspace(path)
    return {layer: ws.read(layer) for layer in ("grids", "buildings", "cameras")}


def _assert_same(before: dict[str, pd.DataFrame], after: dict[str, pd.DataFrame]) -> None:
    for layer, frame in before.items():
        pd.testing.assert_frame_equal(frame, after[layer])


def test_grids_auto_refuses_existing_grids_then_replaces_one_community(demo_copy, capsys):
    before = _state(demo_copy)
    assert main(["-q", "grids", "auto", str(demo_copy)]) == 2
    err = capsys.readouterr().err
    assert "has 52 grid(s) already" in err and "--replace" in err
    _assert_same(before, _state(demo_copy))
    assert main(["grids", "auto", str(demo_copy), "--community", COMMUNITY, "--replace"]) == 0
    captured = capsys.readouterr()
    assert "community 1/1 中山东路社区" in captured.err  # progress lines
    out = captured.out
    # the community's ~4,000 households make 10 or 11 grids of 300-500 (its outline is the
    # union of the demo's grids, as stored)
    drawn = int(re.search(r"(\d+) grids in 1 community:", out).group(1))
    assert drawn in (10, 11) and "status feasible" in out and "bound " in out
    assert f"Wrote {drawn} grids, replacing 10" in out
    ws = open_workspace(demo_copy)
    grids, buildings = ws.read("grids"), ws.read("buildings")
    # the other communities' grids are as they were, but for vertices they got along the
    # community's border (the plan stays edge-matched: a hair-line, under a square metre); the
    # new ones add up from their buildings
    old = before["grids"]
    keep = old[old["community_code"] != COMMUNITY].reset_index(drop=True)
    others = grids[grids["community_code"] != COMMUNITY].reset_index(drop=True)
    steady = ["code", "name", "worker", "worker_phone", "households", "residents", "buildings"]
    pd.testing.assert_frame_equal(keep[steady], others[steady])
    assert (keep["area_m2"] - others["area_m2"]).abs().max() < 1.0
    moved_m2 = keep.to_crs(METRIC).symmetric_difference(others.to_crs(METRIC)).area
    assert moved_m2.max() < 1.0 and (moved_m2 > 0).sum() < len(keep) / 4
    moved = buildings["grid_code"] != before["buildings"]["grid_code"]
    assert buildings.loc[moved, "grid_code"].str.startswith(COMMUNITY).all()
    new = grids[grids["community_code"] == COMMUNITY].set_index("code")
    assert len(new) == drawn and (new["source"] == "user").all()
    assert new["households"].between(300, 500).all()
    per = buildings.groupby("grid_code")
    assert (new["households"] == per["households"].sum().reindex(new.index)).all()
    assert (new["residents"] == per["residents"].sum().reindex(new.index)).all()
    assert (new["buildings"] == per.size().reindex(new.index)).all()
    assert set(buildings["grid_code"]) <= set(grids["code"])
    assert ws.audit_log(limit=1)["action"].iloc[0] == f"grids auto ({COMMUNITY}, {drawn} grids)"


def test_grids_auto_of_one_community_keeps_the_plan_one_coverage(demo_copy, capsys):
    """The new grids are fitted to the community's border as its neighbours have it (as an
    accepted proposal is): the whole plan stays one valid coverage, the codes come after every
    code the community ever had, and one undo takes it all back, lineage too."""
    import numpy as np
    import shapely

    from gridmap.service import plan_history
    from gridmap.service.planning import codes_ever

    community = "320102001003"  # its solve's outlines miss the border by slivers
    ws = open_workspace(demo_copy)
    before = ws.read("grids")
    had = {c for c in (*before["code"], *codes_ever(ws)) if c.startswith(community)}
    args = ["-q", "grids", "auto", str(demo_copy), "--community", community, "--replace"]
    assert main(args) == 0
    # the other communities' buildings are theirs, not buildings the partition left out
    assert "left out" not in capsys.readouterr().out
    ws = open_workspace(demo_copy)
    grids = ws.read("grids")
    assert shapely.coverage_is_valid(np.asarray(grids.geometry.values, dtype=object))
    with pytest.raises(SystemExit) as done:
        main(["grids", "validate", str(demo_copy), "--json"])
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert not [f for f in findings if f["kind"] in ("overlap", "gap")], findings
    assert done.value.code == 0
    new = sorted(grids.loc[grids["community_code"] == community, "code"])
    first = max(int(c[-3:]) for c in had) + 1
    assert new == [f"{community}{n:03d}" for n in range(first, first + len(new))]
    # one version of the plan, with the lineage of its transaction; one undo takes it back
    tx = int(ws.audit_log(limit=1)["fid"].iloc[0])
    entry = plan_history.lineage(ws)[-1]
    assert entry["tx"] == tx and entry["op"] == "partition" and entry["to"] == new
    assert main(["-q", "undo", str(demo_copy), str(tx), "--yes"]) == 0
    ws = open_workspace(demo_copy)
    back = ws.read("grids").set_index("code").sort_index()
    assert list(back.index) == sorted(before["code"])
    old = before.set_index("code").sort_index()
    assert back.geometry.geom_equals_exact(old.geometry, 0).all()
    assert not [e for e in plan_history.lineage(ws) if e.get("tx") == tx]


def test_grids_auto_dry_run_writes_only_the_preview(demo_copy, tmp_path, capsys):
    before = _state(demo_copy)
    stamp = open_workspace(demo_copy).stamp()
    preview = tmp_path / "preview.geojson"
    args = ["-q", "grids", "auto", str(demo_copy), "--dry-run", "-o", str(preview)]
    assert main([*args, "--community", COMMUNITY, "--target", "300", "--min", "200"]) == 0
    out = capsys.readouterr().out
    assert "Dry run: nothing written" in out and f"Preview written to {preview}" in out
    _assert_same(before, _state(demo_copy))
    assert open_workspace(demo_copy).stamp() == stamp
    doc = json.loads(preview.read_text(encoding="utf-8"))
    households = [f["properties"]["households"] for f in doc["features"]]
    assert len(households) >= 12 and sum(households) == 4338  # smaller grids: more of them
    assert doc["gridmap"]["status"] == "feasible" and doc["gridmap"]["objective"] > 0
    assert main([*args[:-2], "-o", str(tmp_path / "preview.kml")]) == 2
    assert "GeoJSON file" in capsys.readouterr().err


def test_grids_auto_interrupted_changes_nothing(demo_copy, monkeypatch, capsys):
    from gridmap.grids import GridPartition
    from gridmap.store.gpkg.transaction import GpkgTransaction

    before = _state(demo_copy)
    real = GpkgTransaction.update_many
    calls = []

    def update_many(self, layer, changes, **kw):
        calls.append(layer)
        if len(calls) == 2:  # Ctrl+C while the grid codes are being written
            raise KeyboardInterrupt
        return real(self, layer, changes, **kw)

    monkeypatch.setattr(GpkgTransaction, "update_many", update_many)
    args = ["-q", "grids", "auto", str(demo_copy), "--replace"]
    assert main(args) == 130
    assert "nothing was changed" in capsys.readouterr().err
    assert len(calls) == 2
    _assert_same(before, _state(demo_copy))

    def solve(self, **_options):
        raise KeyboardInterrupt

    monkeypatch.setattr(GridPartition, "solve", solve)  # Ctrl+C while solving
    assert main(args) == 130
    _assert_same(before, _state(demo_copy))


def test_grids_auto_needs_communities_and_a_known_code(inited, demo_path, capsys):
    assert main(["-q", "grids", "auto", str(inited)]) == 2
    assert "no communities" in capsys.readouterr().err
    assert main(["-q", "grids", "auto", str(demo_path), "--community", "999"]) == 2
    assert "no community with code '999'" in capsys.readouterr().err
    assert main(["-q", "grids", "auto", str(demo_path), "--dry-run", "--min", "600"]) == 2
    assert "min <= target <= max" in capsys.readouterr().err


def test_grids_auto_redraws_the_whole_workspace(demo_copy, capsys):
    assert main(["-q", "grids", "auto", str(demo_copy), "--replace", "--restarts", "4"]) == 0
    out = capsys.readouterr().out
    assert "grids in 5 communities" in out and "heuristic+4 restarts" in out
    ws = open_workspace(demo_copy)
    grids, buildings = ws.read("grids"), ws.read("buildings")
    assert grids["households"].sum() == buildings["households"].sum() == 21_686
    assert grids["residents"].sum() == buildings["residents"].sum()
    assert grids["code"].is_unique and set(buildings["grid_code"]) == set(grids["code"])
    # where things are follows the new grids: a household's grid is its building's
    households = ws.read("households")
    by_building = dict(zip(buildings["osm_id"], buildings["grid_code"], strict=True))
    assert (households["building_osm_id"].map(by_building) == households["grid_code"]).mean() > 0.99
    # most grids keep a worker: the old grid that held most of the new one
    assert grids["worker"].notna().mean() > 0.6
    assert grids.geometry.is_valid.all()


def test_grids_auto_keeps_edits_made_while_it_draws(demo_copy, monkeypatch, capsys):
    """An editor changes another community's grid during the solve: the write keeps it; a
    change to a grid being redrawn makes grids auto refuse instead of overwriting it."""
    from gridmap.grids import GridPartition

    real = GridPartition.solve
    ws = open_workspace(demo_copy)
    grids = ws.read("grids")
    other = int(grids.index[grids["community_code"] != COMMUNITY][0])

    def solve_while_editing(target):
        def solve(self, **options):
            with open_workspace(demo_copy).transaction(user="editor") as tx:
                tx.update("grids", target, {"worker": "新网格员"})
            return real(self, **options)

        return solve

    monkeypatch.setattr(GridPartition, "solve", solve_while_editing(other))
    args = ["-q", "grids", "auto", str(demo_copy), "--community", COMMUNITY, "--replace"]
    assert main(args) == 0
    assert open_workspace(demo_copy).feature("grids", other)["worker"].iloc[0] == "新网格员"
    monkeypatch.setattr(
        GridPartition,
        "solve",
        solve_while_editing(
            int(
                open_workspace(demo_copy)
                .read("grids", where={"community_code": COMMUNITY})
                .index[0]
            )
        ),
    )
    assert main(args) == 2
    assert "changed while gridmap drew them" in capsys.readouterr().err


def test_grids_rebalance_proposes_then_applies_undoably(writable_demo, tmp_path, capsys):
    ws = str(writable_demo.path)
    out = tmp_path / "moves.geojson"
    args = ["grids", "rebalance", ws, "--tolerance", "0.2", "--json"]
    assert main([*args, "-o", str(out)]) == 0
    proposal = json.loads(capsys.readouterr().out)
    assert proposal["outside_after"] <= proposal["outside_before"]
    assert len(json.loads(out.read_text())["features"]) == len(proposal["moves"])
    before = len(writable_demo.read_log(limit=100))
    assert proposal["applied"] == []  # nothing written without --apply
    assert len(writable_demo.read_log(limit=100)) == before
    assert main([*args, "--apply"]) == 0
    applied = json.loads(capsys.readouterr().out)
    assert bool(applied["applied"]) == bool(applied["moves"])
    assert main(args) == 0  # the plan now has the households the proposal said
    again = json.loads(capsys.readouterr().out)
    after = {g["code"]: g["after"] for g in applied["grids"]}
    assert {g["code"]: g["before"] for g in again["grids"]} == after
    assert main(["grids", "rebalance", ws, "--tolerance", "0.2", "--lang", "zh"]) == 0
    said = capsys.readouterr().out
    assert "个网格" in said
    # the demo has grids outside 320-480 that no move keeping grids whole brings in
    assert again["moves"] == [] and again["outside_before"] > 0
    assert "未找到可改进的调整" in again["note"] and "未找到可改进的调整" in said


def test_grids_rebalance_takes_the_range_of_validate_and_says_it(demo_path, capsys):
    from gridmap.cli import grids as cli_grids
    from gridmap.service import grid_checks, rebalance

    assert cli_grids.DEFAULT_RANGE == grid_checks.DEFAULT_RANGE
    assert (rebalance.DEFAULT_HOUSEHOLDS, rebalance.DEFAULT_TOLERANCE) == (400, 0.25)
    assert main(["grids", "rebalance", str(demo_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["bounds"] == [300, 500]
    assert main(["grids", "rebalance", str(demo_path), "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("household range: 300-500 (400 ± 25%)\n")
    assert "outside 300-500 households before" in out
    assert main(["grids", "rebalance", str(demo_path), "--lang", "zh", "--tolerance", "0.1"]) == 0
    assert capsys.readouterr().out.startswith("户数范围：360–440（400 ± 10%）\n")


def test_grids_validate_titles_the_kinds_in_its_language(demo_path, capsys):
    args = ["grids", "validate", str(demo_path), "--max", "450"]
    with pytest.raises(SystemExit):
        main([*args, "--lang", "zh"])
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(line.startswith("户数超范围：") for line in lines[:-1])
    assert "households_range" not in "\n".join(lines)
    with pytest.raises(SystemExit):
        main([*args, "--lang", "en"])
    lines = capsys.readouterr().out.splitlines()
    assert all(line.startswith("Households out of range: ") for line in lines[:-1])


def test_grids_auto_with_o_and_no_replace_writes_a_preview_only(demo_copy, tmp_path, capsys):
    before = _state(demo_copy)
    stamp = open_workspace(demo_copy).stamp()
    preview = tmp_path / "preview.geojson"
    args = ["-q", "grids", "auto", str(demo_copy), "--community", COMMUNITY, "-o", str(preview)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"Preview written to {preview}" in out
    assert f"Preview only: Community {COMMUNITY} has 10 grid(s) already" in out
    assert "nothing written" in out and "--replace" in out
    # the buildings of the other communities are theirs: not noted as left out (trial 2)
    assert "left out" not in out, out
    _assert_same(before, _state(demo_copy))
    assert open_workspace(demo_copy).stamp() == stamp
    assert json.loads(preview.read_text(encoding="utf-8"))["features"]
    # without -o the refusal says how to look first, in both languages
    assert main(args[:-2]) == 2
    err = capsys.readouterr().err
    assert "--replace" in err and "-o FILE.geojson" in err and "先预览" in err
