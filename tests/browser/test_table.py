"""The attribute table in a real browser (web/static/js/table.js): incidents filtered by kind
and date, sorted by time; the whole register (59,377 people) paged to their last row; a row's click focusing
the map; the map's filter following the table; the masked roles' view of it.

Counts are checked against the JSON API (with the role's token) and against the workspace
itself. See :mod:`tests.browser.kit` for how the pages are watched and kept offline.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from urllib.parse import parse_qs, quote, urlsplit
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from playwright.sync_api import Browser, Page

from tests.browser.kit import SETTLE_JS, api_get, new_context, open_map, set_layer, shoot
from tests.conftest import ROLE_TOKENS

pytestmark = pytest.mark.browser

DRAWER = "#table-drawer"
#: Records every "filter" event of the workbench in window.__filters.
LISTEN_JS = """
() => {
  window.__filters = [];
  window.gridmap.app.on("filter", (e) => window.__filters.push(e.detail));
}
"""
#: The rows' ids as the API serves them: stored ids as numbers, a masked reader's opaque ids as text.
ROW_IDS_JS = "() => [...document.querySelectorAll('#table-drawer tbody tr[data-id]')].map((tr) => (/^\\d+$/.test(tr.dataset.id) ? Number(tr.dataset.id) : tr.dataset.id))"


def open_table(page: Page, layer: str | None = None) -> None:
    """Open the drawer from the map's control, then pick ``layer``; wait for its rows."""
    page.click("#table-toggle")
    wait_ready(page)
    if layer:
        page.select_option("#table-layer", layer)
        wait_ready(page, layer)


def wait_ready(page: Page, layer: str | None = None, query: str | None = None) -> None:
    page.wait_for_function(
        """([layer, query]) => {
          const d = document.querySelector('#table-drawer');
          return !d.hidden && d.dataset.state === 'ready' && (!layer || d.dataset.tableLayer === layer)
            && (query === null || d.dataset.query === query);
        }""",
        arg=[layer, query],
        timeout=30_000,
    )


def wait_query(page: Page, test: str) -> dict[str, list[str]]:
    """Wait until the drawer's last rows query holds ``test`` (a fragment); return it parsed."""
    page.wait_for_function(
        """(part) => {
          const d = document.querySelector('#table-drawer');
          return d.dataset.state === 'ready' && decodeURIComponent(d.dataset.query || '').replace(/\\+/g, ' ').includes(part);
        }""",
        arg=test,
        timeout=30_000,
    )
    return parse_qs(page.get_attribute(DRAWER, "data-query") or "")


def matched(page: Page) -> int:
    return int(page.get_attribute(DRAWER, "data-matched") or -1)


def api_rows(base: str, role: str, layer: str, query: dict[str, list[str]] | str) -> dict:
    text = (
        query
        if isinstance(query, str)
        else "&".join(f"{k}={quote(v)}" for k, vs in query.items() for v in vs)
    )
    status, doc = api_get(base, f"/api/layers/{layer}/rows?{text}", ROLE_TOKENS[role])
    assert status == 200, doc
    return doc


def local_days(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column].dt.tz_convert("Asia/Shanghai").dt.strftime("%Y-%m-%d")


