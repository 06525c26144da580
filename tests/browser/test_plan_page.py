"""Grid planning in chromium, as a planner uses it: the Plan grids button, a shared vertex dragged
with the neighbour following, a split along a drawn line, a merge, undo with Ctrl+Z, a street
block painted into another grid, a gap left by a delete and closed by its one-click fix, a stale
edit answered with the plan as it is now; who gets no planning button.

Each test writes, so each has its own server over a copy of the demo (``plan_page``: the demo
planner signed in there with the planning card open); what the page did is checked in the
workspace too.

Screenshots for docs/planner.md: planner-plan.png (the card and the grids coloured by
households), planner-plan-reshape.png (a vertex dragged), planner-plan-checks.png (a gap found).
"""

from __future__ import annotations

import json
import re

import pytest
import shapely
import shapely.ops
from playwright.sync_api import Browser, Page
from shapely.geometry import LineString, shape

from gridmap import store
from tests.browser.kit import (
    PIXEL_JS,
    READY,
    coverage_findings,
    expect_refused,
    grids_of,
    idle,
    new_context,
    open_plan,
    select,
    shoot,
    short,
    show,
    sign_in_planner,
    status,
    watched_page,
)

pytestmark = pytest.mark.browser

HAN = re.compile(r"[\u4e00-\u9fff]")

# A vertex of the selected grid shared with another grid, whose ring neighbours lie at least
# 40 px away (so the drag takes the vertex, not an edge's middle marker), in the open map.
SHARED_VERTEX_JS = """
() => {
  const P = window.gridmap.planning, map = window.gridmap.map;
  const code = P.state.selected[0];
  const key = (ll) => ll.lat.toFixed(7) + ',' + ll.lng.toFixed(7);
  const others = new Map();
  for (const [c, l] of P.plan.byKey) if (c !== code) for (const ll of l.getLatLngs().flat(3)) others.set(key(ll), c);
  const card = document.querySelector('#plan-card').getBoundingClientRect();
  const panel = document.querySelector('#panel').getBoundingClientRect();
  const ring = P.plan.get(code).getLatLngs().flat(1)[0];
  const px = (ll) => map.latLngToContainerPoint(ll);
  for (let i = 0; i < ring.length; i++) {
    const c = others.get(key(ring[i]));
    if (!c) continue;
    const p = px(ring[i]);
    const a = px(ring[(i - 1 + ring.length) % ring.length]), b = px(ring[(i + 1) % ring.length]);
    if (p.distanceTo(a) < 40 || p.distanceTo(b) < 40) continue;
    if (p.x > panel.right + 40 && p.x < card.left - 40 && p.y > 60 && p.y < 700)
      return {x: p.x, y: p.y, neighbour: c, key: key(ring[i])};
  }
  return null;
}
"""

# Where the selected grid lies on the page, and the left panel's right edge and the card's left.
FREE_VIEW_JS = """
(code) => {
  const P = window.gridmap.planning, map = window.gridmap.map;
  const b = P.plan.get(code).getBounds(), r = map.getContainer().getBoundingClientRect();
  const nw = map.latLngToContainerPoint(b.getNorthWest());
  const se = map.latLngToContainerPoint(b.getSouthEast());
  return {
    left: r.left + nw.x, right: r.left + se.x,
    panel: document.querySelector('#panel').getBoundingClientRect().right,
    card: document.querySelector('#plan-card').getBoundingClientRect().left,
  };
}
"""


