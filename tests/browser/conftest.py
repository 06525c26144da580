"""Fixtures of the browser tests: one chromium per module, sessions per role, an own server,
the planning card open on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.browser.kit import CHROMIUM, CHROMIUM_ARGS, open_plan, sign_in, sign_in_planner
from tests.conftest import ROLE_USERS


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def signed_in(browser: Browser, live_server: str):
    """``signed_in(role)``: the storage state of a browser whose session is the demo account of
    ``role`` on the shared server (signed in once per module through the form)."""
    states: dict[str, dict] = {}

    def state(role: str) -> dict:
        if role not in states:
            states[role] = sign_in(browser, live_server, ROLE_USERS[role])
        return states[role]

    return state


@pytest.fixture
def own_server(writable_demo) -> Iterator[tuple[str, object]]:
    """A server of this test's own over a copy of the demo (for tests that change accounts);
    yields its base URL and the app (for its test client)."""
    import threading

    from werkzeug.serving import make_server

    from web.app import create_app

    app = create_app({"WORKSPACE": writable_demo})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def plan_page(browser: Browser, own_server):
    """``plan_page(locale="en")``: the demo planner signed in through the form of this test's
    own server (over :func:`writable_demo`), the planning card open; returns the page and its
    :class:`~tests.browser.kit.Watch`. Call it after changing the workspace the page should
    show."""
    base, _ = own_server

    def open_page(locale: str = "en"):
        page, watch = sign_in_planner(browser, base, locale)
        open_plan(page)
        return page, watch

    return open_page
