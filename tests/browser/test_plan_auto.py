"""The automatic partition as a proposal in the planning card, in chromium, as a planner uses it:
Propose a partition → choose the community → the job's progress → the proposal drawn over the
plan with its figures → Discard leaves the plan as it was; → Accept replaces the community's
grids (figures table updated) → Ctrl+Z takes the whole acceptance back.

Each test writes (or may), so each has its own server over a copy of the demo (``plan_page``);
what the page did is checked in the workspace too. Screenshot for docs/planner.md: planner-plan-auto.png.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from gridmap import store
from tests.browser.kit import grids_of, idle, select, shoot, status
from tests.planning_kit import community_grids

pytestmark = pytest.mark.browser

COMMUNITY = "320102001003"


def community_state(path) -> dict[str, tuple[int, int, bytes]]:
    """The community's grids in the workspace: code → (fid, version, outline as WKB)."""
    with store.GeoPackageWorkspace(path, read_only=True) as ws:
        return community_grids(ws, COMMUNITY)


def propose(page: Page, code: str) -> dict:
    """Select grid ``code``, ask for a partition of its community, wait for the proposal."""
    select(page, code)
    page.click("#plan-auto")
    page.wait_for_selector("#plan-auto-community")
    assert page.locator("#plan-auto-community").input_value() == COMMUNITY
    page.click("#plan-auto-start")
    page.wait_for_selector("#plan-card[data-partition=running]", timeout=10_000)
    page.wait_for_selector("#plan-auto-accept", timeout=120_000)
    idle(page)
    return page.evaluate("() => window.gridmap.planning.partition.doc")


def test_a_proposal_is_shown_over_the_plan_and_discarded(plan_page, writable_demo) -> None:
    page, watch = plan_page()
    before = community_state(writable_demo.path)
    with store.GeoPackageWorkspace(writable_demo.path, read_only=True) as ws:
        log = len(ws.audit_log(limit=None))
    doc = propose(page, sorted(before)[0])
    n = len(doc["features"])
    assert n > 1 and doc["proposal"]["community"] == COMMUNITY
    # drawn over the plan, the plan still beneath it
    assert page.evaluate("() => window.gridmap.planning.partitionLayer.byKey.size") == n
    assert page.evaluate(
        "() => window.gridmap.map.hasLayer(window.gridmap.planning.partitionLayer.group)"
    )
    assert page.locator("#plan-figures tbody tr").count() == 52
    kind, text = status(page)
    figures = doc["proposal"]["figures"]
    assert kind == "info" and f"{n} grids, {figures['in_range']} within" in text, text
    assert "largest deviation" in text
    shoot(page, "planner-plan-auto.png")
    page.click("#plan-auto-discard")
    idle(page)
    assert status(page)[0] == "info" and "discarded" in status(page)[1]
    assert not page.evaluate(
        "() => window.gridmap.map.hasLayer(window.gridmap.planning.partitionLayer.group)"
    )
    assert page.evaluate("() => window.gridmap.planning.partition") is None
    assert community_state(writable_demo.path) == before  # nothing written
    with store.GeoPackageWorkspace(writable_demo.path, read_only=True) as ws:
        assert len(ws.audit_log(limit=None)) == log
    assert page.locator("#plan-figures tbody tr").count() == 52
    watch.assert_clean()


def test_a_proposal_accepted_replaces_the_grids_and_ctrl_z_restores_them(
    plan_page, writable_demo
) -> None:
    page, watch = plan_page("zh-CN")
    before = community_state(writable_demo.path)
    total = len(grids_of(writable_demo.path))
    doc = propose(page, sorted(before)[0])
    assert "个网格" in status(page)[1]  # the figures, in Chinese
    proposed = {f["properties"]["code"]: f["properties"]["households"] for f in doc["features"]}
    page.click("#plan-auto-accept")
    page.wait_for_function(
        "() => document.querySelector('#plan-status').dataset.kind === 'ok'"
        " && !window.gridmap.planning.partition",
        timeout=60_000,
    )
    idle(page)
    after = grids_of(writable_demo.path)
    mine = {c: r for c, r in after.items() if r.community_code == COMMUNITY}
    assert {c: int(r.households) for c, r in mine.items()} == proposed
    assert len(after) == total - len(before) + len(proposed)
    # the figures table shows the new grids with their households
    rows = page.locator("#plan-figures tbody tr")
    assert rows.count() == len(after)
    for code, households in proposed.items():
        cell = page.locator(f'#plan-figures tr[data-code="{code}"] td').first
        assert cell.inner_text().replace(",", "") == str(households), code
    # one Ctrl+Z takes the whole acceptance back
    page.locator("#map").focus()
    page.keyboard.press("Control+z")
    idle(page)
    assert status(page)[0] == "ok", status(page)
    back = community_state(writable_demo.path)
    assert {c: w for c, (_, _, w) in back.items()} == {c: w for c, (_, _, w) in before.items()}
    assert page.locator("#plan-figures tbody tr").count() == total
    watch.assert_clean()
