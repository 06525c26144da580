"""One error handler for the app: every error gets one shape, or the renderer of its path.

A JSON error is ``{"error": {"code": …, "message": …, "status": …}}`` (see
:func:`gridmap.errors.error_document`), the same for gridmap's errors and HTTP ones: ``code`` is
the error class's stable name (``invalid_input``, ``layer_not_found``, ``workspace_busy`` …) or
the HTTP error's (``not_found``, ``method_not_allowed`` …, see :data:`HTTP_CODES`). A request
under ``/api`` always gets JSON; elsewhere a client that prefers HTML (a browser) gets a small
bilingual page instead. Any other exception is a 500 ``internal_error`` that shows nothing of
its cause; Flask logs the traceback.

Paths that answer errors in their own format register a renderer:
``app.extensions["gridmap.error_renderers"]`` is a list of ``(path_prefix, renderer)``, with
``renderer(exc) -> flask.Response`` for a :class:`~gridmap.errors.GridmapError` or a werkzeug
:class:`~werkzeug.exceptions.HTTPException`. The renderer of the longest prefix that matches the
request path, segment by segment (``/ogc`` matches ``/ogc`` and ``/ogc/…``, not ``/ogcx``), wins.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from gridmap.errors import BusyError, GridmapError, error_document
from web import assets
from web.common import LANGS, choose_lang

#: The key, in ``app.extensions``, of the list of ``(path_prefix, renderer)``.
RENDERERS_KEY = "gridmap.error_renderers"

ErrorRenderer = Callable[[GridmapError | HTTPException], Response]

#: Stable codes of HTTP errors (others: ``http_<status>``).
HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    409: "conflict",
    410: "gone",
    411: "length_required",
    412: "precondition_failed",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    422: "unprocessable_entity",
    428: "precondition_required",
    429: "too_many_requests",
    431: "request_header_fields_too_large",
    500: "internal_error",
    501: "not_implemented",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}

#: What a 500 reply says: nothing of the cause, which is in the server's log.
INTERNAL_MESSAGE = (
    "The server met an unexpected error. It has been logged; "
    "if it happens again, tell the administrator the time it happened."
)


def init_app(app: Flask) -> None:
    """Create the list of error renderers and register the handlers on ``app``."""
    app.extensions[RENDERERS_KEY] = []
    app.register_error_handler(GridmapError, handle_gridmap_error)
    app.register_error_handler(HTTPException, handle_http_error)


def add_error_renderer(app: Flask, prefix: str, renderer: ErrorRenderer) -> None:
    """Make ``renderer`` answer the errors of requests whose path is under ``prefix``."""
    app.extensions[RENDERERS_KEY].append((prefix, renderer))


def find_renderer(path: str) -> ErrorRenderer | None:
    """Return the renderer of the longest registered prefix that ``path`` is under, if any."""
    best: tuple[int, ErrorRenderer] | None = None
    for prefix, renderer in current_app.extensions.get(RENDERERS_KEY, []):
        base = prefix.rstrip("/")
        if (path == base or path.startswith(base + "/")) and (best is None or len(base) > best[0]):
            best = (len(base), renderer)
    return best[1] if best else None


def http_code(status: int) -> str:
    """Return the stable code of the HTTP error ``status``."""
    return HTTP_CODES.get(status, f"http_{status}")


def handle_gridmap_error(exc: GridmapError) -> Response:
    """Render a gridmap error; one of status 500 or more is logged first."""
    if isinstance(exc, BusyError):
        current_app.logger.warning("%s %s: busy: %s", request.method, request.path, exc.message)
    elif exc.status >= 500:
        current_app.logger.error(
            "%s %s: %s", request.method, request.path, exc.message, exc_info=exc
        )
    headers: dict[str, str] = {}
    if getattr(exc, "retry_after", None):
        headers["Retry-After"] = str(exc.retry_after)  # type: ignore[attr-defined]
    if exc.status == 401:  # RFC 9110: a 401 names how to authenticate
        headers["WWW-Authenticate"] = 'Bearer realm="gridmap"'
    return _reply(exc, exc.to_dict(), exc.status, headers)


def handle_http_error(exc: HTTPException) -> Response | HTTPException:
    """Render an HTTP error (404, 405 with ``Allow``, 413 …; a 500 shows nothing of its cause)."""
    status = exc.code or 500
    if status < 400:  # redirects and the like are not errors
        return exc
    message = INTERNAL_MESSAGE if status == 500 else (exc.description or exc.name)
    headers = {
        key: value
        for key, value in exc.get_headers()
        if key.lower() not in ("content-type", "content-length")
    }
    return _reply(exc, error_document(http_code(status), message, status), status, headers)


def wants_html() -> bool:
    """Return whether the error reply should be an HTML page (a browser, outside ``/api``)."""
    if request.path == "/api" or request.path.startswith("/api/"):
        return False
    accept = request.accept_mimetypes
    return accept["text/html"] > accept["application/json"]


def _reply(
    exc: GridmapError | HTTPException,
    doc: dict[str, Any],
    status: int,
    headers: dict[str, str],
) -> Response:
    renderer = find_renderer(request.path)
    resp: Response | None = None
    if renderer is not None:
        try:
            resp = renderer(exc)
        except Exception:  # a broken renderer must not hide the error it was asked to show
            current_app.logger.exception("The error renderer for %s failed", request.path)
    if resp is None:
        resp = _html(doc["error"]) if wants_html() else jsonify(doc)
        resp.status_code = status
    for key, value in headers.items():  # Allow, Retry-After: whoever renders the body
        resp.headers.setdefault(key, value)
    return resp


@lru_cache(maxsize=4)
def _dictionary(lang: str) -> dict[str, str]:
    """Return the browser's UI strings of ``lang`` (web/static/i18n), read once."""
    path = assets.STATIC / "i18n" / f"{lang}.json"
    strings: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return strings


def error_text(error: dict[str, Any], lang: str) -> str:
    """Return what went wrong in ``lang``: the UI's sentence for the code, else the message.

    The sentences are the browser's (``error.code.<code>`` in web/static/i18n/<lang>.json), so
    the page and the map say the same; ``{msg}`` in one is the server's message.
    """
    strings = _dictionary(lang)
    template = strings.get(f"error.code.{error['code']}")
    if template is None:
        return f"{strings.get('error.generic', 'Error')}: {error['message']}"
    values = {"msg": error["message"], "seconds": error.get("retry_after", "")}
    return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))), template)


def _html(error: dict[str, Any]) -> Response:
    first = choose_lang()
    langs = [first, *(lang for lang in LANGS if lang != first)]
    texts = [(lang, error_text(error, lang)) for lang in langs]
    try:
        home = url_for("pages.map_page")
        body = render_template("error.html", lang=first, error=error, texts=texts, home=home)
    except Exception:  # the page of an error must not fail: plain text says the same
        current_app.logger.exception("The error page could not be drawn")
        body = "\n".join(text for _, text in texts)
        return Response(body, mimetype="text/plain")
    return Response(body, mimetype="text/html")
