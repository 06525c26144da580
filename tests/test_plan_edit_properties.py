"""A property of planning through the service: random edits leave nothing wrong unreported.

tests/test_plan_conservation.py runs the operations of :mod:`gridmap.grids.topology` on a plan
in memory; this test runs the planning page's own path — :func:`gridmap.service.planning.
edit_grids` (and :func:`gridmap.service.plan_history.undo`) on a GeoPackage workspace — with
random sequences of edits: vertices moved inward and outward (shared ones too), a vertex added
mid-edge and pulled either way, splits along lines of any direction through a grid, merges of
neighbours, paints of street blocks and of buildings, deletes that give the ground to the
neighbours or leave a gap, drawn grids, the checks' one-click fixes, and undo. After each step:

- every square metre of each community is in one of its grids or in a gap that
  :func:`gridmap.service.grid_checks.validate` reports (nothing lost in slivers under
  :data:`~gridmap.grids.findings.MIN_AREA_M2`, which it does not report), and the grids are a
  valid coverage (no overlap; any overlap would have to be reported as one);
- each building's ``grid_code`` is the grid holding the inner point of its footprint (up to
  :data:`gridmap.service.relocate.ON_BORDER_DEG`, ~0.5 m, within which a building keeps its
  grid), each household's that of its building (of its point, with no building), and each
  grid's households, residents and buildings are the sums of its buildings';
- an edit that is refused changes nothing.

The workspace (:func:`make_plan_workspace`), two communities of 189 m × 222 m near Nanjing::

    Y+2D +------+------+----+--------+
         |      C      |    |   R    |      K1 = 320102001001: A 001, B 002, C 003
  Y+1.2D |             |  P +--------+      K2 = 320102001002: P 001, Q 002, R 003
    Y+D  +------+------+    |   Q    |      streets: y = Y+D and y = Y+D/2 (in K2),
         |  A   |  B   |    |        |      x = X+1.3D and x = X+3.3D
      Y  +------+------+----+--------+
         X     X+D    X+2D X+2.7D   X+4D

with 16 buildings (three straddle a border) of 31 households, and one household of no building.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
import shapely
import shapely.affinity
from hypothesis import HealthCheck, event, given, settings
from shapely.geometry import LineString, Polygon, box, mapping

from gridmap import store
from gridmap.access.roles import Access
from gridmap.errors import GridmapError
from gridmap.grids.findings import MIN_AREA_M2
from gridmap.schema import STORAGE_PRECISION_DEG
from gridmap.service import blocks, grid_checks, plan_history, planning
from gridmap.service.grids import metric_crs
from gridmap.service.relocate import ON_BORDER_DEG
from tests.test_plan_conservation import TOLERANCE_M2, shapes, unaccounted
from tests.test_topology import D, X, Y
from tests.test_write_api import state

K1, K2 = "320102001001", "320102001002"
ME = Access.of("planner1", "planner")
#: (x, y) of each building's south-west corner in units of D from (X, Y); 0.08 D across.
BUILDINGS = [
    (0.2, 0.2), (0.6, 0.5), (0.96, 0.3), (1.4, 0.2), (1.7, 0.7), (0.3, 1.4), (1.2, 1.6),
    (1.7, 1.3), (0.97, 0.97), (2.3, 0.3), (2.3, 1.5), (2.66, 1.0), (3.0, 0.4), (3.6, 0.8),
    (3.1, 1.5), (3.7, 1.7),
]  # fmt: skip


def _p(fx: float, fy: float) -> tuple[float, float]:
    return (round(X + fx * D, 7), round(Y + fy * D, 7))


def plan_layers() -> dict[str, pd.DataFrame]:
    """Return the layers of the workspace of the module's picture (EPSG:4326)."""
    a = Polygon([_p(0, 0), _p(1, 0), _p(1, 1), _p(0, 1)])
    b = Polygon([_p(1, 0), _p(2, 0), _p(2, 1), _p(1, 1)])
    c = Polygon([_p(0, 1), _p(1, 1), _p(2, 1), _p(2, 2), _p(0, 2)])
    p = Polygon([_p(2, 0), _p(2.7, 0), _p(2.7, 1.2), _p(2.7, 2), _p(2, 2), _p(2, 1)])
    q = Polygon([_p(2.7, 0), _p(4, 0), _p(4, 1.2), _p(2.7, 1.2)])
    r = Polygon([_p(2.7, 1.2), _p(4, 1.2), _p(4, 2), _p(2.7, 2)])
    shapes_ = [a, b, c, p, q, r]
    assert shapely.coverage_is_valid(np.asarray(shapes_, dtype=object))
    codes = [f"{K1}00{i}" for i in (1, 2, 3)] + [f"{K2}00{i}" for i in (1, 2, 3)]
    grids = gpd.GeoDataFrame(
        {
            "code": codes,
            "name": [f"第{i}网格" for i in range(1, 7)],
            "community_code": [K1] * 3 + [K2] * 3,
            "source": ["user"] * 6,
        },
        geometry=[shapely.MultiPolygon([s]) for s in shapes_],
        crs=4326,
    )
    community = gpd.GeoDataFrame(
        {"code": [K1, K2], "name": ["东社区", "西社区"]},
        geometry=[
            shapely.MultiPolygon([shapely.union_all(shapes_[:3], grid_size=STORAGE_PRECISION_DEG)]),
            shapely.MultiPolygon([shapely.union_all(shapes_[3:], grid_size=STORAGE_PRECISION_DEG)]),
        ],
        crs=4326,
    )
    foot = [box(*_p(x, y), *_p(x + 0.08, y + 0.08)) for x, y in BUILDINGS]
    many = [1 + i % 3 for i in range(len(foot))]  # households per building: 1, 2, 3, 1, ...
    buildings = gpd.GeoDataFrame(
        {
            "osm_id": [1000 + i for i in range(len(foot))],
            "building": ["residential"] * len(foot),
            "households": many,
            "residents": [2 * n + 1 for n in many],
            "source": ["osm"] * len(foot),
        },
        geometry=foot,
        crs=4326,
    )
    rows = [(1000 + i, foot[i].centroid) for i, n in enumerate(many) for _ in range(n)]
    rows.append((None, shapely.Point(*_p(0.5, 1.8))))  # a household of no building, in C
    households = gpd.GeoDataFrame(
        {
            "household_id": [f"H{i}" for i in range(len(rows))],
            "building_osm_id": pd.array([r[0] for r in rows], dtype="Int64"),
            "members": [2] * len(rows),
            "source": ["synthetic"] * len(rows),
        },
        geometry=[r[1] for r in rows],
        crs=4326,
    )
    lines = [
        LineString([_p(-0.05, 1), _p(4.05, 1)]),
        LineString([_p(2, 0.5), _p(4.05, 0.5)]),
        LineString([_p(1.3, -0.05), _p(1.3, 2.05)]),
        LineString([_p(3.3, -0.05), _p(3.3, 2.05)]),
    ]
    streets = gpd.GeoDataFrame(
        {
            "u": [1, 3, 5, 7],
            "v": [2, 4, 6, 8],
            "key": [0] * 4,
            "name": ["横街", "南横街", "竖街", "东竖街"],
            "highway": ["residential"] * 4,
            "source": ["osm"] * 4,
        },
        geometry=lines,
        crs=4326,
    )
    return {
        "community": community,
        "grids": grids,
        "buildings": buildings,
        "households": households,
        "streets": streets,
    }