def test_a_planner_drags_a_shared_vertex_and_the_neighbour_follows(
    plan_page, writable_demo
) -> None:
    page, watch = plan_page()
    assert page.locator("#plan-figures tbody tr").count() == 52
    assert page.evaluate("() => window.gridmap.app.mode") == "plan"
    shoot(page, "planner-plan.png")
    before = grids_of(writable_demo.path)
    code = sorted(before)[0]
    select(page, code)
    page.wait_for_timeout(600)  # the fit's animation
    # the row's click fitted the grid into the map beside the left panel and the card
    box = page.evaluate(FREE_VIEW_JS, code)
    assert box["left"] >= box["panel"] - 1 and box["right"] <= box["card"] + 1, box
    # the figures table fits the card in English (short headers, the full name as a tooltip)
    widths = page.evaluate(
        "() => { const w = document.querySelector('.plan-table-wrap');"
        " return [w.scrollWidth, w.clientWidth]; }"
    )
    assert widths[0] <= widths[1], widths
    last = page.locator("#plan-figures thead th").last
    assert last.inner_text() == "Dev." and "Deviation" in (last.get_attribute("title") or "")
    page.click('[data-plan-tool="reshape"]')
    page.wait_for_selector("#plan-save")
    v = page.evaluate(SHARED_VERTEX_JS)
    assert v, "no shared vertex in view"
    page.mouse.move(v["x"], v["y"])
    page.mouse.down()
    page.mouse.move(v["x"] + 12, v["y"] + 9, steps=4)
    page.mouse.move(v["x"] + 24, v["y"] + 16, steps=4)
    page.mouse.up()
    # the neighbour's copy moved with it (before any save)
    still = page.evaluate(
        "(v) => window.gridmap.planning.plan.get(v.neighbour).getLatLngs().flat(3)"
        ".some((ll) => ll.lat.toFixed(7) + ',' + ll.lng.toFixed(7) === v.key)",
        v,
    )
    assert not still, "the neighbour kept the old vertex while it was dragged"
    shoot(page, "planner-plan-reshape.png")
    page.keyboard.press("Enter")
    idle(page)
    kind, text = status(page)
    assert kind == "ok", text
    after = grids_of(writable_demo.path)
    assert after[code].version > before[code].version
    assert after[v["neighbour"]].version > before[v["neighbour"]].version
    # one coverage still: no overlap and no gap
    assert not coverage_findings(writable_demo.path)
    shared = shapely.intersection(after[code].geometry, after[v["neighbour"]].geometry)
    assert shared.length > 0 and shared.area < 1e-12  # they meet along a line
    watch.assert_clean()


def _split_line(geom) -> LineString | None:
    """A north–south line through the grid's middle, past its edges, that cuts it in two."""
    minx, miny, maxx, maxy = geom.bounds
    for f in (0.5, 0.4, 0.6, 0.3, 0.7):
        x = minx + (maxx - minx) * f
        line = LineString([(x, maxy + (maxy - miny) * 0.1), (x, miny - (maxy - miny) * 0.1)])
        if len(shapely.get_parts(shapely.ops.split(geom, line))) == 2:
            return line
    return None


def test_split_merge_and_undo_from_the_keyboard(plan_page, writable_demo) -> None:
    page, watch = plan_page()
    grids = grids_of(writable_demo.path)
    code = next(c for c in sorted(grids) if _split_line(grids[c].geometry))
    select(page, code)
    page.click(f'#plan-figures tr[data-code="{code}"]')  # fit the map to it
    idle(page)
    line = _split_line(grids[code].geometry)
    (x0, y0), (x1, y1) = line.coords
    page.click('[data-plan-tool="split"]')
    a = page.evaluate(PIXEL_JS, [x0, y0])
    b = page.evaluate(PIXEL_JS, [x1, y1])
    page.mouse.click(a["x"], a["y"])
    page.mouse.dblclick(b["x"], b["y"])
    idle(page)
    kind, text = status(page)
    assert kind == "ok", text
    after = grids_of(writable_demo.path)
    assert len(after) == len(grids) + 1
    new = page.evaluate("() => window.gridmap.planning.state.selected")
    assert len(new) == 1 and new[0] not in grids
    # merge the two pieces again: the new one is selected, Shift+click adds the old
    layer_point = page.evaluate(
        "(c) => { const l = window.gridmap.planning.plan.get(c);"
        " const p = window.gridmap.map.latLngToContainerPoint(l.getCenter()); return {x: p.x, y: p.y}; }",
        code,
    )
    page.keyboard.down("Shift")
    page.mouse.click(layer_point["x"], layer_point["y"])
    page.keyboard.up("Shift")
    assert sorted(page.evaluate("() => window.gridmap.planning.state.selected")) == sorted(
        [code, new[0]]
    )
    page.click("#plan-merge")
    idle(page)
    kind, text = status(page)
    assert kind == "ok", text
    merged = grids_of(writable_demo.path)
    assert len(merged) == len(grids)
    # the grid with more households keeps its code (ties: the lower), whichever came first;
    # the status names that one only
    keep = min((code, new[0]), key=lambda c: (-after[c].households, c))
    gone = new[0] if keep == code else code
    assert keep in merged and gone not in merged
    assert short(keep) in text and short(gone) not in text, text
    # Ctrl+Z takes the merge back
    page.locator("#map").focus()
    page.keyboard.press("Control+z")
    idle(page)
    assert status(page)[0] == "ok", status(page)
    assert len(grids_of(writable_demo.path)) == len(grids) + 1
    assert page.locator("#plan-figures tbody tr").count() == len(grids) + 1
    watch.assert_clean()


