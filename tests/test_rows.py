"""The attribute table's JSON: /api/layers/<name>/rows and /values (gridmap.service.rows).

Rows are checked against /api/layers' features for the same filter (same ids in the same
order, same values, the bounding box of the same geometry), the masked and own-grid views
against the data policy, paging against the real demo's register (59,377 people). The tiny workspace
(tests/conftest.py) gives cases small enough to check by hand.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pandas as pd
import pytest
import shapely

from gridmap.access import privacy
from gridmap.access.roles import ALL_ROLES, Access
from gridmap.errors import InputError
from gridmap.schema import LAYERS
from gridmap.service import rows as rows_service
from tests.conftest import ROLE_USERS
from web.auth import route_roles

ADMIN = Access(user="admin", role="admin")
PLANNER = Access(user="p", role="planner")


def get(client: Any, url: str) -> tuple[int, dict[str, Any]]:
    resp = client.get(url)
    return resp.status_code, json.loads(resp.data) if resp.data else {}


def rows_of(client: Any, layer: str, query: str = "") -> dict[str, Any]:
    status, doc = get(client, f"/api/layers/{layer}/rows?{query}")
    assert status == 200, doc
    return doc


def features_of(client: Any, layer: str, query: str = "") -> dict[str, Any]:
    status, doc = get(client, f"/api/layers/{layer}?{query}")
    assert status == 200, doc
    return doc


def q(*conditions: str, **params: str | int) -> str:
    parts = [f"where={quote(c)}" for c in conditions]
    parts += [f"{k}={quote(str(v))}" for k, v in params.items()]
    return "&".join(parts)


# -- unit cases on the tiny workspace -------------------------------------------------------


def test_no_layer_has_a_column_named_like_a_row_member():
    for layer in LAYERS.values():
        assert not set(layer.column_names) & set(rows_service.ROW_KEYS), layer.name


def test_a_tiny_page_by_hand(tiny_workspace):
    page = rows_service.rows_page(
        tiny_workspace, "streets", access=ADMIN, sort="-length_m", limit=2
    )
    # two 200 m streets first, ties by id; 5 streets in all
    assert page.matched == 5 and [r["length_m"] for r in page.rows] == [200.0, 200.0]
    assert page.rows[0]["id"] < page.rows[1]["id"]
    first = page.rows[0]
    minx, miny, maxx, maxy = first["bbox"]
    assert minx == maxx and maxy > miny  # 二条巷 runs north
    assert "geometry" not in first and first["name"] == "二条巷"
    # the last page: one row, counted from the page itself
    last = rows_service.rows_page(tiny_workspace, "streets", access=ADMIN, offset=4, limit=2)
    assert last.matched == 5 and len(last.rows) == 1
    beyond = rows_service.rows_page(tiny_workspace, "streets", access=ADMIN, offset=9, limit=2)
    assert beyond.matched == 5 and beyond.rows == []


def test_people_are_boxed_by_their_household(tiny_workspace):
    page = rows_service.rows_page(tiny_workspace, "people", access=ADMIN)
    homes = tiny_workspace.read("households")
    where = dict(zip(homes.household_id, homes.geometry, strict=True))
    for row in page.rows:
        point = where[row["household_id"]]
        assert row["bbox"] == [round(point.x, 7), round(point.y, 7)] * 2
    assert {r["name"] for r in page.rows} == {"王小明", "李华"}
    assert page.rows[0]["birth_date"] == "1950-01-02"


def test_streets_of_a_grid_are_chosen_by_its_area(tiny_workspace):
    page = rows_service.rows_page(
        tiny_workspace, "streets", access=ADMIN, grids="320102001001001", limit=2
    )
    assert page.matched == 5 and len(page.rows) == 2


def test_masked_columns_are_what_the_view_serves():
    docs = {c["name"]: c for c in rows_service.column_documents("households", PLANNER)}
    served = privacy.served_layer("households", PLANNER).column_names
    assert list(docs) == served
    assert docs["address"]["filterable"] is False  # coarsened: served, not filterable
    assert docs["grid_code"]["filterable"] is True
    assert "head_name" not in docs and "members" not in docs
    full = {c["name"]: c for c in rows_service.column_documents("households", ADMIN)}
    assert full["members"]["unit"] == "persons" and full["head_name"]["personal"] is True
    kinds = {c["name"]: c for c in rows_service.column_documents("incidents", ADMIN)}["kind"]
    assert kinds["choices"][0] == "burglary"
    assert kinds["choice_titles"]["burglary"] == {"en": "Burglary", "zh-CN": "入室盗窃"}


def test_values_of_a_tiny_column(tiny_workspace):
    found = rows_service.column_values(tiny_workspace, "streets", "name", access=ADMIN)
    assert found.values == [{"value": "二条巷", "count": 2}, {"value": "长江路", "count": 3}]
    assert found.distinct == 2 and not found.more and found.matched == 5
    capped = rows_service.column_values(tiny_workspace, "streets", "name", access=ADMIN, limit=1)
    assert capped.values == [{"value": "长江路", "count": 3}] and capped.more
    missing = rows_service.column_values(tiny_workspace, "buildings", "levels", access=ADMIN)
    assert missing.values == [{"value": 6, "count": 1}, {"value": None, "count": 1}]
    with pytest.raises(InputError, match="no column"):
        rows_service.column_values(tiny_workspace, "streets", "nope", access=ADMIN)
    with pytest.raises(InputError, match="column="):
        rows_service.column_values(tiny_workspace, "streets", None, access=ADMIN)


# -- rows are the features of /api/layers -------------------------------------------------------


CASES = [
    ("admin", "incidents", q("kind=burglary", "occurred_at>=2026-03-01", sort="-occurred_at")),
    ("patrol_lead", "incidents", q("status=open", sort="kind,-occurred_at", limit=40)),
    ("planner", "households", q(sort="-grid_code", limit=60, offset=300)),
    ("analyst", "visits", q("outcome=met", sort="visited_at", limit=50, offset=1000)),
    ("planner", "buildings", q("households>=20", sort="-households", limit=80)),
    ("admin", "people", q("migrant=true", sort="-birth_date", limit=100, offset=5000)),
    ("grid_worker", "people", q(sort="name", limit=100, offset=200)),
    ("grid_worker", "households", q("members>=3", limit=100)),
    ("admin", "streets", q(sort="-length_m", limit=30)),
]


@pytest.mark.parametrize("role, layer, query", CASES)
def test_rows_are_the_features_of_the_same_filter(client_as, role, layer, query):
    client = client_as(role)
    doc = rows_of(client, layer, query)
    fc = features_of(client, layer, query)
    assert doc["numberMatched"] == fc["numberMatched"] > 0
    assert doc["numberReturned"] == len(doc["rows"]) == len(fc["features"]) > 0
    assert [r["id"] for r in doc["rows"]] == [f["id"] for f in fc["features"]]
    names = [c["name"] for c in doc["columns"]]
    for row, feature in zip(doc["rows"], fc["features"], strict=True):
        values = {k: v for k, v in row.items() if k not in rows_service.ROW_KEYS}
        props = {k: v for k, v in feature["properties"].items() if k != "version"}
        assert values == props
        assert set(values) == set(names)
        geometry = feature["geometry"]
        if geometry is None:
            assert "bbox" not in row or layer == "people"
        else:
            bounds = shapely.geometry.shape(geometry).bounds
            assert row["bbox"] == pytest.approx(list(bounds), abs=1e-7)


def test_the_masked_visits_have_no_place(client_as):
    doc = rows_of(client_as("analyst"), "visits", "limit=5")
    assert all("bbox" not in r for r in doc["rows"])
    assert {r["category"] for r in doc["rows"]} <= {"routine", privacy.MASK}
    status, err = get(client_as("analyst"), "/api/layers/visits/rows?bbox=118.7,32,118.8,32.1")
    assert status == 400 and "bounding box" in err["error"]["message"]


# -- sorting and paging through the people -------------------------------------------------------


def test_rows_sort_both_ways_with_ties_by_id(client_as, demo_workspace):
    admin = client_as("admin")
    up = rows_of(admin, "buildings", "sort=households&limit=1000")["rows"]
    down = rows_of(admin, "buildings", "sort=-households&limit=1000")["rows"]
    stored = demo_workspace.read("buildings", columns=("households",))
    assert len(up) == len(down) == len(stored)
    key = [(r["households"] is None, r["households"] or 0, r["id"]) for r in up]
    assert key == sorted(key)  # missing last, ties by id
    filled = [r["households"] for r in down if r["households"] is not None]
    assert filled == sorted(filled, reverse=True)
    assert filled[0] == int(stored["households"].max())


def test_the_people_page_to_their_last_row(client_as, demo_workspace):
    admin = client_as("admin")
    total = demo_workspace.count("people")
    assert total > 50_000  # the demo's whole register
    last_fid = int(demo_workspace.read("people", columns=("person_id",)).index.max())
    doc = rows_of(admin, "people", f"limit=100&offset={total - 1}")
    assert doc["numberMatched"] == total and [r["id"] for r in doc["rows"]] == [last_fid]
    doc = rows_of(admin, "people", f"limit=100&offset={total - total % 100}")
    assert len(doc["rows"]) == total % 100 and doc["rows"][-1]["id"] == last_fid
    # sorted by name: the last page ends with the last name (then the highest id among them)
    people = demo_workspace.read("people", columns=("name",), system=False)
    ordered = people.reset_index().sort_values(["name", "fid"], kind="stable")
    doc = rows_of(admin, "people", f"sort=name&limit=3&offset={total - 3}")
    assert [r["id"] for r in doc["rows"]] == ordered["fid"].tolist()[-3:]
    doc = rows_of(admin, "people", "sort=-name&limit=3")
    top = people.reset_index().sort_values(["name", "fid"], ascending=[False, True])
    assert [r["id"] for r in doc["rows"]] == top["fid"].tolist()[:3]
    # a page of rows is a page: nothing like the whole layer comes back
    resp = admin.get(f"/api/layers/people/rows?offset={total // 2}")
    assert len(resp.get_json()["rows"]) == rows_service.DEFAULT_LIMIT


def test_rows_follow_the_view(client_as, demo_workspace):
    box = "118.780,32.044,118.786,32.048"
    admin = client_as("admin")
    doc = rows_of(admin, "people", f"bbox={box}&limit=1000")
    homes = demo_workspace.read("households", bbox=(118.780, 32.044, 118.786, 32.048))
    people = demo_workspace.read("people", columns=("household_id",))
    inside = int(people["household_id"].isin(homes["household_id"]).sum())
    assert doc["numberMatched"] == inside > 0
    for row in doc["rows"]:
        minx, miny, _, _ = row["bbox"]
        assert 118.780 <= minx <= 118.786 and 32.044 <= miny <= 32.048


# -- the data policy ------------------------------------------------------------------------------


def test_a_masked_reader_gets_no_hidden_column(client_as):
    planner = client_as("planner")
    doc = rows_of(planner, "households", "limit=200")
    served = set(privacy.served_layer("households", PLANNER).column_names)
    hidden = set(LAYERS["households"].column_names) - served
    assert {"household_id", "head_name", "phone", "members", "rented", "elderly_alone"} <= hidden
    for row in doc["rows"]:
        assert set(row) - set(rows_service.ROW_KEYS) == served
        assert not (set(row) & hidden)
        assert row["address"] is None or not any(m in row["address"] for m in ("室", "单元"))
    assert {c["name"] for c in doc["columns"]} == served
    inc = rows_of(client_as("analyst"), "incidents", "limit=5")
    assert all("description" not in r for r in inc["rows"])


@pytest.mark.parametrize(
    "url",
    [
        "/api/layers/households/rows?where=members>=1",
        "/api/layers/households/rows?where=elderly_alone=true",
        "/api/layers/households/rows?sort=-members",
        "/api/layers/households/rows?where=address~302室",
        "/api/layers/households/values?column=members",
        "/api/layers/households/values?column=address",
        "/api/layers/households/values?column=head_name",
        "/api/layers/incidents/values?column=description",
        "/api/layers/incidents/rows?sort=description",
        "/api/layers/visits/values?column=household_id",
        "/api/layers/visits/values?column=category",
    ],
)
def test_a_masked_reader_cannot_use_a_hidden_column(client_as, url):
    status, doc = get(client_as("planner"), url)
    assert status == 400, doc
    assert "leaves it out" in doc["error"]["message"]


def test_people_are_figures_for_masked_roles(client_as, anon_client):
    for role in ("planner", "patrol_lead", "analyst"):
        for kind in ("rows", "values?column=gender"):
            status, doc = get(client_as(role), f"/api/layers/people/{kind}")
            assert status == 403 and "/api/figures/register" in doc["error"]["message"]
    status, _ = get(anon_client, "/api/layers/people/rows")
    assert status == 401
    status, _ = get(anon_client, "/api/layers/incidents/rows")
    assert status == 401


def test_a_grid_workers_rows_stay_in_their_grids(client_as, demo_workspace):
    worker = client_as("grid_worker")
    mine = sorted(demo_workspace.get_user(ROLE_USERS["grid_worker"]).grids)
    homes = demo_workspace.read("households", columns=("household_id", "grid_code"))
    own = homes[homes.grid_code.isin(mine)]
    doc = rows_of(worker, "households", "limit=1000")
    assert doc["numberMatched"] == len(own) and {r["grid_code"] for r in doc["rows"]} <= set(mine)
    others = sorted(set(demo_workspace.read("grids", columns=("code",))["code"]) - set(mine))
    assert rows_of(worker, "households", f"grids={others[0]}")["numberMatched"] == 0
    assert rows_of(worker, "incidents", f"where=grid_code={others[0]}")["numberMatched"] == 0
    people = rows_of(worker, "people", "limit=1000")
    stored = demo_workspace.read("people", columns=("household_id",))
    assert people["numberMatched"] == int(stored.household_id.isin(own.household_id).sum())
    assert {r["household_id"] for r in people["rows"]} <= set(own.household_id)
    status, values = get(worker, "/api/layers/households/values?column=grid_code")
    assert status == 200 and {v["value"] for v in values["values"]} == set(mine)
    assert sum(v["count"] for v in values["values"]) == len(own)


def test_unmasked_reads_are_in_the_access_log(app, client_as):
    ws = app.extensions["gridmap.workspace"]
    before = len(ws.read_log(limit=None))
    rows_of(client_as("admin"), "people", "limit=7&where=migrant=true")
    rows_of(client_as("planner"), "households", "limit=7")  # masked: not logged
    log = ws.read_log(limit=None)
    assert len(log) == before + 1
    newest = log.iloc[0]
    assert newest["layer"] == "people" and newest["rows"] == 7 and newest["user"] == "admin"
    assert "migrant=true" in json.dumps(newest["filter"], ensure_ascii=False)
    get(client_as("grid_worker"), "/api/layers/people/values?column=gender")
    newest = ws.read_log(limit=1).iloc[0]
    assert newest["layer"] == "people" and newest["role"] == "grid_worker"
    assert "gender" in json.dumps(newest["filter"])


# -- values -----------------------------------------------------------------------------------


def test_values_count_what_the_filter_keeps(client_as, demo_workspace):
    status, doc = get(
        client_as("patrol_lead"), "/api/layers/incidents/values?column=kind&where=status=open"
    )
    assert status == 200
    inc = demo_workspace.read("incidents", columns=("kind", "status"))
    want = inc[inc.status == "open"].kind.value_counts()
    assert {v["value"]: v["count"] for v in doc["values"]} == want.to_dict()
    assert [v["value"] for v in doc["values"]] == sorted(want.index)
    assert doc["numberMatched"] == int(want.sum()) and doc["more"] is False
    status, doc = get(client_as("admin"), "/api/layers/people/values?column=name&limit=10")
    assert status == 200 and len(doc["values"]) == 10 and doc["more"] is True
    names = demo_workspace.read("people", columns=("name",)).name.value_counts()
    assert doc["distinct"] == len(names)
    assert min(v["count"] for v in doc["values"]) >= names.iloc[9]  # the most frequent


# -- validators, bad requests, roles --------------------------------------------------------------


def test_rows_revalidate_with_their_etag(client_as):
    lead = client_as("patrol_lead")  # incidents masked: nothing to record, a 304 may answer
    url = "/api/layers/incidents/rows?where=kind=theft"
    first = lead.get(url)
    etag = first.headers["ETag"]
    assert lead.get(url, headers={"If-None-Match": etag}).status_code == 304
    other = lead.get(url.replace("theft", "dispute"), headers={"If-None-Match": etag})
    assert other.status_code == 200
    assert first.headers["Cache-Control"] == "private, no-store"  # the register
    grids = lead.get("/api/layers/grids/rows")
    assert grids.headers["Cache-Control"] == "private, no-cache"
    assert (
        lead.get(
            "/api/layers/grids/rows", headers={"If-None-Match": grids.headers["ETag"]}
        ).status_code
        == 304
    )
    big = lead.get("/api/layers/households/rows?limit=1000", headers={"Accept-Encoding": "gzip"})
    assert big.headers.get("Content-Encoding") == "gzip"
    again = lead.get(
        "/api/layers/households/rows?limit=1000",
        headers={"Accept-Encoding": "gzip", "If-None-Match": big.headers["ETag"]},
    )
    assert again.status_code == 304
    values = lead.get("/api/layers/incidents/values?column=kind")
    revalidated = lead.get(
        "/api/layers/incidents/values?column=kind",
        headers={"If-None-Match": values.headers["ETag"]},
    )
    assert revalidated.status_code == 304
    # an unmasked read is recorded each time: the record changes the workspace, so its tag
    # changes too, and the read is never answered from the cache without its record
    admin = client_as("admin")
    first = admin.get(url)
    assert admin.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 200


@pytest.mark.parametrize(
    "url, words",
    [
        ("/api/layers/incidents/rows?limit=5000", "limit"),
        ("/api/layers/incidents/rows?limit=x", "whole number"),
        ("/api/layers/incidents/rows?offset=-1", "offset"),
        ("/api/layers/incidents/rows?where=kind=alien", "not a value"),
        ("/api/layers/incidents/rows?where=nonsense", "not a condition"),
        ("/api/layers/incidents/rows?where=occurred_at>=someday", "not a date"),
        ("/api/layers/incidents/rows?sort=nope", "no column"),
        ("/api/layers/incidents/rows?bbox=1,2", "bbox"),
        ("/api/layers/incidents/rows?ids=1,x", "feature id"),
        ("/api/layers/incidents/rows?grids=NOPE", "NOPE"),
        ("/api/layers/incidents/values", "column"),
        ("/api/layers/incidents/values?column=kind&limit=0", "limit"),
        ("/api/layers/incidents/values?column=nope", "no column"),
        ("/api/layers/incidents/values?column=kind&where=kind>3", "compares numbers"),
    ],
)
def test_bad_requests_are_clear(client_as, url, words):
    status, doc = get(client_as("admin"), url)
    assert status == 400, doc
    assert words in doc["error"]["message"]


def test_unknown_layer_is_404(client_as):
    assert get(client_as("admin"), "/api/layers/nope/rows")[0] == 404
    assert get(client_as("admin"), "/api/layers/nope/values?column=x")[0] == 404


def test_the_routes_rules(app):
    assert route_roles(app, "table.rows") == frozenset(ALL_ROLES)
    assert route_roles(app, "table.values") == frozenset(ALL_ROLES)
    doc = app.test_client().get("/api/openapi.json").get_json()
    for path in ("/api/layers/{name}/rows", "/api/layers/{name}/values"):
        op = doc["paths"][path]["get"]
        names = {p["name"] for p in op["parameters"]}
        assert {"name", "where", "grids", "ids", "bbox"} <= names
    assert "sort" in {
        p["name"] for p in doc["paths"]["/api/layers/{name}/rows"]["get"]["parameters"]
    }


def test_ids_pick_a_selection(client_as, demo_workspace):
    fids = [int(i) for i in demo_workspace.read("incidents", columns=("kind",)).index[[3, 9, 27]]]
    doc = rows_of(client_as("admin"), "incidents", "ids=" + ",".join(map(str, fids)))
    assert [r["id"] for r in doc["rows"]] == sorted(fids) and doc["numberMatched"] == 3
    # a patrol lead reads incidents masked: they select by the ids they were served
    lead = client_as("patrol_lead")
    served = [r["id"] for r in rows_of(lead, "incidents", "limit=30")["rows"]]
    chosen = [served[3], served[9], served[27]]
    doc = rows_of(lead, "incidents", "ids=" + ",".join(chosen))
    assert sorted(r["id"] for r in doc["rows"]) == sorted(chosen) and doc["numberMatched"] == 3
    status, _ = get(lead, "/api/layers/incidents/rows?ids=" + ",".join(map(str, fids)))
    assert status == 400  # a stored id names nothing for them


def test_rows_of_a_public_layer_for_nobody(anon_client):
    status, doc = get(anon_client, "/api/layers/grids/rows")
    assert status == 401  # no layer is public by default
    assert doc["error"]["code"]


def test_value_types_match_the_columns(client_as):
    doc = rows_of(client_as("admin"), "incidents", "limit=3")
    row = doc["rows"][0]
    stamp = pd.Timestamp(row["occurred_at"])
    assert stamp.utcoffset() is not None and stamp.utcoffset().total_seconds() == 8 * 3600
    people = rows_of(client_as("admin"), "people", "limit=3")["rows"]
    assert isinstance(people[0]["migrant"], bool) and len(people[0]["birth_date"]) == 10
