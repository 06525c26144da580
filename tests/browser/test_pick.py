"""Pick what you meant: the chooser, the highlight, the selection, popups and symbols.

In chromium on the real demo (see :mod:`tests.browser.kit`). A click lists every feature under it
(web/static/js/chooser.js); these tests click where a user would and check what the chooser
lists against the workspace itself (shapely on the stored geometries, the stored grid codes),
not against the page's own idea of it.
"""

from __future__ import annotations

import math
import random
import struct
import zlib
from collections import Counter

import pytest
import shapely
from playwright.sync_api import Browser, Page

from tests.browser.kit import (
    CENTRAL_GRID_JS,
    GRID_POINT_JS,
    READY,
    SETTLE_JS,
    focus,
    new_context,
    open_map,
    set_layer,
    shoot,
    submit_sign_in,
    watched_page,
)
from tests.conftest import DEMO_PASSWORD, as_served, as_stored

pytestmark = pytest.mark.browser

POPUP = ".leaflet-popup-content .gm-pick"

# The open part of the map (not under the panel nor the legend card), in viewport pixels.
OPEN_BOX_JS = """
() => {
  const panel = document.querySelector('#panel').getBoundingClientRect();
  const legend = document.querySelector('#legend-card').getBoundingClientRect();
  return {left: Math.ceil(panel.right) + 30, right: Math.floor(legend.left) - 30, top: 80, bottom: 700};
}
"""

TO_LATLNG_JS = """
(pts) => pts.map(([x, y]) => { const ll = gridmap.map.containerPointToLatLng([x, y]);
  return [ll.lat, ll.lng]; })
"""

TO_PIXEL_JS = """
([lat, lon]) => { const p = gridmap.map.latLngToContainerPoint([lat, lon]);
  return [Math.round(p.x), Math.round(p.y)]; }
"""

VIEW_JS = (
    "() => { const c = gridmap.map.getCenter(); return [c.lat, c.lng, gridmap.map.getZoom()]; }"
)
SET_VIEW_JS = "([lat, lon, z]) => { gridmap.map.setView([lat, lon], z, {animate: false}); }"

STATE_JS = """
() => ({hits: gridmap.chooser.hits(), index: gridmap.chooser.index, picked: gridmap.chooser.picked,
        grids: gridmap.app.selectedGrids(), layers: gridmap.app.selectedLayers()})
"""


def state(page: Page) -> dict:
    return page.evaluate(STATE_JS)


def shown(page: Page) -> tuple[str, str]:
    """The layer and feature id of the feature the popup shows."""
    body = page.locator(f"{POPUP} .gm-popup")
    return body.get_attribute("data-layer") or "", body.get_attribute("data-feature-id") or ""


def close_popup(page: Page) -> None:
    page.keyboard.press("Escape")
    page.locator(POPUP).wait_for(state="detached")


def step_to(page: Page, layer: str) -> int:
    """Press › until the popup shows a feature of ``layer``; return the presses."""
    n = int(page.locator(POPUP).get_attribute("data-count") or 1)
    for presses in range(n):
        if shown(page)[0] == layer:
            return presses
        page.click(f'{POPUP} [data-pick="next"]')
    raise AssertionError(f"the chooser lists no {layer}")


def sign_in_page(browser: Browser, base: str, name: str, locale: str = "zh-CN"):
    """A page signed in as ``name`` through the form (the grid worker's own register)."""
    context, watch = new_context(browser, locale)
    page = watched_page(context, watch)
    page.goto(base + "/login")
    submit_sign_in(page, name, DEMO_PASSWORD)
    page.wait_for_selector(READY, timeout=30_000)
    return context, watch, page


