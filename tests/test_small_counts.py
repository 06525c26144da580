"""Household counts under 5 in the planning replies, per role (gridmap.access.counts).

A street block's or a grid's count of 1 to 4 households can point at one household: it is
``"<5"`` for a reader who may not count that grid's register — by the role table a grid
worker outside their own grids. The admin (the register in full) and planners, patrol leads
and analysts (the register's masked view: one row per household at its building, so every
count can be read off it) get exact counts; so does a grid worker in their own grids.
"""

from __future__ import annotations

import numpy as np
import pytest

from gridmap.access.counts import SMALL_TEXT, exact_counts, shown_count
from gridmap.access.roles import ROLES, Access
from gridmap.grids.blocks import locate
from gridmap.service import grid_checks
from gridmap.service.blocks import blocks_with_figures, workspace_blocks
from tests.test_write_api import _copy, client_of

SMALL = "320102001004001"  # the grid made small below (not the demo worker's)
OTHER = "320102001001001"


def access_of(role: str, grids: tuple[str, ...] = ()) -> Access:
    return Access.of(f"demo-{role}", role, grids=grids)


EXACT = [access_of(r) for r in ROLES if r != "grid_worker"] + [access_of("grid_worker", (SMALL,))]
MASKED = [access_of("grid_worker", (OTHER,)), access_of("grid_worker")]


def test_the_rule_follows_the_role_table():
    for who in EXACT:
        assert exact_counts(who, SMALL), who.role
    for who in MASKED:
        assert not exact_counts(who, SMALL)
        assert shown_count(3, who, [SMALL]) == SMALL_TEXT
        assert shown_count(0, who, [SMALL]) == 0 and shown_count(5, who, [SMALL]) == 5
    assert exact_counts(None, SMALL)  # the CLI
    assert shown_count(3, EXACT[0], [SMALL]) == 3


@pytest.fixture(scope="module")
def small(demo_path, tmp_path_factory):
    """The demo with grid SMALL holding 3 households (its buildings' and its own figure)."""
    ws = _copy(demo_path, tmp_path_factory.mktemp("small"))
    blocks = workspace_blocks(ws)
    b = ws.read("buildings")
    inner = b.to_crs(blocks.crs).geometry.values
    block_of = locate(np.asarray(inner, dtype=object), np.asarray(blocks.geometry.values))
    mine = b["grid_code"].to_numpy() == SMALL
    first = int(np.flatnonzero(mine)[0])
    # one building of SMALL holds 3 households; the rest of SMALL and of its block none
    zero = mine | (block_of == block_of[first])
    with ws.transaction(user="test", action="small grid") as tx:
        tx.update_many(
            "buildings",
            {int(b.index[i]): {"households": 3 if i == first else 0} for i in np.flatnonzero(zero)},
        )
        g = ws.read("grids")
        tx.update("grids", int(g.index[g["code"] == SMALL][0]), {"households": 3, "residents": 4})
    yield ws
    ws.close()


@pytest.mark.parametrize("who", EXACT + MASKED, ids=lambda a: f"{a.role}{sorted(a.grids)}")
def test_checks_show_small_counts_per_role(small, who):
    found = grid_checks.validate(small)
    exact = who in EXACT
    (finding,) = [
        f
        for f in found.findings_json(who)
        if f["kind"] == "households_range" and SMALL in f["grids"]
    ]
    assert finding["value"] == (3 if exact else SMALL_TEXT)
    assert ("3 households" in finding["message_en"]) == exact
    assert ("3 户" in finding["message_zh"]) == exact
    assert "fewer" in finding["message_en"] and "少于" in finding["message_zh"]
    (row,) = [r for r in found.figures_json(who) if r["code"] == SMALL]
    assert row["households"] == (3 if exact else SMALL_TEXT)
    assert row["residents"] == (4 if exact else SMALL_TEXT)
    assert (row["deviation"] is None) != exact
    (far,) = [r for r in found.figures_json(who) if r["code"] == OTHER]
    assert isinstance(far["households"], int) and far["households"] >= 5
    # incidents are the register's: none of a grid whose register the reader may not count
    assert (row["incidents_12m"] is None) != exact
    assert isinstance(far["incidents_12m"], int) == exact_counts(who, OTHER)


@pytest.mark.parametrize("who", EXACT + MASKED, ids=lambda a: f"{a.role}{sorted(a.grids)}")
def test_blocks_show_small_counts_per_role(small, who):
    blocks = blocks_with_figures(small, who)
    exact_blocks = blocks_with_figures(small)
    few = exact_blocks["households"].between(1, 4)
    assert few.any()
    for (_, shown), (_, real) in zip(
        blocks[few].iterrows(), exact_blocks[few].iterrows(), strict=True
    ):
        if who in EXACT and (who.role != "grid_worker" or real["grid_code"] in who.grids):
            assert shown["households"] == real["households"]
        else:
            assert shown["households"] == SMALL_TEXT
    assert (blocks[~few]["households"] == exact_blocks[~few]["households"]).all()


def test_the_api_masks_small_counts_for_a_grid_worker_outside_their_grids(small, role_tokens):
    from web.app import create_app

    app = create_app({"WORKSPACE": small, "TESTING": True})
    worker = client_of(app, role_tokens, "grid_worker")
    planner = client_of(app, role_tokens, "planner")
    theirs = set(small.get_user("demo-worker").grids)
    assert SMALL not in theirs

    def households(client, url, key):
        doc = client.get(url).get_json()
        rows = doc["features"] if key == "id" else doc["figures"]
        return {r[key]: (r["properties"] if key == "id" else r)["households"] for r in rows}

    seen = households(worker, "/api/grids/blocks", "id")
    real = households(planner, "/api/grids/blocks", "id")
    assert seen.keys() == real.keys() and all(isinstance(n, int) for n in real.values())
    few = [i for i, n in real.items() if 1 <= n <= 4]
    assert few and all(seen[i] == SMALL_TEXT for i in few)
    assert all(seen[i] == n for i, n in real.items() if i not in few)
    seen = households(worker, "/api/grids/checks", "code")
    assert (
        seen[SMALL] == SMALL_TEXT and households(planner, "/api/grids/checks", "code")[SMALL] == 3
    )
