"""Opaque feature ids: a masked reader never sees, sends or is ordered by a stored feature id.

Stored ids count the register in the order it was written (households room by room, visits
household by household), so a masked visit's id named its household within a few ranks. Masked
readers now get a keyed token per feature (gridmap.access.ids), rows in token order, and every
id they send back is a token turned back into the stored id (gridmap.service.feature_ids). The
pieces first, then every route that serves or takes a feature id, as a masked reader and as the
admin (who keeps the stored ids). tests/test_privacy_check.py attacks the order itself.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gridmap import store
from gridmap.access import disclosure, ids
from gridmap.access.roles import Access
from gridmap.errors import InputError
from gridmap.service import feature_ids, layers, rows
from gridmap.service.jobs import Selection, export_file
from tests.conftest import as_served, as_stored, client_for

PLANNER = Access.of("pia", "planner")
ANALYST = Access.of("ann", "analyst")
ADMIN = Access.of("root", "admin")
KEY = bytes(range(32))


def get(client: Any, url: str) -> tuple[int, Any]:
    resp = client.get(url)
    return resp.status_code, json.loads(resp.data) if resp.data else None


# -- the pieces ----------------------------------------------------------------------------------


def test_tokens_are_keyed_per_layer_and_stable():
    first = ids.tokens(KEY, "visits", [1, 2, 3])
    assert first == ids.tokens(KEY, "visits", [1, 2, 3])  # stable
    ids.clear_cache()
    assert first == ids.tokens(KEY, "visits", [3, 2, 1])[::-1]  # made again, the same
    assert all(ids.is_token(t) for t in first) and len(set(first)) == 3
    assert first != ids.tokens(KEY, "households", [1, 2, 3])  # another layer
    assert first != ids.tokens(bytes(32), "visits", [1, 2, 3])  # another workspace's key
    for text in ("1", "ABCDEFGHIJKLMNOP0", first[0].upper(), first[0][:-1], None, 7):
        assert not ids.is_token(text)


def test_token_order_says_nothing_of_the_stored_order():
    fids = np.arange(1, 5001)
    served = ids.tokens(KEY, "visits", fids)
    order = ids.order(served)
    assert [served[i] for i in order] == sorted(served)
    r = disclosure.id_order(fids[order], fids)  # the stored ids in the served order
    assert not r.read_back and abs(r.rho) < 0.05
    # a sort's ties only: groups keep their order, rows within them go by token
    ties = np.repeat([2, 0, 1], [2, 2, 1])
    seven = ids.tokens(KEY, "visits", range(1, 6))
    got = ids.order(seven, ties)
    assert sorted(got[:2]) == [2, 3] and got[2] == 4 and sorted(got[3:]) == [0, 1]
    assert [seven[i] for i in got[3:]] == sorted(seven[:2])


def test_a_workspace_keeps_its_key(tiny_workspace, tmp_path):
    key = tiny_workspace.secret("feature_ids")
    assert len(key) == 32 and tiny_workspace.get_meta("secret:feature_ids") == key.hex()
    again = store.GeoPackageWorkspace(tiny_workspace.path, read_only=True)
    assert again.secret("feature_ids") == key  # the next program (or restart) has the same
    # a read-only copy without a key gets one of its own, and writes nothing
    with store.GeoPackageWorkspace(tiny_workspace.path) as ws, ws.transaction() as tx:
        tx.set_meta("secret:feature_ids", None)
    ro = store.GeoPackageWorkspace(tiny_workspace.path, read_only=True)
    own = ro.secret("feature_ids")
    assert own == ro.secret("feature_ids") != key and ro.get_meta("secret:feature_ids") is None


# -- the service, on the demo ------------------------------------------------------------------


def features(page: Any) -> list[dict[str, Any]]:
    return list(json.loads(page.text)["features"])


def test_a_masked_reader_gets_tokens_in_token_order(demo_workspace):
    ws = demo_workspace
    mine = features(layers.page(ws, "visits", access=PLANNER, limit=300))
    got = [f["id"] for f in mine]
    assert all(ids.is_token(t) for t in got) and got == sorted(got)
    fids = as_stored(ws, "visits", "planner", got)
    assert fids != sorted(fids) and len(set(fids)) == 300
    # the admin keeps the stored ids, in their order
    theirs = [f["id"] for f in features(layers.page(ws, "buildings", access=ADMIN, limit=5))]
    assert theirs == ws.read("buildings", limit=5, columns=()).index.tolist()


def test_the_order_of_a_whole_reply_places_no_visit(demo_workspace):
    """The leak of the review: visits 1-8 belonged to household ranks 8, 11, 14, 15, 18, …"""
    ws = demo_workspace
    served = [f["id"] for f in features(layers.page(ws, "visits", access=ANALYST))]
    fids = as_stored(ws, "visits", "analyst", served)
    visits = ws.read("visits", columns=("household_id", "grid_code"), system=False)
    households = ws.read("households", columns=("household_id",), system=False, geometry=False)
    place = pd.Series(households.index, index=households["household_id"])
    hidden = visits.loc[fids, "household_id"].map(place)
    grid = visits.loc[fids, "grid_code"]
    for order in (served, range(len(served))):  # by id, and by place in the reply
        r = disclosure.id_order(list(order), hidden, grid)
        assert not r.read_back and r.gap > 30, r
    stored_order = disclosure.id_order(visits.index, visits["household_id"].map(place), grid)
    assert stored_order.read_back and stored_order.gap <= 3  # what plain ids gave away


def test_tokens_come_back_as_the_features_they_name(demo_workspace):
    ws = demo_workspace
    page = rows.rows_page(ws, "households", access=PLANNER, limit=20)
    chosen = [r["id"] for r in page.rows[5:9]]
    again = rows.rows_page(ws, "households", access=PLANNER, ids=",".join(chosen))
    assert sorted(r["id"] for r in again.rows) == sorted(chosen) and again.matched == 4
    found = features(layers.page(ws, "households", access=PLANNER, ids=chosen[0]))
    assert [f["id"] for f in found] == chosen[:1]
    values = rows.column_values(ws, "households", "grid_code", access=PLANNER, ids=",".join(chosen))
    assert values.matched == 4
    # a token of no feature selects nothing; a stored id or a word is refused
    nobody = ids.tokens(b"x" * 32, "households", [1])[0]
    assert rows.rows_page(ws, "households", access=PLANNER, ids=nobody).matched == 0
    stored = ",".join(str(f) for f in as_stored(ws, "households", "planner", chosen))
    for bad in (stored, "x", f"{chosen[0]},1"):
        with pytest.raises(InputError, match="not a feature id"):
            rows.rows_page(ws, "households", access=PLANNER, ids=bad)
    # tokens of another layer name nothing here
    other = rows.rows_page(ws, "visits", access=PLANNER, limit=1).rows[0]["id"]
    assert rows.rows_page(ws, "households", access=PLANNER, ids=other).matched == 0


def test_a_sort_breaks_its_ties_by_token(demo_workspace):
    page = rows.rows_page(demo_workspace, "visits", access=ANALYST, sort="grid_code", limit=400)
    grids = [r["grid_code"] for r in page.rows]
    assert grids == sorted(grids)
    first = [r["id"] for r in page.rows if r["grid_code"] == grids[0]]
    assert len(first) > 20 and first == sorted(first)
    fids = as_stored(demo_workspace, "visits", "analyst", first)
    assert fids != sorted(fids)  # not the stored order, which runs household by household
    # paging goes on where the page left off
    more = rows.rows_page(
        demo_workspace, "visits", access=ANALYST, sort="grid_code", limit=100, offset=350
    )
    assert [r["id"] for r in more.rows[:50]] == [r["id"] for r in page.rows[350:]]


def test_an_export_lists_a_masked_reader_s_rows_in_token_order(demo_workspace, tmp_path):
    ws = demo_workspace
    out = export_file(ws, "visits", tmp_path / "v.csv", access=ANALYST, lang="en")
    got = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    stored = ws.read("visits", system=False)
    order = ids.order(ids.tokens(feature_ids.key(ws), "visits", stored.index))
    expected = stored.iloc[order]["worker"].tolist()
    assert [r["worker"] for r in got] == expected != stored["worker"].tolist()
    # the selection of an export takes the tokens the reader was served
    chosen = [r["id"] for r in rows.rows_page(ws, "visits", access=ANALYST, limit=3).rows]
    part = export_file(
        ws, "visits", tmp_path / "p.csv", access=ANALYST, selection=Selection.of(ids=chosen)
    )
    assert len(list(csv.DictReader(io.StringIO(part.read_text(encoding="utf-8-sig"))))) == 3


# -- every route that serves or takes a feature id ----------------------------------------------


def test_routes_speak_tokens_to_masked_readers(client_as, demo_workspace):
    planner, admin = client_as("planner"), client_as("admin")
    status, doc = get(planner, "/api/layers/households?limit=3")
    token = doc["features"][0]["id"]
    (fid,) = as_stored(demo_workspace, "households", "planner", [token])
    assert as_served(demo_workspace, "households", "planner", fid) == token
    # a feature by its id
    status, one = get(planner, f"/api/layers/households/features/{token}")
    assert status == 200 and one["id"] == token and "household_id" not in one["properties"]
    assert get(planner, f"/api/layers/households/features/{fid}")[0] == 404
    status, one = get(admin, f"/api/layers/households/features/{fid}")
    assert status == 200 and one["id"] == fid
    # the table, its values and the map layer take the same tokens
    status, page = get(planner, f"/api/layers/households/rows?ids={token}")
    assert status == 200 and [r["id"] for r in page["rows"]] == [token]
    status, values = get(planner, f"/api/layers/households/values?column=grid_code&ids={token}")
    assert status == 200 and values["numberMatched"] == 1
    assert get(planner, f"/api/layers/households?ids={fid}")[0] == 400
    # OGC API - Features
    status, item = get(planner, f"/ogc/collections/households/items/{token}")
    assert status == 200 and item["id"] == token
    assert get(planner, f"/ogc/collections/households/items/{fid}")[0] == 404


def test_an_export_job_takes_the_tokens_of_a_selection(client_as):
    planner = client_as("planner")
    _, doc = get(planner, "/api/layers/visits/rows?limit=4")
    chosen = [r["id"] for r in doc["rows"]]
    resp = planner.get(
        "/api/layers/visits/export?format=csv&ids=" + ",".join(chosen), buffered=True
    )
    assert resp.status_code == 200
    got = list(csv.DictReader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert len(got) == 4
    job = planner.post(
        "/api/jobs", json={"kind": "export", "layer": "visits", "format": "csv", "ids": chosen}
    )
    assert job.status_code == 202, job.get_json()
    bad = planner.post(
        "/api/jobs", json={"kind": "export", "layer": "visits", "format": "csv", "ids": [1, 2]}
    )
    assert bad.status_code == 400


def test_buildings_are_opaque_to_everyone_but_the_admin(client_as, demo_workspace):
    """The buildings' masked view (no residents) is served to every role but the admin: their
    ids follow the OSM order, and neighbours in it are neighbours on the map, alike in size."""
    planner, worker, admin = client_as("planner"), client_as("grid_worker"), client_as("admin")
    status, hits = get(planner, "/api/search?q=" + "长江路&layers=buildings")
    assert status == 200 and hits["hits"]
    token = hits["hits"][0]["id"]
    assert ids.is_token(token)
    status, reg = get(planner, f"/api/buildings/{token}/register")
    assert status == 200 and reg["building"]["id"] == token and reg["read"] == "totals"
    (fid,) = as_stored(demo_workspace, "buildings", "planner", [token])
    assert get(planner, f"/api/buildings/{fid}/register")[0] == 404
    status, reg = get(admin, f"/api/buildings/{fid}/register")
    assert status == 200 and reg["building"]["id"] == fid
    status, reg = get(worker, f"/api/buildings/{token}/register")  # the same token for them
    assert status == 200 and reg["building"]["id"] == token


def test_a_patrol_lead_edits_an_incident_by_its_token(writable_demo):
    from web.app import create_app

    lead = client_for(create_app({"WORKSPACE": writable_demo, "TESTING": True}), "patrol_lead")
    _, doc = get(lead, "/api/layers/incidents?limit=1")
    token = doc["features"][0]["id"]
    url = f"/api/layers/incidents/features/{token}"
    shown = lead.get(url)
    assert shown.status_code == 200 and shown.get_json()["id"] == token
    changed = lead.patch(
        url,
        json={"id": token, "properties": {"status": "closed"}},
        headers={"If-Match": shown.headers["ETag"]},
    )
    assert changed.status_code == 200, changed.get_json()
    assert (
        changed.get_json()["id"] == token and changed.get_json()["properties"]["status"] == "closed"
    )
    made = lead.post(
        "/api/layers/incidents/features",
        json={
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [118.7846, 32.0487]},
            "properties": {
                "incident_id": "E-TOKEN-1",
                "occurred_at": "2026-11-20T22:10:00+08:00",
                "kind": "dispute",
                "grid_code": "320102001001001",
            },
        },
    )
    assert made.status_code == 201, made.get_json()
    new = made.get_json()["id"]
    assert ids.is_token(new) and made.headers["Location"].endswith(f"/features/{new}")
    gone = lead.delete(f"/api/layers/incidents/features/{new}", headers={"If-Match": '"1"'})
    assert gone.status_code == 204


def test_a_kept_order_follows_the_workspace(writable_demo):
    """The served order of a query is kept for its next pages, but not past a change."""
    ws = writable_demo
    before = rows.rows_page(ws, "incidents", access=PLANNER, limit=5, offset=5)
    assert rows.rows_page(ws, "incidents", access=PLANNER, limit=5, offset=5).rows == before.rows
    one = ws.read("incidents", limit=1, system=False)
    one["incident_id"] = "E-KEPT-1"
    (fid,) = ws.append("incidents", one)
    after = rows.rows_page(ws, "incidents", access=PLANNER, limit=1000)
    assert after.matched == before.matched + 1
    assert as_served(ws, "incidents", "planner", fid) in [r["id"] for r in after.rows]
