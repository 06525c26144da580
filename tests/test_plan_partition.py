"""The automatic partition as a proposal (``/api/grids/partition``) on a copy of the real demo.

A proposal is a job that writes nothing; accepting it replaces one community's grids in one
planning transaction (codes in reading order, grid codes of every layer and figures
recomputed, lineage recorded) that one undo takes back; a proposal made before a grid of the
community changed is refused (409); only planners and the admin propose and accept.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gridmap.grids.partition import reading_order
from tests.bilingual import says_en, says_zh
from tests.planning_kit import METRIC, assert_codes_follow, assert_coverage, community_grids
from tests.test_write_api import client_of, state, ws_of

COMMUNITY = "320102001003"
CORPUS = json.loads(
    (Path(__file__).parent / "bad_input" / "partition_requests.json").read_text(encoding="utf-8")
)


def propose(app: Any, client: Any, **body: Any) -> dict[str, Any]:
    """Start a proposal, wait for its job, return its result (the proposal as GeoJSON)."""
    from web.jobs import runner_of

    resp = client.post("/api/grids/partition", json={"community": COMMUNITY, **body})
    assert resp.status_code == 202, resp.get_json()
    job = resp.get_json()
    assert job["kind"] == "partition" and resp.headers["Location"] == job["url"]
    assert job["community"] == COMMUNITY
    runner = runner_of(app)
    owner = next(j.owner for j in runner._jobs.values() if j.id == job["id"])
    assert runner.wait(runner.get(owner, job["id"]), 120)
    polled = client.get(job["url"]).get_json()
    assert polled["state"] == "done", polled
    assert polled["progress"] == 1.0 and polled["result"]
    result = client.get(polled["result"])
    assert result.status_code == 200 and result.mimetype == "application/geo+json"
    doc = json.loads(result.data)
    result.close()  # a file sent from the job's folder
    doc["job"] = job["id"]
    return doc


def test_a_proposal_is_a_job_that_writes_nothing(papp, planner):
    ws = ws_of(papp)
    before, was = community_grids(ws, COMMUNITY), state(ws)
    doc = propose(papp, planner, households=400, tolerance=0.2)
    assert state(ws) == was and community_grids(ws, COMMUNITY) == before  # nothing written
    about = doc["proposal"]
    assert about["community"] == COMMUNITY and about["bounds"] == [320.0, 480.0]
    assert about["versions"] == {c: v for c, (_, v, _) in before.items()}
    figures = about["figures"]
    features = doc["features"]
    assert figures["grids"] == len(features) > 1
    households = [f["properties"]["households"] for f in features]
    assert figures["in_range"] == sum(320 <= h <= 480 for h in households)
    assert figures["max_deviation"] == max(abs(h - 400) for h in households)
    assert figures["current"]["grids"] == len(before)
    # numbered west to east, north to south, in the workspace's (db11) form, after every code
    # the community ever had (no code reused: visits and incidents keep theirs)
    codes = [f["properties"]["code"] for f in features]
    from gridmap.service.planning import codes_ever

    had = {c for c in (*before, *codes_ever(ws)) if c.startswith(COMMUNITY)}
    first = max(int(c[-3:]) for c in had) + 1
    assert codes == [f"{COMMUNITY}{n:03d}" for n in range(first, first + len(codes))]
    import geopandas as gpd

    frame = gpd.GeoDataFrame.from_features(features, crs="EPSG:4326").to_crs(METRIC)
    assert reading_order(list(frame.geometry.values)) == list(range(len(codes)))
    # the buildings of the community are all in one proposed grid, households add up
    b = ws.read("buildings")
    b = b[b["grid_code"].astype(str).str.startswith(COMMUNITY)]
    assert sum(households) == int(b["households"].sum())


def test_accepting_writes_one_undoable_planning_edit(papp, planner):
    ws = ws_of(papp)
    before = community_grids(ws, COMMUNITY)
    others = {
        c: v
        for c, v in ((str(r.code), int(r.version)) for r in ws.read("grids").itertuples())
        if c not in before
    }
    others_area = ws.read("grids").to_crs(METRIC).set_index("code").geometry.area.to_dict()
    doc = propose(papp, planner, households=380, tolerance=0.15)
    log = ws.audit_log(limit=None)
    resp = planner.post("/api/grids/partition/accept", json={"job": doc["job"]})
    assert resp.status_code == 200, resp.get_json()
    reply = resp.get_json()
    after = community_grids(ws, COMMUNITY)
    proposed = {f["properties"]["code"]: f["properties"] for f in doc["features"]}
    assert set(after) == set(proposed)
    saved = {*reply["changed"], *reply["added"]}
    assert saved >= set(proposed)
    assert {f["properties"]["code"] for f in reply["grids"]["features"]} == saved
    g = ws.read("grids").set_index("code")
    for code, props in proposed.items():
        assert int(g.loc[code, "households"]) == props["households"], code
        assert g.loc[code, "name"] == props["name"]
    # the other communities' grids are as they were, but for vertices their neighbours got
    # along the community's border (the coverage stays edge-matched): not a square metre more
    assert {c: int(g.loc[c, "version"]) for c in others if c not in saved} == {
        c: v for c, v in others.items() if c not in saved
    }
    metric = g.to_crs(METRIC)
    for code in saved - set(proposed):
        assert abs(metric.loc[code].geometry.area - others_area[code]) < 1.0, code
    assert_coverage(ws)
    assert_codes_follow(ws)
    # one transaction, a planning edit, with the lineage
    new_log = ws.audit_log(limit=None)
    assert len(set(new_log["fid"])) == len(set(log["fid"])) + 1
    assert new_log.iloc[0]["action"] == f"grids accept {COMMUNITY}"
    entry = ws.get_meta("grid_lineage")[-1]
    assert entry["op"] == "partition" and entry["from"] == sorted(before)
    assert entry["to"] == sorted(proposed) and entry["user"] == "demo-planner"
    # a second accept of the same proposal is stale now
    again = planner.post("/api/grids/partition/accept", json={"job": doc["job"]})
    assert again.status_code == 409
    # one undo takes the whole acceptance back
    undo = planner.post("/api/grids/undo", json={})
    assert undo.status_code == 200, undo.get_json()
    back = community_grids(ws, COMMUNITY)
    assert {c: (f, w) for c, (f, _, w) in back.items()} == {
        c: (f, w) for c, (f, _, w) in before.items()
    }
    assert_coverage(ws)
    assert_codes_follow(ws)


def test_a_proposal_made_before_a_change_is_refused(papp, planner, role_tokens):
    ws = ws_of(papp)
    doc = propose(papp, planner)
    code = sorted(community_grids(ws, COMMUNITY))[0]
    admin = client_of(papp, role_tokens, "admin")
    f = admin.get("/api/grids/plan").get_json()["grids"]["features"]
    feature = next(x for x in f if x["properties"]["code"] == code)
    renamed = admin.patch(
        f"/api/layers/grids/features/{feature['id']}",
        json={"properties": {"name": "改名网格"}},
        headers={"If-Match": f'"{feature["version"]}"'},
    )
    assert renamed.status_code == 200, renamed.get_json()
    was = state(ws)
    resp = planner.post("/api/grids/partition/accept", json={"job": doc["job"]})
    assert resp.status_code == 409
    body = resp.get_json()
    assert body["error"]["code"] == "edit_conflict"
    message = body["error"]["message"]
    assert says_en(message, code) and says_zh(message, code), message
    assert code in {x["properties"]["code"] for x in body["current"]["features"]}
    assert state(ws) == was


@pytest.mark.parametrize("role", ["grid_worker", "analyst", "patrol_lead"])
def test_only_planners_propose_and_accept(papp, role_tokens, role):
    ws = ws_of(papp)
    was = state(ws)
    client = client_of(papp, role_tokens, role)
    assert client.post("/api/grids/partition", json={"community": COMMUNITY}).status_code == 403
    accept = client.post("/api/grids/partition/accept", json={"job": "x"})
    assert accept.status_code == 403
    assert state(ws) == was


def test_a_proposal_is_its_planners_alone(papp, planner, role_tokens):
    doc = propose(papp, planner)
    admin = client_of(papp, role_tokens, "admin")
    resp = admin.post("/api/grids/partition/accept", json={"job": doc["job"]})
    assert resp.status_code == 404  # another's job is as if it did not exist


@pytest.mark.parametrize("case", CORPUS["cases"], ids=[c["case"] for c in CORPUS["cases"]])
def test_a_bad_request_gets_a_clear_message_and_changes_nothing(papp, role_tokens, case):
    from web.jobs import runner_of

    ws = ws_of(papp)
    runner = runner_of(papp)
    jobs = len(runner._jobs)
    was = state(ws)
    client = client_of(papp, role_tokens, case.get("role", "planner"))
    resp = client.post(case["path"], json=case["body"])
    assert resp.status_code == case["status"], resp.get_json()
    error = resp.get_json()["error"]
    assert error["code"] == case["code"]
    assert says_en(error["message"], case["says"]), error["message"]
    if case["status"] in (400, 404):
        assert says_zh(error["message"]), error["message"]
    assert state(ws) == was and len(runner._jobs) == jobs
