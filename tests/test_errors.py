"""One error shape: every gridmap error class and HTTP error, as JSON, HTML, or an OGC renderer.

A JSON error is ``{"error": {"code", "message", "status", ...}}``. The classes come from walking
the :mod:`gridmap.errors` tree, so a class added later is checked without editing this file.
Errors are raised from a monkeypatched service call of the real app over the demo workspace.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from pathlib import Path

import pytest
from flask import Response, abort, jsonify, request

from gridmap import errors as gm_errors
from gridmap.errors import BusyError, GridmapError, InputError
from gridmap.service import layers as layer_service
from gridmap.service import workspace as workspace_service
from tests.conftest import client_for
from web.app import create_app
from web.auth import EVERYONE, allow
from web.errors import HTTP_CODES, INTERNAL_MESSAGE, add_error_renderer

I18N = Path(__file__).resolve().parent.parent / "web" / "static" / "i18n"


def error_classes() -> list[type[GridmapError]]:
    """GridmapError and every subclass of it, depth first."""
    found: list[type[GridmapError]] = []

    def walk(cls: type[GridmapError]) -> None:
        found.append(cls)
        for sub in cls.__subclasses__():
            walk(sub)

    walk(GridmapError)
    return list(dict.fromkeys(found))  # a class with two gridmap bases is listed once


CLASSES = error_classes()


def test_the_tree_is_the_module():
    """The walk finds every error class the module defines, so the tests below cover them all."""
    defined = {
        v for v in vars(gm_errors).values() if isinstance(v, type) and issubclass(v, GridmapError)
    }
    assert set(CLASSES) == defined and len(CLASSES) >= 15


def test_every_class_has_its_own_code_and_a_status():
    codes = [cls.code for cls in CLASSES]
    assert len(set(codes)) == len(codes), "two error classes share a code"
    for cls in CLASSES:
        assert "code" in vars(cls), f"{cls.__name__} inherits its code: give it its own"
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", cls.code), cls.code
        assert 400 <= cls.status <= 599, (cls.__name__, cls.status)
    # gridmap codes do not take an HTTP error's name for another meaning
    http_names = set(HTTP_CODES.values()) - {"internal_error"}
    assert http_names.isdisjoint(codes)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_to_dict_is_the_one_shape(cls):
    exc = cls("Something is wrong.")
    doc = exc.to_dict()
    expected: dict[str, object] = {
        "code": cls.code,
        "message": "Something is wrong.",
        "status": cls.status,
    }
    if getattr(exc, "retry_after", None):
        expected["retry_after"] = exc.retry_after
    assert doc == {"error": expected}
    json.dumps(doc)  # JSON-ready


def test_input_errors_say_row_and_column():
    exc = InputError("not a number", row=3, column="levels", source="b.csv")
    assert exc.to_dict() == {
        "error": {
            "code": "invalid_input",
            "message": "b.csv, row 3, column 'levels': not a number",
            "status": 400,
            "row": 3,
            "column": "levels",
        }
    }
    assert gm_errors.SchemaError("missing", column="code").to_dict()["error"]["column"] == "code"


def test_conflicts_say_which_versions():
    exc = gm_errors.ConflictError("changed", layer="grids", fid=7, expected=2, actual=3)
    assert exc.to_dict()["error"] == {
        "code": "edit_conflict",
        "message": "changed",
        "status": 409,
        "layer": "grids",
        "fid": 7,
        "expected_version": 2,
        "actual_version": 3,
    }


# -- through the web app -------------------------------------------------------------------


def _raiser(exc: BaseException):
    def raise_it(*args, **kwargs):
        raise exc

    return raise_it


def make_error(cls: type[GridmapError]) -> GridmapError:
    if issubclass(cls, InputError):
        return cls("Bad value.", row=2, column="code")
    return cls("Bad value.")


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_class_answers_its_status_and_code(client, monkeypatch, cls):
    monkeypatch.setattr(layer_service, "page", _raiser(make_error(cls)))
    resp = client.get("/api/layers/buildings?limit=1")
    assert resp.status_code == cls.status
    assert resp.mimetype == "application/json"
    assert resp.get_json() == make_error(cls).to_dict()
    error = resp.get_json()["error"]
    assert error["code"] == cls.code and error["status"] == cls.status
    if issubclass(cls, InputError):
        assert (error["row"], error["column"]) == (2, "code")


@pytest.mark.parametrize("where", ["layer", "workspace"])
def test_busy_is_503_with_retry_after(client, monkeypatch, where):
    busy = BusyError("The workspace is locked by another program (QGIS?). Try again shortly.")
    if where == "layer":
        monkeypatch.setattr(layer_service, "page", _raiser(busy))
        resp = client.get("/api/layers/cameras")
    else:
        monkeypatch.setattr(workspace_service, "workspace_document", _raiser(busy))
        resp = client.get("/api/workspace")
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == str(BusyError.retry_after) == "2"
    assert resp.get_json()["error"] == {
        "code": "workspace_busy",
        "message": busy.message,
        "status": 503,
        "retry_after": 2,
    }


@pytest.mark.parametrize(
    ("method", "url", "status", "code"),
    [
        ("GET", "/api/nothing", 404, "not_found"),
        ("GET", "/nothing", 404, "not_found"),
        ("GET", "/vendor/lodash/index.js", 404, "not_found"),
        ("POST", "/api/workspace", 405, "method_not_allowed"),
        ("DELETE", "/api/layers/grids", 405, "method_not_allowed"),
    ],
)
def test_http_errors_have_the_same_shape(client, method, url, status, code):
    resp = client.open(url, method=method)
    assert resp.status_code == status
    error = resp.get_json()["error"]
    assert (error["code"], error["status"]) == (code, status)
    assert error["message"] and "<" not in error["message"]
    if status == 405:
        assert "GET" in resp.headers["Allow"]


@pytest.fixture
def bare_app(writable_demo):
    """A fresh app over the demo, not in testing mode: unexpected errors become replies.

    CSRF is off (its own tests are in tests/test_accounts.py); requests send the analyst's token.
    """
    app = create_app(
        {"WORKSPACE": writable_demo, "MAX_CONTENT_LENGTH": 1024, "WTF_CSRF_ENABLED": False}
    )

    @app.post("/api/echo")
    @allow(EVERYONE)
    def echo() -> Response:
        return jsonify(request.get_json())

    @app.get("/api/teapot")
    @allow(EVERYONE)
    def teapot() -> Response:
        abort(418)

    return app


def bare_client(app):
    """A client of ``app`` with the analyst's token."""
    return client_for(app, "analyst")