def test_incidents_filtered_by_kind_and_dates_then_sorted_by_time(
    browser: Browser, live_server: str, signed_in, demo_workspace
) -> None:
    context, watch = new_context(browser, "zh-CN", signed_in("patrol_lead"))
    page = open_map(context, watch, live_server + "/")
    page.evaluate(LISTEN_JS)
    assert page.locator(DRAWER).is_hidden()  # closed until asked for
    open_table(page, "incidents")
    assert page.inner_text("#table-toggle") == "属性表"
    total = demo_workspace.count("incidents")
    assert matched(page) == total
    assert page.inner_text("#table-range") == f"1–100 / 共 {total} 行"
    headers = page.locator(f"{DRAWER} thead th[data-column]").all_inner_texts()
    assert headers[:3] == ["事件编号", "发生时间", "类别"] and "描述" not in headers  # masked

    # kind from the filter row's list (its titles in Chinese), then a date range
    options = page.locator('select[data-filter="kind"] option').all_inner_texts()
    assert "入室盗窃" in options and "盗窃车辆" in options
    page.select_option('select[data-filter="kind"]', "burglary")
    wait_query(page, "where=kind=burglary")
    page.fill('[data-filter-from="occurred_at"]', "2026-03-01")
    wait_query(page, "occurred_at>=2026-03-01")
    page.fill('[data-filter-to="occurred_at"]', "2026-08-31")
    query = wait_query(page, "occurred_at<=2026-08-31")
    wheres = ["kind=burglary", "occurred_at>=2026-03-01", "occurred_at<=2026-08-31"]
    assert sorted(query["where"]) == sorted(wheres)

    # the count is the API's, and the workspace's own
    doc = api_rows(live_server, "patrol_lead", "incidents", {"where": wheres, "limit": ["0"]})
    inc = demo_workspace.read("incidents", columns=("kind", "occurred_at"))
    days = local_days(inc, "occurred_at")
    want = int(((inc.kind == "burglary") & (days >= "2026-03-01") & (days <= "2026-08-31")).sum())
    assert matched(page) == doc["numberMatched"] == want > 0
    assert page.inner_text("#table-range") == f"1–{want} / 共 {want} 行"
    assert set(page.locator(f"{DRAWER} tbody td:nth-child(3)").all_inner_texts()) == {"入室盗窃"}
    # the quick bar shows the same kind; the map was told the table's conditions
    assert page.input_value('[data-quick="kind"]') == "burglary"
    assert page.input_value("#table-quick-range") == "custom"
    events = page.evaluate("() => window.__filters")
    assert events and events[-1]["layer"] == "incidents"
    assert sorted(events[-1]["wheres"]) == sorted(wheres)
    assert sorted(page.evaluate("() => gridmap.app.filter('incidents')")) == sorted(wheres)

    # sort by time: up, then (again) down; the rows' order is the API's
    page.click('[data-sort="occurred_at"]')
    query = wait_query(page, "sort=occurred_at")
    up = page.evaluate(ROW_IDS_JS)
    api = api_rows(live_server, "patrol_lead", "incidents", {**query, "limit": ["100"]})
    assert up == [r["id"] for r in api["rows"]] and len(up) == want
    stamps = [r["occurred_at"] for r in api["rows"]]
    assert stamps == sorted(stamps)
    assert page.get_attribute('th[data-column="occurred_at"]', "aria-sort") == "ascending"
    page.click('[data-sort="occurred_at"]')
    wait_query(page, "sort=-occurred_at")
    assert page.evaluate(ROW_IDS_JS) == list(reversed(up))  # times are distinct here
    assert page.get_attribute('th[data-column="occurred_at"]', "aria-sort") == "descending"

    # the quick ranges: the last 90 days (today in the workspace's time zone)
    page.select_option("#table-quick-range", "90")
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    since = (today - timedelta(days=89)).isoformat()
    query = wait_query(page, f"occurred_at>={since}")
    assert "occurred_at<=2026-08-31" not in query["where"]
    want = int(((inc.kind == "burglary") & (days >= since)).sum())
    assert matched(page) == want
    page.select_option('[data-quick="status"]', "open")
    query = wait_query(page, "status=open")
    doc = api_rows(live_server, "patrol_lead", "incidents", {**query, "limit": ["0"]})
    assert matched(page) == doc["numberMatched"]
    page.select_option("#table-quick-range", "all")
    page.select_option('[data-quick="kind"]', "")
    query = wait_query(page, "status=open")
    assert query["where"] == ["status=open"]
    status = demo_workspace.read("incidents", columns=("status",)).status
    assert matched(page) == int((status == "open").sum())

    # the screenshot for docs/table.md: this year's burglaries, on the map too
    page.click("#table-clear")
    query = wait_query(page, "sort=-occurred_at&limit=100&offset=0")
    assert "where" not in query  # the sort order stays
    assert page.evaluate("() => gridmap.app.filter('incidents')") == []
    page.select_option('[data-quick="kind"]', "burglary")
    page.fill('[data-filter-from="occurred_at"]', "2026-01-01")
    wait_query(page, "occurred_at>=2026-01-01")
    set_layer(page, "incidents", True)
    shoot(page, "table-incidents.png")
    page.click("#table-close")
    assert page.locator(DRAWER).is_hidden()
    assert page.get_attribute("#table-toggle", "aria-pressed") == "false"
    page.click("#table-toggle")  # back as it was left
    wait_ready(page, "incidents")
    assert page.input_value('[data-quick="kind"]') == "burglary"
    page.focus(f"{DRAWER} tbody tr[data-id]")
    page.keyboard.press("Escape")
    assert page.locator(DRAWER).is_hidden()
    watch.assert_clean()
    context.close()


