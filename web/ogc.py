"""OGC API - Features at ``/ogc``: a thin Flask adapter over :mod:`gridmap.service.ogc`.

Each view turns the Flask request into an :class:`~gridmap.service.ogc.OgcRequest`, calls the
service and turns its :class:`~gridmap.service.ogc.OgcResponse` back into a Flask response.

Errors under ``/ogc`` (a gridmap error raised by the service, an unknown path, a method other
than GET/HEAD/OPTIONS) go through the app's one error handler (:mod:`web.errors`), which asks
:func:`render_error` for the body: the OGC exception document ``{"code", "description"}`` with
the error's stable code and status (405 keeps its ``Allow`` header). The blueprint registers it
as ``("/ogc", render_error)`` in ``app.extensions["gridmap.error_renderers"]`` when it is
registered on an app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, request
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from gridmap.errors import BusyError, GridmapError
from gridmap.service import ogc
from web.auth import EVERYONE, access, allow
from web.common import workspace
from web.errors import INTERNAL_MESSAGE, RENDERERS_KEY, http_code
from web.headers import is_personal_layer, mark_personal

PREFIX = "/ogc"
#: Methods every OGC resource answers; any other gets 405 with this list in ``Allow``.
ALLOWED = ("GET", "HEAD", "OPTIONS")

bp = Blueprint("ogc", __name__, url_prefix=PREFIX)


def render_error(exc: BaseException) -> Response:
    """Return ``exc`` (a gridmap error or an HTTP error) as an OGC exception document."""
    headers: dict[str, str] = {}
    if isinstance(exc, GridmapError):
        reply = ogc.error_response(exc)
        if isinstance(exc, BusyError):
            headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, HTTPException):
        status = exc.code or 500
        text = INTERNAL_MESSAGE if status == 500 else (exc.description or exc.name or "")
        if isinstance(exc, NotFound):
            text = f"There is nothing at {request.path} in this OGC API (its paths: {PREFIX}/api)."
        reply = ogc.exception(http_code(status), text, status)
        if isinstance(exc, MethodNotAllowed):
            headers["Allow"] = ", ".join(exc.valid_methods or ALLOWED)
    else:
        reply = ogc.exception(http_code(500), INTERNAL_MESSAGE, 500)
    resp = _response(reply)
    resp.headers.update(headers)
    return resp


@bp.record_once
def _register_renderer(state: BlueprintSetupState) -> None:
    renderers = state.app.extensions.setdefault(RENDERERS_KEY, [])
    renderers.append((state.url_prefix or PREFIX, render_error))


def _response(reply: ogc.OgcResponse) -> Response:
    resp = Response(reply.body, status=reply.status, content_type=reply.media_type)
    resp.headers.update(reply.headers)
    return resp


def _ogc_request() -> ogc.OgcRequest:
    base = request.url_root.rstrip("/") + (bp.url_prefix or PREFIX)  # keeps a proxy prefix
    return ogc.OgcRequest(base=base, access=access(), args=tuple(request.args.items(multi=True)))


def _rule(rule: str, name: str, endpoint: str | None = None) -> None:
    """Route GET (and HEAD, OPTIONS) of ``rule`` to the service function ``ogc.<name>``."""

    def view(**kwargs: Any) -> Response:
        if name in ("items", "item") and is_personal_layer(kwargs.get("cid", "")):
            mark_personal()  # rows of the register: private, no-store
        func: Callable[..., ogc.OgcResponse] = getattr(ogc, name)  # looked up per call
        return _response(func(workspace(), _ogc_request(), **kwargs))

    view.__doc__ = getattr(ogc, name).__doc__
    bp.add_url_rule(rule, endpoint or name, allow(EVERYONE)(view), methods=["GET"])


_rule("", "landing", "landing_bare")
_rule("/", "landing")
_rule("/api", "openapi")
_rule("/conformance", "conformance")
_rule("/collections", "collections")
_rule("/collections/<cid>", "collection")
_rule("/collections/<cid>/queryables", "queryables")
_rule("/collections/<cid>/schema", "schema")
_rule("/collections/<cid>/schema.xsd", "schema_xsd")
_rule("/collections/<cid>/items", "items")
_rule("/collections/<cid>/items/<fid_text>", "item")
