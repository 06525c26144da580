"""Filters: the store's conditions, the typed `where` syntax, role rules, and /api/layers."""

from __future__ import annotations

import json

import pytest

from gridmap.access.roles import Access
from gridmap.errors import InputError
from gridmap.service import filters
from gridmap.store.conditions import AllOf, Compare, Contains, Missing, NoneOf

ADMIN = Access(user="admin", role="admin")
PLANNER = Access(user="p", role="planner")
WORKER = Access(user="w", role="grid_worker", grids=frozenset({"320102001001001"}))


# -- the store runs every condition -----------------------------------------------------------


def ids(ws, layer, where, **kw):
    return list(ws.read(layer, where=where, **kw).index)


def test_store_conditions_on_tiny_streets(tiny_workspace):
    ws = tiny_workspace
    every = ids(ws, "streets", None)
    assert len(every) == 5
    assert len(ids(ws, "streets", {"length_m": Compare(">", 100.0)})) == 2
    assert len(ids(ws, "streets", {"length_m": Compare("<=", 99.0)})) == 3
    assert len(ids(ws, "streets", {"name": NoneOf(("长江路",))})) == 2
    assert len(ids(ws, "streets", {"name": Contains("条")})) == 2
    assert len(ids(ws, "streets", {"highway": Contains("PRIM")})) == 3  # ASCII case ignored
    assert ids(ws, "streets", {"osmid": Missing(False)}) == []  # the tiny streets have none
    both = AllOf((Compare(">=", 99.0), Compare("<", 150.0)))
    assert len(ids(ws, "streets", {"length_m": both})) == 3
    assert ws.count("streets", where={"length_m": Compare(">", 100.0)}) == 2


def test_contains_takes_percent_and_underscore_literally(tiny_workspace):
    assert ids(tiny_workspace, "streets", {"name": Contains("%")}) == []
    assert ids(tiny_workspace, "streets", {"name": Contains("_")}) == []


def test_store_sorts_with_missing_last_and_id_ties(tiny_workspace):
    ws = tiny_workspace
    frame = ws.read("buildings", order=[("levels", True)])
    assert list(frame["levels"].astype("object").where(frame["levels"].notna(), None)) == [6, None]
    frame = ws.read("streets", order=[("length_m", True)])
    assert list(frame["length_m"]) == [200.0, 200.0, 99.0, 99.0, 99.0]
    assert list(frame.index[:2]) == sorted(frame.index[:2])  # ties by id
    with pytest.raises(InputError, match="sort by"):
        ws.read("streets", order=[("nope", False)])


# -- typed conditions ----------------------------------------------------------------------------


def test_parse_numbers_lists_and_missing():
    assert filters.parse_where("buildings", ["levels>=6"], ADMIN) == {"levels": Compare(">=", 6)}
    assert filters.parse_where("buildings", ["name=一号楼,二号楼"], ADMIN) == {
        "name": ["一号楼", "二号楼"]
    }
    assert filters.parse_where("buildings", ["name="], ADMIN) == {"name": Missing(True)}
    assert filters.parse_where("buildings", ["name!="], ADMIN) == {"name": Missing(False)}
    assert filters.parse_where("buildings", ["name!=a\\,b"], ADMIN) == {"name": NoneOf(("a,b",))}
    assert filters.parse_where("buildings", ["residential=是"], ADMIN) == {"residential": True}
    assert filters.parse_where("buildings", ["levels>2", "levels<9"], ADMIN) == {
        "levels": AllOf((Compare(">", 2), Compare("<", 9)))
    }


@pytest.mark.parametrize(
    "text, message",
    [
        ("levels>=six", "not a number"),
        ("levels=2.5", "whole number"),
        ("residential=maybe", "yes or no"),
        ("nope=1", "no column"),
        ("levels", "not a condition"),
        ("name>a", "compares numbers"),
        ("levels~3", "text columns"),
        ("name~", "give the text"),
        ("levels>", "give a value"),
        ("kind=alien", "not a value"),  # incidents' kinds are a fixed list
        ("levels>=1e30", "too large"),  # SQLite cannot bind it: not a 500
        ("levels=-9223372036854775807", "too large"),
    ],
)
def test_bad_conditions_are_clear(text, message):
    layer = "incidents" if text.startswith("kind") else "buildings"
    with pytest.raises(InputError, match=message):
        filters.parse_where(layer, [text], ADMIN)


