"""The map page in a real browser: languages, layers, downloads, tiles, sign-in, roles, admin.

See :mod:`tests.browser.kit` for how the pages are watched and kept offline.
"""

from __future__ import annotations

import csv
import io
import math
import re
import struct
import zlib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import openpyxl
import pytest
from playwright.sync_api import Browser, Page, Route

from tests.browser.kit import (
    BUILDING_POINT_JS,
    BUSY_SPOT_JS,
    CENTRAL_GRID_JS,
    DEFAULT_ON,
    DOCS_IMG,
    GRID_POINT_JS,
    HOUSEHOLD_PERSONAL,
    MASKED_OFF,
    OPEN_POINT_JS,
    READY,
    api_get,
    drawn,
    expect_refused,
    focus,
    layer_title,
    new_context,
    open_map,
    pixels,
    set_layer,
    shoot,
    submit_sign_in,
    watched_page,
)
from tests.conftest import ADMIN_PASSWORD, DEMO_PASSWORD, ROLE_TOKENS

pytestmark = pytest.mark.browser


def test_map_page_zh_then_en(browser: Browser, live_server: str, signed_in) -> None:
    context, watch = new_context(browser, "zh-CN", signed_in("planner"))
    page = open_map(context, watch, live_server + "/")

    # Chinese from Accept-Language.
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert page.evaluate("window.gridmap.lang") == "zh-CN"
    assert "社区网格地图" in page.title()
    assert layer_title(page, "grids") == "网格"
    assert page.inner_text("#legend-title") == "图例"

    # The workspace base map (streets and buildings) is painted.
    base = page.evaluate(
        """() => { let n = 0; gridmap.basemap.eachLayer((g) => g.eachLayer
              ? g.eachLayer((l) => { n += l._parts && l._parts.length ? 1 : 0; })
              : (n += g._parts && g._parts.length ? 1 : 0)); return n; }"""
    )
    assert base > 300, f"base map paths drawn: {base}"

    # Default layers drawn, the others not even loaded.
    counts = {name: drawn(page, name) for name in DEFAULT_ON}
    assert counts["community"]["drawn"] >= 1
    assert counts["grids"]["drawn"] > 5
    assert counts["grids"]["labels"] == counts["grids"]["features"]
    assert counts["buildings"]["drawn"] > 100
    assert counts["streets"]["drawn"] > 100
    assert counts["facilities"]["drawn"] > 20
    assert counts["cameras"]["polygons"] > 5, "camera field-of-view sectors"
    assert counts["cameras"]["points"] > 5, "camera positions"
    for name in DEFAULT_ON:
        assert page.is_checked(f'[data-layer="{name}"]')
    for name in MASKED_OFF:
        assert not page.is_checked(f'[data-layer="{name}"]')
        assert drawn(page, name)["loaded"] is False, f"{name} loaded before it was asked for"
    assert page.locator(".leaflet-tooltip.grid-label:visible").count() > 5
    # A planner gets no people rows at all (figures per grid instead): no row for them.
    assert page.locator('[data-layer-row="people"]').count() == 0
    assert "people" not in page.evaluate("gridmap.workspace.layers.map((l) => l.name)")
    # Visits come without their place: listed with their count among the tables, nothing to
    # tick, never loaded, and the row says why (in the page's language).
    visits = page.locator('#table-list [data-layer-row="visits"][data-unplaced="masked"]')
    assert visits.count() == 1
    assert visits.locator("input").count() == 0
    assert drawn(page, "visits")["loaded"] is False
    count = page.evaluate("gridmap.workspace.layers.find((l) => l.name === 'visits').count")
    assert count > 1000 and str(count) in visits.locator(".layer-count").inner_text().replace(
        ",", ""
    )
    assert visits.locator(".read-badge").inner_text() == "已脱敏"
    why = visits.locator(".layer-note").inner_text()
    assert "走访地点" in why and "不在地图上绘制" in why, why  # not the people's "no geometry"
    # Scale bar and attribution (OSM and the synthetic-data note).
    assert page.locator(".leaflet-control-scale-line").is_visible()
    attribution = page.inner_text(".leaflet-control-attribution")
    note = page.evaluate("gridmap.workspace.synthetic_note")
    assert "© OpenStreetMap contributors" in attribution
    assert note["zh-CN"] in attribution

    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_IMG / "map-zh.png"))

    # Popups: with the layers above them off, click a building, then a bare part of a grid.
    for name in ("cameras", "facilities", "streets"):
        set_layer(page, name, False)
    at = page.evaluate(BUILDING_POINT_JS)
    assert at, "no building in the open part of the map"
    page.mouse.click(at["x"], at["y"])
    popup = page.locator(".leaflet-popup-content .gm-popup")
    popup.wait_for()
    assert popup.get_attribute("data-layer") == "buildings"
    text = popup.inner_text()
    # the chooser lists the building first; its type under its name (or in the table)
    assert "楼栋" in text
    assert popup.locator('[data-field="kind"]').count() == 1 or "建筑类型" in text
    residential = popup.locator('[data-column="residential"] td')
    if residential.count():
        assert residential.inner_text() in {"是", "否"}
    page.click(".leaflet-popup-close-button")
    popup.wait_for(state="detached")

    at = page.evaluate(GRID_POINT_JS)
    assert at, "no bare grid area in the open part of the map"
    page.mouse.click(at["x"], at["y"])
    popup.wait_for()
    assert popup.get_attribute("data-layer") == "grids"
    text = popup.inner_text()
    # the grid's name is the title, its code the line below (popup.js)
    assert popup.locator('[data-field="title"]').get_attribute("data-title-column") == "name"
    assert popup.locator('[data-field="code"]').inner_text() == at["code"]
    assert "网格员" in text
    households = popup.locator('[data-column="households"] td')
    assert households.inner_text().endswith(" 户")  # units are localized too

    # Switch to English: panel, legend, open popup, title and <html lang> follow at once.
    page.click("#lang-switch")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert page.evaluate("window.gridmap.lang") == "en"
    assert layer_title(page, "grids") == "Grids"
    assert layer_title(page, "buildings") == "Buildings"
    assert page.inner_text("#legend-title") == "Legend"
    assert "Community grid map" in page.title()
    text = popup.inner_text()
    assert "Grid worker" in text and "网格员" not in text
    assert households.inner_text().endswith(" households")
    assert note["en"] in page.inner_text(".leaflet-control-attribution")
    assert page.inner_text("#lang-switch") == "中文"
    assert "a visit's place" in visits.locator(".layer-note").inner_text()

    # The choice is remembered: a reload comes back in English although the browser asks zh-CN.
    page.reload()
    page.wait_for_selector(READY, timeout=30_000)
    assert page.get_attribute("html", "lang") == "en"
    assert layer_title(page, "grids") == "Grids"

    # Turn on the heavy point layers: each gets drawn (counted, and its pixels change).
    minimum = {"households": 1000, "incidents": 50, "street_nodes": 50}
    for name in MASKED_OFF:
        count = page.evaluate(
            "(n) => gridmap.workspace.layers.find((l) => l.name === n).count", name
        )
        assert count > minimum[name], f"{name}: only {count} features in the demo"
        set_layer(page, name, True)
        got = drawn(page, name)
        assert got["drawn"] > minimum[name], f"{name}: {got}"
        assert page.locator(f'[data-legend="{name}"]').count() == 1
        spot = page.evaluate(OPEN_POINT_JS, name)
        assert spot, f"{name}: nothing in the open part of the map"
        before = pixels(page, spot["x"], spot["y"])
        set_layer(page, name, False)
        assert pixels(page, spot["x"], spot["y"]) != before, f"{name} left no mark on the map"
        set_layer(page, name, True)

    # Incidents are the top layer: clicking one shows its kind and status in English.
    spot = page.evaluate(OPEN_POINT_JS, "incidents")
    page.mouse.click(spot["x"], spot["y"])
    popup.wait_for()
    assert popup.get_attribute("data-layer") == "incidents"
    kinds = {"Burglary", "Vehicle theft", "Dispute", "Theft", "Fire hazard", "Other"}
    assert popup.locator(".gm-popup-title").inner_text() in kinds  # the kind is its title
    assert popup.locator('[data-column="status"] td').inner_text() in {"Open", "Closed"}

    watch.assert_clean()
    context.close()


