"""Helpers for the browser tests: offline contexts, watched pages, sign-in, map probes.

The map page in a real browser: Debian's chromium driven by Playwright, fully offline.

Every request to a host other than 127.0.0.1/localhost is aborted and recorded, and a test fails
if the page tried one: the page must work on an intranet with no internet. Each test also fails on
any console error or warning, uncaught exception, failed request or HTTP error (those a test
provokes on purpose — a wrong password, a refused change — it names and clears).

Nobody sees the map without signing in (unless an admin opened layers to everyone): the tests
of the map sign in through the sign-in form once per role (:func:`signed_in`, a browser
storage state with the session cookie) and start each context from that state; the tests of
signing in, of the grid worker's view and of the admin page sign in and out themselves. Those
that change accounts run their own server over a copy of the demo (:func:`own_server`).

Screenshots for the docs (1366×768): map-zh.png and map-en.png, and one per user guide:
planner-grid-popup.png, patrol-cameras-incidents.png, gridworker-households.png,
analyst-export.png, households-masked.png (the register as a planner or analyst sees it), login-zh.png, signed-in-zh.png, and for
the admin guide admin-users.png, admin-token.png, admin-access-log.png. They are always taken;
they go to docs/img when GRIDMAP_SCREENSHOTS=1 (`scripts/screenshots`), else to a temporary
folder, so that a test run leaves the tree clean.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Browser, BrowserContext, Page, Route

from tests.conftest import ADMIN_PASSWORD, DEMO_PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1366, "height": 768}
DOCS_IMG = (
    Path(__file__).resolve().parents[2] / "docs" / "img"
    if os.environ.get("GRIDMAP_SCREENSHOTS") == "1"
    else Path(tempfile.mkdtemp(prefix="gridmap-screenshots-"))
)
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
READY = "body[data-map-ready='1']"
DEFAULT_ON = ["community", "grids", "buildings", "streets", "facilities", "cameras"]
DEFAULT_OFF = ["households", "visits", "incidents", "street_nodes"]
# As a planner, patrol lead or analyst: visits come without their place (listed, not drawn).
MASKED_OFF = ["households", "incidents", "street_nodes"]
# Household columns the masked view leaves out (docs/privacy.md).
HOUSEHOLD_PERSONAL = ("household_id", "head_name", "phone", "members", "rented")

# Features of a layer that are on the map and actually painted in the current view (Leaflet
# skips paths outside its canvas: polylines with no clipped parts, circles outside the bounds).
# A stacked point counts its features (marker.features), a bubble the features it stands for
# (marker.gmCluster.count; web/static/js/stacks.js); `markers` counts what is drawn.
COUNT_DRAWN_JS = """
(name) => {
  const {map, layers} = window.gridmap;
  const group = layers[name];
  const out = {loaded: Boolean(group), onMap: Boolean(group && map.hasLayer(group)),
               features: 0, drawn: 0, polygons: 0, points: 0, labels: 0, markers: 0};
  if (!out.onMap) return out;
  group.eachLayer((l) => {
    if (l instanceof L.Tooltip) { out.labels += 1; return; }
    const n = l.feature ? 1 : Array.isArray(l.features) ? l.features.length
      : l.gmCluster ? l.gmCluster.count : 0;
    if (!n) return;
    out.features += n;
    const painted = l instanceof L.CircleMarker ? !l._empty() : Boolean(l._parts && l._parts.length);
    if (!painted) return;
    out.markers += 1;
    out.drawn += n;
    if (l instanceof L.Polygon) out.polygons += n;
    if (l instanceof L.CircleMarker) out.points += n;
  });
  return out;
}
"""

# The viewport pixel of a painted feature of `name` lying in the open part of the map (not
# under the panel or the legend card), or null.
OPEN_POINT_JS = """
(name) => {
  const {map, layers} = window.gridmap;
  const rect = (sel) => document.querySelector(sel).getBoundingClientRect();
  const panel = rect('#panel'), legend = rect('#legend-card');
  const free = (p) => p.x > panel.right + 20 && p.x < legend.left - 20 && p.y > 30 && p.y < 730;
  const found = [];
  layers[name].eachLayer((l) => {
    if (!l.feature && !l.features && !l.gmCluster) return;  // (stacks and bubbles too)
    const ll = l.getLatLng ? l.getLatLng() : l.getCenter();
    const p = map.latLngToContainerPoint(ll);
    if (free(p)) found.push({x: Math.round(p.x), y: Math.round(p.y)});
  });
  return found.length ? found[Math.floor(found.length / 2)] : null;
}
"""

# A pixel well inside a building (its largest footprint part), in the open part of the map.
BUILDING_POINT_JS = """
() => {
  const {map, layers} = window.gridmap;
  const panel = document.querySelector('#panel').getBoundingClientRect();
  const legend = document.querySelector('#legend-card').getBoundingClientRect();
  let best = null;
  layers.buildings.eachLayer((l) => {
    if (!l.feature) return;
    const b = l.getBounds();
    const nw = map.latLngToContainerPoint(b.getNorthWest());
    const se = map.latLngToContainerPoint(b.getSouthEast());
    const w = se.x - nw.x, h = se.y - nw.y;
    const c = map.latLngToContainerPoint(b.getCenter());
    const ok = c.x > panel.right + 30 && c.x < legend.left - 30 && c.y > 60 && c.y < 700;
    if (ok && l.feature.properties.building && (!best || w * h > best.area)) {
      best = {area: w * h, x: Math.round(c.x), y: Math.round(c.y), id: l.feature.id, layer: l};
    }
  });
  if (!best) return null;
  // The bbox centre of an L-shaped building may be outside it: check with the canvas hit test.
  const lp = map.containerPointToLayerPoint([best.x, best.y]);
  return best.layer._containsPoint(lp) ? {x: best.x, y: best.y, id: best.id} : null;
}
"""

# A pixel inside a grid, away from its edges (community boundaries run along grid edges) and
# outside every building's bounding box: a click there can only hit the grid. The pixel nearest
# the grid's middle, in the first grid that has one (or in the grid with the given code).
GRID_POINT_JS = """
(code) => {
  const {map, layers} = window.gridmap;
  const panel = document.querySelector('#panel').getBoundingClientRect();
  const legend = document.querySelector('#legend-card').getBoundingClientRect();
  const boxes = [];
  layers.buildings.eachLayer((l) => {
    if (!l.feature) return;
    const b = l.getBounds();
    const a = map.latLngToContainerPoint(b.getNorthWest());
    const c = map.latLngToContainerPoint(b.getSouthEast());
    boxes.push([a.x - 4, a.y - 4, c.x + 4, c.y + 4]);
  });
  const inBox = (p) => boxes.some(([x0, y0, x1, y1]) => p.x >= x0 && p.x <= x1 && p.y >= y0 && p.y <= y1);
  const segDist = (p, a, b) => {
    const dx = b.x - a.x, dy = b.y - a.y;
    const t = Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / (dx * dx + dy * dy || 1)));
    return Math.hypot(p.x - a.x - t * dx, p.y - a.y - t * dy);
  };
  let result = null;
  layers.grids.eachLayer((g) => {
    if (result || !g.feature || (code && g.feature.properties.code !== code)) return;
    const rings = g.getLatLngs().flat(2).length ? g.getLatLngs() : [];
    const pts = [];
    const walk = (x) => Array.isArray(x) && x.length && Array.isArray(x[0]) ? x.forEach(walk)
      : Array.isArray(x) ? pts.push(x.map((ll) => map.latLngToContainerPoint(ll))) : null;
    walk(rings);
    const b = g.getBounds();
    const nw = map.latLngToContainerPoint(b.getNorthWest());
    const se = map.latLngToContainerPoint(b.getSouthEast());
    const middle = map.latLngToContainerPoint(b.getCenter());
    let best = null;
    for (let y = nw.y + 6; y < se.y; y += 6) {
      for (let x = nw.x + 6; x < se.x; x += 6) {
        const p = L.point(x, y);
        if (x < panel.right + 20 || x > legend.left - 20 || y < 60 || y > 700) continue;
        if (best && p.distanceTo(middle) >= best.d) continue;
        if (!g._containsPoint(map.containerPointToLayerPoint(p)) || inBox(p)) continue;
        const nearEdge = pts.some((ring) => ring.some((a, i) => segDist(p, a, ring[(i + 1) % ring.length]) < 12));
        if (!nearEdge) best = {d: p.distanceTo(middle), x, y};
      }
    }
    if (best) result = {x: best.x, y: best.y, code: g.feature.properties.code};
  });
  return result;
}
"""


# Fit the view to `metres` around (lat, lon) in the open part of the map, without animation.
FOCUS_JS = """
([lat, lon, metres]) => {
  const {map} = window.gridmap;
  const panel = document.querySelector('#panel').getBoundingClientRect();
  const legend = document.querySelector('#legend-card').getBoundingClientRect();
  map.fitBounds(L.latLng(lat, lon).toBounds(2 * metres), {
    paddingTopLeft: [panel.right + 12, 12],
    paddingBottomRight: [window.innerWidth - legend.left + 12, 12],
    animate: false,
  });
  return map.getZoom();
}
"""

# The grid nearest the middle of the workspace.
CENTRAL_GRID_JS = """
() => {
  const {layers, workspace} = window.gridmap;
  const middle = L.latLng(workspace.center[1], workspace.center[0]);
  let best = null;
  layers.grids.eachLayer((g) => {
    if (!g.feature) return;
    const c = g.getBounds().getCenter();
    const d = c.distanceTo(middle);
    if (!best || d < best.d) best = {d, lat: c.lat, lon: c.lng, code: g.feature.properties.code};
  });
  return best;
}
"""

# The incident with the most incidents and cameras within 150 m: a busy part of the area.
BUSY_SPOT_JS = """
() => {
  const {layers} = window.gridmap;
  const points = (name) => {
    const out = [];
    layers[name].eachLayer((l) => { if (l.feature && l.getLatLng) out.push(l.getLatLng()); });
    return out;
  };
  const incidents = points('incidents'), cameras = points('cameras');
  const near = (list, c) => list.filter((p) => c.distanceTo(p) < 150).length;
  let best = null;
  for (const c of incidents) {
    const score = near(incidents, c) + 2 * near(cameras, c);
    if (!best || score > best.score) best = {score, lat: c.lat, lon: c.lng};
  }
  return best;
}
"""

# Wait until the map has stopped panning (a popup's auto-pan) and popups have faded in.
SETTLE_JS = """
async () => {
  const map = window.gridmap.map;
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  for (let i = 0; i < 120; i++) {
    const moving = (map._panAnim && map._panAnim._inProgress) || map._animatingZoom;
    const popup = document.querySelector('.leaflet-popup');
    if (!moving && !(popup && getComputedStyle(popup).opacity !== '1')) break;
    await frame();
  }
  await frame();
  await frame();
}
"""


@dataclass
class Watch:
    """What a page did that it should not have."""

    blocked: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    http_errors: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.blocked == [], f"the page tried to reach the internet: {self.blocked}"
        assert self.page_errors == [], f"uncaught errors: {self.page_errors}"
        assert self.console == [], f"console errors or warnings: {self.console}"
        assert self.failed == [], f"failed requests: {self.failed}"
        assert self.http_errors == [], f"HTTP errors: {self.http_errors}"


def new_context(
    browser: Browser, locale: str, state: dict | None = None
) -> tuple[BrowserContext, Watch]:
    """A fresh profile (no remembered language) whose requests may only go to this machine;
    ``state``: a storage state of :func:`signed_in` (a signed-in session), else nobody."""
    context = browser.new_context(
        viewport=VIEWPORT, locale=locale, service_workers="block", storage_state=state
    )
    watch = Watch()

    def local_only(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            watch.blocked.append(url)
            route.abort()

    context.route("**/*", local_only)
    return context, watch


def password_of(name: str) -> str:
    return ADMIN_PASSWORD if name == "admin" else DEMO_PASSWORD


def watched_page(context: BrowserContext, watch: Watch) -> Page:
    page = context.new_page()
    page.on(
        "console",
        lambda m: m.type in ("error", "warning") and watch.console.append(f"{m.type}: {m.text}"),
    )
    page.on("pageerror", lambda e: watch.page_errors.append(str(e)))
    page.on(
        "requestfailed",
        lambda r: (
            watch.failed.append(f"{r.url} {r.failure}") if r.url not in watch.blocked else None
        ),
    )
    page.on(
        "response", lambda r: r.status >= 400 and watch.http_errors.append(f"{r.status} {r.url}")
    )
    return page


def open_map(context: BrowserContext, watch: Watch, url: str) -> Page:
    page = watched_page(context, watch)
    page.goto(url)
    page.wait_for_selector(READY, timeout=30_000)
    return page


def submit_sign_in(page: Page, name: str, password: str) -> None:
    """Fill the sign-in form of the page shown and send it (waits for the next page)."""
    page.fill("#name", name)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("#sign-in")


def sign_in(browser: Browser, base: str, name: str) -> dict:
    """Sign ``name`` in through the form in a throwaway context; return its storage state."""
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", service_workers="block")
    page = context.new_page()
    page.goto(base + "/login")
    submit_sign_in(page, name, password_of(name))
    assert urlsplit(page.url).path == "/", f"{name} was not signed in: {page.url}"
    state = context.storage_state()
    context.close()
    return state


def api_get(base: str, path: str, token: str) -> tuple[int, dict]:
    """GET ``path`` of the server with an API token (as QGIS or a script would)."""
    import json
    import urllib.error
    import urllib.request

    req = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def expect_refused(watch: Watch, *fragments: str) -> None:
    """Forget the HTTP errors (and their console lines) a test provoked on purpose: each must
    name one of ``fragments``."""
    assert watch.http_errors, "the refusal did not happen"
    assert all(any(f in e for f in fragments) for e in watch.http_errors), watch.http_errors
    assert all("Failed to load resource" in c for c in watch.console), watch.console
    watch.http_errors.clear()
    watch.console.clear()


def drawn(page: Page, name: str) -> dict:
    return page.evaluate(COUNT_DRAWN_JS, name)


def pixels(page: Page, x: int, y: int) -> bytes:
    return page.screenshot(clip={"x": x - 2, "y": y - 2, "width": 5, "height": 5})


def layer_title(page: Page, name: str) -> str:
    return page.inner_text(f'[data-layer-row="{name}"] .layer-title')


def set_layer(page: Page, name: str, on: bool) -> None:
    box = page.locator(f'[data-layer="{name}"]')
    if box.is_checked() != on:
        box.click()
    state = "drawn" if on else "off"
    page.wait_for_selector(f'[data-layer-row="{name}"][data-state="{state}"]', timeout=30_000)


def focus(page: Page, lat: float, lon: float, metres: float) -> float:
    """Fit the map to ``metres`` around (lat, lon); wait until the layers of that view are
    loaded and drawn (web/static/js/loader.js) and the map has settled."""
    zoom = page.evaluate(FOCUS_JS, [lat, lon, metres])
    page.evaluate("() => window.gridmap.loader.idle()")
    page.evaluate(SETTLE_JS)
    return zoom


def shoot(page: Page, name: str) -> None:
    """Save a viewport screenshot for the docs, the pointer resting on the map (no hover marks)."""
    page.mouse.move(VIEWPORT["width"] // 2, VIEWPORT["height"] - 40)
    page.evaluate(SETTLE_JS)
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_IMG / name))


# -- the planning card (tests/browser/test_plan_*.py) --------------------------------------------

# The page pixel of a longitude/latitude.
PIXEL_JS = """
([lng, lat]) => {
  const p = window.gridmap.map.latLngToContainerPoint([lat, lng]);
  return {x: p.x, y: p.y};
}
"""


def sign_in_planner(browser: Browser, base: str, locale: str = "en") -> tuple[Page, Watch]:
    """Sign the demo planner in through the form of the server at ``base``; return the map
    page and its watch."""
    context, watch = new_context(browser, locale)
    page = watched_page(context, watch)
    page.goto(base + "/login")
    submit_sign_in(page, "demo-planner", DEMO_PASSWORD)
    page.wait_for_selector(READY, timeout=30_000)
    return page, watch


def idle(page: Page) -> None:
    """Wait until the planning tool has nothing in flight."""
    page.evaluate("() => window.gridmap.planning.idle()")
    page.wait_for_timeout(200)


def open_plan(page: Page) -> None:
    """Open the planning card (the Plan grids button) and wait for its figures."""
    page.click("#plan-button")
    page.wait_for_selector("#plan-card:not([hidden]) #plan-figures", timeout=30_000)
    idle(page)


def select(page: Page, code: str) -> None:
    """Select grid ``code`` by its row of the figures table."""
    page.click(f'#plan-figures tr[data-code="{code}"]')
    idle(page)
    assert page.evaluate("() => window.gridmap.planning.state.selected") == [code]


def status(page: Page) -> tuple[str, str]:
    """The planning card's status line: its kind (ok, info, error, conflict) and text."""
    el = page.locator("#plan-status")
    return el.get_attribute("data-kind") or "", el.inner_text()