def make_plan_workspace(path: Path) -> Path:
    """Build the workspace of the module's picture at ``path``, its grid codes and figures as
    :func:`gridmap.service.relocate.refigure` computes them."""
    from gridmap.service.relocate import refigure

    with store.building(path) as ws, ws.transaction(action="plan fixture") as tx:
        for name, frame in plan_layers().items():
            tx.replace(name, frame)
        tx.set_meta("title", "plan")
    with store.GeoPackageWorkspace(path) as ws, ws.transaction(action="figures") as tx:
        refigure(tx, metric_crs=metric_crs(ws))
    return path


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_plan_workspace(tmp_path_factory.mktemp("plan") / "plan.gpkg")


# -- the edits, as the planning page sends them ------------------------------------------------


def _json(geom: Any) -> dict[str, Any]:
    return json.loads(json.dumps(mapping(geom)))


def _versions(grids: pd.DataFrame) -> dict[str, int]:
    """The versions of every grid, as the planning page sends those it shows."""
    return dict(zip(grids["code"].astype(str), grids["version"].astype(int), strict=True))


def _moved_vertex(geom: Any, pick: int, t: float, side: float) -> Any:
    """``geom`` with one of its vertices moved ``t`` of the way to the grid's inner point
    (t < 0: away from it) and ``side`` of that distance sideways; every copy of the vertex
    moves (a ring's first and last point, as the page's vertex drag does)."""
    coords = shapely.get_coordinates(geom)
    unique = np.unique(coords, axis=0)
    v = unique[pick % len(unique)]
    inner = shapely.get_coordinates(shapely.point_on_surface(geom))[0]
    towards = inner - v
    new = v + t * towards + side * np.array([-towards[1], towards[0]])
    coords[np.all(coords == v, axis=1)] = np.round(new, 7)
    return shapely.set_coordinates(geom, coords)