def test_datetime_bounds_are_local_days():
    # Asia/Shanghai is UTC+8: the local day 2026-01-31 runs from 2026-01-30T16:00Z
    got = filters.parse_where("incidents", ["occurred_at<=2026-01-31"], ADMIN)
    assert got == {"occurred_at": Compare("<", "2026-01-31T16:00:00.000Z")}
    got = filters.parse_where("incidents", ["occurred_at=2026-01-31"], ADMIN)
    assert got == {
        "occurred_at": AllOf(
            (Compare(">=", "2026-01-30T16:00:00.000Z"), Compare("<", "2026-01-31T16:00:00.000Z"))
        )
    }
    got = filters.parse_where("incidents", ["occurred_at>2026-01-31T08:30"], ADMIN)
    assert got == {"occurred_at": Compare(">", "2026-01-31T00:30:00.000Z")}
    with pytest.raises(InputError, match="before and after"):
        filters.parse_where("incidents", ["occurred_at!=2026-01-31"], ADMIN)


def test_local_times_of_chinas_daylight_saving_years_have_one_meaning():
    # 1988-09-11 01:30 happened twice in Shanghai (UTC+9, then UTC+8): the first is taken
    got = filters.parse_where("incidents", ["occurred_at>=1988-09-11T01:30"], ADMIN)
    assert got == {"occurred_at": Compare(">=", "1988-09-10T16:30:00.000Z")}
    # 1988-04-17 02:30 never happened (02:00 became 03:00): the next time that did
    got = filters.parse_where("incidents", ["occurred_at<1988-04-17T02:30"], ADMIN)
    assert got == {"occurred_at": Compare("<", "1988-04-16T18:00:00.000Z")}
    # a whole day whose midnight never happened (1940-06-01 00:00 became 01:00)
    got = filters.parse_where("incidents", ["occurred_at=1940-06-01"], ADMIN)
    assert got["occurred_at"].parts[0] == Compare(">=", "1940-05-31T16:00:00.000Z")


def test_a_masked_reader_cannot_filter_or_sort_by_what_their_view_leaves_out():
    for text in ("elderly_alone=true", "head_name~王", "members>=1", "address~302室"):
        with pytest.raises(InputError, match="your view leaves it out"):
            filters.parse_where("households", [text], PLANNER)
    with pytest.raises(InputError, match="your view leaves it out"):
        filters.parse_sort("households", "-members", PLANNER)
    assert filters.parse_where("households", ["grid_code=A"], PLANNER) == {"grid_code": "A"}
    # the grid worker and the admin see the register as stored
    assert filters.parse_where("households", ["elderly_alone=true"], WORKER)
    assert filters.parse_sort("households", "-members,household_id", ADMIN) == (
        ("members", True),
        ("household_id", False),
    )


# -- through the API, on the real demo ----------------------------------------------------------------


def get(client, url):
    resp = client.get(url)
    return resp.status_code, json.loads(resp.data)


def test_api_where_grids_and_sort_on_the_demo(client_as, demo_workspace):
    admin = client_as("admin")
    grids = demo_workspace.read("grids", columns=("code",))
    code = sorted(grids["code"])[3]
    status, doc = get(admin, f"/api/layers/buildings?grids={code}&sort=-households&limit=5")
    assert status == 200
    want = demo_workspace.read("buildings", where={"grid_code": code})
    assert doc["numberMatched"] == len(want)
    got = [f["properties"]["households"] for f in doc["features"]]
    assert got == sorted(want["households"].dropna(), reverse=True)[:5]
    status, doc = get(admin, "/api/layers/incidents?where=kind=burglary&where=status!=closed")
    inc = demo_workspace.read("incidents")
    assert doc["numberMatched"] == int(((inc.kind == "burglary") & (inc.status != "closed")).sum())
    # streets have no grid code: chosen by the grid's area
    status, doc = get(admin, f"/api/layers/streets?grids={code}")
    assert status == 200 and 0 < doc["numberMatched"] < demo_workspace.count("streets")