def test_english_from_accept_language(browser: Browser, live_server: str, signed_in) -> None:
    context, watch = new_context(browser, "en-US", signed_in("analyst"))
    page = open_map(context, watch, live_server + "/")
    assert page.get_attribute("html", "lang") == "en"
    assert page.evaluate("window.gridmap.lang") == "en"
    assert "Community grid map" in page.title()
    assert layer_title(page, "grids") == "Grids"
    assert layer_title(page, "cameras") == "Cameras"
    assert page.inner_text("#panel-layers .panel-heading") == "Layers"
    assert "Police post" in page.inner_text("#legend")
    assert drawn(page, "buildings")["drawn"] > 100
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_IMG / "map-en.png"))

    # The download menu of the grids, in English, for the analysts' guide.
    page.click('[data-export="grids"]')
    menu = page.locator('#export-menu[data-export-menu="grids"]')
    menu.wait_for()
    assert page.get_attribute('[data-export="grids"]', "aria-expanded") == "true"
    assert menu.locator('[data-export-format="xlsx"]').inner_text().split() == [
        "Excel",
        "workbook",
        ".xlsx",
    ]
    assert "Only the current view" in menu.inner_text()
    assert "titled in English" in menu.inner_text()
    shoot(page, "analyst-export.png")
    page.keyboard.press("Escape")
    menu.wait_for(state="hidden")
    assert page.get_attribute('[data-export="grids"]', "aria-expanded") == "false"

    # ?lang= overrides the browser's language.
    page.goto(live_server + "/?lang=zh-CN")
    page.wait_for_selector(READY, timeout=30_000)
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert layer_title(page, "grids") == "网格"
    watch.assert_clean()
    context.close()


def layer_count(page: Page, name: str) -> int:
    return page.evaluate("(n) => gridmap.workspace.layers.find((l) => l.name === n).count", name)


