"""An edit's re-check (``validate(grids=…)``, gridmap.service.grid_recheck) reports of the
edited grids exactly what the whole ``validate`` reports of them, on the demo and on a small
synthetic district, after edits that leave findings behind (gaps, overlaps, cut and orphan
buildings, borders off their street, grids out of range)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import mapping

from gridmap import store
from gridmap.access.roles import Access
from gridmap.build.synthetic.district import build_district
from gridmap.grids.findings import about
from gridmap.service import grid_checks, grid_recheck, planning

WHO = Access.of("test", "planner")


def _key(f: Any) -> tuple[Any, ...]:
    return (f.kind, f.grids, round(f.value, 3), f.message_en, f.fixes, f.detail)


def assert_recheck_agrees(
    ws: store.Workspace, picks: list[list[str]], bounds: tuple[float, float] = (300, 500)
) -> int:
    """Assert that the re-check of each of ``picks`` says what the whole check says of those
    grids; return how many findings the re-checks reported in all."""
    whole = grid_checks.validate(ws, bounds=bounds)
    grids = ws.read("grids").to_crs(whole.crs)
    codes = grids["code"].astype(str).to_numpy()
    geoms = np.asarray(grids.geometry.values, dtype=object)
    seen = 0
    for pick in picks:
        part = grid_checks.validate(ws, grids=pick, bounds=bounds)
        # findings without a grid: those whose inner point lies in the re-check's window
        mine = ws.read("grids", where={"code": pick})
        window = grid_recheck._pad(tuple(mine.total_bounds), grid_recheck.MARGIN_M)
        inside = gpd.GeoSeries([shapely.box(*window)], crs=4326).to_crs(whole.crs).values[0]
        found = about(whole.findings, pick, codes, geoms, within=inside)
        expected = [_key(f) for f in found]
        assert [_key(f) for f in part.findings] == expected, pick
        assert part.figures.equals(whole.figures[whole.figures.index.isin(pick)]), pick
        seen += len(expected)
    return seen


def _json(geom: Any) -> Any:
    return json.loads(json.dumps(mapping(geom)))


def _version(ws: store.Workspace, code: str) -> dict[str, int]:
    return {code: int(ws.read("grids", where={"code": code})["version"].iloc[0])}


def mess_up(ws: store.Workspace, count: int, seed: int) -> list[list[str]]:
    """Shrink ``count`` grids by 7 % through the planning API (ground to the neighbours or
    gaps, borders off their streets), grow one over its neighbours and delete another
    through the store (overlaps, a gap with buildings in no grid); return the grids each
    edit changed."""
    rng = np.random.default_rng(seed)
    codes = sorted(ws.read("grids")["code"])
    changed: list[list[str]] = []
    for code in rng.permutation(codes)[:count].tolist():
        row = ws.read("grids", where={"code": code})
        shape = shapely.affinity.scale(row.geometry.iloc[0], 0.93, 0.93)
        body = {"op": "reshape", "code": code, "geometry": _json(shape)}
        done = planning.edit_grids(ws, {**body, "versions": _version(ws, code)}, access=WHO)
        changed.append([*done.changed, *done.added])
    grids = ws.read("grids")
    grown, gone = grids.iloc[1], grids.iloc[len(grids) // 2]
    with ws.transaction(user="test", action="raw edit") as tx:
        shape = shapely.buffer(grown.geometry, 1.5e-4, join_style="mitre")
        tx.update("grids", int(grids.index[1]), {"geometry": shapely.set_precision(shape, 1e-7)})
        tx.delete("grids", [int(grids.index[len(grids) // 2])])
    around = ws.read("grids", bbox=tuple(shapely.buffer(gone.geometry, 1e-4).bounds))
    changed.append([str(grown["code"])])
    changed.append(sorted(around["code"].astype(str)))
    return changed


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("recheck") / "district.gpkg"
    return build_district(path, grids=45, buildings=3_000, seed=11)


def test_the_recheck_agrees_with_the_whole_check_on_a_messed_up_district(
    district: Path, tmp_path: Path
) -> None:
    copy = store.GeoPackageWorkspace(district, read_only=True).backup(tmp_path / "d.gpkg")
    with store.GeoPackageWorkspace(copy) as ws:
        edits = mess_up(ws, 6, seed=3)
        every = [[str(c)] for c in sorted(ws.read("grids")["code"])]
        kinds = {f.kind for f in grid_checks.validate(ws, bounds=(370, 400)).findings}
        expected = {"gap", "overlap", "outside", "orphan_building", "off_street"}
        assert expected | {"households_range"} <= kinds, kinds
        assert assert_recheck_agrees(ws, edits + every, bounds=(370, 400)) > 0


def test_the_recheck_agrees_with_the_whole_check_on_the_demo(writable_demo) -> None:
    edits = mess_up(writable_demo, 5, seed=1)
    kinds = {f.kind for f in grid_checks.validate(writable_demo).findings}
    assert {"gap", "overlap", "cut_building", "off_street"} <= kinds, kinds
    every = [[str(c)] for c in sorted(writable_demo.read("grids")["code"])]
    assert assert_recheck_agrees(writable_demo, edits + every) > 0


def test_a_gap_wider_than_the_window_is_checked_whole(
    district: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deleted grid leaves a gap; re-checking its neighbour with a window of 5 m cuts that
    gap, so its community is checked whole and the gap keeps its whole area."""
    copy = store.GeoPackageWorkspace(district, read_only=True).backup(tmp_path / "d.gpkg")
    with store.GeoPackageWorkspace(copy) as ws:
        grids = ws.read("grids").sort_values("code")
        a, b = grids.iloc[0], grids.iloc[1]  # west-east neighbours of one community
        with ws.transaction(user="test", action="delete") as tx:
            tx.delete("grids", [int(b.name)])
        whole = [f for f in grid_checks.validate(ws).findings if f.kind == "gap"]
        assert [f.grids[:1] for f in whole] and any(a["code"] in f.grids for f in whole)
        called: list[str] = []
        checked_whole = grid_recheck._whole_gaps

        def spy(*args: Any) -> Any:
            called.append(args[2])
            return checked_whole(*args)

        monkeypatch.setattr(grid_recheck, "MARGIN_M", 5.0)
        monkeypatch.setattr(grid_recheck, "_whole_gaps", spy)
        part = [f for f in grid_checks.validate(ws, grids=[a["code"]]).findings]
        assert called == [a["community_code"]]
        gaps = [f for f in part if f.kind == "gap"]
        assert [_key(f) for f in gaps] == [_key(f) for f in whole if a["code"] in f.grids]


def test_the_whole_check_after_each_edit_is_what_a_newly_opened_workspace_says(
    district: Path, tmp_path: Path
) -> None:
    """The whole check keeps what it read and the borders it found off their streets; after
    each edit it says what a check from scratch says."""
    copy = store.GeoPackageWorkspace(district, read_only=True).backup(tmp_path / "d.gpkg")
    with store.GeoPackageWorkspace(copy) as ws:
        codes = sorted(ws.read("grids")["code"])
        seen = set()
        for code in codes[:: len(codes) // 5][:5]:
            row = ws.read("grids", where={"code": code})
            shape = shapely.affinity.scale(row.geometry.iloc[0], 0.93, 0.93)
            body = {"op": "reshape", "code": code, "geometry": _json(shape)}
            planning.edit_grids(ws, {**body, "versions": _version(ws, code)}, access=WHO)
            kept = grid_checks.validate(ws)
            with store.GeoPackageWorkspace(copy, read_only=True) as other:
                fresh = grid_checks.validate(other)
            assert [_key(f) for f in kept.findings] == [_key(f) for f in fresh.findings]
            assert kept.figures.equals(fresh.figures)
            seen |= {f.kind for f in kept.findings}
        assert "off_street" in seen
