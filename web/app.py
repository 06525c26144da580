"""The Flask app: the map page, the JSON API and OGC API - Features over one workspace.

``create_app(config)`` does no work at import time. Routes parse the request, call gridmap and
render the answer; every :class:`gridmap.errors.GridmapError` becomes one JSON error shape with
its HTTP status.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from werkzeug.exceptions import HTTPException

from gridmap.access.privacy import MASK, can_see_personal
from gridmap.errors import GridmapError, InputError
from gridmap.io.export import export_layer
from gridmap.schema import LAYER_ORDER, LAYERS, Layer, choice_titles, get_layer
from gridmap.service.query import layer_page
from gridmap.store import Bbox, Workspace, open_workspace
from web import assets, ogc
from web.tiles import parse_tiles

LANGS = ("zh-CN", "en")
MAX_QUERY_INT = 10**9
EXPORT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
    "shp": "application/zip",
}


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Create the app for ``config["WORKSPACE"]`` (a workspace path or a Workspace object).

    Other settings: ``TILES`` (list from :func:`web.tiles.parse_tiles`, default none),
    ``ROLE`` (the role of every request until accounts arrive; default "viewer").
    """
    app = Flask(
        __name__, static_folder=str(assets.STATIC), template_folder=str(assets.WEB / "templates")
    )
    app.config.update(TILES=[], ROLE="viewer", JSON_AS_ASCII=False)
    app.config.update(config or {})
    if "WORKSPACE" not in app.config:
        raise InputError("create_app needs config['WORKSPACE']: the path of a workspace.")
    ws = app.config["WORKSPACE"]
    app.extensions["gridmap.workspace"] = ws if isinstance(ws, Workspace) else open_workspace(ws)
    if isinstance(app.config["TILES"], str):
        app.config["TILES"] = parse_tiles(app.config["TILES"])
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    @app.errorhandler(GridmapError)
    def gridmap_error(exc: GridmapError) -> tuple[Response, int]:
        return jsonify(exc.to_dict()), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response | tuple[Response, int]:
        if request.path.startswith(("/api/", "/ogc")):
            return jsonify({"error": exc.name, "message": exc.description}), exc.code or 500
        return exc.get_response()

    @app.context_processor
    def helpers() -> dict[str, Any]:
        return {"asset": asset_url, "vendor": vendor_url}

    @app.after_request
    def compress_and_cache(resp: Response) -> Response:
        return _finish(resp)

    register_routes(app)
    return app


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
    """Give hashed static URLs a long cache life; gzip large JSON and text replies."""
    if request.path.startswith("/static/") and request.args.get("v") and resp.status_code == 200:
        resp.cache_control.max_age = 31536000
        resp.cache_control.public = True
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
        if resp.get_etag()[0]:
            resp.set_etag(resp.get_etag()[0] + "-gz")
    return resp


def workspace() -> Workspace:
    """Return the workspace of the running app."""
    return current_app.extensions["gridmap.workspace"]


def asset_url(path: str) -> str:
    """Return the URL of a file under web/static with a content-hash query."""
    return url_for("static", filename=path, v=assets.content_hash(assets.STATIC / path))


def vendor_url(path: str) -> str:
    """Return the URL of a file of an npm package under web/node_modules."""
    return url_for("vendor", filename=path, v=assets.content_hash(assets.NODE_MODULES / path))


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
    """Return the bbox of a ``minlon,minlat,maxlon,maxlat`` query value."""
    if not text:
        return None
    parts = text.split(",")
    if len(parts) != 4:
        raise InputError("bbox must be minlon,minlat,maxlon,maxlat (four numbers).")
    try:
        minx, miny, maxx, maxy = (float(p) for p in parts)
    except ValueError as exc:
        raise InputError(f"bbox must be four numbers, not '{text}'.") from exc
    return minx, miny, maxx, maxy


def parse_int(name: str, default: int | None) -> int | None:
    """Return an integer query parameter."""
    text = request.args.get(name)
    if text in (None, ""):
        return default
    try:
        value = int(text)
    except ValueError as exc:
        raise InputError(f"{name} must be a whole number, not '{text}'.") from exc
    if not 0 <= value <= MAX_QUERY_INT:
        raise InputError(f"{name} must be between 0 and {MAX_QUERY_INT:,}.")
    return value


def role() -> str:
    """Return the role of the current request."""
    return g.get("role") or current_app.config["ROLE"]