def test_the_people_table_pages_to_its_last_row(
    browser: Browser, live_server: str, signed_in, demo_workspace
) -> None:
    context, watch = new_context(browser, "zh-CN", signed_in("admin"))
    page = open_map(context, watch, live_server + "/")
    asked: list[str] = []
    page.on("request", lambda r: "/api/layers/people" in r.url and asked.append(r.url))
    # from the panel: the people row's table button
    page.click('[data-table-open="people"]')
    wait_ready(page, "people")
    total = demo_workspace.count("people")
    assert total > 50_000 and matched(page) == total  # the demo's whole register
    assert page.inner_text("#table-range") == f"1–100 / 共 {total:,} 行"
    assert len(page.evaluate(ROW_IDS_JS)) == 100
    headers = page.locator(f"{DRAWER} thead th[data-column]").all_inner_texts()
    assert "姓名" in headers and "身份证号" in headers  # the admin sees the register

    # to the last page and back, with the buttons and the keyboard
    page.click('[data-page="last"]')
    wait_ready(page, "people", f"limit=100&offset={total - total % 100}")
    ids = page.evaluate(ROW_IDS_JS)
    last = api_rows(live_server, "admin", "people", f"limit=1&offset={total - 1}")["rows"][0]
    assert len(ids) == total % 100 and ids[-1] == last["id"]
    assert (
        page.inner_text("#table-range")
        == f"{total - total % 100 + 1:,}–{total:,} / 共 {total:,} 行"
    )
    assert page.is_disabled('[data-page="next"]') and page.is_disabled('[data-page="last"]')
    last_row = page.locator(f'{DRAWER} tbody tr[data-id="{last["id"]}"]')
    assert last["name"] in last_row.inner_text()
    shoot(page, "table-people.png")
    page.click('[data-page="first"]')
    wait_ready(page, "people", "limit=100&offset=0")
    page.focus(f"{DRAWER} tbody tr[data-id]")
    page.keyboard.press("PageDown")
    wait_ready(page, "people", "limit=100&offset=100")

    # sorted by name, descending, 500 a page: the last page ends with the first name
    page.select_option("#table-page-size", "500")
    page.click('[data-sort="name"]')
    page.click('[data-sort="name"]')
    wait_query(page, "sort=-name")
    page.click('[data-page="last"]')
    last_page = total - total % 500 if total % 500 else total - 500
    query = wait_query(page, f"offset={last_page}")
    names = demo_workspace.read("people", columns=("name",)).reset_index()
    first = names.sort_values(["name", "fid"], ascending=[True, False]).iloc[0]
    # descending by name, ties by id: the last row is the smallest name with the highest id
    assert page.evaluate(ROW_IDS_JS)[-1] == int(names[names.name == first["name"]].fid.max()), query
    # a filter: women who are migrants, as a yes/no list and a coded list
    page.select_option('select[data-filter="gender"]', "F")
    page.select_option('select[data-filter="migrant"]', "true")
    wait_query(page, "migrant=true")
    people = demo_workspace.read("people", columns=("gender", "migrant"))
    assert matched(page) == int(((people.gender == "F") & (people.migrant == True)).sum())  # noqa: E712
    cells = page.locator(f"{DRAWER} tbody td:nth-child({headers.index('流动人员') + 1})")
    assert set(cells.all_inner_texts()) == {"是"}
    page.select_option('select[data-filter="migrant"]', "")
    page.select_option('select[data-filter="gender"]', "")
    wait_ready(page, "people")
    page.click('[data-sort="name"]')  # a third click: unsorted
    page.select_option("#table-page-size", "100")
    wait_ready(page, "people", "limit=100&offset=0")

    # never the whole register: every rows request is one page; the layer itself never asked
    rows = [u for u in asked if "/rows?" in u]
    assert rows and all(int(parse_qs(urlsplit(u).query)["limit"][0]) <= 500 for u in rows)
    assert not [u for u in asked if "/rows?" not in u and "/values?" not in u]
    watch.assert_clean()
    context.close()