def test_werkzeug_400_413_and_unknown_codes(bare_app):
    client = bare_app.test_client()
    bad = client.post("/api/echo", data="{not json", content_type="application/json")
    assert bad.status_code == 400
    assert bad.get_json()["error"]["code"] == "bad_request"
    big = client.post("/api/echo", data="[" + "1," * 2000 + "1]", content_type="application/json")
    assert big.status_code == 413
    assert big.get_json()["error"] == {
        "code": "payload_too_large",
        "message": big.get_json()["error"]["message"],
        "status": 413,
    }
    assert client.get("/api/teapot").get_json()["error"]["code"] == "http_418"


@pytest.mark.parametrize(
    "exc",
    [
        sqlite3.OperationalError("database is locked"),
        sqlite3.DatabaseError("file is not a database: /srv/gridmap/secret.gpkg"),
        RuntimeError("Traceback: internals at /srv/gridmap/secret.gpkg"),
    ],
    ids=["locked", "corrupt", "bug"],
)
def test_unexpected_errors_are_500_and_show_nothing(bare_app, monkeypatch, caplog, exc):
    monkeypatch.setattr(layer_service, "page", _raiser(exc))
    with caplog.at_level(logging.ERROR):
        resp = bare_client(bare_app).get("/api/layers/grids")
    assert resp.status_code == 500
    assert resp.get_json() == {
        "error": {"code": "internal_error", "message": INTERNAL_MESSAGE, "status": 500}
    }
    body = resp.get_data(as_text=True).lower()
    for secret in ("sqlite", "locked", "database", "secret", "traceback", "runtimeerror"):
        assert secret not in body
    # ... and the server's log has the whole story
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[1] is exc]
    assert logged, "the unexpected error was not logged with its traceback"


def test_server_side_gridmap_errors_are_logged(client, monkeypatch, caplog):
    monkeypatch.setattr(
        layer_service, "page", _raiser(gm_errors.WorkspaceError("The workspace file is gone."))
    )
    with caplog.at_level(logging.ERROR):
        resp = client.get("/api/layers/grids")
    assert resp.status_code == 500
    assert resp.get_json()["error"]["code"] == "workspace_error"
    assert any("workspace file is gone" in r.getMessage() for r in caplog.records)


# -- HTML for browsers, JSON for programs ----------------------------------------------------

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(
    ("accept_language", "first", "second"),
    [
        ("zh-CN,zh;q=0.9", "服务器上找不到该地址", "this address was not found"),
        ("en", "this", "服务器"),
    ],
)
def test_browsers_get_a_bilingual_error_page(client, accept_language, first, second):
    resp = client.get("/nothing", headers={"Accept": BROWSER, "Accept-Language": accept_language})
    assert resp.status_code == 404
    assert resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    assert 'data-error-code="not_found"' in html and "HTTP 404" in html
    assert "返回地图" in html and "Back to the map" in html
    text = re.sub(r"<[^>]+>", " ", html.split("<body>")[1])
    assert 0 <= text.lower().find(first.lower()) < text.lower().find(second.lower())
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing from another host