def test_sixty_clicks_inside_grids_all_reach_the_grid(
    browser: Browser, live_server: str, signed_in, demo_workspace
) -> None:
    """60 clicks at seeded random points inside grids, at street zoom over the central area,
    with every default layer drawn: the chooser lists the grid each time (last but the
    community), and ‹ › reach it; its popup then shows the grid and the map selects it."""
    grids = demo_workspace.read("grids", columns=("code", "name"), system=False)
    tree = shapely.STRtree(grids.geometry.values)
    context, watch = new_context(browser, "zh-CN", signed_in("planner"))
    page = open_map(context, watch, live_server + "/")
    central = page.evaluate(CENTRAL_GRID_JS)
    zoom = focus(page, central["lat"], central["lon"], 220)
    assert zoom >= 17.5, zoom  # street zoom
    view = page.evaluate(VIEW_JS)
    box = page.evaluate(OPEN_BOX_JS)

    rng = random.Random(20261127)
    candidates = [
        (rng.randint(box["left"], box["right"]), rng.randint(box["top"], box["bottom"]))
        for _ in range(400)
    ]
    latlngs = page.evaluate(TO_LATLNG_JS, candidates)
    clicks = []
    for (x, y), (lat, lon) in zip(candidates, latlngs, strict=True):
        inside = [
            i
            for i in tree.query(shapely.Point(lon, lat))
            if grids.geometry.iloc[i].contains(shapely.Point(lon, lat))
        ]
        if len(inside) == 1:
            row = grids.iloc[inside[0]]
            clicks.append((x, y, int(grids.index[inside[0]]), row["code"], row["name"]))
        if len(clicks) == 60:
            break
    assert len(clicks) == 60

    first, stepped, steps, layers_above = 0, 0, Counter(), Counter()
    for n, (x, y, fid, code, name) in enumerate(clicks):
        page.evaluate(SET_VIEW_JS, view)  # a popup's auto-pan moved the map: back
        page.mouse.click(x, y)
        page.locator(POPUP).wait_for()
        got = state(page)
        ids = [(h["layer"], h["id"]) for h in got["hits"]]
        assert ("grids", fid) in ids, (n, code, ids)
        assert [h for h in ids if h[0] == "grids"] == [("grids", fid)]  # one grid, the right one
        at = ids.index(("grids", fid))
        # grids come after every point, line and building listed, before the community
        assert all(layer != "grids" or i == at for i, (layer, _) in enumerate(ids))
        assert all(layer == "community" for layer, _ in ids[at + 1 :]), ids
        layers_above.update(layer for layer, _ in ids[:at])
        if at == 0:
            first += 1
        else:
            stepped += 1
            # ‹ wraps to the end: take the shorter way, with the buttons and the arrow keys
            back = len(ids) - at
            forward = at <= back
            for i in range(min(at, back)):
                if i % 2:
                    page.keyboard.press("ArrowRight" if forward else "ArrowLeft")
                else:
                    page.click(f'{POPUP} [data-pick="{"next" if forward else "prev"}"]')
            steps[min(at, back)] += 1
        assert shown(page) == ("grids", str(fid)), (n, code)
        title = page.locator(f'{POPUP} .gm-popup-title[data-field="title"]').inner_text()
        assert title == name
        assert page.locator(f'{POPUP} [data-field="code"]').inner_text() == code
        got = state(page)
        assert got["picked"]["layer"] == "grids" and got["picked"]["id"] == fid
        assert got["grids"] == [code] and "grids" in got["layers"]
        close_popup(page)
    # What the chooser did, for the report (pytest -s shows it).
    print(
        f"\n60 clicks inside grids: {first} showed the grid first, {stepped} reached it with ‹ › "
        f"(presses: {dict(sorted(steps.items()))}); listed above it: {dict(layers_above)}"
    )
    assert first + stepped == 60
    watch.assert_clean()
    context.close()


