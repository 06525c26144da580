"""The Flask app factory: one workspace, the blueprints, one error handler.

``create_app(config)`` does no work at import time. The routes live in blueprints, each view a
thin adapter over :mod:`gridmap.service`: :mod:`web.pages` (the map page, the browser
libraries), :mod:`web.api` (``/api/...``: workspace, layers, export, health). Every error becomes
one shape, or the format of its path (:mod:`web.errors`). The OGC API - Features routes are still
registered here by :func:`register_routes`.
"""

from __future__ import annotations

import gzip
import weakref
from typing import Any

from flask import Flask, Response, request

from gridmap.errors import InputError
from gridmap.store import Workspace, open_workspace
from web import (
    admin,
    api,
    assets,
    auth,
    clusters,
    edit,
    errors,
    find,
    headers,
    jobs,
    login,
    ogc,
    openapi,
    pages,
    planning,
    table,
)
from web import print as printing
from web.common import WORKSPACE_KEY, parse_bbox, parse_int, workspace
from web.tiles import parse_tiles

__all__ = ["close_app", "create_app", "parse_bbox", "parse_int", "workspace"]

#: The largest request body (bytes) the app reads: edits and uploads are far smaller.
MAX_BODY_BYTES = 16 * 1024 * 1024

#: The key, in ``app.extensions``, of the finalizer that closes a workspace the app opened.
CLOSE_KEY = "gridmap.close_workspace"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Create the app for ``config["WORKSPACE"]`` (a workspace path or a Workspace object).

    Other settings: ``TILES`` (list from :func:`web.tiles.parse_tiles`, or its text; default
    none), ``SECRET_KEY`` (signs session cookies; default: a key kept in the workspace),
    ``MAX_CONTENT_LENGTH`` (bytes of a request body; default :data:`MAX_BODY_BYTES`).

    A workspace given by path is opened here and closed by :func:`close_app` (or when the app
    is garbage-collected, or at exit); a Workspace object stays its caller's to close.
    """
    app = Flask(
        __name__, static_folder=str(assets.STATIC), template_folder=str(assets.WEB / "templates")
    )
    app.config.update(
        TILES=[],
        JSON_AS_ASCII=False,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        SESSION_COOKIE_NAME="gridmap_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=12 * 3600,  # a working day, from signing in
        SESSION_REFRESH_EACH_REQUEST=False,
    )
    app.config.update(config or {})
    if "WORKSPACE" not in app.config:
        raise InputError("create_app needs config['WORKSPACE']: the path of a workspace.")
    if isinstance(app.config["TILES"], str):
        app.config["TILES"] = parse_tiles(app.config["TILES"])
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    given = app.config["WORKSPACE"]
    if isinstance(given, Workspace):
        app.extensions[WORKSPACE_KEY] = given
    else:
        ws = open_workspace(given)
        app.extensions[WORKSPACE_KEY] = ws
        app.extensions[CLOSE_KEY] = weakref.finalize(app, _close_workspace, ws)

    errors.init_app(app)
    auth.init_app(app)
    app.after_request(_finish)
    headers.init_app(app)  # after _finish: runs before it (hashes the page before any gzip)
    app.register_blueprint(pages.bp)
    app.register_blueprint(login.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(edit.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(jobs.bp)
    app.register_blueprint(table.bp)
    app.register_blueprint(printing.bp)
    app.register_blueprint(find.bp)
    app.register_blueprint(clusters.bp)
    app.register_blueprint(planning.bp)
    register_routes(app)
    return app


def close_app(app: Flask) -> None:
    """Close the workspace that :func:`create_app` opened for ``app`` (once; later calls do nothing)."""
    finalizer = app.extensions.get(CLOSE_KEY)
    if finalizer is not None:
        finalizer()


def _close_workspace(ws: Workspace) -> None:
    close = getattr(ws, "close", None)
    if callable(close):
        close()


#: Responses larger than this are gzipped for clients that accept it (layers can be 10 MB).
GZIP_MIN_BYTES = 16 * 1024
_COMPRESSIBLE = (
    "application/json",
    "application/geo+json",
    "text/html",
    "text/css",
    "text/javascript",
)


def _finish(resp: Response) -> Response:
    """Gzip large JSON and text replies (cache rules: :mod:`web.headers`; the browser
    libraries are gzipped ahead of time: :func:`web.pages.vendor`)."""
    if (
        resp.status_code == 200
        and not resp.direct_passthrough
        and resp.mimetype in _COMPRESSIBLE
        and "Content-Encoding" not in resp.headers
        and "gzip" in request.accept_encodings
        and (resp.content_length or 0) >= GZIP_MIN_BYTES
    ):
        resp.set_data(gzip.compress(resp.get_data(), compresslevel=1))
        resp.headers["Content-Encoding"] = "gzip"
        resp.vary.add("Accept-Encoding")
        etag = resp.get_etag()[0]
        if etag:
            resp.set_etag(etag + "-gz")
    return resp


def register_routes(app: Flask) -> None:
    """Attach the OGC API - Features routes to ``app`` (the other routes are in blueprints)."""

    # -- OGC API - Features: the blueprint of web/ogc.py --------------------------------------
    app.register_blueprint(ogc.bp)
