"""Restoring an old version of the plan names the versions the planner saw (409 when stale).

A restore writes every grid changed since the version back; one another planner changed after
this planner loaded the plan would be overwritten unseen, so the restore is refused naming it,
as a stale edit is (:mod:`gridmap.service.planning`). Bad bodies: tests/bad_input/.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gridmap.access.roles import Access
from gridmap.errors import ConflictError
from gridmap.service import plan_history, planning
from tests.bilingual import says_en, says_zh
from tests.planning_kit import grids, with_versions
from tests.test_write_api import _copy, client_of, state, ws_of

A, B = "320102001003001", "320102001003002"
FAR = "320102001001001"


def seen(ws) -> dict[str, int]:
    g = ws.read("grids")
    return {str(c): int(v) for c, v in zip(g["code"], g["version"], strict=True)}


def first_version(ws) -> int:
    return min(v.tx for v in plan_history.versions(ws, limit=500))


def test_a_restore_over_another_planners_later_change_is_refused(demo_path, tmp_path):
    ws = _copy(demo_path, tmp_path)
    me, other = Access.of("planner1", "planner"), Access.of("planner2", "planner")
    first = first_version(ws)
    mine = planning.edit_grids(ws, with_versions(ws, {"op": "merge", "codes": [A, B]}), access=me)
    looked = seen(ws)  # the page as planner1 loaded it
    # planner2 then deletes a grid elsewhere (its ground a gap)
    planning.edit_grids(ws, with_versions(ws, {"op": "delete", "code": FAR}), access=other)
    was = state(ws)
    with pytest.raises(ConflictError) as err:
        plan_history.restore(ws, first, access=me, versions=looked)
    assert says_en(err.value.message, FAR) and says_zh(err.value.message, FAR), err.value.message
    assert A not in err.value.message  # planner1 saw their own merge
    assert state(ws) == was
    # a restore to the version after planner1's merge changes only FAR too: also refused
    with pytest.raises(ConflictError):
        plan_history.restore(ws, mine.tx, access=me, versions=looked)
    # having looked again, planner1 may restore (and brings the deleted grid back)
    plan_history.restore(ws, first, access=me, versions=seen(ws))
    assert {FAR, B} <= set(ws.read("grids")["code"])
    ws.close()


def test_a_restore_leaves_alone_what_it_does_not_change(demo_path, tmp_path):
    ws = _copy(demo_path, tmp_path)
    me, other = Access.of("planner1", "planner"), Access.of("planner2", "planner")
    looked = seen(ws)  # planner1 loads the plan
    gone = planning.edit_grids(ws, with_versions(ws, {"op": "delete", "code": FAR}), access=other)
    planning.edit_grids(ws, with_versions(ws, {"op": "merge", "codes": [A, B]}), access=me)
    # the page follows planner1's own merge (its reply), not planner2's delete
    looked[A] = seen(ws)[A]
    del looked[B]
    # back to right after planner2's delete: the restore changes A and B only, both as
    # planner1 saw them; FAR, stale on the page, was deleted before that version: no conflict
    plan_history.restore(ws, gone.tx, access=me, versions=looked)
    now = set(ws.read("grids")["code"])
    assert B in now and FAR not in now
    ws.close()


def test_the_page_gets_409_naming_the_grid(papp, role_tokens):
    ws = ws_of(papp)
    admin = client_of(papp, role_tokens, "admin")
    me = client_of(papp, role_tokens, "planner")
    first = first_version(ws)
    looked = seen(ws)
    resp = admin.post("/api/grids/edit", json=with_versions(ws, {"op": "merge", "codes": [A, B]}))
    assert resp.status_code == 200, resp.get_json()
    was = state(ws)
    resp = me.post("/api/grids/restore", json={"tx": first, "versions": looked})
    assert resp.status_code == 409, resp.get_json()
    message = resp.get_json()["error"]["message"]
    assert says_en(message, A) and says_zh(message, A), message
    assert state(ws) == was
    resp = me.post("/api/grids/restore", json={"tx": first, "versions": seen(ws)})
    assert resp.status_code == 200, resp.get_json()
    assert B in set(grids(ws).index)


def test_a_restore_is_exact_and_writes_only_what_differs(demo_path, tmp_path):
    """Split, merge, restore to right after the split: every grid is as it was then (outline
    vertex for vertex, name, figures), every building, household, facility and camera names
    its grid of then (a camera on the merged border too), and the grids the restore does not
    change keep their versions (no planner gets a 409 for them)."""
    ws = _copy(demo_path, tmp_path)
    me = Access.of("planner1", "planner")
    g = ws.read("grids")
    codes = sorted(g.loc[g["community_code"] == "320102001002", "code"])
    x0, y0, x1, y1 = grids(ws).geometry[codes[0]].bounds
    cut = {
        "type": "LineString",
        "coordinates": [[(x0 + x1) / 2, y0 - 1e-3], [(x0 + x1) / 2, y1 + 1e-3]],
    }
    body = {"op": "split", "code": codes[0], "line": cut}
    split = planning.edit_grids(ws, with_versions(ws, body), access=me)
    body = {"op": "merge", "codes": [codes[1], codes[2]]}
    merged = planning.edit_grids(ws, with_versions(ws, body), access=me)
    touched = {*merged.changed, *merged.removed}
    before = seen(ws)
    plan_history.restore(ws, split.tx, access=me, versions=before)
    then = ws.as_of("grids", split.tx).set_index("code").sort_index()
    now = grids(ws).sort_index()
    assert list(now.index) == list(then.index)
    assert now.geometry.geom_equals_exact(then.geometry, 0).all()
    columns = ["name", "worker", "households", "residents", "buildings", "area_m2"]
    assert now[columns].equals(then[columns])
    after = seen(ws)
    assert {c: v for c, v in after.items() if c not in touched} == {
        c: v for c, v in before.items() if c not in touched
    }
    for layer in ("buildings", "households", "facilities", "cameras"):
        was = ws.as_of(layer, split.tx)["grid_code"]
        assert ws.read(layer)["grid_code"].equals(was), layer
    ws.close()


RESTORES = json.loads(
    (Path(__file__).with_name("bad_input") / "plan_restores.json").read_text(encoding="utf-8")
)


def _filled(ws, body: Any) -> Any:
    if isinstance(body, dict) and body.get("tx") == "<first>":
        return {**body, "tx": first_version(ws)}
    return body


@pytest.mark.parametrize("case", RESTORES["cases"], ids=[c["case"] for c in RESTORES["cases"]])
def test_a_bad_restore_gets_a_clear_message_and_changes_nothing(papp, planner, case):
    ws = ws_of(papp)
    was = state(ws)
    resp = planner.post("/api/grids/restore", json=_filled(ws, case["body"]))
    assert resp.status_code == case["status"], resp.get_json()
    message = resp.get_json()["error"]["message"]
    assert says_en(message, case["says"]) and says_zh(message), message
    assert state(ws) == was