def test_download_layers(browser: Browser, live_server: str, tmp_path: Path, signed_in) -> None:
    context, watch = new_context(browser, "zh-CN", signed_in("analyst"))
    page = open_map(context, watch, live_server + "/")
    menu = page.locator("#export-menu")
    formats = menu.locator("[data-export-format]")

    # Every layer row has a download button; each offers the formats that suit the layer.
    names = page.evaluate("gridmap.workspace.layers.map((l) => l.name)")
    assert page.locator("[data-export]").count() == len(names)
    assert "people" not in names  # an analyst gets figures per grid, not people rows
    # Visits come to an analyst without their place: a table, and no "only the current view"
    # (a box must not select them by the place the masked view leaves out).
    page.click('[data-export="visits"]')
    menu.wait_for()
    assert formats.evaluate_all("(l) => l.map((e) => e.dataset.exportFormat)") == [
        "xlsx",
        "csv",
        "gpkg",
    ]
    assert menu.locator("[data-export-bbox]").count() == 0
    assert "已脱敏" in menu.inner_text() and "不含位置" in menu.inner_text()
    assert "人员按所在住户定位" not in menu.inner_text()  # the people's note is not theirs
    # Households, masked, keep their building's point: every format, and the view option.
    page.click('[data-export="households"]')  # another row's button moves the menu there
    page.wait_for_selector('#export-menu[data-export-menu="households"]')
    assert formats.count() == 5 and menu.locator("[data-export-bbox]").count() == 1
    assert "已脱敏" in menu.inner_text()  # the server serves the masked view
    page.click('[data-export="grids"]')
    page.wait_for_selector('#export-menu[data-export-menu="grids"]')
    assert formats.count() == 5
    assert "已脱敏" not in menu.inner_text()

    # Grids as Excel, in Chinese: Chinese column titles and a row per grid.
    with page.expect_download() as info:
        page.click('[data-export-format="xlsx"]')
    assert menu.is_hidden()
    download = info.value
    assert re.fullmatch(r"网格_全部_\d{4}-\d{2}-\d{2}_zh-CN\.xlsx", download.suggested_filename)
    path = tmp_path / "grids.xlsx"
    download.save_as(path)
    rows = list(openpyxl.load_workbook(path)["网格"].values)
    assert rows[0][0] == "网格编码（15位）"
    assert len(rows) - 1 == layer_count(page, "grids")
    page.wait_for_selector('[data-export="grids"]:not([aria-busy])')
    assert page.inner_text('[data-export-msg="grids"]') == ""

    # Buildings as CSV, only those in the current view after zooming in.
    page.evaluate("() => { gridmap.map.setZoom(gridmap.map.getZoom() + 1.5, {animate: false}); }")
    view = page.evaluate(
        "(() => { const b = gridmap.map.getBounds(); "
        "return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; })()"
    )
    page.click('[data-export="buildings"]')
    page.check("[data-export-bbox]")

    def starts_job(request) -> bool:
        return request.method == "POST" and urlsplit(request.url).path == "/api/jobs"

    with page.expect_request(starts_job) as request, page.expect_download() as info:
        page.click('[data-export-format="csv"]')
    job = request.value.post_data_json
    assert (job["kind"], job["layer"], job["format"], job["lang"]) == (
        "export",
        "buildings",
        "csv",
        "zh-CN",
    )
    bbox = [float(v) for v in job["bbox"].split(",")]
    assert all(abs(a - b) < 1e-5 for a, b in zip(bbox, view, strict=True)), (bbox, view)
    download = info.value
    assert re.fullmatch(r"楼栋_视图_\d{4}-\d{2}-\d{2}_zh-CN\.csv", download.suggested_filename)
    path = tmp_path / "buildings.csv"
    download.save_as(path)
    table = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert table[0][0] == "OSM 编号"
    assert 0 < len(table) - 1 < layer_count(page, "buildings")

    # Masked households as CSV in the view: the masked view's columns, no name nor phone.
    page.click('[data-export="households"]')
    assert page.is_checked("[data-export-bbox]")  # the choice stays for the next file
    with page.expect_download() as info:
        page.click('[data-export-format="csv"]')
    path = tmp_path / "households.csv"
    info.value.save_as(path)
    table = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    from gridmap.schema import get_layer

    titles = {c.name: c.zh for c in get_layer("households").columns}
    assert titles["grid_code"] in table[0] and titles["address"] in table[0]
    for column in HOUSEHOLD_PERSONAL:
        assert titles[column] not in table[0], column
    address = table[0].index(titles["address"])
    assert len(table) > 1 and not any(re.search(r"单元|室", r[address]) for r in table[1:])
    page.wait_for_selector('[data-export="households"]:not([aria-busy])')

    # A failed export is said on the layer's row, not saved as a file: in the server's words
    # when the UI has none for its error code ...
    def refusing(status: int, error: dict, headers: dict | None = None):
        def handle(route: Route) -> None:
            if route.request.method != "POST":
                route.continue_()
                return
            body = route.request.post_data_json
            assert body["layer"] == "households", body
            route.fulfill(status=status, headers=headers, json={"error": error})

        return handle

    export_url = "**/api/jobs"
    page.route(
        export_url, refusing(500, {"code": "disk_full", "message": "磁盘已满", "status": 500})
    )
    page.click('[data-export="households"]')
    page.click('[data-export-format="gpkg"]')
    message = page.locator('[data-export-msg="households"]')
    message.filter(has_text="磁盘已满").wait_for()
    assert "下载失败" in message.inner_text()

    # ... and in the UI's own words, in its language, when the code is known.
    text = "The workspace is locked by another program."
    error = {"code": "workspace_busy", "message": text, "status": 503, "retry_after": 2}
    page.unroute(export_url)
    page.route(export_url, refusing(503, error, {"Retry-After": "2"}))
    page.wait_for_selector('[data-export="households"]:not([aria-busy])')
    page.click('[data-export="households"]')
    page.click('[data-export-format="csv"]')
    message.filter(has_text="工作区正忙").wait_for()
    assert "下载失败" in message.inner_text() and "locked" not in message.inner_text()
    page.click("#lang-switch")  # the message follows the language
    message.filter(has_text="the workspace is busy").wait_for()
    assert "Download failed" in message.inner_text()
    # The browser logs the refused requests: expected here, and only those.
    assert len(watch.http_errors) == 2
    assert all(e.endswith("/api/jobs") for e in watch.http_errors), watch.http_errors
    assert all(re.search(r"\b50[03]\b", c) for c in watch.console), watch.console
    watch.http_errors.clear()
    watch.console.clear()
    watch.assert_clean()
    context.close()

    # People are exported by those who read them: an admin, here. They have no geometry but
    # are placed by their households: the view option is there, and nothing is masked.
    context, watch = new_context(browser, "zh-CN", signed_in("admin"))
    page = open_map(context, watch, live_server + "/")
    menu = page.locator("#export-menu")
    formats = menu.locator("[data-export-format]")
    page.click('[data-export="people"]')
    page.wait_for_selector('#export-menu[data-export-menu="people"]')
    assert formats.evaluate_all("(l) => l.map((e) => e.dataset.exportFormat)") == [
        "xlsx",
        "csv",
        "gpkg",
    ]
    assert menu.locator("[data-export-bbox]").count() == 1
    assert "人员按所在住户定位" in menu.inner_text()
    assert "已脱敏" not in menu.inner_text()
    page.check("[data-export-bbox]")
    grid = page.evaluate(CENTRAL_GRID_JS)
    focus(page, grid["lat"], grid["lon"], 60)
    with page.expect_download() as info:
        page.click('[data-export-format="csv"]')
    path = tmp_path / "people.csv"
    info.value.save_as(path)
    people = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    names = people[0].index(next(c.zh for c in get_layer("people").columns if c.name == "name"))
    assert 0 < len(people) - 1 < layer_count(page, "people")
    assert all(r[names] and "*" not in r[names] for r in people[1:])  # the real names
    watch.assert_clean()
    context.close()


