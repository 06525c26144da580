"""A building's register (楼栋户室): the address parser, who sees what, and the demo's towers.

The parser cases are the strings a street office's register holds; the role rules run on the
hand-made workspace of tests/test_search.py (one building, households H1 of grid A and H2 of
grid B); the HTTP tests take the demo building with the most households (found through the
API: how many households buildings get is the demo generator's business).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gridmap.access.roles import Access
from gridmap.errors import AuthenticationError, FeatureNotFoundError, InputError
from gridmap.io.address import RoomAddress, chinese_number, parse_room
from gridmap.service.register import building_register
from tests.conftest import ROLE_USERS
from tests.test_search import GRID_A, make_find_workspace

# -- the parser --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "building", "unit", "floor", "room"),
    [
        ("凯润金城6栋1单元302室", "6", "1", 3, "302"),
        ("长江路23号1单元1502室", None, "1", 15, "1502"),  # floor 15: all but two digits
        ("3-2-301", "3", "2", 3, "301"),
        ("2-301", None, "2", 3, "301"),
        ("2单元1层", None, "2", 1, None),
        ("301室", None, None, 3, "301"),
        ("3号楼2单元5层502室", "3", "2", 5, "502"),  # an explicit floor wins
        ("６栋１单元１０１", "6", "1", 1, "101"),  # full width, no 室
        ("二单元三楼", None, "2", 3, None),
        ("第十二层1203室", None, None, 12, "1203"),
        ("负1层", None, None, -1, None),
        ("地下2层", None, None, -2, None),
        ("Room 302, Unit 2, Block 3", "3", "2", 3, "302"),
        ("Flat 5, 3rd floor", None, None, 3, "5"),
        ("1单元5室", None, "1", None, "5"),  # a two-digit door names no floor
        ("长江路23-1号", None, None, None, None),  # a house number, not building-unit
        ("凯润金城6栋", "6", None, None, None),
        ("", None, None, None, None),
        (None, None, None, None, None),
    ],
)
def test_parse_room(text: Any, building: Any, unit: Any, floor: Any, room: Any) -> None:
    assert parse_room(text) == RoomAddress(building, unit, floor, room)


def test_missing_values_and_nonsense() -> None:
    assert parse_room(float("nan")) == RoomAddress()
    assert parse_room(302) == RoomAddress()  # not text
    assert parse_room("鼓楼区中山路") == RoomAddress()  # 楼 of a place name is no floor
    assert parse_room("   ") == RoomAddress()


@pytest.mark.parametrize(
    ("text", "value"), [("三", 3), ("十", 10), ("十二", 12), ("二十", 20), ("九十九", 99)]
)
def test_chinese_numbers(text: str, value: int) -> None:
    assert chinese_number(text) == value


@pytest.mark.parametrize("text", ["", "百", "十十", "三三", "一十二十", "x"])
def test_not_chinese_numbers(text: str) -> None:
    assert chinese_number(text) is None


# -- who sees what (hand-made) -----------------------------------------------------------------


@pytest.fixture
def ws(tmp_path: Path):
    workspace = make_find_workspace(tmp_path / "register.gpkg")
    yield workspace
    workspace.close()


def _building(ws: Any) -> int:
    return int(ws.read("buildings", where={"osm_id": 101}).index[0])


def test_admin_gets_units_floors_rooms_and_people(ws) -> None:
    doc = building_register(ws, _building(ws), access=Access.of("root", "admin"))
    assert doc["read"] == "full"
    assert doc["totals"] == {"households": 2, "residents": 2, "units": 2, "floors": 2}
    assert [
        (u["unit"], u["households"], [f["floor"] for f in u["floors"]]) for u in doc["units"]
    ] == [
        ("1", 1, [3]),
        ("2", 1, [1]),
    ]
    first, second = doc["households"]
    assert (first["household_id"], first["unit"], first["floor"], first["room"]) == (
        "H1",
        "1",
        3,
        "302",
    )
    assert first["head_name"] == "王小明"
    assert [p["name"] for p in first["people"]] == ["王小明"]
    assert second["room"] == "101" and [p["person_id"] for p in second["people"]] == ["P2"]
    log = ws.read_log()
    assert set(log["layer"]) == {"households", "people"} and set(log["action"]) == {"read"}


def test_a_grid_worker_gets_their_grids_households_only(ws) -> None:
    doc = building_register(ws, _building(ws), access=Access.of("wang", "grid_worker", [GRID_A]))
    assert doc["read"] == "own"
    assert [h["household_id"] for h in doc["households"]] == ["H1"]
    assert doc["totals"]["households"] == 1 and doc["units"][0]["unit"] == "1"
    # a worker of another grid, in a building whose households are not theirs
    other = building_register(ws, _building(ws), access=Access.of("zhao", "grid_worker", ["X"]))
    assert (other["read"], other["reason"], other["households"]) == ("totals", "other_grid", [])


def test_masked_readers_get_the_buildings_totals_only(ws) -> None:
    for role in ("planner", "patrol_lead", "analyst"):
        doc = building_register(ws, _building(ws), access=Access.of("x", role))
        assert (doc["read"], doc["reason"]) == ("totals", "masked")
        assert doc["households"] == [] and doc["units"] == []
        assert doc["totals"] == {"households": 24, "residents": None, "units": None, "floors": None}
        assert "residents" not in doc["building"]  # the masked buildings view leaves it out


def test_nobody_signed_in(ws) -> None:
    with pytest.raises(AuthenticationError):
        building_register(ws, _building(ws), access=Access.anonymous())
    doc = building_register(ws, _building(ws), access=Access.anonymous(["buildings"]))
    assert (doc["read"], doc["reason"]) == ("totals", "no_register")


def test_paging_and_bad_requests(ws) -> None:
    admin = Access.of("root", "admin")
    one = building_register(ws, _building(ws), access=admin, limit=1)
    assert (one["numberReturned"], one["numberMatched"], one["next"]) == (1, 2, 1)
    two = building_register(ws, _building(ws), access=admin, offset=1, limit=1)
    assert [h["household_id"] for h in two["households"]] == ["H2"] and two["next"] is None
    assert two["units"] == one["units"]  # the counts cover the whole building
    with pytest.raises(FeatureNotFoundError):
        building_register(ws, 999, access=admin)
    for bad in ({"limit": 0}, {"limit": 1001}, {"offset": -1}):
        with pytest.raises(InputError):
            building_register(ws, _building(ws), access=admin, **bad)


# -- over HTTP, on the demo --------------------------------------------------------------------


def _biggest(client: Any, where: str = "") -> dict[str, Any]:
    """The building with the most households (among those of ``where``: a grid's)."""
    features = client.get("/api/layers/buildings").get_json()["features"]
    if where:
        features = [f for f in features if f["properties"]["grid_code"] in where.split(",")]
    return max(features, key=lambda f: _count(f["properties"]["households"]))


def _count(served: Any) -> int:
    """A served household count as a number: a grid worker is served them as text, with
    ``<5`` for small ones outside their grids (counted as 0 here)."""
    return int(served) if str(served).isdigit() else int(served or 0) if served != "<5" else 0


def _all_pages(client: Any, fid: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    first = client.get(f"/api/buildings/{fid}/register").get_json()
    rows, page = list(first["households"]), first
    while page["next"] is not None:
        page = client.get(f"/api/buildings/{fid}/register?offset={page['next']}").get_json()
        rows += page["households"]
    return first, rows


def test_the_biggest_building_lists_every_household_for_the_admin(
    client_as, demo_workspace
) -> None:
    admin = client_as("admin")
    building = _biggest(admin)
    fid, expected = building["id"], building["properties"]["households"]
    assert expected > 100
    first, rows = _all_pages(admin, fid)
    assert first["read"] == "full" and first["numberMatched"] == expected == len(rows)
    assert len({r["household_id"] for r in rows}) == expected
    stored = demo_workspace.read(
        "households", where={"building_osm_id": building["properties"]["osm_id"]}
    )
    assert {r["household_id"] for r in rows} == set(stored["household_id"])
    assert sum(u["households"] for u in first["units"]) == expected
    assert all(sum(f["households"] for f in u["floors"]) == u["households"] for u in first["units"])
    people = sum(len(r["people"]) for r in rows)
    assert people == first["totals"]["residents"] == building["properties"]["residents"]
    # every room parsed, in unit, floor, room order
    assert all(r["unit"] and r["floor"] and r["room"] for r in rows)
    keys = [(int(r["unit"]), r["floor"], int(r["room"])) for r in rows]
    assert keys == sorted(keys)


def test_the_biggest_building_as_a_planner_is_its_total(client_as) -> None:
    planner = client_as("planner")
    building = _biggest(planner)
    resp = planner.get(f"/api/buildings/{building['id']}/register")
    doc = resp.get_json()
    assert (doc["read"], doc["reason"], doc["households"], doc["units"]) == (
        "totals",
        "masked",
        [],
        [],
    )
    assert doc["totals"]["households"] == building["properties"]["households"]
    assert doc["totals"]["residents"] is None
    assert "private" not in (resp.headers.get("Cache-Control") or "")
    text = resp.get_data(as_text=True)
    assert "单元" not in text and "head_name" not in text


def test_a_grid_worker_lists_their_grids_biggest_building(client_as, demo_workspace) -> None:
    worker = demo_workspace.get_user(ROLE_USERS["grid_worker"])
    assert worker is not None
    client = client_as("grid_worker")
    building = _biggest(client, ",".join(worker.grids))
    resp = client.get(f"/api/buildings/{building['id']}/register?limit=1000")
    doc = resp.get_json()
    assert doc["read"] == "own" and resp.headers["Cache-Control"] == "private, no-store"
    assert doc["numberMatched"] == _count(building["properties"]["households"])
    assert doc["numberMatched"] == len(doc["households"])
    assert {h["grid_code"] for h in doc["households"]} <= set(worker.grids)
    codes = demo_workspace.read("grids", columns=["code"])["code"]
    elsewhere = _biggest(client, ",".join(c for c in codes if c not in worker.grids))
    other = client.get(f"/api/buildings/{elsewhere['id']}/register").get_json()
    assert (other["read"], other["reason"], other["households"]) == ("totals", "other_grid", [])
    assert _count(other["totals"]["households"]) == _count(elsewhere["properties"]["households"])


def test_register_refusals(client_as, anon_client) -> None:
    assert anon_client.get("/api/buildings/1/register").status_code == 401
    admin = client_as("admin")
    assert admin.get("/api/buildings/999999/register").status_code == 404
    # found by schemathesis: an id beyond SQLite's integers was a server error
    assert admin.get(f"/api/buildings/{2**63}/register").status_code == 404
    assert admin.get("/api/buildings/0/register").status_code == 404
    for query in ("limit=0", "limit=1001", "offset=-1", "limit=x"):
        resp = admin.get(f"/api/buildings/1/register?{query}")
        assert resp.status_code == 400, query
