"""The synthetic district (gridmap.build.synthetic.district): a valid plan, deterministic,
written through the store, and edited like any workspace."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely

from gridmap import store
from gridmap.access.roles import Access
from gridmap.build.synthetic.district import build_district, district_layers
from gridmap.errors import InputError
from gridmap.grids.findings import about
from gridmap.service import grid_checks, plan_history, planning

WHO = Access.of("test", "planner")


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("district") / "district.gpkg"
    return build_district(path, grids=20, buildings=1_300, seed=7)


def test_layers_are_deterministic_and_sized() -> None:
    a = district_layers(12, 700, seed=3)
    b = district_layers(12, 700, seed=3)
    c = district_layers(12, 700, seed=4)
    assert len(a["grids"]) == 12
    assert len(a["buildings"]) == 700
    assert a["households"].shape[0] == int(a["buildings"]["households"].sum())
    for name in a:
        assert a[name].drop(columns="geometry").equals(b[name].drop(columns="geometry")), name
        assert bool(
            np.all(shapely.equals_exact(a[name].geometry.values, b[name].geometry.values, 0))
        )
    assert not a["buildings"]["households"].equals(c["buildings"]["households"])


def test_written_plan_is_a_valid_coverage_with_nothing_to_report(district: Path) -> None:
    ws = store.GeoPackageWorkspace(district, read_only=True)
    grids = ws.read("grids")
    assert len(grids) == 20 and ws.count("buildings") == 1_300
    assert bool(shapely.coverage_is_valid(np.asarray(grids.geometry.values, dtype=object)))
    communities = ws.read("community")
    assert set(grids["community_code"]) == set(communities["code"])
    union = shapely.union_all(grids.geometry.values)
    assert (
        shapely.symmetric_difference(union, shapely.union_all(communities.geometry.values)).area
        < 1e-12
    )
    # every building whole in the grid it names; figures agree with the buildings
    b = ws.read("buildings")
    by_code = dict(zip(grids["code"], grids.geometry.values, strict=True))
    assert all(
        by_code[c].contains(g) for c, g in zip(b["grid_code"], b.geometry.values, strict=True)
    )
    sums = b.groupby("grid_code")["households"].sum()
    assert grids.set_index("code")["households"].to_dict() == sums.to_dict()
    # the codes are district 6 + street 3 + community 3 + sequence 3
    assert grids["code"].str.fullmatch(r"320199\d{9}").all()
    found = grid_checks.validate(ws)
    assert [f.kind for f in found.findings if f.kind != "households"] == []
    ws.close()


def test_a_district_is_edited_and_undone_like_any_plan(district: Path, tmp_path: Path) -> None:
    copy = store.GeoPackageWorkspace(district, read_only=True).backup(tmp_path / "d.gpkg")
    ws = store.GeoPackageWorkspace(copy)
    g = ws.read("grids").sort_values("code")
    a, b = g["code"].iloc[0], g["code"].iloc[1]  # west-east neighbours in one community
    version = dict(zip(g["code"], g["version"], strict=True))
    before = ws.read("buildings")["grid_code"].value_counts().to_dict()
    done = planning.edit_grids(
        ws,
        {"op": "merge", "codes": [a, b], "versions": {a: int(version[a]), b: int(version[b])}},
        access=WHO,
    )
    assert done.removed == (b,) and ws.count("grids") == 19
    assert ws.read("buildings")["grid_code"].value_counts()[a] == before[a] + before[b]
    plan_history.undo(ws, access=WHO)
    assert ws.count("grids") == 20
    assert ws.read("buildings")["grid_code"].value_counts().to_dict() == before
    ws.close()


def test_bad_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="合成区"):
        build_district(tmp_path / "x.gpkg", grids=0)
    assert not (tmp_path / "x.gpkg").exists()


def test_the_recheck_of_an_edit_reports_what_the_whole_check_says_of_its_grids(
    district: Path, tmp_path: Path
) -> None:
    copy = store.GeoPackageWorkspace(district, read_only=True).backup(tmp_path / "d.gpkg")
    ws = store.GeoPackageWorkspace(copy)
    g = ws.read("grids").sort_values("code")
    a, b = g["code"].iloc[0], g["code"].iloc[1]
    done = planning.edit_grids(
        ws, {"op": "merge", "codes": [a, b], "versions": {a: 1, b: 1}}, access=WHO
    )
    # a vertex of the merged grid pulled in: a gap (no grid) and a too-big grid (a)
    whole = grid_checks.validate(ws)
    kinds = {f.kind for f in whole.findings}
    assert "households_range" in kinds
    part = grid_checks.validate(ws, grids=list(done.changed))
    grids = ws.read("grids").to_crs(whole.crs)
    expected = about(
        whole.findings,
        done.changed,
        grids["code"].to_numpy(dtype=str),
        np.asarray(grids.geometry.values, dtype=object),
    )
    assert [(f.kind, f.grids, round(f.value, 3)) for f in part.findings] == [
        (f.kind, f.grids, round(f.value, 3)) for f in expected
    ]
    assert list(part.figures.index) == list(done.changed)
    assert part.figures.loc[a].to_dict() == whole.figures.loc[a].to_dict()
    ws.close()
