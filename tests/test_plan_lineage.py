"""The lineage of the plan (which grid codes became which) follows undo, redo and restore.

Every planning save writes its lineage entries with its transaction;
:func:`gridmap.service.plan_history.lineage` returns the entries in effect, whichever way a
version was taken back (the planning page's undo and redo, ``gridmap undo``, a restore).
"""

from __future__ import annotations

from gridmap.access.roles import Access
from gridmap.service import plan_history, planning
from tests.planning_kit import with_versions
from tests.test_write_api import _copy

CODE = "320102001002003"


def split_body(ws) -> dict:
    grids = ws.read("grids").set_index("code")
    minx, miny, maxx, maxy = grids.geometry[CODE].bounds
    mid = (minx + maxx) / 2
    line = {"type": "LineString", "coordinates": [[mid, miny - 0.001], [mid, maxy + 0.001]]}
    return with_versions(ws, {"op": "split", "code": CODE, "line": line})


def seen(ws) -> dict[str, int]:
    g = ws.read("grids")
    return {str(c): int(v) for c, v in zip(g["code"], g["version"], strict=True)}


def splits(ws) -> list[tuple[list[str], list[str]]]:
    return [(e["from"], e["to"]) for e in plan_history.lineage(ws) if e["op"] == "split"]


def test_undo_and_redo_of_a_split_take_its_lineage_back_and_forth(demo_path, tmp_path):
    ws = _copy(demo_path, tmp_path)
    me = Access.of("planner1", "planner")
    before = plan_history.lineage(ws)
    done = planning.edit_grids(ws, split_body(ws), access=me)
    (new,) = done.added
    assert splits(ws) == [([CODE], [CODE, new])]
    assert ws.get_meta("grid_lineage")[-1]["tx"] == done.tx
    plan_history.undo(ws, access=me)
    assert new not in set(ws.read("grids")["code"])
    assert plan_history.lineage(ws) == before
    plan_history.redo(ws, access=me)
    assert new in set(ws.read("grids")["code"])
    assert splits(ws) == [([CODE], [CODE, new])]
    # an undo from the command line (the store's undo of the redo) takes it back too
    redo_tx = int(ws.audit_log(limit=1)["fid"].iloc[0])
    ws.undo(redo_tx, user="cli")
    assert plan_history.lineage(ws) == before
    # the undone code stays used: the next split does not give it out again
    again = planning.edit_grids(ws, split_body(ws), access=me)
    assert again.added != (new,)
    ws.close()


def test_a_restore_takes_back_the_lineage_of_the_edits_after_the_version(demo_path, tmp_path):
    ws = _copy(demo_path, tmp_path)
    me = Access.of("planner1", "planner")
    first = min(v.tx for v in plan_history.versions(ws, limit=500))
    before = plan_history.lineage(ws)
    done = planning.edit_grids(ws, split_body(ws), access=me)
    (new,) = done.added
    a, b = "320102001003001", "320102001003002"
    merged = planning.edit_grids(ws, with_versions(ws, {"op": "merge", "codes": [a, b]}), access=me)
    assert len(plan_history.lineage(ws)) == len(before) + 2
    # back to the version right after the split: the merge's lineage goes, the split's stays
    restored = plan_history.restore(ws, done.tx, access=me, versions=seen(ws))
    assert b in set(ws.read("grids")["code"])
    assert splits(ws) == [([CODE], [CODE, new])]
    assert all(e.get("tx") != merged.tx for e in plan_history.lineage(ws))
    # back to the first version: neither
    plan_history.restore(ws, first, access=me, versions=seen(ws))
    assert plan_history.lineage(ws) == before
    # undoing that restore brings back the split's, undoing the first restore the merge's
    plan_history.undo(ws, access=me)
    assert splits(ws) == [([CODE], [CODE, new])]
    plan_history.undo(ws, access=me)
    assert [e["tx"] for e in plan_history.lineage(ws)[len(before) :]] == [done.tx, merged.tx]
    assert restored > merged.tx
    ws.close()


def test_gridmap_grids_lineage_prints_the_entries_in_effect(demo_path, tmp_path, capsys):
    """``gridmap grids lineage`` is the lineage of :func:`plan_history.lineage`: an undone
    split is not in it, though the workspace setting keeps its entry."""
    import json

    from gridmap.cli import main

    ws = _copy(demo_path, tmp_path)
    path = str(ws.path)
    me = Access.of("planner1", "planner")
    done = planning.edit_grids(ws, split_body(ws), access=me)
    (new,) = done.added

    def printed(*extra: str) -> list[dict]:
        assert main(["grids", "lineage", path, "--json", *extra]) == 0
        return json.loads(capsys.readouterr().out)["lineage"]

    assert [(e["op"], e["from"], e["to"], e["tx"]) for e in printed("--code", new)] == [
        ("split", [CODE], [CODE, new], done.tx)
    ]
    assert printed("--code", "320102001005001") == []
    assert main(["grids", "lineage", path, "--code", CODE, "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    assert f"拆分：{CODE} -> {CODE}、{new}" in out and "共 1 条" in out
    assert main(["grids", "lineage", path, "--code", CODE, "--lang", "en"]) == 0
    assert f"split: {CODE} -> {CODE}, {new} (version {done.tx})" in capsys.readouterr().out
    plan_history.undo(ws, access=me)
    assert [e for e in ws.get_meta("grid_lineage") if e.get("tx") == done.tx]  # kept there
    assert printed("--code", new) == []
    ws.close()