def test_a_stacked_household_point_lists_every_household(
    browser: Browser, live_server: str, demo_workspace
) -> None:
    """As the grid worker of two grids: the point of their building with the most households
    lists every household there, in the identify list too, and each can be opened."""
    own = sorted(demo_workspace.get_user("demo-worker").grids)
    frame = demo_workspace.read("households", where={"grid_code": own}, system=False)
    keys = frame.geometry.apply(lambda g: (round(g.x, 7), round(g.y, 7)))
    (lon, lat), size = Counter(keys).most_common(1)[0]
    expected = {int(fid) for fid, k in zip(frame.index, keys, strict=True) if k == (lon, lat)}
    assert size == len(expected) > 9, size  # a stack worth a list
    # households of other points near it (a click reaches a few pixels)
    context, watch, page = sign_in_page(browser, live_server, "demo-worker")
    set_layer(page, "households", True)
    focus(page, lat, lon, 40)
    x, y = page.evaluate(TO_PIXEL_JS, [lat, lon])
    page.mouse.click(x, y)
    page.locator(POPUP).wait_for()
    got = state(page)
    households = {h["id"] for h in got["hits"] if h["layer"] == "households"}
    assert households == expected
    # households first (points), then the building, the grid, the community
    layers = [h["layer"] for h in got["hits"]]
    assert layers[: len(expected)] == ["households"] * len(expected)
    assert layers[len(expected) :][-2:] == ["grids", "community"]
    count = int(page.locator(POPUP).get_attribute("data-count") or 0)
    assert count == len(got["hits"])
    assert page.locator(f"{POPUP} .gm-pick-pos").inner_text() == f"第 1 个，共 {count} 个"
    items = page.locator(f'{POPUP} .gm-pick-item[data-item-layer="households"]')
    assert items.count() == len(expected)
    listed = {int(i) for i in items.evaluate_all("(l) => l.map((e) => e.dataset.featureId)")}
    assert listed == expected

    # The 5th household from the list: its popup, its address as the title, its id below.
    target = items.nth(4)
    fid = int(target.get_attribute("data-feature-id") or 0)
    target.click()
    assert shown(page) == ("households", str(fid))
    assert page.locator(f"{POPUP} .gm-pick-item[aria-current]").get_attribute(
        "data-feature-id"
    ) == str(fid)
    row = frame.loc[fid]
    assert page.locator(f"{POPUP} .gm-popup-title").inner_text() == row["address"]
    assert page.locator(f'{POPUP} [data-field="code"]').inner_text() == row["household_id"]
    assert page.locator(f'{POPUP} [data-column="head_name"] td').inner_text() == row["head_name"]
    assert state(page)["picked"] == {"layer": "households", "id": fid, "marks": 2}
    page.keyboard.press("ArrowRight")
    assert page.locator(POPUP).get_attribute("data-index") == "5"
    shoot(page, "pick-chooser.png")
    watch.assert_clean()
    context.close()


GRID_FEATURES_JS = """
(code) => { const out = {}; for (const [name, group] of Object.entries(gridmap.layers)) {
  const ids = new Set(); group.eachLayer((l) => { if (l.feature && l.feature.properties.grid_code === code) ids.add(l.feature.id); });
  out[name] = [...ids].sort((a, b) => a - b); } return out; }
"""