def test_guide_screenshots_zh(browser: Browser, live_server: str, signed_in) -> None:
    """The pictures in the planners', patrol leads' and analysts' guides."""
    context, watch = new_context(browser, "zh-CN", signed_in("planner"))
    page = open_map(context, watch, live_server + "/")
    popup = page.locator(".leaflet-popup-content .gm-popup")

    # Planner: a few grids around the middle of the area, one grid's popup open.
    for name in ("cameras", "facilities", "streets"):
        set_layer(page, name, False)
    grid = page.evaluate(CENTRAL_GRID_JS)
    north = 130 / 111_320  # degrees: the grid sits low in the view, its popup above it
    assert focus(page, grid["lat"] + north, grid["lon"], 340) >= 17
    at = page.evaluate(GRID_POINT_JS, grid["code"])
    assert at, "no bare area of the grid in the open part of the map"
    page.mouse.click(at["x"], at["y"])
    popup.wait_for()
    assert popup.get_attribute("data-layer") == "grids"
    assert at["code"] == popup.locator('[data-field="code"]').inner_text()
    assert popup.locator('[data-column="worker"] td').inner_text()
    assert popup.locator('[data-column="households"] td').inner_text().endswith(" 户")
    shoot(page, "planner-grid-popup.png")
    page.click(".leaflet-popup-close-button")
    popup.wait_for(state="detached")

    # Households as a planner sees them: one household's popup, its building's address and
    # grid, and no name, phone or household details at all.
    set_layer(page, "households", True)
    focus(page, grid["lat"], grid["lon"], 110)
    spot = page.evaluate(OPEN_POINT_JS, "households")
    assert spot, "no household in the open part of the map"
    # where the point is, before the popup's opening may pan the map
    lat, lon = page.evaluate(
        "([x, y]) => { const ll = gridmap.map.containerPointToLatLng([x, y]); "
        "return [ll.lat, ll.lng]; }",
        [spot["x"], spot["y"]],
    )
    page.mouse.click(spot["x"], spot["y"])
    popup.wait_for()
    assert popup.get_attribute("data-layer") == "households"
    for column in HOUSEHOLD_PERSONAL:
        assert popup.locator(f'[data-column="{column}"]').count() == 0, column
    address = popup.locator('[data-title-column="address"]').inner_text()  # its title
    assert address and not re.search(r"单元|室", address), address  # cut to the building
    assert popup.locator('[data-column="grid_code"] td').inner_text()
    # The admin, over the API, gets the real heads and phones of that building's households:
    # none of them is on the planner's page.
    d = 3 / 111_320  # degrees: a few metres around the building's point
    box = f"{lon - d:.7f},{lat - d:.7f},{lon + d:.7f},{lat + d:.7f}"
    status, doc = api_get(live_server, f"/api/layers/households?bbox={box}", ROLE_TOKENS["admin"])
    assert status == 200 and doc["features"]
    heads = [f["properties"] for f in doc["features"]]
    assert all(h["head_name"] and "*" not in h["head_name"] for h in heads), heads[:3]
    text = popup.inner_text()
    assert not any(h["head_name"] in text or (h["phone"] and h["phone"] in text) for h in heads)
    shoot(page, "households-masked.png")
    page.click(".leaflet-popup-close-button")
    popup.wait_for(state="detached")
    set_layer(page, "households", False)

    # Patrol lead: streets, cameras with their view sectors and incidents, at a busy spot.
    set_layer(page, "grids", False)
    for name in ("streets", "facilities", "cameras", "incidents"):
        set_layer(page, name, True)
    busy = page.evaluate(BUSY_SPOT_JS)
    focus(page, busy["lat"], busy["lon"], 230)
    assert drawn(page, "incidents")["drawn"] >= 5
    assert drawn(page, "cameras")["polygons"] >= 2
    assert drawn(page, "streets")["drawn"] > 10
    shoot(page, "patrol-cameras-incidents.png")
    watch.assert_clean()
    context.close()


# -- GCJ-02 tile layers (Amap): shifted back onto WGS-84 -------------------------------------


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """The standard WGS-84 → GCJ-02 formula, written again here to check the browser's."""
    a, ee = 6378245.0, 0.006693421622965943
    x, y = lon - 105.0, lat - 35.0
    s6, s2 = math.sin(6.0 * x * math.pi), math.sin(2.0 * x * math.pi)
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    d_lat += (20.0 * s6 + 20.0 * s2) * 2.0 / 3.0
    d_lat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    d_lat += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2 / 3
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    d_lon += (20.0 * s6 + 20.0 * s2) * 2.0 / 3.0
    d_lon += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    d_lon += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2 / 3
    rad = lat / 180.0 * math.pi
    magic = 1 - ee * math.sin(rad) ** 2
    d_lat = d_lat * 180.0 / ((a * (1 - ee)) / (magic * math.sqrt(magic)) * math.pi)
    d_lon = d_lon * 180.0 / (a / math.sqrt(magic) * math.cos(rad) * math.pi)
    return lon + d_lon, lat + d_lat


def mercator_px(lon: float, lat: float, zoom: float) -> tuple[float, float]:
    scale = 256 * 2**zoom
    phi = math.radians(lat)
    return (
        scale * (lon + 180.0) / 360.0,
        scale * (0.5 - math.log(math.tan(math.pi / 4 + phi / 2)) / (2 * math.pi)),
    )


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"\x00" + b"\xc8\xd8\xe8" * 4  # one row (filter byte, 4 RGB pixels) of a 4×4 image
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw * 4))
        + chunk(b"IEND", b"")
    )


