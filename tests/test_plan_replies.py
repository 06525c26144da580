"""The planning replies a page relies on (issue 8's review): an edit's re-check of only the
grids it changed (``GET /api/grids/checks?grids=``), undo/redo with nothing to do (400, not a
stale plan) and the depth of the stacks, a rebalance applied all or nothing in one version,
a 409 that names only the grids that made the save stale (who, when, in the workspace's time
zone), the buildings layer's small household counts as the blocks show them, and the
partition proposal's notes in both languages.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gridmap.access.counts import SMALL_TEXT
from gridmap.service import partition_proposal, rebalance
from tests.conftest import client_for
from tests.planning_kit import HAN, assert_coverage, grids, with_versions
from tests.test_write_api import state, ws_of

REBALANCES = json.loads(
    (Path(__file__).with_name("bad_input") / "plan_rebalances.json").read_text(encoding="utf-8")
)
#: The demo grid worker's grids.
OWN = {"320102001001001", "320102001001002"}


def _edit(client, body):
    return client.post("/api/grids/edit", json=with_versions(ws_of(client.application), body))


def _proposal(client):
    """Paint block 63 (103 households) from 4-007 into 4-006, then ask for a rebalance: it
    moves it back (tests/test_rebalance_service.py); and a block already in its grid."""
    ws = ws_of(client.application)
    to = "320102001004006"
    body = {"op": "paint", "to": to, "blocks": [63]}
    stamp = client.get("/api/grids/blocks").get_json()
    body["stamp"] = stamp["stamp"]
    assert _edit(client, body).status_code == 200
    proposal = client.get("/api/grids/rebalance?households=400&tolerance=0.2").get_json()
    assert [(m["block"], m["to"]) for m in proposal["moves"]] == [(63, "320102001004007")]
    # a block wholly inside a grid (not those two) painted into that grid changes nothing
    import shapely
    from shapely.geometry import shape

    now = grids(ws)
    block, code = next(
        (int(f["id"]), f["properties"]["grid_code"])
        for f in stamp["features"]
        if f["properties"]["grid_code"] in now.index
        and f["properties"]["grid_code"] not in (to, "320102001004007")
        and shapely.buffer(now.geometry[f["properties"]["grid_code"]], 1e-6).contains(
            shape(f["geometry"])
        )
    )
    still = {"block": block, "from": code, "to": code}
    return ws, proposal, still


def _key(f):
    return (f["kind"], tuple(f["grids"]), f["value"], json.dumps(f["detail"], sort_keys=True))


def test_nothing_to_undo_is_400_of_its_own_and_the_replies_say_the_depth(papp, planner):
    for which in ("undo", "redo"):
        resp = planner.post(f"/api/grids/{which}", json={})
        assert resp.status_code == 400, resp.get_json()
        error = resp.get_json()["error"]
        assert error["code"] == "nothing_to_undo" and HAN.search(error["message"])
        assert f"nothing of yours to {which}" in error["message"]
    assert planner.get("/api/grids/plan").get_json()["depth"] == {"undo": 0, "redo": 0}
    a, b = "320102001003001", "320102001003002"
    doc = _edit(planner, {"op": "merge", "codes": [a, b]}).get_json()
    assert doc["depth"] == {"undo": 1, "redo": 0}
    doc = planner.post("/api/grids/undo", json={}).get_json()
    assert doc["depth"] == {"undo": 0, "redo": 1}
    assert planner.get("/api/grids/plan").get_json()["depth"] == {"undo": 0, "redo": 1}
    doc = planner.post("/api/grids/redo", json={}).get_json()
    assert doc["depth"] == {"undo": 1, "redo": 0}
    assert planner.post("/api/grids/undo", json={}).status_code == 200  # the demo as it was


def test_a_recheck_of_the_grids_an_edit_changed_finds_what_a_full_check_finds(papp, planner):
    ws = ws_of(papp)
    code = "320102001002002"
    doc = _edit(planner, {"op": "delete", "code": code}).get_json()  # leaves a gap
    assert doc["removed"] == [code]
    full = planner.get("/api/grids/checks").get_json()
    gap = [f for f in full["findings"] if f["kind"] == "gap"]
    assert gap, full["findings"][:3]
    around = sorted({c for f in gap for c in f["grids"]})
    resp = planner.get(f"/api/grids/checks?grids={','.join([code, *around])}")
    assert resp.status_code == 200, resp.get_json()
    part = resp.get_json()
    assert part["grids"] == [code, *around] and len(part["scope"]) == 4
    assert part["kinds"] == full["kinds"]
    asked = {code, *around}
    box = part["scope"]

    def concerns(f):
        if f["grids"]:
            return bool(asked & set(f["grids"]))
        x, y = f["at"]
        return box[0] <= x <= box[2] and box[1] <= y <= box[3]

    assert sorted(map(_key, part["findings"])) == sorted(
        _key(f) for f in full["findings"] if concerns(f)
    )
    assert {r["code"] for r in part["figures"]} == set(around)
    by_code = {r["code"]: r for r in full["figures"]}
    assert all(r == by_code[r["code"]] for r in part["figures"])
    assert planner.post("/api/grids/undo", json={}).status_code == 200
    assert code in grids(ws).index


def test_a_rebalance_is_applied_in_one_version_and_one_undo_takes_it_back(papp, planner):
    ws, proposal, still = _proposal(planner)
    before = grids(ws)
    assert proposal["versions"] and proposal["stamp"]
    # a move whose block is in its grid already changes nothing: skipped, not a stop
    body = {
        "moves": [still, *proposal["moves"]],
        "versions": proposal["versions"],
        "stamp": proposal["stamp"],
    }
    last = int(ws.audit_log(limit=1).fid.max())
    resp = planner.post("/api/grids/rebalance/apply", json=body)
    assert resp.status_code == 200, resp.get_json()
    doc = resp.get_json()
    assert (doc["applied"], doc["moves"]) == (1, 2) and doc["tx"] > last
    log = ws.audit_log(limit=None)
    assert [str(a).split()[1] for a in log[log.fid > last].action] == ["rebalance"]
    after = grids(ws)
    for g in proposal["grids"]:
        assert int(after.households[g["code"]]) == g["after"], g
    assert set(doc["changed"]) == {f["properties"]["code"] for f in doc["grids"]["features"]}
    assert {"320102001004006", "320102001004007"} <= set(doc["changed"])
    assert doc["depth"]["undo"] >= 1
    assert_coverage(ws)
    # stale now: refused, nothing written, and the 409 names the grids that changed
    was = state(ws)
    resp = planner.post("/api/grids/rebalance/apply", json=body)
    assert resp.status_code == 409, resp.get_json()
    named = {g["code"] for g in resp.get_json()["error"]["grids"]}
    assert named and named <= set(doc["changed"])
    assert state(ws) == was
    assert planner.post("/api/grids/undo", json={}).status_code == 200  # the whole rebalance
    undone = grids(ws)
    assert all(int(undone.households[c]) == int(before.households[c]) for c in before.index)
    assert planner.post("/api/grids/undo", json={}).status_code == 200  # the setup's paint


def test_an_applied_rebalance_is_all_or_nothing(papp, planner):
    ws, proposal, still = _proposal(planner)
    versions = dict(proposal["versions"])
    stale = sorted(c for c in versions if c not in ("320102001004006", "320102001004007"))[0]
    versions[stale] += 7  # the second paint's grid "changed since": the first goes too
    was = state(ws)
    moves = [*proposal["moves"], {**still, "to": stale}]
    body = {"moves": moves, "versions": versions, "stamp": proposal["stamp"]}
    resp = planner.post("/api/grids/rebalance/apply", json=body)
    assert resp.status_code == 409, resp.get_json()
    assert [g["code"] for g in resp.get_json()["error"]["grids"]] == [stale]
    assert state(ws) == was
    assert planner.post("/api/grids/undo", json={}).status_code == 200  # the setup's paint


@pytest.mark.parametrize("case", REBALANCES["cases"], ids=[c["case"] for c in REBALANCES["cases"]])
def test_a_bad_rebalance_gets_a_clear_message_and_changes_nothing(papp, case):
    ws = ws_of(papp)
    was = state(ws)
    client = client_for(papp, case.get("role", "planner"))
    body = case["body"]
    if isinstance(body, dict) and body.get("versions") == "<current>":
        now = grids(ws)
        body = {**body, "versions": {c: int(v) for c, v in now.version.items()}}
    resp = client.post("/api/grids/rebalance/apply", json=body)
    assert resp.status_code == case["status"], resp.get_json()
    message = resp.get_json()["error"]["message"]
    assert case["says"].lower() in message.lower(), message
    if case["status"] == 400:
        assert HAN.search(message), message
    assert state(ws) == was


def test_a_stale_edit_names_only_the_grids_that_changed_and_when_in_local_time(papp, planner):
    ws = ws_of(papp)
    a, b = "320102001003001", "320102001003002"
    body = with_versions(ws, {"op": "merge", "codes": [a, b]})
    versions = dict(body["versions"])
    # someone else changes b (its name) meanwhile
    fid = int(ws.read("grids", where={"code": b}).index[0])
    with ws.transaction(user="someone", action="edit grids") as tx:
        tx.update_many("grids", {fid: {"name": "改名"}})
    with ws.transaction(user="admin", action="settings timezone") as tx:
        tx.set_meta("timezone", "Asia/Shanghai")
    resp = planner.post("/api/grids/edit", json={**body, "versions": versions})
    assert resp.status_code == 409, resp.get_json()
    error = resp.get_json()["error"]
    assert [g["code"] for g in error["grids"]] == [b]  # not a, not every grid sent
    (g,) = error["grids"]
    assert g["changed_by"] == "someone" and g["yours"] == versions[b]
    assert g["when"].endswith("CST") and "UTC" not in error["message"]
    assert g["when"][:16] != g["changed_at"][:16].replace("T", " ")  # UTC+8, not UTC
    assert g["when"].split()[1] in error["message"]


def test_building_households_are_masked_as_the_blocks_are_for_a_grid_worker(app):
    worker = client_for(app, "grid_worker")
    doc = worker.get("/api/layers/buildings?limit=5000").get_json()
    rows = [f["properties"] for f in doc["features"]]
    outside = [p for p in rows if p["grid_code"] not in OWN]
    assert any(p["households"] == SMALL_TEXT for p in outside)
    assert all(p["households"] is None or isinstance(p["households"], str) for p in rows)
    assert not any(
        p["households"] not in (None, SMALL_TEXT) and 0 < float(p["households"]) < 5
        for p in outside
    )
    mine = [p for p in rows if p["grid_code"] in OWN]
    assert any(p["households"] not in (None, "0", SMALL_TEXT) for p in mine)
    assert not any(p["households"] == SMALL_TEXT for p in mine)  # their own: exact
    # the OGC API serves the same
    ogc = worker.get("/ogc/collections/buildings/items?limit=5000").get_json()
    assert sorted(str(f["properties"]["households"]) for f in ogc["features"]) == sorted(
        str(p["households"]) for p in rows
    )
    # what is not masked is the stored count; what is, is 1 to 4 (a block's count, the sum
    # of its buildings', cannot be rebuilt from them for this reader)
    admin = client_for(app, "admin").get("/api/layers/buildings?limit=5000").get_json()
    exact = sorted(f["properties"]["households"] or 0 for f in admin["features"])
    small = sum(1 for p in rows if p["households"] == SMALL_TEXT)
    assert len(exact) == len(rows) and 0 < small <= sum(1 for v in exact if 0 < v < 5)
    # a planner (who may count the register) still gets numbers
    planner = client_for(app, "planner").get("/api/layers/buildings?limit=50").get_json()
    assert all(
        isinstance(f["properties"]["households"], (int, type(None))) for f in planner["features"]
    )


def test_proposal_notes_are_in_both_languages():
    class Solved:
        notes = ("2 building(s) lie outside the communities drawn and were left out", "x")
        notes_zh = ("2 栋楼位于所划分的社区之外，未纳入划分", "乙")

    assert partition_proposal._notes(Solved()) == (("x", "乙"),)
    doc = partition_proposal.PartitionProposal(
        "c", 400, 0.2, (300, 500), _empty(), {}, notes=(("a", "甲"),)
    ).to_geojson()
    assert doc["proposal"]["notes"] == [{"en": "a", "zh-CN": "甲"}]
    again = partition_proposal.PartitionProposal.from_geojson(doc)
    assert again.notes == (("a", "甲"),)


def _empty():
    import geopandas as gpd

    return gpd.GeoDataFrame(
        {c: [] for c in partition_proposal.COLUMNS}, geometry=[], crs="EPSG:4326"
    )


def test_rebalance_apply_is_one_transaction_for_the_cli_too(writable_demo):
    from gridmap.access.roles import PLANNER, Access
    from gridmap.service.blocks import blocks_stamp
    from gridmap.service.planning import edit_grids

    who = Access.of("t", PLANNER)
    to = "320102001004006"
    version = int(writable_demo.read("grids", where={"code": [to]})["version"].iloc[0])
    stamp = blocks_stamp(writable_demo)
    op = {"op": "paint", "to": to, "blocks": [63], "versions": {to: version}, "stamp": stamp}
    edit_grids(writable_demo, op, access=who)
    plan = rebalance.propose(writable_demo, target=400, tolerance=0.2)
    assert plan.moves
    last = int(writable_demo.audit_log(limit=1).fid.max())
    done = rebalance.apply(writable_demo, plan, access=who)
    assert len(done) == 1 and plan.applied == done and done[0] > last