def test_a_block_is_painted_and_a_gap_is_found_and_fixed(plan_page, writable_demo) -> None:
    page, watch = plan_page("zh-CN")
    # a street block held by one grid, beside another grid of the same community
    blocks = json.loads(page.evaluate("() => fetch('api/grids/blocks').then((r) => r.text())"))
    grids = grids_of(writable_demo.path)
    target = block = None
    for f in blocks["features"]:
        holder = f["properties"]["grid_code"]
        if not holder or not f["properties"]["buildings"]:
            continue
        geom = shape(f["geometry"])
        for c, r in grids.items():
            same = c != holder and r.community_code == grids[holder].community_code
            if same and r.geometry.intersection(geom.buffer(1e-6)).length > 0:
                target, block = c, f
                break
        if target:
            break
    assert target, "no block beside another grid"
    select(page, target)
    page.click('[data-plan-tool="paint-blocks"]')
    idle(page)
    # a click on the block, where the grid around it would have taken it before
    inner = shape(block["geometry"]).representative_point()
    show(page, inner.x, inner.y, 17)
    at = page.evaluate(PIXEL_JS, [inner.x, inner.y])
    page.mouse.click(at["x"], at["y"])
    assert page.evaluate("() => [...window.gridmap.planning.picked]") == [str(block["id"])]
    page.click("#plan-paint-apply")
    idle(page)
    kind, text = status(page)
    assert kind == "ok", text
    blocks_after = json.loads(
        page.evaluate("() => fetch('api/grids/blocks').then((r) => r.text())")
    )
    now = {f["id"]: f["properties"]["grid_code"] for f in blocks_after["features"]}
    assert now[block["id"]] == target
    # painted again into the grid that holds it now: nothing saved, and the page says so
    with store.GeoPackageWorkspace(writable_demo.path, read_only=True) as ws:
        newest = int(ws.audit_log(limit=1)["fid"].iloc[0])
    page.wait_for_function(
        "(id) => window.gridmap.planning.blockLayer.get(String(id))", arg=block["id"]
    )
    page.evaluate(
        "(id) => { window.gridmap.planning.blockLayer.get(String(id)).fire('click'); }",
        block["id"],
    )
    page.click("#plan-paint-apply")
    idle(page)
    kind, text = status(page)
    assert kind == "info" and "未作改动" in text and short(target) in text, (kind, text)
    with store.GeoPackageWorkspace(writable_demo.path, read_only=True) as ws:
        assert int(ws.audit_log(limit=1)["fid"].iloc[0]) == newest  # no version written
    # delete a grid leaving a gap: the checks find it, its fix gives it to a neighbour
    page.click('[data-plan-tool="select"]')
    victim = next(c for c in sorted(grids) if c != target)
    select(page, victim)
    page.click("#plan-delete")
    page.click("#plan-delete-gap")
    idle(page)
    page.click('[data-plan-tab="checks"]')
    page.wait_for_selector('#plan-findings li[data-kind="gap"]')
    shoot(page, "planner-plan-checks.png")
    page.click('#plan-findings li[data-kind="gap"] .plan-fix')
    idle(page)
    assert status(page)[0] == "ok", status(page)
    assert page.locator('#plan-findings li[data-kind="gap"]').count() == 0
    assert not coverage_findings(writable_demo.path)
    watch.assert_clean()


def _square_in(geom, side_m: float = 60.0):
    """A square of about ``side_m`` metres (in degrees, Nanjing's latitude) inside ``geom``."""
    p = geom.representative_point()
    dy = side_m / 2 / 111_320
    dx = dy / 0.83  # cos(32°)
    square = shapely.box(p.x - dx, p.y - dy, p.x + dx, p.y + dy)
    return square if geom.contains(square) else None


def _draw_with_mouse(page: Page, ring) -> None:
    """Click the ring's corners in the draw tool and close it on the first one."""
    page.click('[data-plan-tool="draw"]')
    corners = [page.evaluate(PIXEL_JS, list(xy)) for xy in list(ring.exterior.coords)[:-1]]
    for c in corners:
        page.mouse.click(c["x"], c["y"])
        page.wait_for_timeout(80)
    page.mouse.click(corners[0]["x"], corners[0]["y"])
    idle(page)