def _layer_doc(layer: Layer, info: Any) -> dict[str, Any]:
    return {
        "name": layer.name,
        "title": {"en": layer.en, "zh-CN": layer.zh},
        "description": layer.description,
        "geometry": layer.geometry,
        "located_by": list(layer.located_by) if layer.located_by else None,
        "count": info.count,
        "bounds": list(info.bounds) if info.bounds else None,
        "version": info.version,
        "columns": [
            {
                "name": c.name,
                "type": c.type,
                "unit": c.unit,
                "title": {"en": c.en, "zh-CN": c.zh},
                "personal": c.personal or bool(c.personal_values),
                "choices": list(c.choices) if c.choices else None,
                "choice_titles": {
                    code: {"en": en, "zh-CN": zh}
                    for code, (en, zh) in choice_titles(layer.name, c.name).items()
                }
                or None,
            }
            for c in layer.columns
        ],
    }


def _geojson(text: str, status: int = 200, etag: str | None = None) -> Response:
    resp = Response(text, status=status, mimetype="application/geo+json")
    if etag:
        resp.set_etag(etag)
        resp.headers["Cache-Control"] = "no-cache"
    return resp


def register_routes(app: Flask) -> None:
    """Attach every route to ``app``."""

    @app.get("/")
    def map_page() -> str:
        return render_template("map.html", lang=choose_lang())

    @app.get("/vendor/<path:filename>")
    def vendor(filename: str) -> Response:
        if not assets.vendor_allowed(filename):
            abort(404)
        resp = send_from_directory(
            assets.NODE_MODULES, filename, max_age=31536000 if request.args.get("v") else 0
        )
        return resp

    @app.get("/api/workspace")
    def api_workspace() -> Response:
        ws = workspace()
        meta = ws.meta()
        infos = {li.name: li for li in ws.layers()}
        minx, miny, maxx, maxy = ws.bounds()
        return jsonify(
            {
                "name": ws.name,
                "title": meta.get("title", ws.name),
                "bounds": [minx, miny, maxx, maxy],
                "center": [(minx + maxx) / 2, (miny + maxy) / 2],
                "attribution": meta.get("attribution", ""),
                "synthetic": bool(meta.get("synthetic", False)),
                "synthetic_note": meta.get("synthetic_note"),
                "timezone": meta.get("timezone", "Asia/Shanghai"),
                "masked_value": MASK,
                "role": role(),
                "personal_visible": can_see_personal(role()),
                "layers": [_layer_doc(LAYERS[n], infos[n]) for n in LAYER_ORDER],
                "tiles": current_app.config["TILES"],
            }
        )

    @app.get("/api/layers/<name>")
    def api_layer(name: str) -> Response:
        ws = workspace()
        get_layer(name)  # 404 before anything else
        key = f"{ws.stamp()}|{name}|{role()}|{request.query_string.decode(errors='replace')}"
        etag = hashlib.sha1(key.encode()).hexdigest()[:20]
        if etag in request.if_none_match or f"{etag}-gz" in request.if_none_match:
            return Response(status=304)
        page = layer_page(
            ws,
            name,
            bbox=parse_bbox(request.args.get("bbox")),
            limit=parse_int("limit", None),
            offset=parse_int("offset", 0) or 0,
            role=role(),
        )
        return _geojson(page.text, etag=etag)

    @app.get("/api/layers/<name>/export")
    def api_export(name: str) -> Response:
        fmt = request.args.get("format", "xlsx")
        if fmt not in EXPORT_TYPES:
            raise InputError(f"format must be one of {', '.join(EXPORT_TYPES)}.")
        lang = request.args.get("lang", choose_lang())
        with tempfile.TemporaryDirectory(prefix="gridmap-export-") as tmp:
            ext = "zip" if fmt == "shp" else fmt
            out = export_layer(
                workspace(),
                name,
                Path(tmp) / f"{name}.{'shp' if fmt == 'shp' else ext}",
                fmt=fmt,  # type: ignore[arg-type]
                role=role(),
                lang="zh-CN" if lang == "zh-CN" else "en",
                bbox=parse_bbox(request.args.get("bbox")),
            )
            if fmt == "shp":  # a Shapefile is several files: send them zipped
                data = io.BytesIO()
                with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as zf:
                    for f in sorted(Path(tmp).iterdir()):
                        zf.write(f, f.name)
                body = data.getvalue()
            else:
                body = out.read_bytes()
        resp = Response(body, mimetype=EXPORT_TYPES[fmt])
        resp.headers["Content-Disposition"] = f'attachment; filename="{name}.{ext}"'
        return resp

    @app.get("/api/health")
    def health() -> Response:
        return jsonify({"status": "ok", "missing_vendor": assets.missing_vendor()})

    # -- OGC API - Features: the blueprint of web/ogc.py --------------------------------------
    app.register_blueprint(ogc.bp)