def test_gcj02_tile_layer_is_shifted_back(browser: Browser, live_server: str, signed_in) -> None:
    context, watch = new_context(browser, "zh-CN", signed_in("patrol_lead"))
    tile_url = live_server + "/__test_tiles/{z}/{x}/{y}.png"
    entry = {
        "id": "amap",
        "title": {"en": "Amap (test)", "zh-CN": "高德（测试）"},
        "url": tile_url,
        "attribution": "© test tiles",
        "max_zoom": 18,
        "gcj02": True,
    }
    png = tiny_png()
    tiles_served: list[str] = []

    def workspace_with_tiles(route: Route) -> None:
        doc = route.fetch().json()
        doc["tiles"] = [entry]
        route.fulfill(json=doc)

    def fake_tiles(route: Route) -> None:
        tiles_served.append(route.request.url)
        route.fulfill(body=png, content_type="image/png")

    context.route("**/api/workspace", workspace_with_tiles)
    context.route("**/__test_tiles/**", fake_tiles)
    page = open_map(context, watch, live_server + "/")

    assert page.locator('input[data-basemap="workspace"]').is_checked()
    page.check('input[data-basemap="tile:amap"]')
    page.wait_for_function("() => document.querySelectorAll('.gm-tiles-gcj02 img').length > 0")
    assert tiles_served
    assert page.evaluate("gridmap.map.hasLayer(gridmap.basemap)") is False
    assert page.locator('[data-legend="basemap"]').count() == 0
    assert "© test tiles" in page.inner_text(".leaflet-control-attribution")

    def check_offset() -> None:
        view = page.evaluate(
            "(() => { const c = gridmap.map.getCenter(); const el = "
            "document.querySelector('.gm-tiles-gcj02'); const m = new DOMMatrix("
            "getComputedStyle(el).transform); return {lon: c.lng, lat: c.lat, "
            "zoom: gridmap.map.getZoom(), dx: m.m41, dy: m.m42}; })()"
        )
        glon, glat = wgs84_to_gcj02(view["lon"], view["lat"])
        wx, wy = mercator_px(view["lon"], view["lat"], view["zoom"])
        gx, gy = mercator_px(glon, glat, view["zoom"])
        assert abs(view["dx"] - (wx - gx)) < 1.0, view
        assert abs(view["dy"] - (wy - gy)) < 1.0, view
        # In China GCJ-02 lies a few hundred metres east of WGS-84: the tiles move west.
        assert view["dx"] < -50

    def check_covered() -> None:
        # The shifted layer still fills the whole map: it loads the tiles that show through.
        page.wait_for_function(
            "() => { let busy = true; gridmap.map.eachLayer((l) => { if (l instanceof "
            "L.TileLayer) busy = l.isLoading(); }); return !busy; }"
        )
        uncovered = page.evaluate(
            """() => {
              const box = gridmap.map.getContainer().getBoundingClientRect();
              const tiles = [...document.querySelectorAll('.gm-tiles-gcj02 img.leaflet-tile-loaded')]
                .map((t) => t.getBoundingClientRect());
              const probes = [];
              for (const fx of [0.01, 0.5, 0.99]) for (const fy of [0.01, 0.5, 0.99])
                probes.push([box.left + fx * box.width, box.top + fy * box.height]);
              return probes.filter(([x, y]) => !tiles.some((r) =>
                x >= r.left && x <= r.right && y >= r.top && y <= r.bottom));
            }"""
        )
        assert uncovered == [], f"map corners without tiles: {uncovered}"

    check_offset()
    check_covered()
    page.evaluate("() => { gridmap.map.setZoom(gridmap.map.getZoom() + 1, {animate: false}); }")
    page.evaluate("() => { gridmap.map.panBy([120, -80], {animate: false}); }")
    check_offset()
    check_covered()

    # Back to the offline base map.
    page.check('input[data-basemap="workspace"]')
    assert page.evaluate("gridmap.map.hasLayer(gridmap.basemap)") is True
    assert page.locator(".gm-tiles-gcj02").count() == 0
    watch.assert_clean()
    context.close()


def test_new_workspace_without_grids(browser: Browser, tmp_path: Path) -> None:
    """A workspace fresh from `gridmap init` (streets, buildings, facilities; nothing else)."""
    import threading

    from werkzeug.serving import make_server

    from gridmap.build.demo import DEMO_OSM
    from gridmap.build.init import init_workspace
    from gridmap.service import accounts
    from gridmap.store import open_workspace
    from web.app import create_app

    path = init_workspace(tmp_path / "new.gpkg", DEMO_OSM)
    with open_workspace(path) as ws:
        accounts.add_user(ws, "first-admin", "admin", password=ADMIN_PASSWORD)
    server = make_server("127.0.0.1", 0, create_app({"WORKSPACE": path}), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        context, watch = new_context(browser, "zh-CN")
        page = watched_page(context, watch)
        page.goto(base + "/")
        assert urlsplit(page.url).path == "/login"  # nobody sees the map without signing in
        submit_sign_in(page, "first-admin", ADMIN_PASSWORD)
        page.wait_for_selector(READY, timeout=30_000)
        assert drawn(page, "buildings")["drawn"] > 100
        for name in ("grids", "community", "cameras", "households"):
            row = page.locator(f'[data-layer-row="{name}"]')
            assert "无数据" in row.inner_text(), name  # shown as empty, not ticked
            assert not page.locator(f'input[data-layer="{name}"]').is_checked()
        assert page.locator('#legend [data-legend="grids"]').count() == 0
        watch.assert_clean()
        context.close()
    finally:
        server.shutdown()
        thread.join(timeout=5)


# -- signing in, each role's map, the admin page ---------------------------------------------

# Every feature of a loaded layer: how many, and the set of their grid codes.
GRID_CODES_JS = """
(name) => {
  const codes = new Set();
  let n = 0;
  window.gridmap.layers[name].eachLayer((l) => {
    for (const f of l.feature ? [l.feature] : l.features || []) {  // a stacked point: all
      n += 1;
      codes.add(f.properties.grid_code);
    }
  });
  return {n, codes: [...codes].sort()};
}
"""


def layer_rows(page: Page) -> list[str]:
    return page.eval_on_selector_all(
        "[data-layer-row]", "(rows) => rows.map((r) => r.dataset.layerRow)"
    )


def badges(page: Page, read: str) -> list[str]:
    return page.eval_on_selector_all(
        f'[data-layer-row] .read-badge[data-read="{read}"]',
        "(found) => found.map((b) => b.closest('[data-layer-row]').dataset.layerRow)",
    )


def shoot_page(page: Page, name: str, selector: str | None = None) -> None:
    """Save a viewport screenshot of a page that is not the map (the admin page, sign-in)."""
    if selector:
        page.locator(selector).scroll_into_view_if_needed()
    page.mouse.move(5, 5)
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_IMG / name))