def test_choosing_a_grid_selects_what_it_holds(
    browser: Browser, live_server: str, signed_in, demo_workspace
) -> None:
    context, watch = new_context(browser, "zh-CN", signed_in("planner"))
    page = open_map(context, watch, live_server + "/")
    # A tool's popup button shows in the footer and gets the feature.
    page.evaluate(
        "() => gridmap.app.addPopupAction('grids', {id: 'probe', label: () => '探针', "
        "run: (f) => { window.__probe = f.properties.code; }})"
    )
    grid = page.evaluate(CENTRAL_GRID_JS)
    focus(page, grid["lat"], grid["lon"], 200)
    at = page.evaluate(GRID_POINT_JS, grid["code"])
    assert at, "no bare area of the grid in the open part of the map"
    page.mouse.click(at["x"], at["y"])
    page.locator(POPUP).wait_for()
    step_to(page, "grids")  # past a camera's view or a street, if one is there
    code = at["code"]
    fid = int(shown(page)[1])
    got = state(page)
    assert got["grids"] == [code]
    # The selection: the grid and the features of each loaded layer whose grid_code is its own,
    # which are the workspace's (every building, facility and camera is loaded here).
    for name in ("buildings", "facilities", "cameras"):
        stored = sorted(
            int(i)
            for i in demo_workspace.read(
                name, where={"grid_code": code}, columns=("grid_code",), system=False
            ).index
        )
        selected = page.evaluate("(n) => gridmap.app.selected(n)", name)
        if name == "buildings":  # masked for a planner: their opaque ids, as served
            assert all(isinstance(i, str) for i in selected)
            selected = as_stored(demo_workspace, name, "planner", selected)
        assert sorted(selected) == stored, name
    assert page.evaluate("() => gridmap.app.selected('grids')") == [fid]
    assert len(page.evaluate("() => gridmap.app.selected('buildings')")) > 3
    bar = page.locator("#pick-selection")
    assert bar.is_visible()
    grid_name = page.locator(f"{POPUP} .gm-popup-title").inner_text()
    assert grid_name in bar.inner_text()
    n_buildings = len(page.evaluate("() => gridmap.app.selected('buildings')"))
    assert bar.locator('[data-selected-layer="buildings"]').get_attribute("data-count") == str(
        n_buildings
    )
    marks = page.evaluate("() => gridmap.chooser.selectionMarks")
    held = sum(
        len(page.evaluate("(n) => gridmap.app.selected(n)", n))
        for n in ("buildings", "facilities", "cameras")
    )
    assert marks == held + 1  # a mark per member and the grid's outline

    page.click(f'{POPUP} [data-action="probe"]')
    assert page.evaluate("() => window.__probe") == code

    # Esc clears it (and closes the popup); so does the bar's button, and a click where no
    # feature is.
    page.keyboard.press("Escape")
    page.locator(POPUP).wait_for(state="detached")
    assert page.evaluate("() => gridmap.app.selectedLayers()") == []
    assert bar.is_hidden()
    assert page.evaluate("() => gridmap.chooser.selectionMarks") == 0

    # A grid selected by another tool (search) without its members gets them.
    page.evaluate(
        "([id, code]) => gridmap.app.select('grids', [id], {grids: [code], source: 'search'})",
        [fid, code],
    )
    assert len(page.evaluate("() => gridmap.app.selected('buildings')")) == n_buildings
    bar.wait_for()
    page.click("#pick-clear")
    assert page.evaluate("() => gridmap.app.selectedLayers()") == []
    # The search's selection may have fitted the map to the grid: find the grid's point anew.
    focus(page, grid["lat"], grid["lon"], 200)
    at = page.evaluate(GRID_POINT_JS, code)
    assert at and at["code"] == code
    page.mouse.click(at["x"], at["y"])
    page.locator(POPUP).wait_for()
    step_to(page, "grids")
    assert state(page)["grids"] == [code]
    # Where no feature is (off the area, at the whole workspace's view): nothing selected.
    page.click("#fit-workspace")
    page.evaluate(SETTLE_JS)
    west = page.evaluate(EMPTY_PIXEL_JS)
    assert west, "no empty pixel in the open part of the map"
    page.mouse.click(*west)
    page.locator(POPUP).wait_for(state="detached")
    assert page.evaluate("() => gridmap.app.selectedLayers()") == []
    assert bar.is_hidden()
    watch.assert_clean()
    context.close()


