"""Security headers and limits: the Content-Security-Policy (checked in chromium too),
nosniff and Referrer-Policy on every reply, ``private, no-store`` on personal replies,
oversize bodies refused in the JSON shape, errors that show no traceback and no path.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from gridmap import store
from web.app import create_app
from web.auth import EVERYONE, allow
from web.headers import content_security_policy, inline_hashes, tile_hosts

from .conftest import DEMO_PASSWORD, ROLE_TOKENS, ROLE_USERS


def csp_of(resp) -> dict[str, list[str]]:
    """Return a reply's Content-Security-Policy as {directive: [sources]}."""
    header = resp.headers["Content-Security-Policy"]
    out: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *sources = part.split()
        out[name] = sources
    return out


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@pytest.fixture(scope="module")
def served(demo_path: Path, tmp_path_factory: pytest.TempPathFactory) -> store.GeoPackageWorkspace:
    copy = tmp_path_factory.mktemp("headers") / "demo.gpkg"
    store.GeoPackageWorkspace(demo_path, read_only=True).backup(copy)
    return store.GeoPackageWorkspace(copy)


def make_app(ws: store.GeoPackageWorkspace, **config: object) -> Flask:
    return create_app({"WORKSPACE": ws, "TESTING": True, **config})


def client(app: Flask, role: str | None):
    c = app.test_client()
    if role:
        c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {ROLE_TOKENS[role]}"
    return c


PATHS = [
    "/",
    "/login",
    "/api/workspace",
    "/api/health",
    "/api/layers/grids?limit=1",
    "/ogc/collections",
    "/no-such-page",
    "/api/no-such-thing",
]


