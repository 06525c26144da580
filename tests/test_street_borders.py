"""Borders beside a street (gridmap.grids.street_borders) on hand-made squares, metres.

Grid A is the square 0–100 × 0–100, grid B the square east of it (100–200); streets are
north–south lines through both, from y = -10 to 110.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, box

from gridmap.grids import topology
from gridmap.grids.plan import Plan
from gridmap.grids.street_borders import off_street


def two_grids(east_community: str = "c1") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": ["A", "B"], "community_code": ["c1", east_community]},
        geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100)],
        crs=32650,
    )


def street(x: float, y0: float = -10, y1: float = 110) -> np.ndarray:
    return np.asarray([LineString([(x, y0), (x, y1)])], dtype=object)


def test_a_border_8_m_beside_a_street_gives_the_strip_to_the_other_side():
    (found,) = off_street(two_grids(), street(108))
    assert found.kind == "off_street" and found.grids == ("B", "A")
    assert found.value == pytest.approx(800)  # B's strip 100–108 × 0–100
    assert shapely.equals(found.geometry, box(100, 0, 108, 100))
    assert found.fixes == ({"op": "give", "to": "A"},)
    assert found.detail["width_m"] == pytest.approx(8)
    assert "8 m" in found.message_en and "8 米" in found.message_zh


def test_the_strip_on_the_other_side_goes_the_other_way():
    (found,) = off_street(two_grids(), street(95))
    assert found.grids == ("A", "B") and found.value == pytest.approx(500)


def test_after_the_fix_the_border_is_on_the_street_and_nothing_is_found():
    grids = two_grids()
    grids.loc[0, "geometry"] = box(0, 0, 108, 100)
    grids.loc[1, "geometry"] = box(108, 0, 200, 100)
    assert off_street(grids, street(108)) == []


@pytest.mark.parametrize(
    "lines",
    [
        street(100),  # on the border
        street(100.5),  # within a metre of it: on it
        street(130),  # 30 m off: another street, not the border's
        street(108, y1=50),  # a dead end does not cut the strip off
        np.zeros(0, dtype=object),  # no streets
    ],
    ids=["on", "within-1m", "far", "dead-end", "none"],
)
def test_no_finding_where_the_border_is_where_it_should_be(lines):
    assert off_street(two_grids(), lines) == []


def test_grids_of_two_communities_are_not_compared():
    assert off_street(two_grids(east_community="c2"), street(108)) == []


def test_a_strip_wider_than_the_limit_is_not_a_strip():
    assert off_street(two_grids(), street(115), near_m=12) == []
    assert len(off_street(two_grids(), street(115), near_m=20)) == 1


def test_only_reports_the_grids_asked_for():
    assert off_street(two_grids(), street(108), only={"C"}) == []
    assert len(off_street(two_grids(), street(108), only={"A"})) == 1


def test_the_fix_as_a_planning_give_moves_the_border_onto_the_street():
    grids = two_grids()
    (found,) = off_street(grids, street(108))
    plan = Plan(
        {r.code: r.geometry for r in grids.itertuples()},
        {"A": "c1", "B": "c1"},
        {"c1": box(0, 0, 200, 100)},
        metric_crs=32650,
        crs=32650,
        grid_size=0.001,
    )
    edit = topology.give(plan, found.geometry, found.fixes[0]["to"])
    after = {**plan.grids, **edit.changed}
    assert shapely.area(after["A"]) == pytest.approx(10_800)
    moved = gpd.GeoDataFrame(
        {"code": ["A", "B"], "community_code": ["c1", "c1"]},
        geometry=[after["A"], after["B"]],
        crs=32650,
    )
    assert off_street(moved, street(108)) == []


def test_on_the_demo_a_border_pushed_off_its_street_is_found_and_fixed(writable_demo):
    """A border on a street moved 8 m off it by a planning give is found, and its one-click
    fix (a give of the strip back) puts it on the street again."""
    import json

    from gridmap.access.roles import Access
    from gridmap.service import grid_checks, planning
    from gridmap.service.metric import metric_crs

    ws = writable_demo
    assert not [f for f in grid_checks.validate(ws).findings if f.kind == "off_street"]
    crs = metric_crs(ws)
    grids = ws.read("grids").to_crs(crs).set_index("code")
    lines = grid_checks._street_lines(ws, crs, None)
    on = shapely.buffer(shapely.union_all(lines), 0.5)
    a = b = None
    for x, y in [(x, y) for x in grids.index for y in grids.index if x < y]:
        if grids.at[x, "community_code"] != grids.at[y, "community_code"]:
            continue
        gx, gy = grids.at[x, "geometry"], grids.at[y, "geometry"]
        shared = shapely.intersection(gx.boundary, gy.boundary)
        if shapely.length(shapely.intersection(shared, on)) > 120:
            a, b = x, y
            break
    assert a, "no two grids of the demo share 120 m of a street"
    shared = shapely.intersection(
        grids.at[a, "geometry"].boundary, grids.at[b, "geometry"].boundary
    )
    strip = shapely.intersection(
        shapely.buffer(shapely.intersection(shared, on), 8, cap_style="flat"),
        grids.at[a, "geometry"],
    )
    to_wgs = gpd.GeoSeries([strip], crs=crs).to_crs(4326).values[0]
    planner = Access(user="demo-planner", role="planner")
    version = {b: int(ws.read("grids", where={"code": b})["version"].iloc[0])}
    planning.edit_grids(
        ws,
        {
            "op": "give",
            "to": b,
            "geometry": json.loads(shapely.to_geojson(to_wgs)),
            "versions": version,
        },
        access=planner,
    )
    found = [f for f in grid_checks.validate(ws).findings if f.kind == "off_street"]
    mine = [f for f in found if set(f.grids) == {a, b}]
    assert mine, found
    assert mine[0].grids == (b, a) and mine[0].fixes == ({"op": "give", "to": a},)
    assert 5 <= mine[0].detail["width_m"] <= 9
    # the page's one-click fix: the finding's geometry given to the grid it names
    doc = next(
        d
        for d in grid_checks.validate(ws).findings_json()
        if d["kind"] == "off_street" and set(d["grids"]) == {a, b}
    )
    version = {a: int(ws.read("grids", where={"code": a})["version"].iloc[0])}
    planning.edit_grids(
        ws,
        {
            **doc["fixes"][0],
            "geometry": json.loads(json.dumps(doc["geometry"])),
            "versions": version,
        },
        access=planner,
    )
    after = grid_checks.validate(ws).findings
    assert not [f for f in after if f.kind == "off_street" and set(f.grids) == {a, b}]
    assert not [f for f in after if f.kind in ("gap", "overlap")]