def test_html_or_json_by_path_and_accept(client):
    html = {"Accept": BROWSER}
    assert client.get("/api/nothing", headers=html).mimetype == "application/json"  # API: JSON
    assert client.get("/nothing", headers={"Accept": "application/json"}).is_json
    assert client.get("/nothing", headers={"Accept": "*/*"}).is_json  # curl, GDAL
    assert client.get("/nothing").is_json
    assert client.get("/static/js/nothing.js", headers=html).mimetype == "text/html"


def test_the_error_page_hides_internals_and_says_what_a_code_means(bare_app, monkeypatch):
    import web.pages

    monkeypatch.setattr(web.pages, "render_template", _raiser(RuntimeError("secret internals")))
    client = bare_client(bare_app)
    resp = client.get("/", headers={"Accept": BROWSER, "Accept-Language": "zh-CN"})
    assert resp.status_code == 500 and resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    assert "secret" not in html and "RuntimeError" not in html
    assert "服务器发生意外错误" in html and "unexpected error" in html
    # a gridmap error's own message is shown, in the sentence of its code
    monkeypatch.setattr(
        web.pages,
        "render_template",
        _raiser(gm_errors.LayerNotFoundError("There is no layer 'roads'.")),
    )
    page = client.get("/", headers={"Accept": BROWSER}).get_data(as_text=True)
    assert "没有该图层：There is no layer &#39;roads&#39;." in page


# -- renderers of other formats (OGC API exceptions) -----------------------------------------


def ogc_style(tag: str):
    def render(exc) -> Response:
        if isinstance(exc, GridmapError):
            status, text = exc.status, exc.message
        else:
            status, text = exc.code, exc.description
        body = {"code": tag, "description": text}
        return Response(json.dumps(body), status=status, mimetype="application/json")

    return render


def test_a_registered_renderer_answers_its_paths(writable_demo, monkeypatch):
    app = create_app({"WORKSPACE": writable_demo})
    renderers = app.extensions["gridmap.error_renderers"]
    assert [prefix for prefix, _ in renderers] == ["/admin", "/ogc"]  # the blueprints' own
    renderers.clear()
    add_error_renderer(app, "/ogc", ogc_style("ogc"))
    app.extensions["gridmap.error_renderers"].append(("/ogc/collections/", ogc_style("deeper")))
    client = client_for(app, "analyst")

    def tag(url: str, method: str = "GET") -> object:
        return client.open(url, method=method).get_json().get("code")

    assert tag("/ogc/collections/roads/items") == "deeper"  # the longest prefix wins
    assert tag("/ogc/collections", "POST") == "deeper"  # a prefix's trailing slash is optional
    assert tag("/ogc/nothing") == "ogc"
    assert tag("/ogc", "POST") == "ogc"
    assert client.get("/ogcx").get_json()["error"]["code"] == "not_found"  # not under /ogc
    assert client.get("/api/layers/roads").get_json()["error"]["code"] == "layer_not_found"
    # protocol headers are added whoever renders the body
    allowed = client.post("/ogc/collections")
    assert allowed.status_code == 405 and "GET" in allowed.headers["Allow"]
    monkeypatch.setattr(
        "gridmap.service.ogc.items", _raiser(BusyError("busy"))
    )  # the OGC items view's call
    busy = client.get("/ogc/collections/buildings/items")
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "2"
    assert busy.get_json()["code"] == "deeper"


def test_a_broken_renderer_falls_back_to_the_one_shape(demo_path, caplog):
    app = create_app({"WORKSPACE": demo_path})
    app.extensions["gridmap.error_renderers"].clear()
    add_error_renderer(app, "/ogc", _raiser(ValueError("renderer bug")))
    with caplog.at_level(logging.ERROR):
        resp = app.test_client().get("/ogc/collections/roads")
    assert resp.status_code == 404
    assert resp.get_json()["error"]["code"] == "layer_not_found"
    assert any("renderer" in r.getMessage() for r in caplog.records)


# -- the browser's words for the codes -------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_ui_has_words_for_every_code_it_may_meet(lang):
    strings = json.loads((I18N / f"{lang}.json").read_text(encoding="utf-8"))
    codes = {cls.code for cls in CLASSES}
    codes |= {HTTP_CODES[s] for s in (400, 401, 403, 404, 405, 413, 429, 503)}
    missing = sorted(c for c in codes if f"error.code.{c}" not in strings)
    assert missing == []
    assert "error.offline" in strings and "error.generic" in strings