def _bulged(geom: Any, pick: int, t: float) -> Any:
    """``geom`` with a vertex added in the middle of one of its outer edges, pulled ``t`` D
    outward (t > 0) or inward along the edge's normal."""
    parts = list(shapely.get_parts(geom))
    k = pick % len(parts)
    ring = list(parts[k].exterior.coords)
    i = (pick // len(parts)) % (len(ring) - 1)
    (x0, y0), (x1, y1) = ring[i], ring[i + 1]
    length = math.hypot(x1 - x0, y1 - y0) or 1.0
    # the exterior runs counter-clockwise (oriented below): outward is to the right
    nx, ny = (y1 - y0) / length, -(x1 - x0) / length
    mid = (round((x0 + x1) / 2 + t * D * nx, 7), round((y0 + y1) / 2 + t * D * ny, 7))
    ring.insert(i + 1, mid)
    parts[k] = Polygon(ring, [list(h.coords) for h in parts[k].interiors])
    return shapely.MultiPolygon(parts)


def _split_line(geom: Any, angle: float, side: float) -> Any:
    """A line through the grid's inner point at ``angle`` (radians), bent ``side`` D there,
    from well outside the grid to well outside it."""
    px, py = shapely.get_coordinates(shapely.point_on_surface(geom))[0]
    dx, dy = math.cos(angle), math.sin(angle)
    far = 5 * D
    return LineString(
        [
            (px - far * dx, py - far * dy),
            (px - side * D * dy, py + side * D * dx),
            (px + far * dx, py + far * dy),
        ]
    )


def _touching(grids: pd.DataFrame, code: str) -> list[str]:
    """The codes of the grids sharing a border (not just a corner) with ``code``."""
    geom = grids.set_index("code").geometry[code]
    out = []
    for other, g in zip(grids["code"], grids.geometry, strict=True):
        if other != code and shapely.intersection(geom.boundary, g.boundary).length > 1e-6:
            out.append(str(other))
    return out


KINDS = (
    "vertex",
    "bulge",
    "split",
    "merge",
    "paint_blocks",
    "paint_buildings",
    "delete",
    "undo",
    "draw",
    "fix",
)


@st.composite
def steps(draw: Any) -> tuple[Any, ...]:
    """One step: its kind and the raw numbers it is made from (read against the plan then)."""
    return (
        draw(st.sampled_from(KINDS)),
        draw(st.integers(0, 10_000)),
        draw(st.integers(0, 10_000)),
        draw(st.floats(0.02, 0.8)) * draw(st.sampled_from((-1, 1))),
        draw(st.floats(-0.3, 0.3)),
        draw(st.floats(0.0, math.pi)),
        draw(st.booleans()),
        draw(shapes()),
    )


def body_of(ws: store.Workspace, step: tuple[Any, ...]) -> dict[str, Any] | str | None:
    """The edit ``step`` asks for on the plan as it is (None: nothing to do; "undo")."""
    kind, pick, pick2, t, side, angle, flag, drawn = step
    if kind == "undo":
        return "undo"
    grids = ws.read("grids").sort_values("code")
    if not len(grids):
        return None
    codes = grids["code"].astype(str).tolist()
    code = codes[pick % len(codes)]
    geom = shapely.orient_polygons(grids.set_index("code").geometry[code])  # exterior CCW
    versions = _versions(grids)
    if kind == "vertex":
        return {
            "op": "reshape",
            "code": code,
            "geometry": _json(_moved_vertex(geom, pick2, t, side)),
        }
    if kind == "bulge":
        return {"op": "reshape", "code": code, "geometry": _json(_bulged(geom, pick2, t))}
    if kind == "split":
        line = _split_line(geom, angle, side)
        return {"op": "split", "code": code, "line": _json(line), "versions": versions}
    if kind == "merge":
        near = _touching(grids, code)
        other = near[pick2 % len(near)] if near else codes[pick2 % len(codes)]
        return {"op": "merge", "codes": [code, other], "versions": versions}
    # paints of ground of the grid's community (ground of another one is refused: tried too)
    community = grids.set_index("code")["community_code"].get(code)
    if kind == "paint_blocks":
        stamp, found = blocks.stamped_blocks(ws)
        ids = found.index[found["community_code"] == community].tolist() if flag else []
        ids = ids or found.index.tolist()
        chosen = {ids[pick2 % len(ids)], ids[(pick2 * 7 + 3) % len(ids)]}
        picked = sorted(chosen)[: 1 + pick2 % 2]
        return {"op": "paint", "blocks": picked, "to": code, "stamp": stamp}
    if kind == "paint_buildings":
        b = ws.read("buildings")
        home = ws.read("community", where={"code": [community]}) if flag else None
        if home is not None and len(home):
            b = b[shapely.intersects(b.geometry.values, home.geometry.iloc[0])]
        fids = b.index.tolist()
        chosen = {int(fids[(pick2 + k * 5) % len(fids)]) for k in range(1 + pick2 % 3)}
        return {"op": "paint", "buildings": sorted(chosen), "to": code}
    if kind == "delete":
        return {"op": "delete", "code": code, **({"to": "neighbours"} if flag else {})}
    if kind == "draw":
        shifted = shapely.affinity.translate(drawn, 2 * D if flag else 0.0, 0.0)
        return {"op": "draw", "geometry": _json(shifted)}
    assert kind == "fix"
    found = grid_checks.validate(ws).findings_json()
    fixes = [(f, x) for f in found for x in f["fixes"] if f["geometry"]]
    if not fixes:
        return None
    finding, fix = fixes[pick2 % len(fixes)]
    # a give takes the finding's ground (the page sends it); a paint names its buildings
    body = {**fix, "geometry": finding["geometry"]} if fix["op"] == "give" else dict(fix)
    return json.loads(json.dumps(body))  # as the page gets it, and sends it


def run(ws: store.Workspace, step: tuple[Any, ...]) -> str:
    """Apply ``step``; return what happened ("done", "refused", "nothing")."""
    body = body_of(ws, step)
    if body is None:
        return "nothing"
    before = state(ws)
    try:
        if body == "undo":
            plan_history.undo(ws, access=ME)
        else:
            assert isinstance(body, dict)
            if "versions" not in body:
                body = {**body, "versions": _versions(ws.read("grids"))}
            planning.edit_grids(ws, body, access=ME)
    except GridmapError as exc:
        assert exc.status < 500, exc.message
        assert state(ws) == before, (step[0], exc.message)  # a refused edit changes nothing
        return "refused"
    return "done"


# -- what must hold after every step -----------------------------------------------------------


def assert_ground_accounted(ws: store.Workspace) -> None:
    """Every m² of each community is in one of its grids or in a reported gap; no overlap."""
    crs = metric_crs(ws)
    plan, _ = planning.read_plan(ws, crs)
    lost, _ = unaccounted(plan)
    assert lost <= TOLERANCE_M2, f"{lost} m² in no grid and in no reported gap"
    geoms = np.asarray(list(plan.grids.values()), dtype=object)
    assert shapely.coverage_is_valid(geoms), "the grids overlap or their borders do not match"
    found = grid_checks.validate(ws).findings
    assert not [f for f in found if f.kind == "overlap"]
    gaps = shapely.union_all([f.geometry for f in found if f.kind == "gap"])
    for code, area in plan.communities.items():
        mine = [g for c, g in plan.grids.items() if plan.community_of.get(c) == code]
        left = shapely.difference(area, shapely.union_all(mine, grid_size=STORAGE_PRECISION_DEG))
        for piece in shapely.get_parts(left):
            metric = gpd.GeoSeries([piece], crs=4326).to_crs(crs).iloc[0]
            if metric.area < MIN_AREA_M2:
                continue  # counted by unaccounted()
            unreported = shapely.difference(metric, gaps).area
            assert unreported <= 0.01 + 1e-6 * metric.area, (code, metric.area, unreported)


def assert_codes_follow(ws: store.Workspace) -> None:
    """Each building names the grid holding its inner point, each household its building's
    grid (its point's, with no building), and the grids' figures are their buildings' sums."""
    grids = ws.read("grids")
    geoms = np.asarray(grids.geometry.values, dtype=object)
    codes = grids["code"].astype(str).to_numpy()
    tree = shapely.STRtree(geoms)

    def allowed(points: np.ndarray) -> list[tuple[set[str], set[str]]]:
        """Per point: the grids holding it, and those within ON_BORDER_DEG (which it may keep)."""
        hi, hg = tree.query(points, predicate="intersects")
        ni, ng = tree.query(points, predicate="dwithin", distance=ON_BORDER_DEG)
        out: list[tuple[set[str], set[str]]] = [(set(), set()) for _ in points]
        for i, g in zip(hi.tolist(), hg.tolist(), strict=True):
            out[i][0].add(codes[g])
        for i, g in zip(ni.tolist(), ng.tolist(), strict=True):
            out[i][1].add(codes[g])
        return out

    def ok(code: Any, holders: set[str], near: set[str]) -> bool:
        if code is None or pd.isna(code):
            return not holders
        return str(code) in near

    b = ws.read("buildings")
    inner = shapely.point_on_surface(np.asarray(b.geometry.values, dtype=object))
    for fid, code, (holders, near) in zip(b.index, b["grid_code"], allowed(inner), strict=True):
        assert ok(code, holders, near), ("building", fid, code, holders)
    hh = ws.read("households")
    of_building = dict(zip(b["osm_id"], b["grid_code"], strict=True))
    points = np.asarray(hh.geometry.values, dtype=object)
    for row, (holders, near) in zip(hh.itertuples(), allowed(points), strict=True):
        if pd.notna(row.building_osm_id):
            want = of_building[row.building_osm_id]
            assert row.grid_code == want or (pd.isna(row.grid_code) and pd.isna(want)), row
        else:
            assert ok(row.grid_code, holders, near), ("household", row.household_id, holders)
    by = b.groupby("grid_code")
    for row in grids.itertuples():
        for column in ("households", "residents"):
            total = int(by[column].sum().get(row.code, 0))
            assert int(getattr(row, column)) == total, (row.code, column)
        assert int(row.buildings) == int(by.size().get(row.code, 0)), row.code


@settings(
    max_examples=35,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(steps(), min_size=1, max_size=8))
def test_random_edits_through_the_service_leave_nothing_unreported(template, edits):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.gpkg"
        shutil.copyfile(template, path)
        with store.GeoPackageWorkspace(path) as ws:
            for step in edits:
                event(f"{step[0]}: {run(ws, step)}")  # --hypothesis-show-statistics
                assert_ground_accounted(ws)
                assert_codes_follow(ws)


def test_the_workspace_starts_clean_and_each_kind_of_edit_goes_through(template):
    """The fixture as drawn, and one edit of each kind that is saved (the property test's
    steps are not all refusals)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.gpkg"
        shutil.copyfile(template, path)
        with store.GeoPackageWorkspace(path) as ws:
            assert_ground_accounted(ws)
            assert_codes_follow(ws)
            g = ws.read("grids").set_index("code")
            assert g.households.sum() == 31 and g.buildings.sum() == 16
            assert [f.kind for f in grid_checks.validate(ws, bounds=(0, 99)).findings] == 3 * [
                "cut_building"
            ]
            square = box(*_p(0.3, 0.3), *_p(0.7, 0.7))
            done = {}
            for kind, step in {
                "vertex": ("vertex", 0, 2, 0.3, 0.0, 0.0, False, square),
                "bulge": ("bulge", 1, 1, 0.2, 0.0, 0.0, False, square),
                "split": ("split", 2, 0, 0.1, 0.0, 0.3, False, square),
                "merge": ("merge", 3, 0, 0.1, 0.0, 0.0, False, square),
                "paint_blocks": ("paint_blocks", 0, 1, 0.1, 0.0, 0.0, True, square),
                "paint_buildings": ("paint_buildings", 1, 2, 0.1, 0.0, 0.0, False, square),
                "delete": ("delete", 2, 0, 0.1, 0.0, 0.0, True, square),
                "undo": ("undo", 0, 0, 0.1, 0.0, 0.0, False, square),
                "draw": ("draw", 0, 0, 0.1, 0.0, 0.0, False, square),
                "delete to a gap": ("delete", 4, 0, 0.1, 0.0, 0.0, False, square),
                "fix": ("fix", 0, 0, 0.1, 0.0, 0.0, False, square),
            }.items():
                done[kind] = run(ws, step)
                assert_ground_accounted(ws)
                assert_codes_follow(ws)
            assert set(done.values()) == {"done"}, done
            assert not [f for f in grid_checks.validate(ws).findings if f.kind == "gap"]