# A pixel of the open part of the map where the chooser finds nothing.
EMPTY_PIXEL_JS = """
() => { const box = (__BOX__)();
  const covers = [...document.querySelectorAll('.leaflet-popup, #pick-selection, .leaflet-control')]
    .map((e) => e.getBoundingClientRect());
  const free = (x, y) => !covers.some((r) => x >= r.left - 5 && x <= r.right + 5 && y >= r.top - 5 && y <= r.bottom + 5);
  for (let x = box.left; x < box.right; x += 15) for (let y = box.top; y < box.bottom; y += 15)
    if (free(x, y) && !gridmap.chooser.pickAt(x, y).length) return [x, y];
  return null; }
""".replace("__BOX__", OPEN_BOX_JS.strip())


def rgb(page: Page, x: int, y: int) -> tuple[int, int, int]:
    """The colour of one viewport pixel (a 1×1 PNG screenshot, decoded here: one row of one
    8-bit RGB or RGBA pixel, which every PNG filter stores as it is)."""
    png = page.screenshot(clip={"x": x, "y": y, "width": 1, "height": 1})
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    at, data, header = 8, b"", b""
    while at < len(png):
        (size,) = struct.unpack(">I", png[at : at + 4])
        kind, body = png[at + 4 : at + 8], png[at + 8 : at + 8 + size]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            data += body
        at += 12 + size
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert (width, height, depth, colour in (2, 6)) == (1, 1, 8, True), header
    raw = zlib.decompress(data)
    return raw[1], raw[2], raw[3]


# Cameras whose view (fov < 360°) looks south (below the point, where the popup is not): their
# position, and a point inside the view a third of its range along the bearing.
CAMERAS_JS = """
() => { const out = [];
  gridmap.layers.cameras.eachLayer((l) => {
    if (l.options.gmRole !== 'camera') return;
    const p = l.feature.properties, ll = l.getLatLng();
    if (!(p.fov_deg < 360 && p.bearing_deg > 120 && p.bearing_deg < 240)) return;
    const d = p.range_m / 3, b = p.bearing_deg * Math.PI / 180;
    out.push({id: l.feature.id, lat: ll.lat, lon: ll.lng, vlat: ll.lat + d * Math.cos(b) / 111320,
      vlon: ll.lng + d * Math.sin(b) / (111320 * Math.cos(ll.lat * Math.PI / 180))});
  });
  return out; }
"""