def test_planner_signs_in_sees_the_map_and_signs_out(
    browser: Browser, live_server: str, demo_workspace
) -> None:
    from gridmap.access.roles import Access, Level, read_level, readable_layers
    from gridmap.service.scope import serves

    context, watch = new_context(browser, "zh-CN")
    page = watched_page(context, watch)

    # Nobody signed in: the map sends the browser to the sign-in page, in Chinese.
    page.goto(live_server + "/")
    assert urlsplit(page.url).path == "/login"
    assert parse_qs(urlsplit(page.url).query)["next"] == ["/"]
    assert page.title() == "登录 · 社区网格地图"
    assert page.inner_text("h2") == "登录"
    demo = page.inner_text(".demo")
    assert "demo-planner" in demo and "网格规划员" in demo
    shoot_page(page, "login-zh.png")
    submit_sign_in(page, "demo-planner", DEMO_PASSWORD)
    page.wait_for_selector(READY, timeout=30_000)
    assert urlsplit(page.url).path == "/"

    # Who is signed in, in the page's language; no admin link for a planner.
    box = page.locator("#user-box")
    assert box.get_attribute("data-role") == "planner"
    assert box.get_attribute("data-user") == "demo-planner"
    assert page.inner_text("#user-name") == "网格规划员（演示）"
    assert page.inner_text("#user-role") == "网格规划员"
    assert page.inner_text("#sign-out") == "退出登录"
    assert page.locator("#to-admin").count() == 0 and page.locator("#user-grids").count() == 0

    # The layers a planner gets rows of, the register among them masked and marked so; the
    # buildings too (without residents); no people rows at all.
    planner = Access.of("demo-planner", "planner")
    served = [n for n in readable_layers(planner) if serves(planner, n)]
    assert sorted(layer_rows(page)) == sorted(served) and "people" not in served
    masked = sorted(n for n in served if read_level(planner, n) is Level.MASKED)
    assert masked == ["buildings", "households", "incidents", "visits"]
    assert sorted(badges(page, "masked")) == masked
    assert badges(page, "own") == []
    assert page.inner_text('[data-layer-row="households"] .read-badge') == "已脱敏"
    assert "姓名" in page.inner_text('#read-notes [data-read-note="masked"]')

    # The grids and the base layers are drawn.
    assert drawn(page, "grids")["drawn"] > 5
    assert drawn(page, "buildings")["drawn"] > 100 and drawn(page, "streets")["drawn"] > 100
    shoot(page, "signed-in-zh.png")

    # Households, masked: every one of them (the whole area's view draws them as bubbles with
    # counts), none with a name, phone or household details (the points of a grid's view).
    set_layer(page, "households", True)
    page.evaluate("() => gridmap.loader.idle()")
    assert drawn(page, "households")["features"] == demo_workspace.count("households")
    grid = page.evaluate(CENTRAL_GRID_JS)
    focus(page, grid["lat"], grid["lon"], 150)
    page.evaluate("() => gridmap.loader.idle()")
    assert page.evaluate("() => gridmap.loader.state('households').kind") == "features"
    keys = page.evaluate(
        "() => { const out = new Set(); gridmap.layers.households.eachLayer((l) => "
        "(l.feature ? [l.feature] : l.features || []).forEach((f) => "
        "Object.keys(f.properties).forEach((k) => out.add(k)))); return [...out]; }"
    )
    assert "address" in keys and not set(keys) & set(HOUSEHOLD_PERSONAL), keys
    # (the admin is served those names: every head has a real, unstarred one)
    status, doc = api_get(live_server, "/api/layers/households?limit=200", ROLE_TOKENS["admin"])
    assert status == 200 and len(doc["features"]) == 200
    assert all("*" not in f["properties"]["head_name"] for f in doc["features"])

    # People rows are refused to the planner (403, permission_denied); figures per grid
    # answer instead, with no count below 5.
    refused = page.evaluate(
        "async () => { const r = await fetch('api/layers/people'); "
        "return [r.status, (await r.json()).error.code]; }"
    )
    assert refused == [403, "permission_denied"]
    expect_refused(watch, "/api/layers/people")
    figures = page.evaluate("async () => (await (await fetch('api/figures/register')).json())")
    assert len(figures["rows"]) == demo_workspace.count("grids")
    assert figures["suppressed_below"] == 5

    # English relabels the user box too.
    page.click("#lang-switch")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert page.inner_text("#user-role") == "Grid planner"
    assert page.inner_text("#sign-out") == "Sign out"
    assert page.inner_text('[data-layer-row="households"] .read-badge') == "masked"
    page.click("#lang-switch")
    page.wait_for_function("() => document.documentElement.lang === 'zh-CN'")

    # Sign out: back to the sign-in page; the map is closed again.
    with page.expect_navigation():
        page.click("#sign-out")
    assert urlsplit(page.url).path == "/login"
    assert page.locator("#sign-in").is_visible()
    page.goto(live_server + "/")
    assert urlsplit(page.url).path == "/login"
    watch.assert_clean()
    context.close()


def test_an_ended_session_sends_the_map_to_sign_in(browser: Browser, live_server: str) -> None:
    context, watch = new_context(browser, "zh-CN")
    page = watched_page(context, watch)
    page.goto(live_server + "/login")
    submit_sign_in(page, "demo-analyst", DEMO_PASSWORD)
    page.wait_for_selector(READY, timeout=30_000)

    # The session ends (another tab signed out, the server's key changed …): the next call of
    # the API answers 401, and the page goes to the sign-in page, which says why …
    context.clear_cookies()
    with page.expect_navigation():
        page.click('[data-layer="households"]')
    assert urlsplit(page.url).path == "/login"
    query = parse_qs(urlsplit(page.url).query)
    assert query["next"] == ["/"] and query["reason"] == ["expired"]
    assert page.inner_text("#login-notice") == "登录已失效，请重新登录。"
    expect_refused(watch, "/api/layers/households")

    # … and back to the map once signed in again.
    submit_sign_in(page, "demo-analyst", DEMO_PASSWORD)
    page.wait_for_selector(READY, timeout=30_000)
    assert urlsplit(page.url).path == "/"
    watch.assert_clean()
    context.close()