def test_a_row_click_focuses_the_map_and_the_view_narrows_the_rows(
    browser: Browser, live_server: str, signed_in
) -> None:
    context, watch = new_context(browser, "zh-CN", signed_in("planner"))
    page = open_map(context, watch, live_server + "/")
    open_table(page, "buildings")
    page.click('[data-sort="households"]')
    page.click('[data-sort="households"]')
    wait_query(page, "sort=-households")
    row = page.locator(f"{DRAWER} tbody tr[data-id]").first
    fid = row.get_attribute("data-id")  # a planner's buildings: opaque ids
    assert fid and not fid.isdigit()
    minx, miny, maxx, maxy = (float(v) for v in row.get_attribute("data-bbox").split(","))
    row.click()
    page.wait_for_selector(".leaflet-popup", timeout=10_000)
    page.evaluate(SETTLE_JS)
    seen = page.evaluate(
        """([minx, miny, maxx, maxy]) => {
          const {map} = window.gridmap;
          const c = L.latLng((miny + maxy) / 2, (minx + maxx) / 2);
          const p = map.latLngToContainerPoint(c);
          const top = document.querySelector('#table-drawer').getBoundingClientRect().top;
          return {inside: map.getBounds().contains(c), y: p.y, top, zoom: map.getZoom()};
        }""",
        [minx, miny, maxx, maxy],
    )
    assert seen["inside"] and seen["y"] < seen["top"], seen  # not under the drawer
    assert seen["zoom"] >= 16
    assert (
        page.get_attribute(f'{DRAWER} tbody tr[data-id="{fid}"]', "class").find("tbl-current") >= 0
    )
    # the keyboard: the next row, Enter
    page.focus(f'{DRAWER} tbody tr[data-id="{fid}"]')
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    second = page.evaluate("() => document.activeElement.dataset.id")
    assert second and second != fid
    page.wait_for_function(
        "(id) => document.querySelector(`#table-drawer tbody tr[data-id='${id}']`).classList.contains('tbl-current')",
        arg=second,
    )

    # only what is in the view: the rows of the box the map shows (once the map has stopped
    # after the Enter's focus: a query of a view on the way would be stale)
    page.evaluate(SETTLE_JS)
    page.check("#table-in-view")
    wait_query(page, "bbox=")
    page.evaluate(SETTLE_JS)
    page.wait_for_timeout(300)
    wait_ready(page, "buildings")
    query = wait_query(page, "bbox=")
    doc = api_rows(live_server, "planner", "buildings", {**query, "limit": ["0"]})
    assert 0 < matched(page) == doc["numberMatched"] < 851
    page.evaluate("() => { gridmap.map.zoomOut(1, {animate: false}); }")
    page.wait_for_function(
        "(q) => document.querySelector('#table-drawer').dataset.query !== q",
        arg=page.get_attribute(DRAWER, "data-query"),
    )
    wait_ready(page, "buildings")
    assert matched(page) > doc["numberMatched"]
    watch.assert_clean()
    context.close()