def test_a_grid_is_drawn_with_the_mouse_and_one_outside_is_refused(
    plan_page, writable_demo
) -> None:
    page, watch = plan_page()
    grids = grids_of(writable_demo.path)
    code, square = next(
        (c, sq) for c in sorted(grids) if (sq := _square_in(grids[c].geometry)) is not None
    )
    page.click(f'#plan-figures tr[data-code="{code}"]')  # fit the map to it
    idle(page)
    page.evaluate("() => { window.gridmap.map.setZoom(18, {animate: false}); }")
    page.evaluate(
        "([lng, lat]) => { window.gridmap.map.panTo([lat, lng], {animate: false}); }",
        [square.centroid.x, square.centroid.y],
    )
    idle(page)
    _draw_with_mouse(page, square)
    kind, text = status(page)
    assert kind == "ok", text
    after = grids_of(writable_demo.path)
    (new,) = set(after) - set(grids)
    assert after[new].community_code == grids[code].community_code
    # the drawn square, snapped a little perhaps, taken from the grid it was drawn in
    drawn = after[new].geometry
    assert drawn.intersection(square).area > 0.8 * square.area
    assert after[code].geometry.intersection(square).area < 0.2 * square.area
    assert page.locator(f'#plan-figures tr[data-code="{new}"]').count() == 1
    assert not coverage_findings(writable_demo.path)
    # a grid drawn off the community is refused, said in the page, nothing saved
    _, miny, maxx, _ = shapely.union_all([r.geometry for r in after.values()]).bounds
    off = shapely.box(maxx + 0.002, miny, maxx + 0.0028, miny + 0.0006)
    show(page, off.centroid.x, off.centroid.y, 17)
    _draw_with_mouse(page, off)
    kind, text = status(page)
    assert kind == "error", (kind, text)
    assert "community" in text, text
    # the server's message in the page's language only (it answers in both)
    assert not HAN.search(text), text
    assert set(grids_of(writable_demo.path)) == set(after)
    # a bow-tie (its corners clicked across) is refused with the place it crosses itself
    (a, b, c, d) = list(square.exterior.coords)[:4]
    show(page, square.centroid.x, square.centroid.y, 18)
    _draw_with_mouse(page, shapely.Polygon([a, c, b, d]))
    kind, text = status(page)
    assert kind == "error" and "crosses itself" in text, (kind, text)
    assert {k: g.geometry.wkb for k, g in grids_of(writable_demo.path).items()} == {
        k: g.geometry.wkb for k, g in after.items()
    }
    expect_refused(watch, "api/grids/edit")  # both 400s, said in the page
    watch.assert_clean()


def test_a_planner_paints_a_building_by_clicking_it(plan_page, writable_demo) -> None:
    """Planners are served opaque building ids: the click, the paint and the save go by them."""
    page, watch = plan_page()
    grids = grids_of(writable_demo.path)
    with store.GeoPackageWorkspace(writable_demo.path, read_only=True) as ws:
        buildings = ws.read("buildings")
    # a building of one grid beside another grid of its community, the target
    target = building = None
    for fid, b in buildings.iterrows():
        holder = grids.get(str(b["grid_code"]))
        if holder is None or not b["households"]:
            continue
        for c, r in grids.items():
            same = c != holder.code and r.community_code == holder.community_code
            if same and r.geometry.distance(b.geometry) < 2e-4:
                target, building = c, (fid, b)
                break
        if target:
            break
    assert target, "no building beside another grid"
    fid, b = building
    select(page, target)
    page.click('[data-plan-tool="paint-buildings"]')
    inner = b.geometry.representative_point()
    show(page, inner.x, inner.y, 18)
    page.wait_for_function("() => window.gridmap.planning.buildingLayer.byKey.size > 0")
    at = page.evaluate(PIXEL_JS, [inner.x, inner.y])
    page.mouse.click(at["x"], at["y"])
    picked = page.evaluate("() => [...window.gridmap.planning.picked]")
    assert len(picked) == 1 and not picked[0].isdigit(), picked  # a token, not the stored id
    assert page.evaluate("() => window.gridmap.planning.paintTo") == target
    page.click("#plan-paint-apply")
    idle(page)
    kind, text = status(page)
    assert kind == "ok", text
    with store.GeoPackageWorkspace(writable_demo.path, read_only=True) as ws:
        assert ws.read("buildings", where={"fid": [int(fid)]})["grid_code"].iloc[0] == target
    watch.assert_clean()