def test_grid_worker_sees_only_their_grids(
    browser: Browser, live_server: str, demo_workspace
) -> None:
    grids = sorted(demo_workspace.get_user("demo-worker").grids)
    assert len(grids) == 2
    own = {"grid_code": grids}
    context, watch = new_context(browser, "zh-CN")
    page = watched_page(context, watch)
    page.goto(live_server + "/")
    submit_sign_in(page, "demo-worker", DEMO_PASSWORD)
    page.wait_for_selector(READY, timeout=30_000)

    assert page.inner_text("#user-role") == "网格员"
    assert page.inner_text("#user-grids") == f"负责网格：{grids[0]}、{grids[1]}"
    register = ["households", "incidents", "people", "visits"]
    # the area's buildings come without residents: masked for them too
    assert sorted(badges(page, "own")) == register and badges(page, "masked") == ["buildings"]
    assert page.inner_text('[data-layer-row="households"] .read-badge') == "仅本人网格"

    # The register layers hold the rows of their two grids, every one of them, and no other.
    for name in ("households", "visits", "incidents"):
        set_layer(page, name, True)
        got = page.evaluate(GRID_CODES_JS, name)
        expected = demo_workspace.count(name, where=own)
        assert got["n"] == expected > 0, (name, got["n"], expected)
        held = demo_workspace.read(name, where=own, columns=("grid_code",), system=False)
        assert got["codes"] == sorted(set(held["grid_code"])), (name, got["codes"])  # a year
        assert set(got["codes"]) <= set(grids)  # of incidents may miss one of the two grids
        assert got["n"] < demo_workspace.count(name)
        shown = page.inner_text(f'[data-layer-row="{name}"] .layer-count').replace(",", "")
        assert shown == str(expected), (name, shown)
        assert drawn(page, name)["features"] == expected  # visits too: theirs have a place
    ids = demo_workspace.read("households", where=own, columns=("household_id",), system=False)
    people = demo_workspace.count("people", where={"household_id": list(ids["household_id"])})
    shown = page.inner_text('[data-layer-row="people"] .layer-count').replace(",", "")
    assert str(people) in shown, (people, shown)

    # Nothing of another grid, even asked for by its area.
    frame = demo_workspace.read("grids", columns=("code",), system=False)
    mine = frame[frame["code"].isin(grids)].total_bounds
    other = next(
        g
        for g in frame.itertuples()
        if g.code not in grids
        and (g.geometry.bounds[0] > mine[2] or g.geometry.bounds[2] < mine[0])
    )
    bbox = ",".join(f"{v:.6f}" for v in other.geometry.bounds)
    found = page.evaluate(
        "async (bbox) => (await (await fetch(`api/layers/households?bbox=${bbox}`)).json())"
        ".features.length",
        bbox,
    )
    assert found == 0
    assert demo_workspace.count("households", bbox=other.geometry.bounds) > 0

    # One of their households, unmasked: the grid worker's own register.
    set_layer(page, "visits", False)
    set_layer(page, "incidents", False)
    for name in ("cameras", "facilities", "streets"):
        set_layer(page, name, False)
    centre = page.evaluate(
        "(codes) => { let b = null; gridmap.layers.grids.eachLayer((g) => { if (g.feature && "
        "codes.includes(g.feature.properties.code)) b = b ? b.extend(g.getBounds()) : "
        "L.latLngBounds(g.getBounds().getSouthWest(), g.getBounds().getNorthEast()); }); "
        "const c = b.getCenter(); return [c.lat, c.lng]; }",
        grids,
    )
    focus(page, centre[0], centre[1], 120)
    spot = page.evaluate(OPEN_POINT_JS, "households")
    assert spot, "no household of the worker's grids in the open part of the map"
    page.mouse.click(spot["x"], spot["y"])
    popup = page.locator(".leaflet-popup-content .gm-popup")
    popup.wait_for()
    assert popup.get_attribute("data-layer") == "households"
    name = popup.locator('[data-column="head_name"] td').inner_text()
    phone = popup.locator('[data-column="phone"] td').inner_text()
    assert "*" not in name and re.fullmatch(r"1\d{10}", phone), (name, phone)
    # the grid's name, its code (td[data-code]) under it
    assert popup.locator('[data-column="grid_code"] td').get_attribute("data-code") in grids
    shoot(page, "gridworker-households.png")
    watch.assert_clean()
    context.close()


def test_wrong_password_and_disabled_account_refused_in_chinese(
    browser: Browser, own_server
) -> None:
    base, app = own_server
    context, watch = new_context(browser, "zh-CN")
    page = watched_page(context, watch)
    page.goto(base + "/")
    assert urlsplit(page.url).path == "/login"

    submit_sign_in(page, "demo-planner", "not-the-password")
    error = page.locator("#login-error")
    assert error.get_attribute("data-error-code") == "wrong_password"
    first = error.locator("p").first
    assert first.get_attribute("lang") == "zh-CN"
    # The page's own sentence ("…，请重新输入。") is keyed 'unauthenticated' in login.html,
    # the code of before: until that is renamed, the server's sentence for the code shows.
    assert first.inner_text().startswith("用户名或密码错误"), first.inner_text()
    assert page.input_value("#name") == "demo-planner"  # kept, the password not
    assert page.input_value("#password") == ""
    expect_refused(watch, "/login")

    # A disabled account gets its own message (with the right password only).
    admin = app.test_client()
    admin.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {ROLE_TOKENS['admin']}"
    assert admin.patch("/api/admin/users/demo-analyst", json={"disabled": True}).status_code == 200
    submit_sign_in(page, "demo-analyst", DEMO_PASSWORD)
    assert error.get_attribute("data-error-code") == "account_disabled"
    assert error.locator("p").first.inner_text() == "该账号已停用，请联系管理员。"
    expect_refused(watch, "/login")
    submit_sign_in(page, "demo-analyst", "not-the-password")
    assert error.get_attribute("data-error-code") == "wrong_password"  # no hint it exists
    expect_refused(watch, "/login")

    # The right password of an enabled account opens the map.
    submit_sign_in(page, "demo-planner", DEMO_PASSWORD)
    page.wait_for_selector(READY, timeout=30_000)
    watch.assert_clean()
    context.close()


