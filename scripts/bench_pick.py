#!/usr/bin/env python3
"""How long the chooser takes to answer a click, on the demo with every layer drawn.

The demo is served on loopback (a fresh build, or ``--workspace``); chromium (Debian's, as the
browser tests) signs in as the admin, who is served every layer and every row, turns on every
layer (households 20,913 and visits 31,678 points among them: the most the chooser ever tests)
and fits the map to the area, then to street zoom. Measured, medians of ``--clicks`` (40):

- the hit test alone (``gridmap.chooser.pickAt``: every drawn feature tested), in the page;
- a click until the chooser has answered (a real mouse click, timed from Leaflet's preclick to
  the end of chooser.js's click handler: hit test, highlight, popup filled and placed);
- the same on the building point with the most households (their stack, with the list).

Run by hand: ``.venv/bin/python scripts/bench_pick.py [--workspace demo.gpkg]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
from collections import Counter
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, help="a demo workspace (else one is built)")
    parser.add_argument("--clicks", type=int, default=40)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from gridmap import store
    from gridmap.build.demo import build_demo
    from gridmap.service import accounts
    from web.app import create_app

    tmp = Path(tempfile.mkdtemp(prefix="bench-pick-"))
    path = tmp / "demo.gpkg"
    if args.workspace:
        store.GeoPackageWorkspace(args.workspace, read_only=True).backup(path)
    else:
        build_demo(path, today=date(2026, 11, 27))
    with store.GeoPackageWorkspace(path) as ws:
        accounts.add_user(ws, "bench-admin", "admin", password="bench-password-2026")
        frame = ws.read("households", columns=("household_id",), system=False)
    keys = Counter((round(g.x, 7), round(g.y, 7)) for g in frame.geometry)
    (lon, lat), stack = keys.most_common(1)[0]
    server = make_server("127.0.0.1", 0, create_app({"WORKSPACE": path}), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        page.goto(base + "/login")
        page.fill("#name", "bench-admin")
        page.fill("#password", "bench-password-2026")
        with page.expect_navigation():
            page.click("#sign-in")
        page.wait_for_selector("body[data-map-ready='1']", timeout=60_000)
        off = page.eval_on_selector_all(
            "input[data-layer]:not(:checked)", "(l) => l.map((e) => e.dataset.layer)"
        )
        for name in off:
            page.click(f'input[data-layer="{name}"]')
            page.wait_for_selector(
                f'[data-layer-row="{name}"][data-state="drawn"]', timeout=120_000
            )
        drawn = page.evaluate(
            "() => { let n = 0; for (const g of Object.values(gridmap.layers)) if (gridmap.map.hasLayer(g))"
            " g.eachLayer((l) => { n += l.feature ? 1 : 0; }); return n; }"
        )
        results = {}
        for label, zoom in (("overview", None), ("street zoom 18", 18)):
            if zoom:
                page.evaluate("(z) => { gridmap.map.setZoom(z, {animate: false}); }", zoom)
            view = page.evaluate(
                "() => { const c = gridmap.map.getCenter(); return [c.lat, c.lng, gridmap.map.getZoom()]; }"
            )
            pts = [(420 + (i * 97) % 640, 120 + (i * 53) % 560) for i in range(args.clicks)]
            hit = page.evaluate(
                "(pts) => pts.map(([x, y]) => { const t = performance.now(); gridmap.chooser.pickAt(x, y);"
                " return performance.now() - t; })",
                pts,
            )
            clicks = []
            for x, y in pts:
                page.evaluate(
                    "([lat, lon, z]) => { gridmap.map.setView([lat, lon], z, {animate: false}); }",
                    view,
                )
                clicks.append(timed(page, x, y))
                page.keyboard.press("Escape")
            results[label] = (statistics.median(hit), statistics.median(clicks))
        page.evaluate(
            "([lat, lon]) => { gridmap.map.setView([lat, lon], 19, {animate: false}); }", [lat, lon]
        )
        x, y = page.evaluate(
            "([lat, lon]) => { const p = gridmap.map.latLngToContainerPoint([lat, lon]); return [Math.round(p.x), Math.round(p.y)]; }",
            [lat, lon],
        )
        stacked = []
        for _ in range(max(5, args.clicks // 4)):
            page.evaluate(
                "([lat, lon]) => { gridmap.map.setView([lat, lon], 19, {animate: false}); }",
                [lat, lon],
            )
            stacked.append(timed(page, x, y))
            page.keyboard.press("Escape")
        browser.close()
    server.shutdown()
    print(f"features drawn: {drawn:,}; the biggest stack: {stack} households at one building")
    for label, (hit, click) in results.items():
        print(f"{label}: hit test median {hit:.1f} ms; click to popup median {click:.1f} ms")
    print(
        f"stacked point ({stack} households, listed): click to popup median {statistics.median(stacked):.1f} ms"
    )


def timed(page, x: int, y: int) -> float:
    """Click at (x, y); milliseconds from the click's preclick to the end of the chooser's
    click handler (its hit test and popup: a listener added after it runs next)."""
    page.evaluate(
        "() => { window.__t = null; const map = gridmap.map; map.once('preclick', () => {"
        " const t0 = performance.now(); map.once('click', () => { window.__t = performance.now() - t0; });"
        " }); }"
    )
    page.mouse.click(x, y)
    page.wait_for_function("() => window.__t !== null", timeout=10_000)
    return page.evaluate("() => window.__t")


if __name__ == "__main__":
    main()