def test_a_stale_edit_is_refused_and_the_plan_reloaded(plan_page, writable_demo) -> None:
    from gridmap.access.roles import Access
    from gridmap.service import planning

    page, watch = plan_page()
    grids = grids_of(writable_demo.path)
    a, b = sorted(grids)[:2]
    select(page, a)
    # another planner changes grid a meanwhile
    with store.GeoPackageWorkspace(writable_demo.path) as ws:
        other = Access(user="demo-planner-2", role="planner")
        geom = grids[a].geometry
        planning.edit_grids(
            ws,
            {
                "op": "give",
                "to": b,
                "geometry": json.loads(
                    shapely.to_geojson(geom.intersection(geom.representative_point().buffer(2e-5)))
                ),
                "versions": {b: int(grids[b].version)},
            },
            access=other,
        )
    page.keyboard.down("Shift")
    page.click(f'#plan-figures tr[data-code="{b}"]')
    page.keyboard.up("Shift")
    page.click("#plan-merge")
    idle(page)
    kind, text = status(page)
    assert kind == "conflict", text
    # one sentence naming the grid someone else changed, in English only
    assert short(a) in text and text.count("load") == 1 and not HAN.search(text), text
    page.wait_for_timeout(300)
    v = page.evaluate(f"() => window.gridmap.planning.state.grids.get('{a}').version")
    assert v == grids_of(writable_demo.path)[a].version  # the page shows the grid as it is now
    assert len(grids_of(writable_demo.path)) == len(grids)  # nothing merged
    assert "demo-planner-2" in text  # who changed it
    # the other planner deletes grid b; this page, still showing b, deletes it too: the plan
    # is reloaded and b is gone from it
    select(page, b)
    now = grids_of(writable_demo.path)
    with store.GeoPackageWorkspace(writable_demo.path) as ws:
        planning.edit_grids(
            ws, {"op": "delete", "code": b, "versions": {b: int(now[b].version)}}, access=other
        )
    page.click("#plan-delete")
    page.click("#plan-delete-gap")
    idle(page)
    kind, text = status(page)
    assert kind == "conflict", text
    # who deleted it and when, in the page's language only
    from gridmap.service.local_time import local_text, zone

    with store.GeoPackageWorkspace(writable_demo.path, read_only=True) as ws:
        at = str(ws.audit_log(limit=1)["at"].iloc[0])[:16]  # the delete, UTC
        when = local_text(at, zone(ws))  # said in the workspace's time zone
    assert "demo-planner-2 deleted it at" in text and when in text, text
    assert not HAN.search(text), text
    page.wait_for_timeout(300)
    assert page.locator(f'#plan-figures tr[data-code="{b}"]').count() == 0
    expect_refused(watch, "api/grids/edit")  # the 409 and the 404, said in the page
    watch.assert_clean()


@pytest.mark.parametrize("role", ["grid_worker", "analyst", "patrol_lead"])
def test_who_may_not_plan_has_no_planning_button(
    browser: Browser, signed_in, live_server, role
) -> None:
    from tests.browser.kit import open_map

    context, watch = new_context(browser, "en", signed_in(role))
    page = open_map(context, watch, live_server + "/")
    assert page.locator("#plan-button").count() == 0
    watch.assert_clean()
    context.close()


def _set_range(page: Page, lo: int, hi: int) -> None:
    page.fill("#plan-min", str(lo))
    page.fill("#plan-max", str(hi))
    page.locator("#plan-max").dispatch_event("change")
    idle(page)


def test_a_rebalance_without_gain_says_so_and_offers_nothing(plan_page, writable_demo) -> None:
    page, watch = plan_page()
    # a narrower range than the demo was drawn for: grids fall outside it, and no block move
    # that keeps every grid in one piece brings fewer of them in
    _set_range(page, 380, 470)
    outside = page.locator("#plan-figures tbody tr.out").count()
    assert outside > 0
    page.click("#plan-rebalance")
    page.wait_for_function(
        "() => document.querySelector('#plan-status').textContent.includes('No improvement')",
        timeout=60_000,
    )
    assert str(outside) in page.locator("#plan-status").inner_text()
    assert page.locator("#plan-rebalance-apply").count() == 0
    assert page.evaluate("() => window.gridmap.planning.proposal") is None
    watch.assert_clean()


def test_a_rebalance_is_proposed_shown_and_applied(plan_page, writable_demo) -> None:
    from gridmap.access.roles import PLANNER, Access
    from gridmap.service.blocks import blocks_stamp
    from gridmap.service.planning import edit_grids

    # block 63 (103 households) painted from 4-007 (405) into 4-006 (411): both leave 320-480
    to = "320102001004006"
    version = int(writable_demo.read("grids", where={"code": [to]})["version"].iloc[0])
    stamp = blocks_stamp(writable_demo)
    op = {"op": "paint", "to": to, "blocks": [63], "versions": {to: version}, "stamp": stamp}
    edit_grids(writable_demo, op, access=Access.of("test", PLANNER))
    page, watch = plan_page()
    _set_range(page, 320, 480)
    assert page.locator("#plan-figures tbody tr.out").count() > 0
    page.click("#plan-rebalance")
    page.wait_for_selector("#plan-rebalance-apply", timeout=60_000)
    idle(page)
    proposal = page.evaluate("() => window.gridmap.planning.proposal")
    assert proposal["moves"] and proposal["outside_after"] < proposal["outside_before"]
    assert proposal["note"] is None
    assert page.evaluate("() => window.gridmap.planning.picked.size") == len(
        {m["block"] for m in proposal["moves"]}
    )
    page.click("#plan-rebalance-apply")
    page.wait_for_function(
        "() => document.querySelector('#plan-status').dataset.kind === 'ok'"
        " && !window.gridmap.planning.proposal",
        timeout=60_000,
    )
    idle(page)
    assert page.locator("#plan-figures tbody tr.out").count() == proposal["outside_after"]
    assert not coverage_findings(writable_demo.path, (320, 480), ("multipart",))
    watch.assert_clean()


