"""Big layers drawn fast: windowed loading, bubbles, stacked points, the editor on demand.

In chromium on the real demo (see :mod:`tests.browser.kit`), as the admin (every household).
The whole area in view holds 21,686 households: the map draws the clusters route's bubbles
with counts (web/static/js/loader.js, stacks.js); zoomed in on a building, its households are
one point with a count badge whose chooser lists every one of them; a filter set on the
workbench fetches the layer again. What the page draws is checked against the workspace.
"""

from __future__ import annotations

import pytest
import shapely
from playwright.sync_api import Browser, Page

from tests.browser.kit import (
    SETTLE_JS,
    api_get,
    drawn,
    focus,
    new_context,
    open_map,
    set_layer,
)
from tests.conftest import ROLE_TOKENS

pytestmark = pytest.mark.browser

POPUP = ".leaflet-popup-content .gm-pick"

#: The markers of a layer: what each stands for, where it is drawn (container pixels).
MARKERS_JS = """
(name) => {
  const {map, layers} = window.gridmap;
  const out = [];
  layers[name].eachLayer((l) => {
    const p = map.latLngToContainerPoint(l.getLatLng());
    out.push({kind: l.options.gmKind || "point", count: l.options.gmCount || 1,
              features: l.features ? l.features.map((f) => f.id) : l.feature ? [l.feature.id] : [],
              painted: !l._empty(), x: Math.round(p.x), y: Math.round(p.y),
              lat: l.getLatLng().lat, lon: l.getLatLng().lng});
  });
  return out;
}
"""


def idle(page: Page) -> None:
    """Wait until the map has stopped moving (a popup's auto-pan) and what that view needs
    is loaded and drawn."""
    page.evaluate(SETTLE_JS)
    page.evaluate("() => gridmap.loader.idle()")
    page.evaluate(SETTLE_JS)


def markers(page: Page, name: str) -> list[dict]:
    return page.evaluate(MARKERS_JS, name)


def served(base: str, query: str) -> dict:
    """Households as the live server serves them to the admin (``/api/layers/households?…``)."""
    status, doc = api_get(base, f"/api/layers/households?{query}", ROLE_TOKENS["admin"])
    assert status == 200, doc
    return doc


def at_spot(found: list[dict], spot) -> list[dict]:
    """The markers drawn at point ``spot`` (lon/lat degrees, to the storage grid's 1e-7°)."""
    return [m for m in found if abs(m["lat"] - spot.y) < 1e-7 and abs(m["lon"] - spot.x) < 1e-7]


def loaded(page: Page, name: str) -> dict:
    return page.evaluate("(n) => gridmap.loader.state(n)", name)


def test_bubbles_stacks_and_filters(
    browser: Browser, live_server: str, signed_in, demo_workspace
) -> None:
    context, watch = new_context(browser, "zh-CN", signed_in("admin"))
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    page = open_map(context, watch, live_server + "/")

    # The editor library is named, not loaded: the first view did not wait for it.
    assert page.evaluate("() => Boolean(window.L.PM)") is False
    assert not [u for u in requests if "geoman" in u]
    editor = page.get_attribute('meta[name="gridmap-editor-js"]', "content") or ""
    assert editor.startswith("/vendor/@geoman-io/leaflet-geoman-free/") and "?v=" in editor

    # The whole area: 21,686 households as bubbles with counts, every one of them counted
    # (against what the server holds: other tests may have changed the shared copy).
    total = served(live_server, "limit=0")["numberMatched"]
    assert total == demo_workspace.count("households")
    set_layer(page, "households", True)
    idle(page)
    assert loaded(page, "households")["kind"] == "clusters"
    bubbles = markers(page, "households")
    assert 10 < len(bubbles) < 200 and all(b["painted"] for b in bubbles)
    assert {b["kind"] for b in bubbles} <= {"bubble", "place"} and sum(
        b["count"] for b in bubbles
    ) == total
    assert drawn(page, "households")["features"] == total
    assert "聚合点" in page.inner_text('#legend [data-legend="households"]')
    assert max(b["count"] for b in bubbles) > 100

    # Zoomed out one level: fewer, bigger bubbles, the same households.
    page.evaluate(
        "() => { gridmap.map.setZoom(Math.floor(gridmap.map.getZoom()) - 1, {animate: false}); }"
    )
    idle(page)
    fewer = markers(page, "households")
    assert len(fewer) < len(bubbles) and sum(b["count"] for b in fewer) == total

    # Zoomed in on the building with the most households: one point, a badge, all of them.
    frame = demo_workspace.read("households", columns=("building_osm_id",), system=False)
    building = int(frame.groupby("building_osm_id").size().idxmax())
    mine = served(live_server, f"where=building_osm_id={building}&limit=1000")["features"]
    expected = {f["id"] for f in mine}
    spot = shapely.geometry.shape(mine[0]["geometry"])
    focus(page, spot.y, spot.x, 40)
    idle(page)
    assert loaded(page, "households")["kind"] == "features"
    here = at_spot(markers(page, "households"), spot)
    assert len(here) == 1, here
    stack = here[0]
    assert stack["kind"] == "stack" and stack["count"] == len(expected) > 5
    assert set(stack["features"]) == expected
    # its chooser lists every household of the building
    page.mouse.click(stack["x"], stack["y"])
    page.wait_for_selector(POPUP)
    idle(page)  # the popup pans into view: the window may follow
    listed = page.evaluate(
        "() => gridmap.chooser.hits().filter((h) => h.layer === 'households').map((h) => h.id)"
    )
    assert set(listed) == expected
    items = page.locator(f'{POPUP} .gm-pick-item[data-item-layer="households"]')
    assert items.count() == len(expected)
    page.keyboard.press("Escape")
    idle(page)

    # A filter on the workbench: the layer is fetched again and draws only what passes.
    before = loaded(page, "households")["requests"]
    page.evaluate("() => gridmap.app.setFilter('households', ['rented=true'])")
    idle(page)
    after = loaded(page, "households")
    assert after["requests"] > before
    rented = page.evaluate(
        "() => { const out = []; gridmap.layers.households.eachLayer((l) => "
        "(l.feature ? [l.feature] : l.features || []).forEach((f) => out.push(f.properties.rented)));"
        " return out; }"
    )
    assert rented and all(r is True for r in rented)
    query = f"where=building_osm_id={building}&where=rented=true&limit=0"
    stored = served(live_server, query)["numberMatched"]
    assert sum(m["count"] for m in at_spot(markers(page, "households"), spot)) == stored
    # cleared: the window kept from before draws again, without asking the server
    page.evaluate("() => gridmap.app.setFilter('households', [])")
    idle(page)
    assert loaded(page, "households")["requests"] == after["requests"]
    assert sum(m["count"] for m in markers(page, "households") if m["kind"] == "stack") >= len(
        expected
    )

    # The editor loads when a tool asks for it, from this server.
    page.evaluate("async () => { await gridmap.loadEditor(); }")
    assert page.evaluate("() => typeof window.L.PM.setOptIn") == "function"
    assert [u for u in requests if "leaflet-geoman.min.js" in u]
    watch.assert_clean()
    context.close()
