"""Painted street blocks are named by their place in a list the streets number: the stamp.

``GET /api/grids/blocks`` numbers the blocks in reading order over every community, so when
the streets or a community boundary change (another planner imports streets, an admin edits a
boundary) the same id names another block. A paint of blocks carries the stamp its blocks came
with, and one made from blocks that are no longer current is refused (409, nothing written).
On a copy of the demo: one street removed north of block 63 merges two blocks there, and
block 63's ground becomes block 62.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
import shapely

from gridmap import store
from gridmap.access.roles import PLANNER, Access
from gridmap.errors import BlocksChangedError, InputError
from gridmap.service import blocks, stamps
from gridmap.service.plan_ops import parse_operation
from gridmap.service.planning import edit_grids
from tests.test_write_api import client_of, state

HAN = re.compile(r"[\u4e00-\u9fff]")
WHO = Access.of("test-planner", PLANNER)
#: Block 63 (103 households) lies in 4-007 and borders 4-006 (tests/test_rebalance_service.py).
BLOCK, TO = 63, "320102001004006"


def version(ws: store.Workspace, code: str) -> int:
    return int(ws.read("grids", where={"code": [code]})["version"].iloc[0])


def paint(ws: store.Workspace, block: int, stamp: str | None) -> Any:
    body: dict[str, Any] = {"op": "paint", "to": TO, "blocks": [block]}
    body["versions"] = {TO: version(ws, TO)}
    if stamp is not None:
        body["stamp"] = stamp
    return edit_grids(ws, body, access=WHO)


def remove_a_street_north_of(ws: store.Workspace, block: int) -> None:
    """Delete one street that borders a block north of ``block`` and not ``block`` itself, as
    an import of streets by someone else would change them: the blocks after it renumber."""
    found = blocks.workspace_blocks(ws).to_crs("EPSG:4326")
    mine = found.geometry[block]
    streets = ws.read("streets")
    for other in found.index[found.index < block - 10]:
        near = streets[streets.intersects(found.geometry[other].boundary)]
        near = near[~near.intersects(mine.buffer(1e-4))]
        if len(near):
            with ws.transaction(user="someone-else", action="streets import") as tx:
                tx.delete("streets", [int(near.index[0])])
            if len(blocks.workspace_blocks(ws)) < len(found):
                return
    raise AssertionError("no street north of the block merges two blocks")


def id_of(ws: store.Workspace, ground: shapely.Geometry) -> int:
    """The id of the block whose outline is ``ground`` (metric CRS) now."""
    now = blocks.workspace_blocks(ws)
    (hit,) = [i for i, g in now.geometry.items() if g.equals_exact(ground, 1e-6)]
    return int(hit)


def test_a_paint_made_before_the_streets_changed_is_refused_and_writes_nothing(writable_demo):
    ws = writable_demo
    stamp, seen = blocks.stamped_blocks(ws)
    ground = seen.geometry[BLOCK]  # what the planner saw as block 63
    remove_a_street_north_of(ws, BLOCK)
    now = id_of(ws, ground)
    assert now != BLOCK  # the hazard: the id the page holds names other ground now
    assert not blocks.workspace_blocks(ws).geometry[BLOCK].equals_exact(ground, 1e-6)
    was = state(ws)
    with pytest.raises(BlocksChangedError) as refused:
        paint(ws, BLOCK, stamp)
    assert refused.value.status == 409 and refused.value.code == "blocks_changed"
    assert "reload the blocks" in refused.value.message and HAN.search(refused.value.message)
    assert state(ws) == was  # no grid, no version, no audit row
    # with the blocks as they are now, the ground the planner meant moves
    fresh = blocks.blocks_stamp(ws)
    assert fresh != stamp
    before = ws.read("grids", where={"code": [TO]}).to_crs(seen.crs).geometry.iloc[0]
    done = paint(ws, now, fresh)
    assert done.tx > 0 and TO in done.changed
    after = ws.read("grids", where={"code": [TO]}).to_crs(seen.crs).geometry.iloc[0]
    gained = shapely.difference(after, before)
    assert abs(gained.area - ground.area) < 0.01 * ground.area


def test_the_stamp_stays_while_only_grids_and_the_register_change(writable_demo):
    """Edits of grids (every paint is one) do not renumber the blocks: the stamp the page
    holds stays good through a session of paints."""
    ws = writable_demo
    stamp = blocks.blocks_stamp(ws)
    everything = stamps.content(ws)
    first = paint(ws, BLOCK, stamp)
    assert first.tx > 0 and stamps.content(ws) != everything  # grids and buildings moved
    assert blocks.blocks_stamp(ws) == stamp
    back = "320102001004007"
    body = {"op": "paint", "to": back, "blocks": [BLOCK], "stamp": stamp}
    body["versions"] = {back: version(ws, back)}
    assert edit_grids(ws, body, access=WHO).tx > 0


def test_a_paint_of_blocks_needs_the_stamp_and_a_paint_of_buildings_does_not():
    with pytest.raises(InputError, match="stamp") as missing:
        parse_operation({"op": "paint", "to": TO, "blocks": [BLOCK]})
    assert HAN.search(missing.value.message)
    with pytest.raises(InputError, match="stamp"):
        parse_operation({"op": "paint", "to": TO, "blocks": [BLOCK], "stamp": 7})
    with pytest.raises(InputError, match="stamp"):
        parse_operation({"op": "paint", "to": TO, "blocks": [BLOCK], "stamp": ""})
    assert parse_operation({"op": "paint", "to": TO, "buildings": [1]}).stamp is None
    with pytest.raises(InputError, match="not stamp"):  # only a paint takes one
        parse_operation({"op": "merge", "codes": [TO, TO], "stamp": "x"})


def test_a_transaction_sees_its_own_writes_in_the_stamp(writable_demo):
    ws = writable_demo
    streets = blocks.blocks_stamp(ws)
    one = int(ws.read("streets", limit=1).index[0])
    with pytest.raises(RuntimeError), ws.transaction(user="t", action="try") as tx:
        crs = blocks.metric_crs(ws)
        assert blocks.blocks_stamp(tx, crs) == streets
        tx.delete("streets", [one])
        assert blocks.blocks_stamp(tx, crs) != streets
        raise RuntimeError("roll back")
    assert blocks.blocks_stamp(ws) == streets
    assert ws.content_stamp(["streets"]) != ws.content_stamp(["community"])
    assert ws.content_stamp(["streets", "community"]) == ws.content_stamp(["community", "streets"])


def test_the_page_gets_a_stamp_and_a_stale_paint_is_a_409(writable_demo, role_tokens):
    from web.app import create_app

    ws = writable_demo
    app = create_app({"WORKSPACE": ws, "TESTING": True})
    planner = client_of(app, role_tokens, "planner")
    reply = planner.get("/api/grids/blocks")
    assert reply.status_code == 200 and reply.mimetype == "application/geo+json"
    doc = reply.get_json()
    assert doc["stamp"] == blocks.blocks_stamp(ws) and len(doc["features"]) > BLOCK
    assert client_of(app, role_tokens, "analyst").get("/api/grids/blocks").get_json()["stamp"]
    remove_a_street_north_of(ws, BLOCK)
    was = state(ws)
    body = {"op": "paint", "to": TO, "blocks": [BLOCK], "stamp": doc["stamp"]}
    resp = planner.post("/api/grids/edit", json={**body, "versions": {TO: version(ws, TO)}})
    assert resp.status_code == 409, resp.get_json()
    error = resp.get_json()["error"]
    assert error["code"] == "blocks_changed" and HAN.search(error["message"])
    assert state(ws) == was
    again = planner.get("/api/grids/blocks").get_json()
    assert again["stamp"] != doc["stamp"] and len(again["features"]) == len(doc["features"]) - 1
    # the rebalance proposal carries the stamp of the blocks its moves are numbered in
    proposal = planner.get("/api/grids/rebalance").get_json()
    assert proposal["stamp"] == again["stamp"]
    ws_blocks = np.asarray(blocks.workspace_blocks(ws).index)
    assert all(m["block"] in ws_blocks for m in proposal["moves"])