def test_the_card_speaks_the_pages_language_and_asks_before_it_restores(
    plan_page, writable_demo
) -> None:
    page, watch = plan_page("zh-CN")
    grids = grids_of(writable_demo.path)
    victim = sorted(grids)[5]
    # a delete cancelled: the question goes, nothing is deleted
    select(page, victim)
    page.click("#plan-delete")
    assert "删除网格" in status(page)[1]
    page.click("#plan-cancel")
    kind, text = status(page)
    assert "？" not in text and "未删除" in text and short(victim) in text, text
    assert page.locator("#plan-delete-gap").count() == 0
    # a narrower range: the checks name grids by their short codes, as the card does
    page.fill("#plan-min", "400")
    page.locator("#plan-min").dispatch_event("change")
    idle(page)
    page.click('[data-plan-tab="checks"]')
    page.wait_for_selector('#plan-findings li[data-kind="households_range"]')
    messages = page.locator("#plan-findings .plan-message").all_inner_texts()
    assert messages and not any(re.search(r"\d{15}", m) for m in messages), messages[:3]
    assert any(re.search(r"\d+-\d{3}", m) for m in messages), messages[:3]
    # numbers from 10 up have room (the list has more than ten findings)
    assert page.locator("#plan-findings > li").count() >= 10
    pad = page.evaluate(
        "() => parseFloat(getComputedStyle(document.querySelector('#plan-findings')).paddingLeft)"
    )
    assert pad >= 30, pad
    # the range inputs stay in view when the figures table scrolls
    page.click('[data-plan-tab="figures"]')
    page.evaluate("() => { document.querySelector('.plan-table-wrap').scrollTop = 10000; }")
    tabs = page.locator(".plan-tabs").bounding_box()
    field = page.locator("#plan-min").bounding_box()
    assert field["y"] >= tabs["y"] + tabs["height"] - 1, (field, tabs)
    # an edit, then the versions: each one's operation in Chinese with short codes and its number
    page.click("#plan-delete")
    page.click("#plan-delete-gap")
    idle(page)
    assert status(page)[0] == "ok", status(page)
    page.click('[data-plan-tab="versions"]')
    first = page.locator("#plan-versions li").first
    tx = int(first.get_attribute("data-tx"))
    text = first.inner_text()
    assert f"版本 {tx}" in text and f"删除 {short(victim)}" in text, text
    assert "grids" not in text and victim not in text, text
    # restore asks first; cancelled, nothing happens; confirmed, the status names a listed number
    older = page.locator("#plan-versions li").nth(1)
    old_tx = int(older.get_attribute("data-tx"))
    older.locator(".plan-restore").click()
    assert f"恢复版本 {old_tx}？" in status(page)[1]
    page.click("#plan-cancel")
    assert "未恢复" in status(page)[1]
    assert victim not in grids_of(writable_demo.path)
    older.locator(".plan-restore").click()
    page.click("#plan-restore-yes")
    idle(page)
    kind, text = status(page)
    assert kind == "ok" and f"已恢复版本 {old_tx}" in text, text
    assert victim in grids_of(writable_demo.path)
    assert page.locator(f'#plan-versions li[data-tx="{old_tx}"]').count() == 1
    watch.assert_clean()


def test_a_paint_of_blocks_whose_streets_changed_is_refused_and_the_blocks_reload(
    browser: Browser, own_server, writable_demo
) -> None:
    """The block ids the page holds are places in a list the streets number: when someone
    changes the streets between the page's load and the paint, the paint is refused (409),
    nothing is saved, the page says so and loads the blocks anew. And the figures: the visits
    due per grid, rounded for a planner, with no category of anyone."""
    from tests.test_blocks_stamp import BLOCK, TO, remove_a_street_north_of

    base, _ = own_server
    page, watch = sign_in_planner(browser, base)
    open_plan(page)
    visits = page.locator(f'#plan-figures tr[data-code="{TO}"] td').nth(2)
    assert re.fullmatch(r"\d+0", visits.inner_text().replace(",", "")), visits.inner_text()
    assert page.locator("#plan-figures thead th").nth(3).inner_text() == "Vis. ≈"
    select(page, TO)
    assert "nearest 10" in page.locator("#plan-visits-note").inner_text()
    assert page.locator("#plan-categories").count() == 0
    page.click('[data-plan-tool="paint-blocks"]')
    idle(page)
    stamp = page.evaluate("() => window.gridmap.planning.blocksStamp")
    assert stamp
    page.evaluate("(id) => window.gridmap.planning.togglePick(String(id))", BLOCK)
    remove_a_street_north_of(writable_demo, BLOCK)  # someone imports streets meanwhile
    with store.GeoPackageWorkspace(writable_demo.path, read_only=True) as ws:
        newest = int(ws.audit_log(limit=1)["fid"].iloc[0])
    page.click("#plan-paint-apply")
    idle(page)
    kind, text = status(page)
    assert kind == "conflict" and "street blocks changed" in text, (kind, text)
    page.wait_for_function(
        "(s) => { const P = window.gridmap.planning; return P.blocksStamp && P.blocksStamp !== s"
        " && P.state.tool === 'paint-blocks'; }",
        arg=stamp,
    )
    with store.GeoPackageWorkspace(writable_demo.path, read_only=True) as ws:
        assert int(ws.audit_log(limit=1)["fid"].iloc[0]) == newest  # nothing saved
    expect_refused(watch, "api/grids/edit")
    watch.assert_clean()


