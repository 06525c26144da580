"""The Print button in chromium: a PDF of the chosen grids whose text (pdftotext) holds their
codes and Chinese titles and whose picture (pdftoppm) shows the map; HTML for print in a new
tab under the page's CSP; cancel; a grid worker's choice of grids.

Screenshots for docs/print.md: print-dialog.png (the dialog over the map), print-html.png
(the HTML for print as the browser shows it).
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page

from tests.browser.kit import DOCS_IMG, new_context, open_map, shoot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is missing"),
]

# The first two grids of the map in code order, with their feature ids.
FIRST_GRIDS_JS = """
() => {
  const out = [];
  window.gridmap.layers.grids.eachLayer((l) => {
    if (l.feature) out.push({id: l.feature.id, code: l.feature.properties.code,
                             name: l.feature.properties.name});
  });
  out.sort((a, b) => a.code.localeCompare(b.code));
  return out.slice(0, 2);
}
"""


def choose(page: Page, grids: list[dict]) -> None:
    page.evaluate(
        "(gs) => window.gridmap.app.select('grids', gs.map((g) => g.id), "
        "{grids: gs.map((g) => g.code), source: 'test'})",
        grids,
    )


def open_dialog(page: Page) -> None:
    page.click("#print-button")
    page.wait_for_selector("#print-dialog:not([hidden])")
    page.wait_for_function(
        "() => document.querySelector('input[name=print-grids]:checked') !== null"
    )


def pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def map_ink(path: Path, page: int) -> float:
    """The share of non-white pixels where a landscape page's map is (left half, body)."""
    png = subprocess.run(
        ["pdftoppm", "-r", "40", "-f", str(page), "-l", str(page), "-png", str(path)],
        capture_output=True,
        check=True,
    ).stdout
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    h, w, _ = image.shape
    crop = image[int(0.2 * h) : int(0.85 * h), int(0.05 * w) : int(0.55 * w)]
    return float((crop.min(axis=2) < 235).mean())


def test_the_print_button_downloads_a_pdf_of_the_selected_grids(
    browser: Browser, live_server: str, signed_in, tmp_path: Path, demo_workspace
) -> None:
    context, watch = new_context(browser, "zh-CN", signed_in("planner"))
    page = open_map(context, watch, live_server + "/")
    grids = page.evaluate(FIRST_GRIDS_JS)
    choose(page, grids)
    open_dialog(page)
    assert page.get_attribute("#print-button", "aria-expanded") == "true"
    assert page.is_checked("input[name=print-grids][value=selected]")
    assert "所选网格（2 个）" in page.inner_text("#print-dialog")
    assert f"全部网格（{demo_workspace.count('grids')} 个）" in page.inner_text("#print-dialog")
    assert page.input_value("#print-lang") == "zh-CN"  # the page's language
    assert page.input_value("#print-paper") == "A4"
    shoot(page, "print-dialog.png")

    def starts_print(request) -> bool:
        return request.method == "POST" and urlsplit(request.url).path == "/api/print"

    with (
        page.expect_request(starts_print) as request,
        page.expect_download(timeout=120_000) as info,
    ):
        page.click("#print-pdf")
        # a quick job may be done before the running state is seen
        page.wait_for_selector("#print-dialog:is([data-state=running], [data-state=done])")
    spec = request.value.post_data_json
    assert spec == {
        "grids": ",".join(g["code"] for g in grids),
        "paper": "A4",
        "orientation": "landscape",
        "lang": "zh-CN",
        "format": "pdf",
    }
    download = info.value
    assert download.suggested_filename.startswith("grids-2-")
    assert download.suggested_filename.endswith(".pdf")
    path = tmp_path / "grids.pdf"
    download.save_as(path)
    assert path.read_bytes()[:5] == b"%PDF-"
    text = pdf_text(path)
    for g in grids:
        assert g["code"] in text and g["name"] in text
    assert "网格总览" in text and "网格信息" in text and "图例" in text
    assert map_ink(path, 1) > 0.5 and map_ink(path, 2) > 0.5  # the map is drawn
    page.wait_for_selector("#print-dialog[data-state=done]")
    assert "已下载 grids-2-" in page.inner_text("#print-status")
    page.keyboard.press("Escape")
    assert page.is_hidden("#print-dialog")
    context.close()
    watch.assert_clean()


def test_print_this_page_opens_html_for_print(
    browser: Browser, live_server: str, signed_in
) -> None:
    context, watch = new_context(browser, "en", signed_in("analyst"))
    page = open_map(context, watch, live_server + "/")
    grids = page.evaluate(FIRST_GRIDS_JS)
    choose(page, grids[:1])
    open_dialog(page)
    page.select_option("#print-orientation", "portrait")
    assert page.input_value("#print-lang") == "en"
    with context.expect_page() as opened:
        page.click("#print-html")
    sheet = opened.value
    problems: list[str] = []
    sheet.on("console", lambda m: problems.append(f"{m.type}: {m.text}"))
    sheet.on("pageerror", lambda e: problems.append(str(e)))
    sheet.wait_for_load_state("load")
    query = parse_qs(urlsplit(sheet.url).query)
    assert query["format"] == ["html"] and query["grids"] == [grids[0]["code"]]
    assert query["orientation"] == ["portrait"] and query["lang"] == ["en"]
    assert sheet.title().startswith("Grid map · ")
    assert sheet.locator("svg.map-svg").count() == 1
    assert "Grid details" in sheet.inner_text("body") and grids[0]["code"] in sheet.inner_text(
        "body"
    )
    # the page's own style block is allowed by the CSP (a refused one would leave it unstyled)
    colour = sheet.evaluate("() => getComputedStyle(document.querySelector('h1')).color")
    assert colour == "rgb(31, 51, 84)"  # #1f3354
    sheet.set_viewport_size({"width": 900, "height": 1100})
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    sheet.screenshot(path=str(DOCS_IMG / "print-html.png"))
    assert problems == []
    context.close()
    watch.assert_clean()


def test_a_print_can_be_cancelled(browser: Browser, live_server: str, signed_in) -> None:
    context, watch = new_context(browser, "zh-CN", signed_in("patrol_lead"))
    page = open_map(context, watch, live_server + "/")
    page.evaluate("() => window.gridmap.app.clearSelection()")
    open_dialog(page)
    page.check("input[name=print-grids][value=all]")
    page.click("#print-pdf")
    page.wait_for_selector("#print-dialog[data-job]")
    page.click("#print-cancel")
    page.wait_for_selector("#print-dialog[data-state=cancelled]", timeout=60_000)
    assert page.inner_text("#print-status") == "已取消打印。"
    assert page.is_enabled("#print-pdf")
    context.close()
    watch.assert_clean()


def test_a_grid_worker_chooses_among_their_own_grids(
    browser: Browser, live_server: str, signed_in
) -> None:
    context, watch = new_context(browser, "zh-CN", signed_in("grid_worker"))
    page = open_map(context, watch, live_server + "/")
    own = page.evaluate("() => window.gridmap.session.grids")
    assert len(own) == 2
    open_dialog(page)
    assert "全部网格（2 个）" in page.inner_text("#print-dialog")
    view = page.inner_text("label:has(input[value=view])")
    assert view in (
        "当前视图内的网格（0 个）",
        "当前视图内的网格（1 个）",
        "当前视图内的网格（2 个）",
    )
    context.close()
    watch.assert_clean()
