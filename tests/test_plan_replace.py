"""Drawing a community anew where its grids leave a gap, or where one small grid is left.

An accepted proposal and ``gridmap grids auto --replace`` fill the community's ground — its
boundary less what other communities' grids hold — not only the ground its old grids held:
the grids are written as proposed, no building of the community is left in no grid, and the
whole plan stays one valid coverage (:func:`gridmap.grids.topology.replace`). On copies of
the demo (tests/conftest.py builds it from gridmap/build/data/).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely

from gridmap.access.roles import Access
from gridmap.cli import main
from gridmap.service import partition_proposal as pp
from gridmap.service import planning
from gridmap.store import open_workspace
from tests.planning_kit import METRIC, assert_codes_follow, with_versions
from tests.test_write_api import _copy

PLANNER = Access.of("demo-planner", "planner")


def leave_gap(ws, community: str) -> None:
    """Delete the community's fifth grid, its ground left a gap (as the reviewer did)."""
    g = ws.read("grids")
    code = sorted(g.loc[g["community_code"] == community, "code"])[4]
    planning.edit_grids(ws, with_versions(ws, {"op": "delete", "code": code}), access=PLANNER)


def leave_one(ws, community: str) -> None:
    """Delete all the community's grids but its first: gaps all around one small grid."""
    g = ws.read("grids")
    for code in sorted(g.loc[g["community_code"] == community, "code"])[1:]:
        planning.edit_grids(ws, with_versions(ws, {"op": "delete", "code": code}), access=PLANNER)


def assert_community_filled(ws, community: str) -> None:
    """Every building of the community lies in one of its grids; the plan is one coverage."""
    grids = ws.read("grids")
    assert shapely.coverage_is_valid(np.asarray(grids.geometry.values, dtype=object))
    shape = ws.read("community", where={"code": community}).geometry.iloc[0]
    b = ws.read("buildings")
    inner = shapely.point_on_surface(np.asarray(b.geometry.values, dtype=object))
    ours = b[shapely.contains(shape, inner)]
    assert len(ours) > 50
    assert ours["grid_code"].notna().all(), ours[ours["grid_code"].isna()].index.tolist()
    assert ours["grid_code"].str.startswith(community).all()
    mine = grids[grids["community_code"] == community].to_crs(METRIC)
    area = ws.read("community", where={"code": community}).to_crs(METRIC).geometry.iloc[0].area
    assert abs(shapely.union_all(mine.geometry.values).area / area - 1) < 1e-4
    assert_codes_follow(ws)


@pytest.mark.parametrize(
    ("community", "damage"),
    [("320102001001", leave_gap), ("320102001003", leave_one)],
    ids=["gap", "one-small-grid"],
)
def test_an_accepted_proposal_is_written_as_proposed(demo_path, tmp_path, community, damage):
    ws = _copy(demo_path, tmp_path)
    damage(ws, community)
    proposal = pp.propose_partition(ws, community=community, restarts=2)
    done = pp.accept_partition(ws, proposal, access=PLANNER)
    proposed = dict(zip(proposal.grids["code"], proposal.grids["households"], strict=True))
    assert set(done.added) == set(proposed)
    g = ws.read("grids")
    g = g[g["community_code"] == community].set_index("code")
    assert {c: int(h) for c, h in g["households"].items()} == proposed
    assert_community_filled(ws, community)
    ws.close()


@pytest.mark.parametrize(
    ("community", "damage"),
    [("320102001001", leave_gap), ("320102001003", leave_one)],
    ids=["gap", "one-small-grid"],
)
def test_grids_auto_replace_fills_the_community(demo_path, tmp_path, capsys, community, damage):
    ws = _copy(demo_path, tmp_path)
    damage(ws, community)
    path = Path(ws.path)
    ws.close()
    args = ["-q", "grids", "auto", str(path), "--community", community, "--replace"]
    args += ["--restarts", "2"]
    assert main(args) == 0, capsys.readouterr().err
    ws = open_workspace(path)
    assert_community_filled(ws, community)
    ws.close()


def test_new_grids_are_named_after_their_codes(demo_path, tmp_path):
    """A name is never given to another grid, as a code is not: accepted grids, a split's
    new grid and a drawn one are named after their code's sequence number (…012: 第12网格)."""
    ws = _copy(demo_path, tmp_path)
    community = "320102001001"
    name = ws.read("community", where={"code": community})["name"].iloc[0]
    g = ws.read("grids")
    old = set(g.loc[g["community_code"] == community, "name"])
    done = pp.accept_partition(
        ws, pp.propose_partition(ws, community=community, restarts=2), access=PLANNER
    )
    g = ws.read("grids").set_index("code")
    for code in done.added:
        assert g.loc[code, "name"] == f"{name}第{int(code[-3:])}网格"
        assert g.loc[code, "name"] not in old
    code = sorted(done.added)[1]
    x0, _, x1, _ = g.geometry[code].bounds
    y = shapely.point_on_surface(g.geometry[code]).y
    line = {"type": "LineString", "coordinates": [[x0 - 1e-4, y], [x1 + 1e-4, y]]}
    body = {"op": "split", "code": code, "line": line}
    split = planning.edit_grids(ws, with_versions(ws, body), access=PLANNER)
    (new,) = split.added
    assert int(new[-3:]) == max(int(c[-3:]) for c in done.added) + 1
    assert ws.read("grids").set_index("code").loc[new, "name"] == f"{name}第{int(new[-3:])}网格"
    ws.close()