def test_the_picked_camera_shows_its_view(browser: Browser, live_server: str, signed_in) -> None:
    context, watch = new_context(browser, "zh-CN", signed_in("patrol_lead"))
    page = open_map(context, watch, live_server + "/")
    cameras = page.evaluate(CAMERAS_JS)
    assert cameras, "no camera looking south"
    cam = cameras[len(cameras) // 2]
    page.evaluate(SET_VIEW_JS, [cam["lat"], cam["lon"], 18.5])
    page.evaluate(SETTLE_JS)
    x, y = page.evaluate(TO_PIXEL_JS, [cam["lat"], cam["lon"]])
    before = rgb(page, *page.evaluate(TO_PIXEL_JS, [cam["vlat"], cam["vlon"]]))
    page.mouse.click(x, y)
    page.locator(POPUP).wait_for()
    page.evaluate(SETTLE_JS)  # the popup's auto-pan
    assert shown(page) == ("cameras", str(cam["id"]))
    # the view sector and two rings round the point are drawn
    assert state(page)["picked"] == {"layer": "cameras", "id": cam["id"], "marks": 3}
    vx, vy = page.evaluate(TO_PIXEL_JS, [cam["vlat"], cam["vlon"]])
    after = rgb(page, vx, vy)
    # inside the view the pick's magenta tint shows: more red and blue than green
    assert after[0] - after[1] > before[0] - before[1] + 8, (before, after)
    title = page.locator(f"{POPUP} .gm-popup-title").inner_text()
    assert title and not title.startswith("CAM")  # the location's name; the code below it
    assert page.locator(f'{POPUP} [data-field="code"]').inner_text().startswith("CAM")
    # the highlight follows ›
    page.click(f'{POPUP} [data-pick="next"]')
    nxt = state(page)
    assert nxt["picked"]["layer"] == nxt["hits"][1]["layer"]
    assert nxt["picked"]["id"] == nxt["hits"][1]["id"]
    watch.assert_clean()
    context.close()


OPEN_FEATURE_JS = """
async ([layer, id]) => { await gridmap.app.focus({layer, id}); return gridmap.chooser.hits()[0]; }
"""


def test_popups_show_names_not_osm_ids(
    browser: Browser, live_server: str, signed_in, demo_workspace
) -> None:
    buildings = demo_workspace.read("buildings", system=False)
    streets = demo_workspace.read("streets", system=False)
    context, watch = new_context(browser, "zh-CN", signed_in("planner"))
    page = open_map(context, watch, live_server + "/")
    popup = page.locator(POPUP)

    # A building with an address and no name: the address is its title, OSM ids only in the
    # source line, provenance lines for its outline and storeys.
    b = buildings[
        buildings["name"].isna() & buildings["address"].notna() & buildings["levels"].notna()
    ].iloc[0]
    fid = as_served(demo_workspace, "buildings", "planner", int(b.name))  # masked: opaque id
    assert page.evaluate(OPEN_FEATURE_JS, ["buildings", fid]) == {
        "layer": "buildings",
        "id": fid,
        "kind": "area",
    }
    assert shown(page) == ("buildings", str(fid))
    assert popup.locator(".gm-popup-title").inner_text() == b["address"]
    text = popup.inner_text()
    osm = str(int(b["osm_id"]))
    assert popup.locator('[data-provenance="osm"]').inner_text() == f"OSM {osm}"
    assert text.count(osm) == 1  # nowhere else
    assert popup.locator('[data-column="osm_id"]').count() == 0
    assert popup.locator('[data-provenance="outline"]').inner_text() == "轮廓：OpenStreetMap"
    levels = popup.locator('[data-column="levels"] td').inner_text()
    assert levels == f"{int(b['levels'])} 层"
    words = {"osm": "OSM building:levels", "height": "由高度推算", "default": "默认值（估算）"}
    assert words[b["levels_source"]] in popup.locator('[data-provenance="levels"]').inner_text()
    if "households_source" in buildings.columns and isinstance(b["households_source"], str):
        assert popup.locator('[data-provenance="households"]').count() == 1
    assert popup.locator('[data-field="kind"]').inner_text()  # its type, in words, below
    assert state(page)["picked"]["layer"] == "buildings"

    # A named street: its name; an unnamed one: "未命名道路（<its class>）"; OSM ids below.
    named = streets[streets["name"].notna()].iloc[0]
    page.evaluate(OPEN_FEATURE_JS, ["streets", int(named.name)])
    assert shown(page) == ("streets", str(int(named.name)))
    assert popup.locator(".gm-popup-title").inner_text() == named["name"]
    source = popup.locator('[data-provenance="osm"]').inner_text()
    assert str(named["osmid"]).split(",")[0] in source and str(named["u"]) in source
    for column in ("u", "v", "osmid", "key"):
        assert popup.locator(f'[data-column="{column}"]').count() == 0
    unnamed = streets[streets["name"].isna() & (streets["highway"] == "pedestrian")].iloc[0]
    page.evaluate(OPEN_FEATURE_JS, ["streets", int(unnamed.name)])
    assert popup.locator(".gm-popup-title").inner_text() == "未命名道路（步行街）"
    assert str(unnamed["u"]) not in popup.locator(".gm-popup-table").inner_text()
    assert popup.locator('[data-provenance="source"]').inner_text() == "来源：OpenStreetMap"

    # In English at once.
    page.click("#lang-switch")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert popup.locator(".gm-popup-title").inner_text() == "Unnamed street (Pedestrian street)"
    n = popup.get_attribute("data-count")
    assert popup.locator(".gm-pick-pos").inner_text() == f"1 of {n}"
    assert popup.locator('[data-pick="next"]').get_attribute("aria-label") == "Next (→)"
    page.evaluate(OPEN_FEATURE_JS, ["buildings", fid])
    assert popup.locator('[data-provenance="outline"]').inner_text() == "Outline: OpenStreetMap"
    assert popup.locator('[data-column="levels"] td').inner_text().endswith(" storeys")
    watch.assert_clean()
    context.close()


DRAWN_STYLES_JS = """
() => { const colours = {}, incidents = {};
  for (const [name, group] of Object.entries(gridmap.layers)) {
    if (!gridmap.map.hasLayer(group)) continue;
    const seen = new Set();
    group.eachLayer((l) => {
      if (!l.feature || !(l instanceof L.Path)) return;
      const p = l.feature.properties, o = l.options;
      if (name === 'cameras' && o.gmRole !== 'view') return;  // the views carry the kind's colour
      seen.add(name === 'visits' || name === 'cameras' ? o.color : o.fillColor);  // visits: rings
      if (name === 'incidents') incidents[p.kind + '|' + p.status] = {shape: o.shape || 'circle',
        shaped: l._updatePath !== L.CircleMarker.prototype._updatePath};
    });
    colours[name] = [...seen];
  }
  return {colours, incidents}; }
"""


def lab(hex_colour: str) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of an sRGB colour ``#rrggbb``."""
    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))

    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = lin(r), lin(g), lin(b)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def test_symbols_incident_shapes_and_disjoint_palettes(
    browser: Browser, live_server: str, signed_in
) -> None:
    context, watch = new_context(browser, "zh-CN", signed_in("admin"))
    # Every point drawn as its own symbol (?whole=1): the whole area's households and visits
    # are otherwise bubbles (in their layer's colour) and stacks (in their top feature's).
    page = open_map(context, watch, live_server + "/?whole=1")
    for name in ("incidents", "households", "visits"):
        set_layer(page, name, True)
    styles = page.evaluate(DRAWN_STYLES_JS)

    # Incidents: a canvas shape per kind (not a circle for any), drawn by the shape marker.
    incidents = styles["incidents"]
    drawn = {}
    for key, v in incidents.items():
        drawn.setdefault(key.split("|")[0], set()).add(v["shape"])
    assert len(drawn) >= 4 and all(len(s) == 1 for s in drawn.values()), drawn
    assert len({next(iter(s)) for s in drawn.values()}) == len(drawn)  # one shape per kind
    assert all(v["shaped"] for v in incidents.values())
    # and every kind of the schema has its own (the demo's incidents have four of the six)
    module = page.evaluate(
        "async () => { const map = JSON.parse(document.querySelector('script[type=importmap]')"
        ".textContent).imports; const m = await import(map['/static/js/styles.js']);"
        " return m.INCIDENT_SHAPES; }"
    )
    from gridmap.schema import get_layer

    kinds = next(c.choices for c in get_layer("incidents").columns if c.name == "kind")
    assert sorted(module) == sorted(kinds) and len(set(module.values())) == len(kinds)
    assert "circle" not in module.values()
    assert all(module[k] in drawn[k] for k in drawn)
    # the legend draws the same shapes
    legend = page.locator('[data-legend="incidents"] svg polygon')
    assert legend.count() == len(drawn) + 1  # and the closed ones

    # One colour never means two things: every colour drawn by one point layer (and the camera
    # views) is far (CIE76 ΔE ≥ 15) from every colour of another.
    colours = {
        name: set(styles["colours"][name])
        for name in ("facilities", "incidents", "cameras", "visits", "households")
    }
    assert all(len(c) >= 3 for c in colours.values()), colours
    worst = min(
        (math.dist(lab(a), lab(b)), la, a, lb, b)
        for la in colours
        for lb in colours
        if la < lb
        for a in colours[la]
        for b in colours[lb]
    )
    assert worst[0] >= 15, worst

    # The pixels: an isolated square (vehicle theft) is filled out to its corner, a triangle
    # (burglary) is not: there the map under it shows.
    for name in ("households", "visits", "cameras", "facilities", "streets"):
        set_layer(page, name, False)
    lonely = page.evaluate(
        """(kinds) => { const pts = []; gridmap.layers.incidents.eachLayer((l) => { if (l.feature) pts.push(l); });
          const out = {}; for (const kind of kinds) { for (const l of pts) {
            if (l.feature.properties.kind !== kind || l.feature.properties.status !== 'open') continue;
            const ll = l.getLatLng(); if (pts.every((o) => o === l || o.getLatLng().distanceTo(ll) > 3)) {
              out[kind] = [ll.lat, ll.lng, l._radius]; break; } } } return out; }""",
        ["vehicle_theft", "burglary"],
    )
    assert set(lonely) == {"vehicle_theft", "burglary"}, lonely
    seen = {}
    for kind, (lat, lon, r) in lonely.items():
        focus(page, lat, lon, 30)
        x, y = page.evaluate(TO_PIXEL_JS, [lat, lon])
        d = round(r * 0.5)  # inside a square (half side 0.82 r), outside a triangle
        seen[kind] = (rgb(page, x, y), rgb(page, x - d, y - d), rgb(page, x + d, y - d))
    square, triangle = seen["vehicle_theft"], seen["burglary"]
    assert all(math.dist(square[0], c) < 30 for c in square[1:]), square
    assert all(math.dist(triangle[0], c) > 60 for c in triangle[1:]), triangle
    watch.assert_clean()
    context.close()