@pytest.mark.parametrize("path", PATHS)
def test_every_reply_carries_the_security_headers(served, path: str) -> None:
    app = make_app(served)
    resp = client(app, "analyst").get(path, headers={"Accept": "text/html"})
    resp.close()
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    assert resp.headers["X-Frame-Options"] == "DENY"
    csp = csp_of(resp)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"][0] == "'self'"
    assert all(s.startswith("'sha256-") for s in csp["script-src"][1:])  # no unsafe-inline
    assert all(s.startswith("'sha256-") for s in csp["style-src"][1:])
    assert csp["img-src"] == ["'self'", "data:", "blob:"]  # no tile layer configured
    assert csp["connect-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]


def test_the_import_map_is_allowed_by_its_hash_and_nothing_else(served) -> None:
    app = make_app(served)
    resp = client(app, "analyst").get("/")
    html = resp.get_data(as_text=True)
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>(.*?)</script>", html, re.S)
    assert len(inline) == 1 and 'type="importmap"' in inline[0][0]  # the only inline script
    assert csp_of(resp)["script-src"] == ["'self'", sha256_source(inline[0][1])]
    assert csp_of(resp)["style-src"] == ["'self'"]  # the map page has no inline style
    # the error page's own <style> is allowed by its hash; a block outside <head> never is
    error = client(app, "analyst").get("/no-such-page", headers={"Accept": "text/html"})
    style = re.search(r"<style>(.*?)</style>", error.get_data(as_text=True), re.S)
    assert style and csp_of(error)["style-src"] == ["'self'", sha256_source(style.group(1))]
    injected = (
        "<html><head><title>x</title></head><body>"
        '<script type="importmap">{}</script><script>alert(1)</script><style>p{}</style>'
        "</body></html>"
    )
    page = Flask(__name__).response_class(injected, mimetype="text/html")
    assert inline_hashes(page) == ([], [])
    classic = '<html><head><script>alert(1)</script><script type="importmap" src="x"></script>'
    page = Flask(__name__).response_class(classic + "</head></html>", mimetype="text/html")
    assert inline_hashes(page) == ([], [])  # classic inline scripts are never allowed


def test_tile_hosts_are_allowed_only_when_configured(served) -> None:
    app = make_app(served, TILES="osm,amap")
    csp = csp_of(client(app, "analyst").get("/api/health"))
    assert csp["img-src"] == [
        "'self'",
        "data:",
        "blob:",
        "https://tile.openstreetmap.org",
        "https://webrd01.is.autonavi.com",
    ]
    assert csp["connect-src"] == ["'self'"]
    assert tile_hosts([{"url": "https://{s}.tile.example.org/{z}/{x}/{y}.png"}]) == [
        "https://*.tile.example.org"
    ]
    assert "img-src 'self' data: blob:;" in content_security_policy()


@pytest.mark.parametrize(
    ("path", "personal"),
    [
        ("/api/layers/people?limit=2", True),
        ("/api/layers/households?limit=2", True),
        ("/api/layers/visits?limit=2", True),
        ("/ogc/collections/visits/items?limit=2", True),
        ("/ogc/collections/households/items?limit=2", True),
        ("/api/session", True),
        ("/api/layers/people/export?format=csv", True),
        ("/api/layers/grids?limit=2", False),
        ("/ogc/collections/grids/items?limit=2", False),
        ("/api/layers/grids/export?format=csv", False),
        ("/api/workspace", False),
    ],
)
def test_personal_replies_are_never_stored(served, path: str, personal: bool) -> None:
    app = make_app(served)
    # people rows and visits as features are the admin's (the analyst gets figures, no place)
    role = "admin" if "people" in path or "collections/visits" in path else "analyst"
    resp = client(app, role).get(path)
    resp.close()
    assert resp.status_code == 200
    stored = resp.headers.get("Cache-Control", "")
    if personal:
        assert stored == "private, no-store"
    else:
        assert "no-store" not in stored


def test_admin_routes_are_never_stored(served) -> None:
    app = make_app(served)
    app.add_url_rule("/api/admin-probe", "admin_probe", allow("admin")(lambda: {"ok": True}))
    resp = client(app, "admin").get("/api/admin-probe")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "private, no-store"
    assert client(app, "analyst").get("/api/admin-probe").status_code == 403


def test_oversize_bodies_get_413_in_the_json_shape(served) -> None:
    app = make_app(served)
    big = b"x" * (16 * 1024 * 1024 + 1)
    by_token = client(app, "analyst").post("/api/jobs", data=big, content_type="application/json")
    by_session = client(app, None).post("/api/session", data=big, content_type="application/json")
    for resp in (by_token, by_session):
        assert resp.status_code == 413
        error = resp.get_json()["error"]
        assert error["code"] == "payload_too_large" and error["status"] == 413


def test_errors_show_no_traceback_and_no_path(served, caplog) -> None:
    app = create_app({"WORKSPACE": served})  # not TESTING: errors are answered, not raised

    def bug() -> None:
        raise RuntimeError(f"broke in {Path(__file__).resolve()} at {served.path}")

    app.add_url_rule("/api/bug", "bug", allow(EVERYONE)(bug))
    app.add_url_rule("/bug", "bug_page", allow(EVERYONE)(bug))
    c = client(app, "analyst")
    replies = {
        "500 json": c.get("/api/bug"),
        "500 html": c.get("/bug", headers={"Accept": "text/html"}),
        "404 json": c.get("/api/layers/people/nothing"),
        "404 html": c.get("/nothing/here", headers={"Accept": "text/html"}),
        "405 json": c.delete("/api/health"),
    }
    secrets = [str(Path(__file__).resolve().parent), str(served.path.parent), "Traceback"]
    for name, resp in replies.items():
        body = resp.get_data(as_text=True)
        assert resp.status_code == int(name[:3]), name
        assert not any(s in body for s in secrets), (name, body)
        assert not re.search(r'File "|\.py\b|/tmp/|/work/', body), (name, body)
    assert "broke in" in caplog.text  # the cause is in the server's log, not the reply


# -- the pages in chromium, under the policy ----------------------------------------------------

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


@pytest.fixture(scope="module")
def live(served) -> Iterator[str]:
    from werkzeug.serving import make_server

    app = make_app(served)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.mark.browser
def test_the_pages_load_under_the_policy_without_a_violation(live: str) -> None:
    from playwright.sync_api import sync_playwright

    console: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context(locale="zh-CN")
        context.route(
            "**/*", lambda r: r.continue_() if r.request.url.startswith(live) else r.abort()
        )
        context.add_init_script(RECORD_VIOLATIONS)
        page = context.new_page()
        page.on("console", lambda m: m.type in ("error", "warning") and console.append(m.text))
        page.on("pageerror", lambda e: console.append(str(e)))

        login = page.goto(f"{live}/login")
        assert login is not None and "script-src 'self'" in login.headers["content-security-policy"]
        assert page.evaluate("window.__csp") == []
        page.fill("#name", ROLE_USERS["planner"])
        page.fill("#password", DEMO_PASSWORD)
        page.click("#sign-in")
        page.wait_for_selector("body[data-map-ready='1']", timeout=30_000)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__csp") == []  # the import map ran, the modules loaded
        assert page.evaluate("Object.keys(window.gridmap.layers).length") > 3

        # the policy is really enforced: an inline script added now is refused
        page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.__ran = 1'; document.head.append(s); }"
        )
        page.wait_for_function("() => window.__csp.length > 0")
        assert page.evaluate("window.__ran") is None
        assert page.evaluate("window.__csp")[0].startswith("script-src")
        console[:] = [c for c in console if "Content Security Policy" not in c]

        error = page.goto(f"{live}/no-such-page")
        assert error is not None and error.status == 404
        assert page.evaluate("window.__csp") == []  # its own <style>, allowed by its hash
        color = page.evaluate("getComputedStyle(document.querySelector('main')).backgroundColor")
        assert color == "rgb(255, 255, 255)"  # the style was applied
        browser.close()
    assert [c for c in console if "404" not in c] == []