def test_api_filters_refuse_clearly(client_as):
    planner = client_as("planner")
    status, doc = get(planner, "/api/layers/households?where=elderly_alone=true&limit=1")
    assert status == 400 and "leaves it out" in doc["error"]["message"]
    status, doc = get(planner, "/api/layers/grids?grids=NOPE")
    assert status == 400 and "NOPE" in doc["error"]["message"]
    status, doc = get(planner, "/api/layers/grids?where=households>=lots")
    assert status == 400 and "number" in doc["error"]["message"]
    for url in (  # once 500s: numbers SQLite cannot bind
        "/api/layers/grids?where=households>=1e30",
        "/api/layers/grids/rows?where=households=1e30",
        "/api/layers/grids?ids=99999999999999999999999",
    ):
        status, doc = get(planner, url)
        assert status == 400 and "。" in doc["error"]["message"], (url, status)
    status, _ = get(planner, "/api/layers/incidents/rows?where=occurred_at=1940-06-01")
    assert status == 200  # a day whose midnight never happened in Shanghai


def test_a_grid_workers_filter_stays_inside_their_grids(client_as, demo_workspace):
    worker = client_as("grid_worker")
    mine = sorted(demo_workspace.get_user("demo-worker").grids)
    others = sorted(set(demo_workspace.read("grids", columns=("code",))["code"]) - set(mine))
    status, doc = get(worker, f"/api/layers/households?grids={others[0]}&limit=1")
    assert status == 200 and doc["numberMatched"] == 0
    status, doc = get(worker, "/api/layers/households?where=grid_code~0&limit=1")
    hh = demo_workspace.read("households", columns=("grid_code",))
    assert doc["numberMatched"] == int(hh["grid_code"].isin(mine).sum())


def test_api_ids_pick_a_selection(client_as, demo_workspace):
    fids = list(demo_workspace.read("buildings", columns=("osm_id",)).index[[2, 5, 7]])
    status, doc = get(client_as("admin"), f"/api/layers/buildings?ids={','.join(map(str, fids))}")
    assert status == 200 and sorted(f["id"] for f in doc["features"]) == sorted(fids)
    status, doc = get(client_as("admin"), "/api/layers/buildings?ids=1,x")
    assert status == 400 and "feature id" in doc["error"]["message"]
    # a planner gets the buildings masked, with opaque ids: they select by those
    status, doc = get(client_as("planner"), "/api/layers/buildings?limit=8")
    chosen = [f["id"] for f in doc["features"]][2:5]
    status, doc = get(client_as("planner"), f"/api/layers/buildings?ids={','.join(chosen)}")
    assert status == 200 and sorted(f["id"] for f in doc["features"]) == sorted(chosen)
    status, doc = get(client_as("planner"), f"/api/layers/buildings?ids={','.join(map(str, fids))}")
    assert status == 400 and "feature id" in doc["error"]["message"]


# -- what the access log keeps of a filter ---------------------------------------------------


def test_the_log_keeps_columns_and_operators_not_personal_values(tiny_workspace):
    flt = filters.layer_filter(
        tiny_workspace,
        "people",
        ADMIN,
        where=[
            "id_number=32010219500102123X",
            "name~张",
            "phone=13812345678,13912345678",
            "gender=F",
            "hardship=是",
            "relation!=户主",
            "birth_date<1960-01-01",
        ],
    )
    assert flt.describe()["where"] == [
        "id_number=32***************X",
        "name~张*",
        "phone=138****5678,139****5678",
        "gender=F",  # not personal: kept
        "hardship=***",
        "relation!=户主",
        "birth_date<***",
    ]
    # an ID or phone number typed into any column is masked there too
    other = filters.layer_filter(
        tiny_workspace, "households", ADMIN, where=["address~13812345678", "grid_code=X1"]
    )
    assert other.describe()["where"] == ["address~138****5678", "grid_code=X1"]
    # a visit's category names one of the six (困难群众 …): masked as a personal value
    visits = filters.layer_filter(tiny_workspace, "visits", ADMIN, where=["category=hardship"])
    assert visits.describe()["where"] == ["category=***"]


def test_an_admins_filter_on_an_id_number_is_logged_masked(client_as, demo_workspace):
    person = demo_workspace.read("people", limit=1, system=False).iloc[0]
    admin = client_as("admin")
    status, doc = get(admin, f"/api/layers/people/rows?where=id_number={person['id_number']}")
    assert status == 200 and doc["numberMatched"] == 1
    (row,) = admin.get("/api/admin/reads?limit=1").get_json()["reads"]  # the app's own log
    shown = json.dumps(row, ensure_ascii=False)
    assert person["id_number"] not in shown and person["id_number"][:2] + "*" in shown
    assert "id_number=" in shown
