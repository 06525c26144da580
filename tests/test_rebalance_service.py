"""The rebalance on the demo: applying a proposal never leaves a grid in pieces, and a
proposal that brings no grid into range moves nothing."""

from __future__ import annotations

import pytest

from gridmap.access.roles import PLANNER, Access
from gridmap.service import grid_checks, rebalance
from gridmap.service.blocks import blocks_stamp

WHO = Access.of("test", PLANNER)


def _pieces(ws) -> set[str]:
    found = grid_checks.validate(ws, bounds=(0, 1e9))
    return {c for f in found.findings if f.kind == "multipart" for c in f.grids}


@pytest.mark.parametrize(
    ("target", "tolerance"),
    [(400, 0.2), (375, 0.2), (400, 0.1)],  # the default; 300-450 of the user trial; narrow
)
def test_applying_a_rebalance_splits_no_grid(writable_demo, target, tolerance):
    before = _pieces(writable_demo)
    plan = rebalance.propose(writable_demo, target=target, tolerance=tolerance)
    if plan.moves:
        rebalance.apply(writable_demo, plan, access=WHO)
    assert _pieces(writable_demo) <= before, plan.moves
    # what the proposal said is what the plan now holds
    again = rebalance.propose(writable_demo, target=target, tolerance=tolerance)
    assert {g["code"]: g["before"] for g in again.grids} == {
        g["code"]: g["after"] for g in plan.grids
    }


@pytest.mark.parametrize(("target", "tolerance"), [(400, 0.2), (375, 0.2), (400, 0.1)])
def test_a_proposal_moves_blocks_only_when_it_brings_grids_into_range(
    writable_demo, target, tolerance
):
    plan = rebalance.propose(writable_demo, target=target, tolerance=tolerance)
    doc = plan.to_json()
    if plan.moves:
        assert doc["outside_after"] < doc["outside_before"]
        assert doc["note"] is None
    else:
        assert doc["outside_after"] == doc["outside_before"]
        assert all(g["before"] == g["after"] for g in doc["grids"])
        if doc["outside_before"]:
            assert "no improvement found" in doc["note"].lower()
            assert "未找到可改进的调整" in doc["note"]


def test_a_block_painted_away_is_brought_back_in_one_piece(writable_demo):
    from gridmap.service.planning import edit_grids

    ws = writable_demo
    version = int(ws.read("grids", where={"code": ["320102001004006"]})["version"].iloc[0])
    # block 63 (103 households) from 4-007 (405) to 4-006 (411): both fall out of 320-480
    edit_grids(
        ws,
        {
            "op": "paint",
            "to": "320102001004006",
            "blocks": [63],
            "versions": {"320102001004006": version},
            "stamp": blocks_stamp(ws),
        },
        access=WHO,
    )
    before = _pieces(ws)
    plan = rebalance.propose(ws, target=400, tolerance=0.2)
    doc = plan.to_json()
    assert doc["outside_before"] >= 2 and doc["outside_after"] < doc["outside_before"]
    assert plan.moves and doc["note"] is None and plan.method != "none"
    rebalance.apply(ws, plan, access=WHO)
    assert _pieces(ws) <= before
    found = grid_checks.validate(ws, bounds=plan.bounds)
    assert sum(1 for f in found.findings if f.kind == "households_range") == doc["outside_after"]


def test_a_plan_without_the_version_of_a_grid_it_paints_into_is_refused(writable_demo):
    import dataclasses

    from gridmap.errors import InputError

    ws = writable_demo
    plan = rebalance.propose(ws, target=400, tolerance=0.2)
    source, to = "320102001004007", "320102001004006"  # block 63 lies between them
    move = {"block": 63, "from": source, "to": to, "buildings": []}
    versions = {c: v for c, v in plan.versions.items() if c != to}
    bad = dataclasses.replace(plan, moves=[move], versions=versions)
    last = int(ws.audit_log(limit=1)["fid"].iloc[0])
    with pytest.raises(InputError) as err:
        rebalance.apply(ws, bad, access=WHO)
    assert to in err.value.message and "未保存" in err.value.message
    assert int(ws.audit_log(limit=1)["fid"].iloc[0]) == last  # nothing painted