def test_the_admin_sees_the_selected_grids_visit_categories(
    browser: Browser, signed_in, live_server: str
) -> None:
    """A reader of the register sees the visits due exactly, and under the selected grid the
    households and people of each visit category, as the figures give them."""
    context, watch = new_context(browser, "zh-CN", signed_in("admin"))
    page = watched_page(context, watch)
    page.goto(live_server + "/")
    page.wait_for_selector(READY, timeout=30_000)
    open_plan(page)
    code = "320102001001001"
    row = page.evaluate(f"() => window.gridmap.planning.figures.get('{code}')")
    assert row["visit_households_exact"] is True and isinstance(row["hardship_people"], int)
    visits = page.locator(f'#plan-figures tr[data-code="{code}"] td').nth(2).inner_text()
    assert visits.replace(",", "") == str(row["visit_households"])
    assert page.locator("#plan-figures thead th").nth(3).inner_text() == "走访户"  # exact: no ≈
    select(page, code)
    page.click("#plan-categories-box summary")
    table = page.locator("#plan-categories")
    assert (
        "困难群众" in table.inner_text() and "六必访" in page.locator("#plan-selected").inner_text()
    )
    for category in ("hardship", "migrant", "assisted"):
        tr = table.locator(f'tr[data-category="{category}"]')
        assert tr.locator("td.households").inner_text() == str(row[f"{category}_households"])
        assert tr.locator("td.people").inner_text() == str(row[f"{category}_people"])
    watch.assert_clean()


# -- the review of issue 8: re-checks, undo depth, one-request rebalance, 409s, labels --------

FINDINGS_JS = """
async () => {
  const P = window.gridmap.planning;
  const key = (f) => JSON.stringify([f.kind, f.grids, f.value]);
  // the register's figures of each grid (points on a border, cameras and the like, are
  // counted by grid_checks once, for the first grid of those read: see the report)
  const fig = (r) => JSON.stringify([r.code, r.households, r.residents, r.buildings, r.area_m2,
                                     r.deviation, r.in_range, r.visit_households]);
  const q = new URLSearchParams({min: P.range.min, max: P.range.max});
  const full = await (await fetch('api/grids/checks?' + q, {credentials: 'same-origin'})).json();
  return {page: P.findings.map(key), full: full.findings.map(key),
          figures: [...P.figures.values()].map(fig).sort(),
          fullFigures: full.figures.map(fig).sort()};
}
"""


def test_after_an_edit_the_page_rechecks_only_the_grids_it_changed(
    plan_page, writable_demo
) -> None:
    page, watch = plan_page()
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "api/grids/checks" in r.url else None)
    code = sorted(grids_of(writable_demo.path))[4]
    select(page, code)
    page.click("#plan-delete")
    page.click("#plan-delete-gap")  # leaves a gap: a finding naming the neighbours
    idle(page)
    assert status(page)[0] == "ok", status(page)
    (url,) = asked
    grids = re.search(r"[?&]grids=([^&]+)", url)
    assert grids, url
    sent = grids.group(1).replace("%2C", ",").split(",")
    assert code in sent and len(sent) < len(grids_of(writable_demo.path))
    seen = page.evaluate(FINDINGS_JS)
    assert any('"gap"' in k for k in seen["page"])
    assert sorted(seen["page"]) == sorted(seen["full"])  # the same findings
    kinds = [json.loads(k)[0] for k in seen["page"]]  # most serious kind first, as the server
    assert kinds == sorted(kinds, key=[json.loads(k)[0] for k in seen["full"]].index)
    assert seen["figures"] == seen["fullFigures"]
    assert page.locator("#plan-findings li").count() == len(seen["full"])
    # the "run checks" path (a change of the range) still checks the whole plan
    asked.clear()
    _set_range(page, 300, 500)
    assert asked and all("grids=" not in u for u in asked)
    watch.assert_clean()


