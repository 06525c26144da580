"""Find things on the map, and a building's households, in a real browser (chromium, offline).

The search box finds a grid by its code, a building by its address and a camera by its code;
each choice fits the map to the feature and opens its popup. The demo building with the most
households (found through the API, not hard-coded) lists every household in the detail card
for the admin and for the grid worker of its grid, and only its total for a planner.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.kit import SETTLE_JS, api_get, new_context, open_map, shoot, sign_in
from tests.conftest import DEMO_PASSWORD, ROLE_TOKENS, as_served

pytestmark = pytest.mark.browser

SEARCH_SETTLED = "() => ['done', 'empty', 'error'].includes(document.getElementById('search-slot').dataset.state)"
# The open popup: the newest one (a closed popup fades out for 200 ms before it is removed).
POPUP_JS = r"""
() => {
  const open = [...document.querySelectorAll('.leaflet-popup')].filter((e) => e.style.opacity !== '0');
  const p = open.length ? open[open.length - 1].querySelector('.gm-popup') : null;
  // a stored id is a number, a masked reader's opaque id text (as the API serves them)
  const id = (v) => (/^\d+$/.test(v) ? Number(v) : v);
  return p ? {layer: p.dataset.layer, id: id(p.dataset.featureId), text: p.innerText} : null;
}
"""
# Whether (lon, lat) is inside the map's view and clear of the panel.
IN_VIEW_JS = """
([lon, lat]) => {
  const map = window.gridmap.map;
  const p = map.latLngToContainerPoint([lat, lon]);
  const panel = document.querySelector('#panel').getBoundingClientRect();
  return {inside: map.getBounds().contains([lat, lon]), clear: p.x > panel.right, zoom: map.getZoom()};
}
"""
CARD_DONE = "() => document.getElementById('detail-card').dataset.complete === '1'"


def search(page: Page, query: str) -> dict[str, Any]:
    """Type ``query`` in the search box and wait for its results; return the options shown."""
    page.fill("#search-input", "")
    page.fill("#search-input", query)
    page.wait_for_function(SEARCH_SETTLED)
    return page.evaluate(
        r"""() => ({
          state: document.getElementById('search-slot').dataset.state,
          expanded: document.getElementById('search-input').getAttribute('aria-expanded'),
          options: [...document.querySelectorAll('#search-results [role=option]')].map((o) => ({
            layer: o.dataset.layer, id: /^\d+$/.test(o.dataset.id) ? Number(o.dataset.id) : o.dataset.id,
            text: o.innerText})),
          text: document.getElementById('search-results').innerText,
        })"""
    )


def choose(page: Page, layer: str, fid: int | str) -> None:
    """Click the result of feature ``fid`` of ``layer`` and wait until the map has shown it."""
    page.click(f'#search-results [role=option][data-layer="{layer}"][data-id="{fid}"]')
    page.wait_for_function(
        "(want) => (document.body.dataset.searchFocused || '').startsWith(want)",
        arg=f"{layer}:{fid}:",
        timeout=30_000,
    )
    page.evaluate(SETTLE_JS)


def assert_shown(
    page: Page, layer: str, fid: int | str, lon: float, lat: float, *texts: str
) -> None:
    assert page.evaluate("() => document.body.dataset.searchFocused").endswith(":shown")
    popup = page.evaluate(POPUP_JS)
    assert popup is not None, f"no popup for {layer} {fid}"
    assert (popup["layer"], popup["id"]) == (layer, fid)
    for text in texts:
        assert text in popup["text"], (text, popup["text"])
    view = page.evaluate(IN_VIEW_JS, [lon, lat])
    assert view["inside"] and view["clear"] and view["zoom"] >= 16, view


def hit_of(base: str, role: str, query: str, layer: str) -> dict[str, Any]:
    status, doc = api_get(base, f"/api/search?q={quote(query)}&limit=50", ROLE_TOKENS[role])
    assert status == 200, doc
    return next(h for h in doc["hits"] if h["layer"] == layer)


def test_search_finds_a_grid_an_address_and_a_camera(
    browser: Browser, live_server: str, signed_in
) -> None:
    context, watch = new_context(browser, "zh-CN", signed_in("planner"))
    page = open_map(context, watch, live_server + "/")
    box = page.locator("#search-input")
    assert box.get_attribute("role") == "combobox" and "搜索" in (
        box.get_attribute("placeholder") or ""
    )

    # the screenshot: a street name finds the street, the community, grids, buildings, cameras
    shown = search(page, "长江路")
    layers = {o["layer"] for o in shown["options"]}
    assert {"streets", "grids", "buildings", "cameras", "facilities"} <= layers
    assert "households" not in layers  # the planner sees the register masked
    assert shown["expanded"] == "true"
    shoot(page, "find-search.png")

    # a grid by its code, typed with spaces, chosen with the keyboard
    _, grids = api_get(live_server, "/api/layers/grids", ROLE_TOKENS["planner"])
    grid = sorted(grids["features"], key=lambda f: f["properties"]["code"])[20]
    code = grid["properties"]["code"]
    hit = hit_of(live_server, "planner", code, "grids")
    shown = search(page, f"{code[:6]} {code[6:9]} {code[9:]}")
    assert shown["options"][0] == {
        "layer": "grids",
        "id": grid["id"],
        "text": shown["options"][0]["text"],
    }
    page.keyboard.press("ArrowDown")
    assert page.locator("#search-option-0").get_attribute("aria-selected") == "true"
    assert box.get_attribute("aria-activedescendant") == "search-option-0"
    page.keyboard.press("Enter")
    page.wait_for_function(
        "(want) => (document.body.dataset.searchFocused || '').startsWith(want)",
        arg=f"grids:{grid['id']}:",
        timeout=30_000,
    )
    page.evaluate(SETTLE_JS)
    assert_shown(
        page, "grids", grid["id"], hit["lon"], hit["lat"], code, grid["properties"]["name"]
    )
    assert page.evaluate("() => window.gridmap.app.selectedGrids()") == [code]
    assert box.get_attribute("aria-expanded") == "false"

    # a building by its address (one without a name, so the address is its label)
    _, buildings = api_get(live_server, "/api/layers/buildings", ROLE_TOKENS["planner"])
    unnamed = [
        f
        for f in buildings["features"]
        if not f["properties"]["name"] and f["properties"]["address"]
    ]
    building = unnamed[len(unnamed) // 2]
    address = building["properties"]["address"]
    hit = hit_of(live_server, "planner", address, "buildings")
    shown = search(page, address)
    assert {"layer": "buildings", "id": building["id"], "text": address} in shown["options"]
    choose(page, "buildings", building["id"])
    assert_shown(page, "buildings", building["id"], hit["lon"], hit["lat"], address)

    # a camera by its code, in full-width lower case
    _, cameras = api_get(live_server, "/api/layers/cameras", ROLE_TOKENS["planner"])
    camera = cameras["features"][17]
    cam_code = camera["properties"]["code"]
    hit = hit_of(live_server, "planner", cam_code, "cameras")
    wide = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in cam_code.lower())
    shown = search(page, wide)
    assert shown["options"][0]["layer"] == "cameras" and shown["options"][0]["id"] == camera["id"]
    choose(page, "cameras", camera["id"])
    assert_shown(page, "cameras", camera["id"], hit["lon"], hit["lat"], cam_code)

    # a street stands for all its edges: choosing it selects every drawn edge of that name
    street = hit_of(live_server, "planner", "长江路", "streets")
    search(page, "长江路")
    choose(page, "streets", street["id"])
    edges = page.evaluate(
        """(name) => { const ids = [];
             window.gridmap.layers.streets.eachLayer((l) => {
               if (l.feature && l.feature.properties.name === name) ids.push(l.feature.id); });
             return ids; }""",
        street["label"],
    )
    selected = page.evaluate("() => window.gridmap.app.selected('streets')")
    assert len(edges) > 1 and sorted(selected) == sorted(edges)

    # nothing found says so; Esc closes the list, a second Esc clears the box
    shown = search(page, "没有这样的地方zzz")
    assert shown["state"] == "empty" and shown["options"] == []
    assert "没有找到" in shown["text"]
    box.press("Escape")
    assert box.get_attribute("aria-expanded") == "false" and box.input_value()
    box.press("Escape")
    assert box.input_value() == ""

    # in English the box and its results speak English
    page.click("#lang-switch")
    assert page.get_attribute("#search-input", "placeholder").startswith("Search")
    shown = search(page, "police post")
    assert shown["options"] and {o["layer"] for o in shown["options"]} == {"facilities"}
    assert "Police post" in shown["text"]
    watch.assert_clean()
    context.close()


def biggest_building(base: str) -> dict[str, Any]:
    status, doc = api_get(base, "/api/layers/buildings", ROLE_TOKENS["admin"])
    assert status == 200
    return max(doc["features"], key=lambda f: f["properties"]["households"] or 0)


def press_households_button(page: Page) -> None:
    """Press the popup's 楼栋户室 button (by its name: whoever draws the popup's actions)."""
    popup = page.locator(".leaflet-popup").last
    popup.get_by_role("button", name="楼栋户室", exact=True).click()


def open_register(page: Page, building: dict[str, Any], base: str) -> dict[str, str]:
    """Find ``building`` by its name, open its popup, press its households button."""
    query = building["properties"]["name"] or building["properties"]["address"]
    search(page, query)
    choose(page, "buildings", building["id"])
    press_households_button(page)
    page.wait_for_function(CARD_DONE, timeout=60_000)
    return page.evaluate("() => ({...document.getElementById('detail-card').dataset})")


def test_the_biggest_building_lists_every_household_for_the_admin_only_counts_for_a_planner(
    browser: Browser, live_server: str, signed_in
) -> None:
    building = biggest_building(live_server)
    total = building["properties"]["households"]
    assert total > 100

    context, watch = new_context(browser, "zh-CN", signed_in("admin"))
    page = open_map(context, watch, live_server + "/")
    card = open_register(page, building, live_server)
    assert (card["read"], card["buildingId"]) == ("full", str(building["id"]))
    assert int(card["listed"]) == int(card["total"]) == total
    rooms = page.locator("#detail-card .bld-room")
    assert rooms.count() == total
    ids = page.evaluate(
        "() => [...document.querySelectorAll('#detail-card .bld-room')].map((r) => r.dataset.householdId)"
    )
    assert len(set(ids)) == total
    summary = page.inner_text("#detail-card .bld-summary")
    assert f"{total:,} 户" in summary or f"{total} 户" in summary
    assert (
        f"{building['properties']['residents']:,} 人" in summary
        or f"{building['properties']['residents']} 人" in summary
    )
    units = page.locator("#detail-card .bld-unit").count()
    assert units >= 2
    # the last room of the last unit is there too, and its people open on a click
    page.evaluate(
        "() => document.querySelectorAll('#detail-card details.bld-unit').forEach((d) => { d.open = true; })"
    )
    last = rooms.nth(total - 1)
    last.scroll_into_view_if_needed()
    last.locator(".bld-room-head").click()
    assert last.locator(".bld-person").count() >= 1
    rooms.first.locator(".bld-room-head").click()
    page.locator("#detail-card .bld-body").evaluate("(el) => { el.scrollTop = 0; }")
    shoot(page, "find-building.png")
    page.click("#building-close")
    assert page.locator("#detail-card").is_hidden()
    watch.assert_clean()
    context.close()

    # a planner names the same building by its opaque id (the buildings are masked for them)
    _, theirs = api_get(live_server, "/api/layers/buildings", ROLE_TOKENS["planner"])
    (masked,) = [
        f
        for f in theirs["features"]
        if f["properties"]["osm_id"] == building["properties"]["osm_id"]
    ]
    assert masked["id"] != building["id"] and isinstance(masked["id"], str)
    context, watch = new_context(browser, "zh-CN", signed_in("planner"))
    page = open_map(context, watch, live_server + "/")
    card = open_register(page, masked, live_server)
    assert (card["read"], card["total"], card["buildingId"]) == ("totals", str(total), masked["id"])
    assert page.locator("#detail-card .bld-room").count() == 0
    assert page.locator("#detail-card .bld-unit").count() == 0
    assert page.inner_text("#detail-card .bld-summary").replace(",", "") == f"{total} 户"
    assert "已脱敏" in page.inner_text("#detail-card .bld-note")
    watch.assert_clean()
    context.close()


def test_the_grid_worker_of_the_biggest_building_lists_it_from_a_household(
    browser: Browser, own_server, writable_demo
) -> None:
    from gridmap.service import accounts

    base, _ = own_server
    building = biggest_building_of(writable_demo)
    grid = building["grid_code"]
    accounts.add_user(
        writable_demo, "find-worker", "grid_worker", password=DEMO_PASSWORD, grids=[grid]
    )
    households = writable_demo.read("households", where={"building_osm_id": building["osm_id"]})
    household = households.sort_values("household_id").iloc[0]
    fid = int(household.name)

    context, watch = new_context(browser, "zh-CN", sign_in(browser, base, "find-worker"))
    page = open_map(context, watch, base + "/")
    shown = search(page, household["household_id"])
    assert shown["options"][0] == {
        "layer": "households",
        "id": fid,
        "text": shown["options"][0]["text"],
    }
    choose(page, "households", fid)
    popup = page.evaluate(POPUP_JS)
    assert popup["layer"] == "households" and household["household_id"] in popup["text"]
    press_households_button(page)
    page.wait_for_function(CARD_DONE, timeout=60_000)
    card = page.evaluate("() => ({...document.getElementById('detail-card').dataset})")
    # the buildings are masked for a grid worker too: the card names it by its opaque id
    token = as_served(writable_demo, "buildings", "grid_worker", building["fid"])
    assert (card["read"], card["buildingId"]) == ("own", token)
    assert int(card["listed"]) == len(households) == page.locator("#detail-card .bld-room").count()
    watch.assert_clean()
    context.close()


def biggest_building_of(ws: Any) -> dict[str, Any]:
    frame = ws.read("buildings", columns=["osm_id", "households", "grid_code"])
    row = frame.sort_values("households", ascending=False).iloc[0]
    return {"fid": int(row.name), "osm_id": int(row["osm_id"]), "grid_code": row["grid_code"]}
