"""OGC API - Features at ``/ogc``: a thin Flask adapter over :mod:`gridmap.service.ogc`.

Each view turns the Flask request into an :class:`~gridmap.service.ogc.OgcRequest`, calls the
service and turns its :class:`~gridmap.service.ogc.OgcResponse` back into a Flask response.
Every path under ``/ogc`` is matched here, for every method, so that an unknown path (404) or
method (405, with ``Allow``) is answered by this blueprint as an OGC exception document
(``{"code", "description"}``) like every other error of the service.

For the app's error handler, :data:`bp` registers :func:`render_error` under
``app.extensions["gridmap.error_renderers"]`` as ``("/ogc", render_error)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from gridmap.errors import BusyError, GridmapError
from gridmap.service import ogc
from gridmap.store import Workspace

PREFIX = "/ogc"
#: Methods every OGC resource answers; any other gets 405 with this list in ``Allow``.
ALLOWED = ("GET", "HEAD", "OPTIONS")
_ALL_METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]

bp = Blueprint("ogc", __name__, url_prefix=PREFIX)


def render_error(exc: BaseException) -> Response:
    """Return ``exc`` (a gridmap error, an HTTP error or a bug) as an OGC exception document."""
    headers: dict[str, str] = {}
    if isinstance(exc, GridmapError):
        reply = ogc.error_response(exc)
        if isinstance(exc, BusyError):
            headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, HTTPException):
        status = exc.code or 500
        name = (exc.name or "error").lower().replace(" ", "_")
        reply = ogc.exception(name, exc.description or exc.name or "", status)
        if isinstance(exc, MethodNotAllowed):
            headers["Allow"] = ", ".join(exc.valid_methods or ALLOWED)
    else:
        current_app.logger.exception("OGC API request failed: %s", request.path)
        reply = ogc.exception(
            "internal_error", "The server failed to answer; the error is in its log.", 500
        )
    resp = _response(reply)
    resp.headers.update(headers)
    return resp


@bp.record_once
def _register_renderer(state: BlueprintSetupState) -> None:
    renderers = state.app.extensions.setdefault("gridmap.error_renderers", [])
    renderers.append((state.url_prefix or PREFIX, render_error))


bp.register_error_handler(GridmapError, render_error)
bp.register_error_handler(HTTPException, render_error)
bp.register_error_handler(Exception, render_error)


def _response(reply: ogc.OgcResponse) -> Response:
    resp = Response(reply.body, status=reply.status, content_type=reply.media_type)
    resp.headers.update(reply.headers)
    return resp


def _workspace() -> Workspace:
    return current_app.extensions["gridmap.workspace"]


def _ogc_request() -> ogc.OgcRequest:
    role = g.get("role") or current_app.config["ROLE"]
    base = request.url_root.rstrip("/") + (bp.url_prefix or PREFIX)  # keeps a proxy prefix
    return ogc.OgcRequest(base=base, args=tuple(request.args.items(multi=True)), role=role)


def _view(func: Callable[..., ogc.OgcResponse]) -> Callable[..., Response]:
    """Wrap a service function as a view answering GET/HEAD, OPTIONS, and 405 otherwise."""

    def view(**kwargs: Any) -> Response:
        if request.method == "OPTIONS":
            return Response(status=204, headers={"Allow": ", ".join(ALLOWED)})
        if request.method not in ALLOWED:
            raise MethodNotAllowed(valid_methods=list(ALLOWED))
        return _response(func(_workspace(), _ogc_request(), **kwargs))

    view.__name__ = func.__name__
    view.__doc__ = func.__doc__
    return view


def _rule(rule: str, func: Callable[..., ogc.OgcResponse], endpoint: str | None = None) -> None:
    bp.add_url_rule(
        rule,
        endpoint or func.__name__,
        _view(func),
        methods=_ALL_METHODS,
        provide_automatic_options=False,
        strict_slashes=True,
    )


def _not_found(rest: str = "") -> Response:
    raise NotFound(f"There is nothing at {PREFIX}/{rest} in this OGC API.")


_rule("", ogc.landing, "landing_bare")
_rule("/", ogc.landing)
_rule("/api", ogc.openapi)
_rule("/conformance", ogc.conformance)
_rule("/collections", ogc.collections)
_rule("/collections/<cid>", ogc.collection)
_rule("/collections/<cid>/queryables", ogc.queryables)
_rule("/collections/<cid>/schema", ogc.schema)
_rule("/collections/<cid>/schema.xsd", ogc.schema_xsd)
_rule("/collections/<cid>/items", ogc.items)
_rule("/collections/<cid>/items/<fid_text>", ogc.item)
bp.add_url_rule(
    "/<path:rest>", "not_found", _not_found, methods=_ALL_METHODS, provide_automatic_options=False
)