def test_undo_and_redo_are_disabled_with_nothing_to_do_and_say_the_servers_words(
    plan_page, writable_demo
) -> None:
    page, watch = plan_page()
    assert page.locator("#plan-undo").is_disabled() and page.locator("#plan-redo").is_disabled()
    # Ctrl+Z with nothing to undo: the server's sentence, no reload, no "someone else"
    page.keyboard.press("Control+z")
    idle(page)
    kind, text = status(page)
    assert kind == "info" and "nothing of yours to undo" in text.lower(), text
    assert "someone else" not in text.lower()
    a, b = "320102001003001", "320102001003002"
    select(page, a)
    page.keyboard.down("Shift")
    page.click(f'#plan-figures tr[data-code="{b}"]')
    page.keyboard.up("Shift")
    page.click("#plan-merge")
    idle(page)
    assert status(page)[0] == "ok"
    assert page.locator("#plan-undo").is_enabled() and page.locator("#plan-redo").is_disabled()
    page.click("#plan-undo")
    idle(page)
    assert page.locator("#plan-undo").is_disabled() and page.locator("#plan-redo").is_enabled()
    assert b in grids_of(writable_demo.path)
    expect_refused(watch, "api/grids/undo")  # the 400, said in the page
    watch.assert_clean()


def test_a_rebalance_is_applied_in_one_request_and_one_version(plan_page, writable_demo) -> None:
    from gridmap.access.roles import PLANNER, Access
    from gridmap.service.blocks import blocks_stamp
    from gridmap.service.planning import edit_grids

    to = "320102001004006"
    version = int(writable_demo.read("grids", where={"code": [to]})["version"].iloc[0])
    op = {
        "op": "paint",
        "to": to,
        "blocks": [63],
        "versions": {to: version},
        "stamp": blocks_stamp(writable_demo),
    }
    edit_grids(writable_demo, op, access=Access.of("test", PLANNER))
    last = int(writable_demo.audit_log(limit=1).fid.max())
    page, watch = plan_page()
    _set_range(page, 320, 480)
    page.click("#plan-rebalance")
    page.wait_for_selector("#plan-rebalance-apply", timeout=60_000)
    idle(page)
    proposal = page.evaluate("() => window.gridmap.planning.proposal")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.click("#plan-rebalance-apply")
    page.wait_for_function(
        "() => document.querySelector('#plan-status').dataset.kind === 'ok'", timeout=60_000
    )
    idle(page)
    assert [u.rsplit("/api/", 1)[1] for u in posts] == ["grids/rebalance/apply"]
    assert str(len(proposal["moves"])) in status(page)[1]
    with store.GeoPackageWorkspace(writable_demo.path, read_only=True) as ws:
        log = ws.audit_log(limit=None)
    new = log[log.fid > last]
    assert len(new) == 1 and str(new.action.iloc[0]).startswith("grids rebalance"), new
    # the version list names it in the page's language, not the raw action
    first = page.locator("#plan-versions li").first.inner_text()
    assert "rebalanced into" in first and "grids rebalance" not in first, first
    assert page.locator("#plan-undo").is_enabled()
    watch.assert_clean()


def test_every_kind_of_version_has_a_label_in_both_languages(plan_page, writable_demo) -> None:
    # an accepted partition proposal in the history (as partition/accept writes it)
    fid = int(writable_demo.read("grids", limit=1).index[0])
    with writable_demo.transaction(user="demo-planner", action="grids accept 320102001001") as tx:
        tx.update_many("grids", {fid: {"name": "采用方案后"}})
    accepted = tx.tx_id
    redo = writable_demo.undo(
        writable_demo.undo(accepted, user="demo-planner"), user="demo-planner"
    )
    labels = {
        "en": ("redone", "undone", "accepted for community"),
        "zh-CN": ("重做", "撤销", "采用社区"),
    }
    for locale, (redone, undone, says) in labels.items():
        page, watch = plan_page(locale)
        items = page.locator("#plan-versions li")
        # a redo (the undo of an undo) says which version it brings back, and the undo too
        assert redone in items.nth(0).inner_text() and str(accepted) in items.nth(0).inner_text()
        assert undone in items.nth(1).inner_text() and str(accepted) in items.nth(1).inner_text()
        third = items.nth(2).inner_text()
        assert says in third and "grids accept" not in third, third
        assert str(redo) in items.nth(0).inner_text()
        watch.assert_clean()
        page.context.close()
