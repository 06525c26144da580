"""What every blueprint needs of the request: the workspace, the role, the language, parameters.

These parse; they decide nothing. A bad value raises :class:`gridmap.errors.InputError`, which the
app's error handler (:mod:`web.errors`) turns into the one error shape.
"""

from __future__ import annotations

from flask import Response, current_app, request

from gridmap.errors import InputError
from gridmap.store import Bbox, Workspace

LANGS = ("zh-CN", "en")
#: The largest whole number a query parameter (limit, offset) may hold.
MAX_QUERY_INT = 10**9
#: The key of the served workspace in ``app.extensions``.
WORKSPACE_KEY = "gridmap.workspace"


def workspace() -> Workspace:
    """Return the workspace of the running app."""
    ws: Workspace = current_app.extensions[WORKSPACE_KEY]
    return ws


def choose_lang() -> str:
    """Return the page language: ?lang=, else zh-CN unless the browser prefers English."""
    asked = request.args.get("lang")
    if asked in LANGS:
        return asked
    if not request.accept_languages:
        return "zh-CN"
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"], default="zh-CN")
    return "en" if best == "en" else "zh-CN"


def parse_bbox(text: str | None) -> Bbox | None:
    """Return the bbox of a ``minlon,minlat,maxlon,maxlat`` query value (degrees, EPSG:4326)."""
    if not text:
        return None
    parts = text.split(",")
    if len(parts) != 4:
        raise InputError(
            "bbox must be minlon,minlat,maxlon,maxlat (four numbers). "
            "(bbox 应为 最小经度,最小纬度,最大经度,最大纬度 四个数。)"
        )
    try:
        minx, miny, maxx, maxy = (float(p) for p in parts)
    except ValueError as exc:
        raise InputError(f"bbox must be four numbers, not '{text}'. (bbox 应为四个数。)") from exc
    return minx, miny, maxx, maxy


def parse_int(name: str, default: int | None) -> int | None:
    """Return the whole-number query parameter ``name`` (0 to :data:`MAX_QUERY_INT`)."""
    text = request.args.get(name)
    if text in (None, ""):
        return default
    try:
        value = int(text)
    except ValueError as exc:
        raise InputError(f"{name} must be a whole number, not '{text}'.") from exc
    if not 0 <= value <= MAX_QUERY_INT:
        raise InputError(
            f"{name} must be between 0 and {MAX_QUERY_INT:,}. ({name} 应在 0 到 {MAX_QUERY_INT:,} 之间。)"
        )
    return value


def geojson_response(text: str, status: int = 200) -> Response:
    """Return GeoJSON text as a reply (its cache rules: :func:`web.headers.revalidated`)."""
    return Response(text, status=status, mimetype="application/geo+json")