def test_the_table_follows_the_workbench(browser: Browser, live_server: str, signed_in) -> None:
    context, watch = new_context(browser, "zh-CN", signed_in("patrol_lead"))
    page = open_map(context, watch, live_server + "/")
    open_table(page, "incidents")
    # a filter set elsewhere (another tool): the table shows it in its inputs
    page.evaluate("() => gridmap.app.setFilter('incidents', ['kind=theft'])")
    wait_query(page, "where=kind=theft")
    assert page.input_value('select[data-filter="kind"]') == "theft"
    doc = api_rows(live_server, "patrol_lead", "incidents", "where=kind=theft&limit=0")
    assert matched(page) == doc["numberMatched"]
    # one it cannot show in its inputs: a chip that removes it
    page.evaluate("() => gridmap.app.setFilter('incidents', ['kind=theft', 'status!=closed'])")
    wait_query(page, "status!=closed")
    chip = page.locator('[data-extra="status!=closed"]')
    assert chip.is_visible()
    chip.click()
    page.wait_for_function("() => !gridmap.app.filter('incidents').includes('status!=closed')")
    wait_ready(page, "incidents")
    assert page.evaluate("() => gridmap.app.filter('incidents')") == ["kind=theft"]

    # a selection on the map: its rows are highlighted, "selected only" lists just them
    ids = api_rows(live_server, "patrol_lead", "incidents", "where=kind=theft&limit=3")["rows"]
    chosen = [r["id"] for r in ids]
    page.evaluate("(ids) => gridmap.app.select('incidents', ids)", chosen)
    page.wait_for_function(
        "() => document.querySelectorAll('#table-drawer tr.tbl-selected').length === 3"
    )
    assert "（3）" in page.inner_text("label:has(#table-selected)")
    page.check("#table-selected")
    query = wait_query(page, "ids=")
    assert query["ids"] == [",".join(map(str, chosen))]
    assert sorted(page.evaluate(ROW_IDS_JS)) == sorted(chosen)
    page.evaluate("() => gridmap.app.clearSelection()")
    page.wait_for_function("() => !document.querySelector('#table-selected').checked")
    wait_ready(page, "incidents")
    assert "ids" not in parse_qs(page.get_attribute(DRAWER, "data-query"))

    # in English
    page.click("#lang-switch")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert page.inner_text("#table-toggle") == "Table"
    assert page.inner_text('th[data-column="kind"]').startswith("Kind")
    assert "of" in page.inner_text("#table-range")
    watch.assert_clean()
    context.close()


def test_masked_roles_see_people_as_figures(browser: Browser, live_server: str, signed_in) -> None:
    context, watch = new_context(browser, "zh-CN", signed_in("analyst"))
    page = open_map(context, watch, live_server + "/")
    open_table(page)
    note = page.locator("#table-people-note")
    page.select_option("#table-layer", "households")
    wait_ready(page, "households")
    assert note.is_visible() and "统计数据" in note.inner_text()  # beside the households only
    names = page.locator("#table-layer option:not([disabled])").evaluate_all(
        "(os) => os.map((o) => o.value)"
    )
    assert "people" not in names and "households" in names
    # the masked visits: no place (no view filter), categories as served, no sort by them
    page.select_option("#table-layer", "visits")
    wait_ready(page, "visits")
    assert note.is_hidden()
    assert page.is_disabled("#table-in-view")
    assert page.locator('th[data-column="category"] .tbl-sort').count() == 0
    assert page.locator('th[data-column="household_id"]').count() == 0
    page.select_option('select[data-filter="outcome"]', "met")
    wait_query(page, "outcome=met")
    cells = set(page.locator(f"{DRAWER} tbody td.masked").all_inner_texts())
    assert cells <= {"***"}
    # the masked households: building addresses only, no household columns
    page.select_option("#table-layer", "households")
    wait_ready(page, "households")
    headers = page.locator(f"{DRAWER} thead th[data-column]").evaluate_all(
        "(ths) => ths.map((th) => th.dataset.column)"
    )
    assert "head_name" not in headers and "members" not in headers and "address" in headers
    assert page.locator('th[data-column="address"] .tbl-sort').count() == 0
    status, doc = api_get(live_server, "/api/layers/people/rows", ROLE_TOKENS["analyst"])
    assert status == 403 and "figures" in json.dumps(doc)
    watch.assert_clean()
    context.close()