def test_admin_page(browser: Browser, own_server, writable_demo) -> None:
    base, _ = own_server
    context, watch = new_context(browser, "zh-CN")
    page = watched_page(context, watch)

    # The admin page asks for signing in, then opens; from the map it is one click away.
    page.goto(base + "/admin")
    assert urlsplit(page.url).path == "/login"
    submit_sign_in(page, "admin", ADMIN_PASSWORD)
    page.wait_for_selector("body[data-admin-ready='1']", timeout=30_000)
    assert urlsplit(page.url).path == "/admin"
    assert page.inner_text("#users-title") == "账号管理"
    names = [u.name for u in writable_demo.users()]
    rows = page.eval_on_selector_all("#users-table tbody tr", "(r) => r.map((e) => e.dataset.user)")
    assert rows == names
    page.click("#to-map")
    page.wait_for_selector(READY, timeout=30_000)
    assert page.inner_text("#to-admin") == "系统管理"
    with page.expect_navigation():
        page.click("#to-admin")
    page.wait_for_selector("body[data-admin-ready='1']", timeout=30_000)

    # Add a grid worker with two grids and a first password.
    codes = sorted(writable_demo.read("grids", columns=("code",), system=False)["code"])[10:12]
    form = page.locator("#add-user")
    form.locator('[name="name"]').fill("wang-fang")
    form.locator('[name="display_name"]').fill("王芳")
    form.locator('[name="role"]').select_option("grid_worker")
    form.locator('[name="grids"]').select_option(codes)
    form.locator('[name="password"]').fill("first-password-1")
    form.locator('button[type="submit"]').click()
    page.locator('[data-msg="add-user"]', has_text="已新增账号 wang-fang").wait_for()
    row = page.locator('#users-table tr[data-user="wang-fang"]')
    assert "王芳" in row.inner_text() and "网格员" in row.inner_text()
    made = writable_demo.get_user("wang-fang")
    assert made.role == "grid_worker" and sorted(made.grids) == codes
    shoot_page(page, "admin-users.png")

    # A token for QGIS: shown once, it opens the API as its owner; revoked, it does not.
    page.click('[data-manage="wang-fang"]')
    detail = page.locator('#user-detail[data-user="wang-fang"]')
    detail.wait_for()
    page.fill('#make-token [name="label"]', "QGIS 办公室")
    page.click('#make-token button[type="submit"]')
    page.locator("#new-token").wait_for()
    token = page.inner_text("#new-token-value")
    assert token.startswith("gmt_") and len(token) > 40
    assert "只显示这一次" in page.inner_text("#new-token")
    shoot_page(page, "admin-token.png", "#user-detail")
    status, doc = api_get(base, "/api/session", token)
    assert status == 200 and doc["user"] == "wang-fang" and doc["grids"] == codes
    item = page.locator("#token-list li[data-active='true']")
    assert item.count() == 1 and "QGIS 办公室" in item.inner_text()
    page.click('[data-manage="wang-fang"]')  # opened again: the token is not shown again
    page.locator("#new-token").wait_for(state="hidden")
    assert token not in page.content()
    page.click("#token-list [data-revoke]")
    page.locator("#token-list li[data-active='false']").wait_for()
    status, doc = api_get(base, "/api/workspace", token)
    assert status == 401 and doc["error"]["code"] == "bad_token"

    # Disable an account: its token stops working at once.
    page.click('[data-manage="demo-patrol"]')
    page.locator('#user-detail[data-user="demo-patrol"]').wait_for()
    page.click('[data-action="toggle-disabled"]')
    page.locator('[data-msg="detail"]', has_text="已停用账号 demo-patrol").wait_for()
    page.locator('#users-table tr[data-user="demo-patrol"][data-disabled="true"]').wait_for()
    status, doc = api_get(base, "/api/workspace", ROLE_TOKENS["patrol_lead"])
    assert status == 401 and doc["error"]["code"] == "account_disabled"
    assert page.inner_text('[data-action="toggle-disabled"]') == "启用账号"

    # The administrator may not disable themselves: refused, with the reason.
    page.click('[data-manage="admin"]')
    page.locator('#user-detail[data-user="admin"]').wait_for()
    page.click('[data-action="toggle-disabled"]')
    message = page.locator('[data-msg="detail"][data-kind="error"]')
    message.wait_for()
    assert "不能停用自己的账号" in message.inner_text()
    assert not writable_demo.get_user("admin").disabled
    expect_refused(watch, "/api/admin/users/admin")

    page.click('#user-detail [data-action="close"]')
    page.locator("#user-detail").wait_for(state="hidden")
    assert page.input_value('#add-user [name="role"]') == "grid_worker"  # never admin by default

    # The access log: a grid worker reads households (over the API, as QGIS would) …
    status, doc = api_get(base, "/api/layers/households", ROLE_TOKENS["grid_worker"])
    assert status == 200 and doc["features"]
    page.select_option('#reads-filter [name="user"]', "demo-worker")
    page.click('#reads-filter button[type="submit"]')
    read = page.locator('#reads-table tr[data-user="demo-worker"][data-layer="households"]')
    read.first.wait_for()
    text = read.first.inner_text()
    assert "住户" in text and "网格员" in text and str(len(doc["features"])) in text
    assert page.locator("#reads-table tbody tr").count() == read.count()
    shoot_page(page, "admin-access-log.png", "#reads")

    # Open grids and communities to everyone: a reader who does not sign in sees them only.
    for name in ("grids", "community"):
        page.check(f'#public-form input[data-layer="{name}"]')
    page.click('#public-form button[type="submit"]')
    page.locator('[data-msg="public"]', has_text="2 个图层").wait_for()
    anon, anon_watch = new_context(browser, "zh-CN")
    public = open_map(anon, anon_watch, base + "/")
    assert sorted(layer_rows(public)) == ["community", "grids"]
    assert public.inner_text("#user-name") == "未登录：仅显示公开图层"
    assert public.inner_text("#sign-in") == "登录"
    assert drawn(public, "grids")["drawn"] > 5
    anon_watch.assert_clean()
    anon.close()

    # Remove the new account, confirmed with its name.
    page.click('[data-manage="wang-fang"]')
    page.locator('#user-detail[data-user="wang-fang"]').wait_for()
    page.click('[data-action="remove"]')
    page.fill('#remove-user [name="confirm"]', "wang-fang")
    page.click('#remove-user button[type="submit"]')
    page.locator('[data-msg="add-user"]', has_text="已删除账号 wang-fang").wait_for()
    assert page.locator('#users-table tr[data-user="wang-fang"]').count() == 0
    assert writable_demo.get_user("wang-fang") is None

    # In English, at once.
    page.click("#lang-switch")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert page.inner_text("#users-title") == "Accounts"
    assert "Grid worker" in page.inner_text('#users-table tr[data-user="demo-worker"]')
    watch.assert_clean()
    context.close()
