"""The download menu in chromium: export one grid, the workbench's filter, the selection, a grid
worker's register, and the register's people with a progress bar — each file compared with
the workspace's own rows.

Screenshot for the docs: export-menu.png (the grid picker with row counts, in Chinese).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Browser, Page

from gridmap.store.conditions import Compare
from tests.browser.kit import new_context, open_map, shoot

pytestmark = pytest.mark.browser

MENU = "#export-menu"


def open_menu(page: Page, layer: str) -> None:
    page.click(f'[data-export="{layer}"]')
    page.wait_for_selector(f'{MENU}[data-export-menu="{layer}"]')


def count_of(page: Page, scope: str) -> int:
    """The row count the menu shows for ``scope``, once the server has answered."""
    sel = f'[data-export-count="{scope}"][data-count]'
    page.wait_for_selector(sel, timeout=30_000)
    return int(page.get_attribute(sel, "data-count"))


def sheets(source) -> dict[str, list[tuple]]:
    """Every sheet of a workbook as rows of values (read-only, and closed after)."""
    book = openpyxl.load_workbook(source, read_only=True)
    try:
        return {name: list(book[name].values) for name in book.sheetnames}
    finally:
        book.close()


def csv_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def test_the_grid_choice_downloads_exactly_that_grids_rows(
    browser: Browser, live_server: str, signed_in, demo_workspace, tmp_path: Path
) -> None:
    context, watch = new_context(browser, "zh-CN", signed_in("analyst"))
    page = open_map(context, watch, live_server + "/")
    codes = sorted(demo_workspace.read("grids", columns=("code",))["code"])
    code = codes[5]
    open_menu(page, "households")
    assert count_of(page, "all") == demo_workspace.count("households")
    assert page.locator('[data-export-scope="mine"]').count() == 0  # an analyst has no grids
    page.check('[data-export-scope="grids"]')
    page.wait_for_selector("#export-grid-picker:not([hidden]) [data-export-grid]")
    assert page.locator("[data-export-grid]").count() == len(codes)
    page.fill("#export-grid-search", code[-4:])
    page.check(f'[data-export-grid="{code}"]')
    stored = demo_workspace.read("households", where={"grid_code": code})
    page.wait_for_function(
        "([n]) => document.querySelector('[data-export-count=\"grids\"]')?.dataset.count === String(n)",
        arg=[len(stored)],
    )
    assert f"{len(stored):,} 行" in page.inner_text('[data-export-count="grids"]')
    shoot(page, "export-menu.png")
    with page.expect_download() as info:
        page.click('[data-export-format="csv"]')
    download = info.value
    assert re.fullmatch(
        rf"住户_{code}_\d{{4}}-\d{{2}}-\d{{2}}_zh-CN\.csv", download.suggested_filename
    )
    path = tmp_path / "h.csv"
    download.save_as(path)
    rows = csv_rows(path)
    assert len(rows) == len(stored) and {r["所属网格"] for r in rows} == {code}
    assert sorted(int(r["所在楼栋"]) for r in rows) == sorted(stored["building_osm_id"])
    watch.assert_clean()
    context.close()


def test_the_filter_choice_follows_set_filter(
    browser: Browser, live_server: str, signed_in, demo_workspace, tmp_path: Path
) -> None:
    context, watch = new_context(browser, "en-US", signed_in("patrol_lead"))
    page = open_map(context, watch, live_server + "/")
    open_menu(page, "incidents")
    assert page.locator('[data-export-scope="filter"]').count() == 0  # no filter yet
    page.evaluate("() => gridmap.app.setFilter('incidents', ['kind=burglary'])")
    page.wait_for_selector('[data-export-scope="filter"]')  # the open menu follows
    burglaries = demo_workspace.count("incidents", where={"kind": "burglary"})
    assert count_of(page, "filter") == burglaries
    page.evaluate(
        "() => gridmap.app.setFilter('incidents', ['kind=burglary', 'occurred_at>=2026-06-01'])"
    )
    since = {"kind": "burglary", "occurred_at": Compare(">=", "2026-05-31T16:00:00.000Z")}
    stored = demo_workspace.read("incidents", where=since)
    page.wait_for_function(
        "([n]) => document.querySelector('[data-export-count=\"filter\"]')?.dataset.count === String(n)",
        arg=[len(stored)],
    )
    assert 0 < len(stored) < burglaries
    page.check('[data-export-scope="filter"]')
    assert "2 conditions" in page.inner_text('[data-export-scope="filter"] + span')
    with page.expect_download() as info:
        page.click('[data-export-format="xlsx"]')
    download = info.value
    assert re.fullmatch(
        r"incidents_filtered_\d{4}-\d{2}-\d{2}_en\.xlsx", download.suggested_filename
    )
    path = tmp_path / "i.xlsx"
    download.save_as(path)
    book = sheets(path)
    rows = book["incidents"]
    assert sorted(r[0] for r in rows[1:]) == sorted(stored["incident_id"])
    notes = dict(book["about"])
    assert notes["Filter"] == "kind=burglary; occurred_at>=2026-06-01"
    assert "description" in notes  # what the masked view leaves out, and why

    # the selection: exactly the features picked
    cameras = demo_workspace.read("cameras", columns=("code",))
    ids = [int(i) for i in cameras.index[[2, 3, 11]]]
    page.evaluate("(ids) => gridmap.app.select('cameras', ids)", ids)
    open_menu(page, "cameras")
    assert count_of(page, "selection") == 3
    page.check('[data-export-scope="selection"]')
    with page.expect_download() as info:
        page.click('[data-export-format="csv"]')
    assert info.value.suggested_filename.startswith("cameras_3selected_")
    path = tmp_path / "c.csv"
    info.value.save_as(path)
    assert sorted(r["code"] for r in csv_rows(path)) == sorted(cameras.loc[ids, "code"])
    watch.assert_clean()
    context.close()


def test_a_grid_workers_register_in_one_step(
    browser: Browser, live_server: str, signed_in, demo_workspace, tmp_path: Path
) -> None:
    context, watch = new_context(browser, "zh-CN", signed_in("grid_worker"))
    page = open_map(context, watch, live_server + "/")
    mine = sorted(demo_workspace.get_user("demo-worker").grids)
    stored = demo_workspace.read("households", where={"grid_code": mine})
    open_menu(page, "households")
    assert page.is_checked('[data-export-scope="mine"]')  # the register first
    assert "我的网格（2 个）" in page.inner_text(MENU)
    assert count_of(page, "mine") == len(stored)
    with page.expect_download() as info:
        page.click('[data-export-format="xlsx"]')
    download = info.value
    assert download.suggested_filename.startswith(f"住户_{mine[0]}等2个网格_")
    path = tmp_path / "mine.xlsx"
    download.save_as(path)
    rows = sheets(path)["住户"]
    header = rows[0]
    ids = [r[header.index("户编号")] for r in rows[1:]]
    assert sorted(ids) == sorted(stored["household_id"])
    watch.assert_clean()
    context.close()


def test_people_show_progress_as_they_are_prepared(
    browser: Browser, live_server: str, signed_in, demo_workspace, tmp_path: Path
) -> None:
    context, watch = new_context(browser, "en-US", signed_in("admin"))
    page = open_map(context, watch, live_server + "/")
    open_menu(page, "people")
    assert count_of(page, "all") == demo_workspace.count("people") > 50_000
    page.check('[data-export-scope="all"]')
    # sample the row's progress bar while the job runs (the file takes a few seconds)
    page.evaluate(
        """() => {
          window.__progress = [];
          window.__sampler = setInterval(() => {
            const bar = document.querySelector('[data-export-progress="people"]');
            const msg = document.querySelector('[data-export-msg="people"]');
            if (bar && bar.isConnected && msg.contains(bar)) {
              window.__progress.push([bar.value, msg.innerText]);
            }
          }, 25);
        }"""
    )
    with page.expect_download(timeout=120_000) as info:
        page.click('[data-export-format="xlsx"]')
    seen = page.evaluate("() => { clearInterval(window.__sampler); return window.__progress; }")
    values = [v for v, _ in seen]
    assert values and max(values) > 0, seen
    assert values == sorted(values)  # the bar only moves forward
    assert any(re.search(r"Preparing the file \(Excel workbook\): \d+ %", text) for _, text in seen)
    assert any("Cancel" in text for _, text in seen)
    download = info.value
    assert re.fullmatch(r"people_all_\d{4}-\d{2}-\d{2}_en\.xlsx", download.suggested_filename)
    path = tmp_path / "people.xlsx"
    download.save_as(path)
    assert len(sheets(path)["people"]) - 1 == demo_workspace.count("people")
    page.wait_for_selector('[data-export="people"]:not([aria-busy])')
    watch.assert_clean()
    context.close()
