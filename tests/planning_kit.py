"""Helpers of the planning tests (API, CLI and browser): the checks a planner would make of a
plan, and the versions an edit sends.

The fixtures of these tests are in tests/conftest.py (``papp``, ``planner``: an app over a
module's own copy of the demo) and tests/browser/conftest.py (``plan_page``).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import shapely

from gridmap import store
from gridmap.grids.checks import tiling

#: A Chinese character (a message says it in Chinese too).
HAN = re.compile(r"[\u4e00-\u9fff]")
#: The demo's metric CRS (UTM 50N, metres).
METRIC = "EPSG:32650"


def grids(ws: store.Workspace) -> Any:
    """The grids, indexed by code."""
    return ws.read("grids").set_index("code")


def community_grids(ws: store.Workspace, community: str) -> dict[str, tuple[int, int, bytes]]:
    """The grids of ``community``: code → (fid, version, outline as WKB)."""
    g = ws.read("grids")
    g = g[g["community_code"] == community]
    return {
        str(r.code): (int(fid), int(r.version), r.geometry.wkb)
        for fid, r in zip(g.index, g.itertuples(), strict=True)
    }


def assert_coverage(ws: store.Workspace) -> None:
    """The grids tile the communities: no overlap, no gap, edge-matched (GEOS's coverage)."""
    g = ws.read("grids")
    assert shapely.coverage_is_valid(np.asarray(g.geometry.values, dtype=object))
    area = shapely.union_all(ws.read("community").to_crs(METRIC).geometry.values)
    assert tiling(np.asarray(g.to_crs(METRIC).geometry.values, dtype=object), area) == []


def assert_codes_follow(ws: store.Workspace) -> None:
    """Every building's grid_code is the grid holding its inner point; figures are the sums."""
    g = ws.read("grids")
    b = ws.read("buildings")
    inner = shapely.point_on_surface(np.asarray(b.geometry.values, dtype=object))
    tree = shapely.STRtree(np.asarray(g.geometry.values, dtype=object))
    pi, gi = tree.query(inner, predicate="intersects")
    holders: dict[int, set[str]] = {}
    for p, i in zip(pi.tolist(), gi.tolist(), strict=True):
        holders.setdefault(p, set()).add(g["code"].iloc[i])
    for pos, code in enumerate(b["grid_code"].tolist()):
        assert code in holders.get(pos, {None}), (b.index[pos], code, holders.get(pos))
    sums = b.groupby("grid_code")["households"].sum()
    for row in g.itertuples():
        assert int(row.households) == int(sums.get(row.code, 0)), row.code
    hh = ws.read("households")
    by_building = dict(zip(b["osm_id"], b["grid_code"], strict=True))
    assert (hh["grid_code"] == hh["building_osm_id"].map(by_building)).all()


def named(body: dict[str, Any]) -> list[str]:
    """The grids an operation names (whose versions it must send)."""
    if not isinstance(body, dict):
        return []
    out = [body.get("code"), body.get("to"), *(body.get("codes") or [])]
    return [c for c in out if isinstance(c, str) and c != "neighbours"]


def with_versions(ws: store.Workspace, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with the current versions of the grids it names, as the planning page sends."""
    if not isinstance(body, dict):
        return body
    g = grids(ws)
    seen = {c: int(g.version[c]) for c in named(body) if c in g.index}
    return {**body, "versions": {**seen, **body.get("versions", {})}}