def short(code: str) -> str:
    """The page's short form of a grid code (plan_map.js shortCode): 1-007."""
    return f"{int(code[-6:-3])}-{code[-3:]}"


def show(page: Page, lng: float, lat: float, zoom: int) -> None:
    """Centre the map on (lng, lat) at ``zoom`` without animation and wait for the tool."""
    page.evaluate(
        "([lng, lat, zoom]) => { window.gridmap.map.setView([lat, lng], zoom, {animate: false}); }",
        [lng, lat, zoom],
    )
    idle(page)


def grids_of(path: Path) -> dict:
    """The grids of the workspace at ``path``, as they are stored: code → row."""
    from gridmap import store

    with store.GeoPackageWorkspace(path, read_only=True) as ws:
        frame = ws.read("grids")
    return {str(r.code): r for r in frame.itertuples()}


def coverage_findings(
    path: Path, bounds: tuple[float, float] | None = None, kinds: tuple[str, ...] = ()
) -> list:
    """The checks' findings of overlaps and gaps (and ``kinds``) in the workspace at ``path``
    (none: the plan is one coverage); ``bounds``: the household range the checks take."""
    from gridmap import store
    from gridmap.service import grid_checks

    with store.GeoPackageWorkspace(path, read_only=True) as ws:
        found = grid_checks.validate(ws, **({"bounds": bounds} if bounds else {}))
    return [f for f in found.findings if f.kind in ("overlap", "gap", *kinds)]