# A view at zoom 17.5 around a grid's label whose labels in view all belong to one community.
ONE_COMMUNITY_JS = """
() => { const {map, layers} = gridmap; const centres = [];
  layers.grids.eachLayer((l) => { if (l.feature) centres.push(l.getBounds().getCenter()); });
  const zoom = 17.5;
  for (const at of centres) {
    map.setView(at, zoom, {animate: false});
    const v = map.getBounds();
    const inView = new Set();
    layers.grids.eachLayer((g) => { if (g.feature && v.intersects(g.getBounds())) inView.add(g.feature.properties.community_code); });
    if (inView.size === 1) return [at.lat, at.lng, zoom];
  }
  return null; }
"""


def test_grid_labels_name_their_community_when_several_are_in_view(
    browser: Browser, live_server: str, signed_in
) -> None:
    context, watch = new_context(browser, "zh-CN", signed_in("planner"))
    page = open_map(context, watch, live_server + "/")
    community = page.locator(".leaflet-tooltip.grid-label .grid-label-community:visible")
    grid = page.evaluate(CENTRAL_GRID_JS)
    # Zoom 16 over the middle of the area: grids of several communities, their labels say which.
    set_layer(page, "incidents", True)  # for the picture: incidents by shape, in the legend too
    page.evaluate(SET_VIEW_JS, [grid["lat"], grid["lon"], 16])
    page.wait_for_function(
        "() => gridmap.map.getContainer().classList.contains('gm-many-communities')"
    )
    assert community.count() > 3
    names = set(community.all_inner_texts())
    assert len(names) > 1 and all(n.endswith("社区") for n in names), names
    shoot(page, "pick-symbols.png")
    # At street zoom over a grid whose neighbours in view are all of its community: none.
    spot = page.evaluate(ONE_COMMUNITY_JS)
    assert spot, "no view of one community's grids only"
    page.evaluate(SET_VIEW_JS, spot)
    assert not page.evaluate(
        "() => gridmap.map.getContainer().classList.contains('gm-many-communities')"
    )
    assert community.count() == 0
    assert page.locator(".leaflet-tooltip.grid-label:visible").count() >= 1
    watch.assert_clean()
    context.close()
