#!/usr/bin/env python3
"""How fast the map draws: windowed loading with bubbles against the old whole-layer load.

``gridmap serve`` serves a copy of the demo workspace (``workspaces/demo.gpkg``, built by
``gridmap demo --no-serve`` when missing; or ``--workspace``) on loopback, with an admin of its
own (the role that is served every row). Debian's chromium, driven by Playwright as the browser
tests drive it, signs in and measures each scenario in a fresh browser context (empty cache),
``--runs`` times, the two ways the map page loads taking turns (each first every other run):

- ``windowed``: the page as it is (web/static/js/loader.js: layers by the view's window,
  bubbles from /api/layers/<name>/clusters beyond 6,000 points, stacked points with badges);
- ``whole``: the page with ``?whole=1``: every layer fetched whole, one marker a feature (the
  map before the windowed loading).

Scenarios, each timed in the page (``performance.now()``) until ``gridmap.loader.idle()``
resolves (no load in flight, and what came drawn), with the bytes the browser received
(Chrome's encoded data length: gzipped as sent) and the features drawn:

- first view: navigation start until the default layers of the start view are drawn;
- households at the start view: the households layer turned on, the whole area in view;
- households at a grid: the same with the map fitted to the grid nearest the middle.

It also reads ``/api/layers/households`` whole and its clusters at the start zoom over HTTP.
Run by hand: ``.venv/bin/python scripts/bench_map.py [--runs 5] [--json out.json]``; the
figures are in docs/benchmarks.md and docs/speed.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

USER, PASSWORD = "bench-admin", "bench-password-2026"
VIEWPORT = {"width": 1366, "height": 768}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MODES = {"windowed": "", "whole": "?whole=1"}
#: Seconds between two measurements.
PAUSE = 1.0
#: The demo's start view is at zoom 15.75 in this viewport: its clusters are those of zoom 15.
START_ZOOM = 15

#: Drawn markers of a layer and the features they stand for (a stack: all of its features).
DRAWN_JS = """
(name) => {
  const group = gridmap.layers[name];
  const out = {markers: 0, features: 0, bubbles: 0};
  if (!group || !gridmap.map.hasLayer(group)) return out;
  group.eachLayer((l) => {
    out.markers += 1;
    if (l.feature) out.features += 1;
    else if (Array.isArray(l.features)) out.features += l.features.length;
    else if (l.gmCluster) { out.bubbles += 1; out.features += l.gmCluster.count; }
  });
  return out;
}
"""

#: Turn households on and time it until the loader is idle (milliseconds, in the page).
HOUSEHOLDS_JS = """
async () => {
  const t0 = performance.now();
  await gridmap.setLayer('households', true);
  await gridmap.loader.idle();
  return performance.now() - t0;
}
"""

#: Fit the map to the grid nearest the middle of the area, clear of the panel and legend.
CENTRAL_GRID_JS = """
async () => {
  const {map, layers, workspace} = window.gridmap;
  const middle = L.latLng(workspace.center[1], workspace.center[0]);
  let best = null;
  layers.grids.eachLayer((g) => {
    if (!g.feature) return;
    const d = g.getBounds().getCenter().distanceTo(middle);
    if (!best || d < best.d) best = {d, g};
  });
  const panel = document.querySelector('#panel').getBoundingClientRect();
  const legend = document.querySelector('#legend-card').getBoundingClientRect();
  map.fitBounds(best.g.getBounds(), {paddingTopLeft: [panel.right + 12, 12],
    paddingBottomRight: [window.innerWidth - legend.left + 12, 12], animate: false});
  await gridmap.loader.idle();
  return {code: best.g.feature.properties.code, zoom: map.getZoom()};
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(workspace: Path, folder: Path) -> Path:
    """Copy the demo workspace into ``folder`` with the bench's admin; return the copy."""
    from gridmap import store
    from gridmap.service import accounts

    if not workspace.exists():
        gridmap = Path(sys.executable).with_name("gridmap")
        subprocess.run(
            [str(gridmap), "demo", "--no-serve", "--quiet", "--workspace", str(workspace)],
            check=True,
        )
    copy = folder / "demo.gpkg"
    store.GeoPackageWorkspace(workspace, read_only=True).backup(copy)
    with store.GeoPackageWorkspace(copy) as ws:
        accounts.add_user(ws, USER, "admin", password=PASSWORD)
    return copy


def serve(path: Path, port: int) -> subprocess.Popen[bytes]:
    """Start ``gridmap serve`` on ``port`` and wait until it answers."""
    gridmap = Path(sys.executable).with_name("gridmap")
    proc = subprocess.Popen(
        [str(gridmap), "serve", str(path), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2).read()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("gridmap serve did not start") from None
            time.sleep(0.2)


class Bytes:
    """Bytes a page received over the network (gzipped as sent), through the DevTools protocol."""

    def __init__(self, page: Any) -> None:
        self.total = 0
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.on("Network.loadingFinished", self._finished)

    def _finished(self, event: dict[str, Any]) -> None:
        self.total += int(event.get("encodedDataLength") or 0)

    def since(self, mark: int) -> int:
        return self.total - mark


def signed_in_state(browser: Any, base: str) -> dict[str, Any]:
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    page = context.new_page()
    page.goto(base + "/login")
    page.fill("#name", USER)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("#sign-in")
    state: dict[str, Any] = context.storage_state()
    context.close()
    return state


SCENARIOS = ("first", "start", "grid")


def measure(browser: Any, base: str, state: dict[str, Any], mode: str, scenario: str) -> dict:
    """Measure ``scenario`` once in ``mode`` in a fresh context (empty cache)."""
    out: dict[str, Any] = {}
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", storage_state=state)
    page = context.new_page()
    received = Bytes(page)
    page.goto(base + "/" + MODES[mode])
    page.wait_for_selector("body[data-map-ready='1']", timeout=60_000)
    page.evaluate("() => gridmap.loader.idle()")
    if scenario == "first":
        out["first_ms"] = page.evaluate("() => performance.now()")
        out["first_bytes"] = received.total
    else:
        if scenario == "grid":
            out["grid"] = page.evaluate(CENTRAL_GRID_JS)
        mark = received.total
        out[f"{scenario}_ms"] = page.evaluate(HOUSEHOLDS_JS)
        out[f"{scenario}_bytes"] = received.since(mark)
        out[f"{scenario}_drawn"] = page.evaluate(DRAWN_JS, "households")
    context.close()
    time.sleep(PAUSE)  # the closed context's clean-up is not the next one's time
    return out


def http_figures(base: str, state: dict[str, Any], zoom: int) -> dict[str, Any]:
    """Households whole and as clusters at ``zoom``: bytes (gzip) and time over HTTP."""
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in state["cookies"])
    out: dict[str, Any] = {}
    for label, path in (
        ("whole", "/api/layers/households"),
        ("clusters", f"/api/layers/households/clusters?zoom={zoom}"),
    ):
        times, size = [], 0
        for _ in range(5):
            req = urllib.request.Request(
                base + path, headers={"Cookie": cookie, "Accept-Encoding": "gzip"}
            )
            t0 = time.perf_counter()
            with urllib.request.urlopen(req, timeout=60) as resp:
                size = len(resp.read())
            times.append((time.perf_counter() - t0) * 1000)
        out[label] = {"ms": statistics.median(times), "bytes": size}
    return out


def summary(runs: list[dict[str, Any]], key: str) -> str:
    values = [r[key] for r in runs]
    if key.endswith("_bytes"):
        return f"{statistics.median(values) / 1024:,.0f} kB"
    return f"{statistics.median(values):,.0f} ms ({min(values):,.0f}–{max(values):,.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=ROOT / "workspaces" / "demo.gpkg")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="bench-map-"))
    port = free_port()
    proc = serve(prepare(args.workspace, folder), port)
    base = f"http://127.0.0.1:{port}"
    results: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            state = signed_in_state(browser, base)
            for scenario in SCENARIOS:  # warm the server's caches, not counted
                measure(browser, base, state, "windowed", scenario)
            for run in range(args.runs):
                # the two ways take turns, each first every other run
                order = list(MODES) if run % 2 == 0 else list(MODES)[::-1]
                got: dict[str, dict[str, Any]] = {mode: {} for mode in MODES}
                for scenario in SCENARIOS:
                    for mode in order:
                        got[mode].update(measure(browser, base, state, mode, scenario))
                for mode in MODES:
                    results[mode].append(got[mode])
            browser.close()
        http = http_figures(base, state, zoom=START_ZOOM)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)

    cpus = os.cpu_count()
    print(f"map page, {args.runs} runs of each, medians (min–max); {cpus} cores; {VIEWPORT}")
    rows = [
        ("first view", "first_ms", "first_bytes"),
        ("households, start view", "start_ms", "start_bytes"),
        ("households, a grid", "grid_ms", "grid_bytes"),
    ]
    for label, ms, size in rows:
        for mode in MODES:
            runs = results[mode]
            extra = ""
            if ms != "first_ms":
                drawn = runs[-1][ms.replace("_ms", "_drawn")]
                extra = (
                    f"  drawn: {drawn['markers']:,} markers for {drawn['features']:,} households"
                )
                if drawn["bubbles"]:
                    extra += f" ({drawn['bubbles']} bubbles)"
            print(f"  {label:24} {mode:9} {summary(runs, ms):>22}  {summary(runs, size):>9}{extra}")
    grid = results["windowed"][0]["grid"]
    print(f"  (the grid: {grid['code']}, at zoom {grid['zoom']}; clusters at zoom {START_ZOOM})")
    for label, fig in http.items():
        print(
            f"  HTTP households {label:9} {fig['ms']:,.0f} ms  {fig['bytes'] / 1024:,.0f} kB gzipped"
        )
    if args.json:
        args.json.write_text(json.dumps({"runs": results, "http": http}, indent=1))


if __name__ == "__main__":
    main()
