"""Grid planning through ``/api/grids/…`` on a copy of the real demo (central Nanjing).

Each edit is checked the way a planner would check it: the grids still tile the communities
(no overlap, no gap), shared borders are still shared vertex for vertex (a valid coverage),
what lies in the grids names its new grid, the figures follow, and a refused edit leaves the
workspace exactly as it was.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import mapping, shape

from gridmap import store
from gridmap.access.roles import Access
from gridmap.service.feature_ids import served_ids
from tests.bilingual import says_en, says_zh
from tests.planning_kit import assert_codes_follow, assert_coverage, grids, with_versions
from tests.test_write_api import _copy, client_of, state, ws_of


def shared_vertex(ws: store.Workspace, a: str, b: str) -> tuple[float, float]:
    g = grids(ws)
    va = set(map(tuple, shapely.get_coordinates(g.geometry[a]).tolist()))
    vb = set(map(tuple, shapely.get_coordinates(g.geometry[b]).tolist()))
    both = sorted(va & vb)
    assert len(both) >= 3, "the grids share a border"
    return both[len(both) // 2]


def moved(geom: Any, old: tuple[float, float], new: tuple[float, float]) -> dict[str, Any]:
    coords = shapely.get_coordinates(geom)
    hit = np.all(coords == np.asarray(old), axis=1)
    assert hit.any()
    coords[hit] = new
    return mapping(shapely.set_coordinates(geom, coords))


def as_json(geom: dict[str, Any]) -> dict[str, Any]:
    import json

    return json.loads(json.dumps(geom))


def edit(client: Any, body: dict[str, Any], *, fill: bool = True) -> Any:
    """POST the operation; ``fill``: add the current versions when the body has none."""
    if fill and "versions" not in body:
        body = with_versions(ws_of(client.application), body)
    return client.post("/api/grids/edit", json=body)


def test_moving_a_shared_vertex_moves_it_for_the_neighbour(papp, planner):
    ws = ws_of(papp)
    before = grids(ws)
    a, b = "320102001001001", "320102001001003"
    x, y = shared_vertex(ws, a, b)
    new = (round(x + 0.00003, 7), round(y + 0.00002, 7))  # about 3 m east, 2 m north (storage grid)
    body = {
        "op": "reshape",
        "code": a,
        "geometry": as_json(moved(before.geometry[a], (x, y), new)),
        "versions": {a: int(before.version[a])},
    }
    resp = edit(planner, body)
    assert resp.status_code == 200, resp.get_json()
    doc = resp.get_json()
    assert set(doc["changed"]) == {a, b}
    after = grids(ws)
    for code in (a, b):
        coords = set(map(tuple, shapely.get_coordinates(after.geometry[code]).tolist()))
        assert (x, y) not in coords and new in coords, code
        assert int(after.version[code]) == int(before.version[code]) + 1  # one version a save
        assert after.area_m2[code] != before.area_m2[code]
    served = {f["properties"]["code"]: f for f in doc["grids"]["features"]}
    assert set(served) == {a, b} and served[a]["version"] == int(after.version[a])
    assert_coverage(ws)
    assert_codes_follow(ws)


def test_a_split_makes_a_new_grid_with_the_next_code_and_keeps_the_households(papp, planner):
    ws = ws_of(papp)
    before = grids(ws)
    code = "320102001002003"
    geom = before.geometry[code]
    minx, miny, maxx, maxy = geom.bounds
    mid = (minx + maxx) / 2
    line = {"type": "LineString", "coordinates": [[mid, miny - 0.001], [mid, maxy + 0.001]]}
    resp = edit(planner, {"op": "split", "code": code, "line": line})
    assert resp.status_code == 200, resp.get_json()
    doc = resp.get_json()
    (new,) = doc["added"]
    used = [c for c in before.index if c.startswith("320102001002")]
    assert new == f"320102001002{max(int(c[-3:]) for c in used) + 1:03d}"
    assert doc["lineage"] == [{"op": "split", "from": [code], "to": [code, new]}]
    after = grids(ws)
    total = int(after.households[code]) + int(after.households[new])
    assert total == int(before.households[code])
    assert after.buildings[code] + after.buildings[new] == before.buildings[code]
    assert after.name[new].startswith("中山东路社区") and after.source[new] == "user"
    lineage = ws.get_meta("grid_lineage")
    assert lineage[-1]["from"] == [code] and lineage[-1]["user"] == "demo-planner"
    assert_coverage(ws)
    assert_codes_follow(ws)


def test_a_merge_of_neighbours_and_undo_and_redo(papp, planner):
    ws = ws_of(papp)
    before = grids(ws)
    a, b = "320102001003001", "320102001003002"
    assert shapely.intersection(before.geometry[a], before.geometry[b]).length > 0
    resp = edit(planner, {"op": "merge", "codes": [a, b]})
    assert resp.status_code == 200, resp.get_json()
    after = grids(ws)
    assert b not in after.index
    assert int(after.households[a]) == int(before.households[a]) + int(before.households[b])
    assert (ws.read("buildings")["grid_code"] != b).all()
    assert_coverage(ws)

    resp = planner.post("/api/grids/undo", json={})
    assert resp.status_code == 200, resp.get_json()
    undone = grids(ws)
    assert b in undone.index
    # the reply carries only the grids the undo wrote (both back), with their new versions
    reply = resp.get_json()
    assert reply["all"] is False and reply["removed"] == []
    served = {f["properties"]["code"]: f for f in reply["grids"]["features"]}
    assert set(served) == set(reply["changed"]) == {a, b}
    assert all(served[c]["version"] == int(undone.version[c]) for c in (a, b))
    assert shapely.equals(undone.geometry[a], before.geometry[a])
    assert int(undone.households[b]) == int(before.households[b])
    assert_codes_follow(ws)

    resp = planner.post("/api/grids/redo", json={})
    assert resp.status_code == 200, resp.get_json()
    assert b not in grids(ws).index
    reply = resp.get_json()
    assert reply["removed"] == [b] and reply["changed"] == [a]
    assert [f["properties"]["code"] for f in reply["grids"]["features"]] == [a]
    planner.post("/api/grids/undo", json={})  # leave the demo's grids for the next tests
    assert b in grids(ws).index


def test_a_merge_after_a_split_keeps_the_older_grids_code_name_and_worker(papp, planner):
    ws = ws_of(papp)
    old = "320102001002003"
    geom = grids(ws).geometry[old]
    minx, miny, maxx, maxy = geom.bounds
    cut = minx + (maxx - minx) * 0.6  # the new (eastern) grid holds fewer households
    line = {"type": "LineString", "coordinates": [[cut, miny - 0.001], [cut, maxy + 0.001]]}
    resp = edit(planner, {"op": "split", "code": old, "line": line})
    assert resp.status_code == 200, resp.get_json()
    (new,) = resp.get_json()["added"]
    before = grids(ws)
    assert before.households[old] > before.households[new]  # the old grid is the larger
    assert before.worker[old] and pd.isna(before.worker[new])
    # the new grid selected first, the old one added with Shift: the old one stays
    resp = edit(planner, {"op": "merge", "codes": [new, old]})
    assert resp.status_code == 200, resp.get_json()
    doc = resp.get_json()
    assert doc["removed"] == [new] and old in doc["changed"]
    assert doc["lineage"] == [{"op": "merge", "from": [new, old], "to": [old]}]
    after = grids(ws)
    assert new not in after.index
    for column in ("name", "worker", "worker_phone"):
        assert after[column][old] == before[column][old], column
    assert int(after.households[old]) == int(before.households[old] + before.households[new])
    assert_coverage(ws)
    for _ in range(2):  # leave the demo's grids for the next tests
        assert planner.post("/api/grids/undo", json={}).status_code == 200
    assert grids(ws).households[old] == before.households[old] + before.households[new]


def test_painting_a_building_moves_it_and_its_households(papp, planner):
    ws = ws_of(papp)
    g = grids(ws)
    b = ws.read("buildings")
    a, other = "320102001001002", "320102001001001"
    # a building of grid a that touches grid other's border region: the nearest to it
    mine = b[b["grid_code"] == a]
    gaps = shapely.distance(np.asarray(mine.geometry.values, dtype=object), g.geometry[other])
    nearest = mine.index[int(np.argmin(gaps))]
    households = int(b.households[nearest])
    # a planner is served the buildings by opaque ids, and paints by them
    (token,) = served_ids(ws, "buildings", Access(user="p", role="planner"), [nearest])
    assert isinstance(token, str)
    resp = edit(planner, {"op": "paint", "buildings": [token], "to": other})
    assert resp.status_code == 200, resp.get_json()
    after = grids(ws)
    assert ws.read("buildings").grid_code[nearest] == other
    assert int(after.households[other]) == int(g.households[other]) + households
    assert int(after.households[a]) == int(g.households[a]) - households
    hh = ws.read("households")
    assert (hh[hh["building_osm_id"] == b.osm_id[nearest]]["grid_code"] == other).all()
    assert_coverage(ws)


PLAN_EDITS = json.loads(
    (Path(__file__).with_name("bad_input") / "plan_edits.json").read_text(encoding="utf-8")
)


@pytest.mark.parametrize("case", PLAN_EDITS["cases"], ids=[c["case"] for c in PLAN_EDITS["cases"]])
def test_a_bad_edit_gets_a_clear_message_and_changes_nothing(papp, planner, case):
    ws = ws_of(papp)
    was = state(ws)
    body = with_versions(ws, case["body"]) if case.get("fill_versions") else case["body"]
    resp = edit(planner, body, fill=False)
    assert resp.status_code == case["status"], resp.get_json()
    message = resp.get_json()["error"]["message"]
    names = case.get("names", [])
    assert says_en(message, case["says"], *names), message
    assert says_zh(message, case["says_zh"], *names), message
    assert state(ws) == was


def test_a_stale_edit_is_refused_with_the_other_planners_change(papp, planner, role_tokens):
    ws = ws_of(papp)
    g = grids(ws)
    code = "320102001004001"
    version = int(g.version[code])
    admin = client_of(papp, role_tokens, "admin")
    first = edit(admin, {"op": "delete", "code": "320102001004002", "to": "neighbours"})
    assert first.status_code == 200, first.get_json()
    assert code in first.get_json()["changed"] or "320102001004003" in first.get_json()["changed"]
    changed = first.get_json()["changed"][0]
    was = state(ws)
    resp = edit(
        planner,
        {"op": "delete", "code": changed, "versions": {changed: int(g.version[changed])}},
    )
    assert resp.status_code == 409
    doc = resp.get_json()
    assert doc["error"]["code"] == "edit_conflict"
    message = doc["error"]["message"]
    assert says_en(message, changed, "admin") and says_zh(message, changed, "admin"), message
    (current,) = doc["current"]["features"]
    assert current["properties"]["code"] == changed and current["updated_by"] == "admin"
    assert state(ws) == was
    assert version  # the planner's own grid was read


def test_an_edit_of_a_grid_someone_deleted_says_who_and_when(papp, planner, role_tokens):
    ws = ws_of(papp)
    gone = "320102001003007"
    version = int(grids(ws).version[gone])
    admin = client_of(papp, role_tokens, "admin")
    first = edit(admin, {"op": "delete", "code": gone, "to": "neighbours"})
    assert first.status_code == 200, first.get_json()
    tx = first.get_json()["tx"]
    at = str(ws.audit_log(limit=None).set_index("fid").loc[tx, "at"])[:16]
    was = state(ws)
    body = {"op": "delete", "code": gone, "versions": {gone: version}}
    resp = edit(planner, body, fill=False)
    assert resp.status_code == 404, resp.get_json()
    error = resp.get_json()["error"]
    assert error["code"] == "feature_not_found"
    assert (error["changed_by"], error["changed_at"]) == ("admin", at)
    from gridmap.service.local_time import local_text, zone

    when = local_text(at, zone(ws))  # in the workspace's time zone, not UTC
    assert when.endswith("CST") and when[:16] != at.replace("T", " ")
    en, zh = error["message"].split(" (", 1)
    assert gone in en and "admin" in en and when in en and "deleted" in en, en
    assert "admin" in zh and when in zh and "删除" in zh, zh
    assert state(ws) == was
    # a grid that never was: the message as ever, no one named
    never = "320102001003999"
    resp = edit(planner, {"op": "delete", "code": never, "versions": {never: 1}}, fill=False)
    assert resp.status_code == 404
    error = resp.get_json()["error"]
    assert error["message"] == f"There is no grid '{never}'. (没有编码为“{never}”的网格。)"
    assert "changed_by" not in error


def test_a_grid_renumbered_away_is_named_with_its_new_code(demo_path, tmp_path):
    from gridmap.errors import FeatureNotFoundError
    from gridmap.service import planning, renumber

    ws = _copy(demo_path, tmp_path)
    me = Access.of("planner1", "planner")
    first, second = "320102001005001", "320102001005002"
    body = {"op": "delete", "code": first, "to": "neighbours"}
    planning.edit_grids(ws, with_versions(ws, body), access=me)
    assert planning.removal(ws, first)[::2] == ("planner1", None)
    done = renumber.renumber(ws, community="320102001005", user="planner2")
    assert (second, first, "320102001005") in done.changes  # 002 is 001 now
    last = max(done.changes)[0]
    assert last not in set(ws.read("grids")["code"])
    who, _, now = planning.removal(ws, last)
    assert (who, now) == ("planner2", dict((o, n) for o, n, _ in done.changes)[last])
    with pytest.raises(FeatureNotFoundError, match=f"renumbered it {now}"):
        planning.edit_grids(ws, {"op": "delete", "code": last, "versions": {last: 1}}, access=me)
    assert planning.removal(ws, "320102001005999") is None
    ws.close()


def test_only_planners_edit_and_everyone_signed_in_sees_the_versions(papp, role_tokens):
    body = {"op": "merge", "codes": ["320102001001001", "320102001001002"]}
    for role in ("analyst", "patrol_lead", "grid_worker"):
        resp = edit(client_of(papp, role_tokens, role), body)
        assert resp.status_code == 403, role
    assert edit(papp.test_client(), body).status_code in (400, 401)
    analyst = client_of(papp, role_tokens, "analyst")
    versions = analyst.get("/api/grids/versions").get_json()["versions"]
    assert versions and all(v["grids"] >= 1 for v in versions)
    role_of = {u.name: u.role for u in ws_of(papp).users()}
    planner = client_of(papp, role_tokens, "planner")
    assert edit(planner, body).status_code == 200  # a version by a login, taken back
    assert planner.post("/api/grids/undo", json={}).status_code == 200
    seen = planner.get("/api/grids/versions").get_json()["versions"]
    analyst_sees = {
        v["tx"]: v["user"] for v in analyst.get("/api/grids/versions").get_json()["versions"]
    }
    assert {v["user"] for v in seen} & set(role_of)  # planners see who
    for v in seen:  # an analyst sees the role, not the login
        assert analyst_sees[v["tx"]] == role_of.get(v["user"], v["user"]), v
    oldest = versions[-1]["tx"]
    then = analyst.get(f"/api/grids/versions/{oldest}").get_json()
    assert len(then["features"]) == 52
    assert analyst.get("/api/grids/versions/999999").status_code == 400


def test_restoring_the_first_version_brings_back_the_demo(papp, role_tokens, demo_workspace):
    ws = ws_of(papp)
    admin = client_of(papp, role_tokens, "admin")
    first = min(v["tx"] for v in admin.get("/api/grids/versions?limit=500").get_json()["versions"])
    g = ws.read("grids")
    versions = {str(c): int(v) for c, v in zip(g["code"], g["version"], strict=True)}
    resp = admin.post("/api/grids/restore", json={"tx": first, "versions": versions})
    assert resp.status_code == 200, resp.get_json()
    now = grids(ws)
    demo = demo_workspace.read("grids").set_index("code")
    assert sorted(now.index) == sorted(demo.index)
    for code in demo.index:
        assert shapely.equals(now.geometry[code], demo.geometry[code]), code
        assert int(now.households[code]) == int(demo.households[code])
    assert_codes_follow(ws)
    assert shape(resp.get_json()["grids"]["features"][0]["geometry"]).is_valid


def test_a_grid_moved_through_the_write_api_takes_its_buildings_along(papp, role_tokens):
    ws = ws_of(papp)
    g = ws.read("grids")
    row = g[g["code"] == "320102001005001"].iloc[0]
    fid = int(g.index[g["code"] == "320102001005001"][0])
    admin = client_of(papp, role_tokens, "admin")
    other = g[g["code"] == "320102001005002"]
    grown = shapely.union(row.geometry, other.geometry.iloc[0])
    resp = admin.delete(
        f"/api/layers/grids/features/{int(other.index[0])}",
        headers={"If-Match": f'"{int(other.version.iloc[0])}"'},
    )
    assert resp.status_code == 204, resp.get_data(as_text=True)
    b = ws.read("buildings")
    assert not (b["grid_code"] == "320102001005002").any()  # they lie in no grid now
    assert int(ws.feature("grids", fid)["version"].iloc[0]) == int(row.version)  # untouched
    resp = admin.patch(
        f"/api/layers/grids/features/{fid}",
        json={"geometry": as_json(mapping(grown))},
        headers={"If-Match": f'"{int(row.version)}"'},
    )
    assert resp.status_code == 200, resp.get_json()
    b = ws.read("buildings")
    inside = b[shapely.within(shapely.point_on_surface(b.geometry.values), grown)]
    assert (inside["grid_code"] == "320102001005001").all() and len(inside)
    now = grids(ws)
    assert int(now.households["320102001005001"]) == int(inside["households"].sum())
    assert resp.get_json()["properties"]["households"] == int(inside["households"].sum())


def test_an_import_of_grids_recomputes_codes_and_figures(demo_path, tmp_path):
    from gridmap.cli import main
    from tests.test_write_api import _copy

    ws = _copy(demo_path, tmp_path)
    g = ws.read("grids")
    merged = g[g["code"] != "320102001001002"].copy()
    one = merged["code"] == "320102001001001"
    both = shapely.union(
        g.geometry[g["code"] == "320102001001001"].iloc[0],
        g.geometry[g["code"] == "320102001001002"].iloc[0],
    )
    merged.loc[one, "geometry"] = both
    merged.loc[one, "households"] = 0  # a stale figure in the file: the import recomputes it
    path = tmp_path / "grids.geojson"
    merged.drop(columns=["version", "updated_at", "updated_by"]).to_file(path, driver="GeoJSON")
    ws.close()
    main(
        [
            "import",
            str(tmp_path / "demo.gpkg"),
            "grids",
            str(path),
            "--replace",
        ]
    )
    ws = store.GeoPackageWorkspace(tmp_path / "demo.gpkg")
    now = grids(ws)
    before = g.set_index("code")
    assert int(now.households["320102001001001"]) == int(
        before.households["320102001001001"]
    ) + int(before.households["320102001001002"])
    assert not (ws.read("buildings")["grid_code"] == "320102001001002").any()
    assert not (ws.read("households")["grid_code"] == "320102001001002").any()
    ws.close()


def test_painting_ground_into_the_grid_that_holds_it_writes_nothing(papp, planner):
    ws = ws_of(papp)
    g = grids(ws)
    reply = planner.get("/api/grids/blocks").get_json()
    blocks, stamp = reply["features"], reply["stamp"]
    # a block wholly inside its grid, and a building of that grid
    block = next(
        f
        for f in blocks
        if shape(f["geometry"]).difference(g.geometry[f["properties"]["grid_code"]]).area < 1e-12
    )
    to = block["properties"]["grid_code"]
    stored = int(ws.read("buildings", where={"grid_code": to}).index[0])
    (building,) = served_ids(ws, "buildings", Access(user="p", role="planner"), [stored])
    was = state(ws)
    versions = len(planner.get("/api/grids/versions").get_json()["versions"])
    for body in (
        {"op": "paint", "blocks": [block["id"]], "to": to, "stamp": stamp},
        {"op": "paint", "buildings": [building], "to": to},
    ):
        resp = edit(planner, body)
        assert resp.status_code == 200, resp.get_json()
        doc = resp.get_json()
        assert doc["tx"] == 0 and doc["changed"] == doc["added"] == doc["removed"] == []
        (note,) = doc["notes"]
        assert says_en(note["en"], "already", to) and says_zh(note["zh-CN"], to), note
        assert state(ws) == was  # no version, no audit row
    assert len(planner.get("/api/grids/versions").get_json()["versions"]) == versions


def test_painting_a_street_block_moves_it_whole(papp, planner):
    ws = ws_of(papp)
    reply = planner.get("/api/grids/blocks").get_json()
    blocks = reply["features"]
    assert blocks and all(f["properties"]["grid_code"] for f in blocks)
    g = grids(ws)

    # a block with households on the border of its grid a with another grid b
    def neighbour(f: dict[str, Any]) -> str | None:
        outline = shape(f["geometry"]).boundary
        for code, geom in g.geometry.items():
            same_community = code[:12] == code_of(f)[:12]
            touching = shapely.intersection(outline, geom.boundary).length > 1e-4  # ~10 m
            if code != code_of(f) and same_community and touching:
                return str(code)
        return None

    def code_of(f: dict[str, Any]) -> str:
        return str(f["properties"]["grid_code"])

    block, b = next(
        (f, n) for f in blocks if f["properties"]["households"] > 0 and (n := neighbour(f))
    )
    a = code_of(block)
    before = ws.read("buildings")
    inner = shapely.point_on_surface(np.asarray(before.geometry.values, dtype=object))
    held = before[shapely.within(inner, shape(block["geometry"]))]
    moving = int(held[held["grid_code"] != b]["households"].sum())
    assert moving > 0 and a in set(held["grid_code"])
    resp = edit(planner, {"op": "paint", "blocks": [block["id"]], "to": b, "stamp": reply["stamp"]})
    assert resp.status_code == 200, resp.get_json()
    after = grids(ws)
    assert (ws.read("buildings").loc[held.index, "grid_code"] == b).all()
    assert int(after.households[b]) == int(g.households[b]) + moving
    assert len(shapely.get_parts(after.geometry[b])) == 1  # no hair-line strip left behind
    assert_coverage(ws)
    assert_codes_follow(ws)


def test_checks_locate_a_gap_and_its_fix_closes_it(papp, planner, role_tokens):
    ws = ws_of(papp)
    analyst = client_of(papp, role_tokens, "analyst")
    clean = analyst.get("/api/grids/checks").get_json()
    assert [f for f in clean["findings"] if f["kind"] in ("gap", "overlap")] == []
    assert len(clean["figures"]) == ws.count("grids")
    assert {"street_length_m", "cameras", "incidents_12m", "deviation"} <= set(clean["figures"][0])
    code = "320102001004005"
    assert edit(planner, {"op": "delete", "code": code}).status_code == 200
    found = analyst.get("/api/grids/checks").get_json()["findings"]
    (gap,) = [f for f in found if f["kind"] == "gap"]
    assert gap["grids"] and gap["fixes"][0] == {"op": "give", "to": gap["grids"][0]}
    assert says_en(gap["message_en"], "no grid"), gap
    assert says_zh(gap["message_zh"], "不属于任何网格"), gap
    assert gap["value"] > 1000
    fix = {**gap["fixes"][0], "geometry": gap["geometry"]}
    assert edit(planner, fix).status_code == 200
    after = analyst.get("/api/grids/checks").get_json()["findings"]
    assert [f for f in after if f["kind"] in ("gap", "overlap")] == []
    assert analyst.get("/api/grids/checks?min=x").status_code == 400
    assert analyst.get("/api/grids/checks?community=nope").status_code == 404


def test_grids_validate_exits_1_on_findings(demo_path, tmp_path, capsys):
    from gridmap.cli import main

    with pytest.raises(SystemExit) as done:
        main(["grids", "validate", str(demo_path), "--lang", "en"])
    assert done.value.code == 0
    assert "52 grids, 52 within 300-500 households; 0 finding(s)." in capsys.readouterr().out
    with pytest.raises(SystemExit) as done:
        main(["grids", "validate", str(demo_path), "--max", "450", "--json"])
    assert done.value.code == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["findings"] and all(f["kind"] == "households_range" for f in doc["findings"])


def test_undo_takes_back_only_the_planners_own_planning_edits_however_old(demo_path, tmp_path):
    from gridmap.access.roles import Access
    from gridmap.service import plan_history, planning
    from tests.test_write_api import _copy

    ws = _copy(demo_path, tmp_path)
    me = Access.of("planner1", "planner")
    a, b = "320102001001001", "320102001001002"
    done = planning.edit_grids(ws, with_versions(ws, {"op": "merge", "codes": [a, b]}), access=me)
    # a later grids change of another kind by the same planner, on a grid elsewhere
    far = "320102001004001"
    with ws.transaction(user="planner1", action="grids auto (demo)") as tx:
        g = ws.read("grids")
        tx.update("grids", int(g.index[g["code"] == far][0]), {"name": "auto"})
    # more than 2,000 transactions of someone else since
    for i in range(2100):
        with ws.transaction(user="other", action="settings") as tx:
            tx.set_meta("bench_note", i)
    _, target = plan_history.undo(ws, access=me)
    assert target == done.tx  # the merge, not the auto plan, and not lost in the window
    assert b in set(ws.read("grids")["code"])
    ws.close()


def test_a_refused_undo_names_the_grids(demo_path, tmp_path):
    from gridmap.access.roles import Access
    from gridmap.errors import ConflictError
    from gridmap.service import plan_history, planning
    from tests.test_write_api import _copy

    ws = _copy(demo_path, tmp_path)
    me, other = Access.of("planner1", "planner"), Access.of("planner2", "planner")
    a, b = "320102001001001", "320102001001002"
    done = planning.edit_grids(ws, with_versions(ws, {"op": "merge", "codes": [a, b]}), access=me)
    (a,) = done.lineage[0]["to"]  # the grid with more households keeps its code
    planning.edit_grids(ws, with_versions(ws, {"op": "delete", "code": a}), access=other)
    with pytest.raises(ConflictError) as err:
        plan_history.undo(ws, access=me)
    assert "layer" not in err.value.message
    assert says_en(err.value.message, a) and says_zh(err.value.message, a), err.value.message
    ws.close()


def test_a_corner_dragged_into_its_grid_gives_the_ground_to_the_same_community_neighbour(
    writable_demo,
):
    """2-007's corner shared with 2-006 and 4-003 (another community) dragged 55 m into 2-007:
    the freed triangle borders 2-006 and 4-003; it goes to 2-006, not a gap, and 4-003 is
    not rewritten."""
    from gridmap.access.roles import Access
    from gridmap.service import planning

    ws = writable_demo
    a, b, c = "320102001002007", "320102001002006", "320102001004003"
    before = grids(ws)
    corner = (118.7903285, 32.0414879)
    assert all(
        corner in set(map(tuple, shapely.get_coordinates(before.geometry[k]).tolist()))
        for k in (a, b, c)
    )
    body = {"op": "reshape", "code": a}
    body["geometry"] = as_json(moved(before.geometry[a], corner, (corner[0], corner[1] + 5e-4)))
    freed = shapely.difference(before.geometry[a], shape(body["geometry"]))
    done = planning.edit_grids(ws, with_versions(ws, body), access=Access.of("planner1", "planner"))
    assert done.notes == ()  # no "left as a gap"
    assert set(done.changed) == {a, b}
    after = grids(ws)
    assert int(after.version[c]) == int(before.version[c])
    assert shapely.equals_exact(after.geometry[c], before.geometry[c], 0)
    gained = shapely.intersection(after.geometry[b], freed).area
    assert gained == pytest.approx(freed.area, rel=1e-3)
    assert_coverage(ws)
    assert_codes_follow(ws)


def split_across(ws: store.Workspace, code: str) -> dict[str, Any]:
    """A split of ``code`` along the east-west line through its inner point, end to end."""
    geom = grids(ws).geometry[code]
    x0, _, x1, _ = geom.bounds
    y = shapely.point_on_surface(geom).y
    line = {"type": "LineString", "coordinates": [[x0 - 1e-4, y], [x1 + 1e-4, y]]}
    return with_versions(ws, {"op": "split", "code": code, "line": line})


def test_a_code_a_restore_removed_is_never_given_again(writable_demo):
    from gridmap.access.roles import Access
    from gridmap.service import plan_history, planning

    ws, me = writable_demo, Access.of("planner1", "planner")
    version = int(ws.audit_log(limit=1, layer="grids")["fid"].iloc[0])  # the plan as built
    inner = shapely.point_on_surface(grids(ws).geometry["320102001001011"])
    drawn = mapping(shapely.box(inner.x - 1e-4, inner.y - 1e-4, inner.x + 1e-4, inner.y + 1e-4))
    first = planning.edit_grids(ws, {"op": "draw", "geometry": as_json(drawn)}, access=me)
    assert first.added == ("320102001001012",)  # a draw leaves no lineage entry
    # back to the plan before the draw: grid 1-012 is gone, only the history knows it
    seen = ws.read("grids", columns=["code"])
    plan_history.restore(
        ws,
        version,
        access=me,
        versions=dict(zip(seen["code"], seen["version"].astype(int), strict=True)),
    )
    assert "320102001001012" not in set(ws.read("grids")["code"])
    again = planning.edit_grids(ws, split_across(ws, "320102001001011"), access=me)
    assert again.added == ("320102001001013",)


def test_a_split_line_that_ends_inside_the_grid_is_refused_and_nothing_is_saved(writable_demo):
    from gridmap.access.roles import Access
    from gridmap.errors import InputError
    from gridmap.service import planning

    ws = writable_demo
    case = next(c for c in PLAN_EDITS["cases"] if "ends inside" in c["case"])
    was = state(ws)
    with pytest.raises(InputError, match="ends inside") as err:
        planning.edit_grids(
            ws, with_versions(ws, case["body"]), access=Access.of("planner1", "planner")
        )
    assert says_zh(err.value.message, "内部结束", "320102001001011"), err.value.message
    assert state(ws) == was


def test_a_save_that_would_remove_a_grid_it_does_not_name_needs_its_version(papp, planner):
    """A draw over a whole grid removes it: refused unless its version is sent (seen), and
    refused as stale when that grid changed since; with its version it goes through."""
    ws = ws_of(papp)
    g = grids(ws)
    victim = "320102001002001"
    outline = mapping(g.geometry[victim].buffer(2e-6))
    body = {"op": "draw", "geometry": as_json(outline), "name": "新网格"}
    before = state(ws)
    resp = edit(planner, body, fill=False)
    assert resp.status_code == 400, resp.get_json()
    message = resp.get_json()["error"]["message"]
    assert says_en(message, "remove", victim) and says_zh(message, "整体移除", victim), message
    assert state(ws) == before
    stale = {victim: int(g.version[victim]) - 1 or 99}
    resp = edit(planner, {**body, "versions": stale}, fill=False)
    assert resp.status_code == 409, resp.get_json()
    assert state(ws) == before
    resp = edit(planner, {**body, "versions": {victim: int(g.version[victim])}}, fill=False)
    assert resp.status_code == 200, resp.get_json()
    assert victim in resp.get_json()["removed"]
    assert_coverage(ws)


def test_the_info_forms_stale_save_and_a_deleted_grids_say_who_and_when(papp, planner, role_tokens):
    """The grid's info form saves through the write API (PATCH, If-Match): its 409 names the
    grid and who changed it (as the planning saves' do), and a save to a grid someone deleted
    says who deleted it and when (trial 2: 'Layer 'grids' has no feature 21', English only)."""
    ws = ws_of(papp)
    g = ws.read("grids").set_index("code")
    code = sorted(c for c in g.index if c.startswith("320102001005"))[-1]  # (earlier tests edit)
    version = int(g.version[code])
    fid = int(ws.read("grids", where={"code": [code]}).index[0])
    admin = client_of(papp, role_tokens, "admin")
    url = f"/api/layers/grids/features/{fid}"
    body = {"type": "Feature", "properties": {"name": "改名一"}}
    first = admin.patch(url, json=body, headers={"If-Match": f'"{version}"'})
    assert first.status_code == 200, first.get_json()
    stale = planner.patch(url, json=body, headers={"If-Match": f'"{version}"'})
    assert stale.status_code == 409
    error = stale.get_json()["error"]
    assert says_en(error["message"]) and says_zh(error["message"]), error["message"]
    (named,) = error["grids"]
    assert named["code"] == code and named["changed_by"] == "admin" and named["when"]
    gone = edit(admin, {"op": "delete", "code": code})
    assert gone.status_code == 200, gone.get_json()
    late = planner.patch(url, json=body, headers={"If-Match": f'"{version + 1}"'})
    assert late.status_code == 404
    message = late.get_json()["error"]["message"]
    assert says_en(message, code, "admin") and says_zh(message, code, "admin"), message
