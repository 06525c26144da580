"""OGC API - Features, Part 1 (Core, GeoJSON): documents built without Flask.

Each function takes the workspace, the service's base URL and plain arguments, and returns a
JSON-ready dict (or GeoJSON text). ``web.app`` adapts requests to these and back, as pygeoapi
does. Collections are the workspace layers with geometry; coordinates are CRS84 (lon, lat).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from gridmap import __version__
from gridmap.access import privacy
from gridmap.errors import LayerNotFoundError
from gridmap.io import geojson
from gridmap.schema import LAYER_ORDER, LAYERS
from gridmap.service.query import Page, layer_page
from gridmap.store import Bbox, Workspace

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000


def _link(href: str, rel: str, type_: str = JSON, title: str | None = None) -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": type_}
    if title:
        link["title"] = title
    return link


def collection_ids(ws: Workspace) -> list[str]:
    """Return the layers served as collections: every layer with geometry."""
    return [name for name in LAYER_ORDER if LAYERS[name].geometry]


def landing(ws: Workspace, base: str) -> dict[str, Any]:
    """Return the landing page."""
    return {
        "title": f"gridmap: {ws.get_meta('title', ws.name)}",
        "description": "Community grid management layers as OGC API - Features. "
        + ws.get_meta("attribution", ""),
        "links": [
            _link(f"{base}/", "self", title="This document"),
            _link(f"{base}/api", "service-desc", OPENAPI, "The API definition (OpenAPI 3.0)"),
            _link(f"{base}/conformance", "conformance", title="Conformance classes"),
            _link(f"{base}/collections", "data", title="Collections"),
        ],
    }


def conformance() -> dict[str, Any]:
    """Return the conformance declaration."""
    return {"conformsTo": CONFORMANCE}


def collection(ws: Workspace, base: str, cid: str) -> dict[str, Any]:
    """Return the description of one collection."""
    if cid not in collection_ids(ws):
        raise LayerNotFoundError(f"There is no collection '{cid}'.")
    layer = LAYERS[cid]
    info = ws.info(cid)
    doc: dict[str, Any] = {
        "id": cid,
        "title": layer.en,
        "description": f"{layer.zh}. {layer.description}",
        "itemType": "feature",
        "crs": [CRS84],
        "links": [
            _link(f"{base}/collections/{cid}", "self"),
            _link(f"{base}/collections/{cid}/items", "items", GEOJSON, "Features"),
        ],
    }
    if info.bounds:
        doc["extent"] = {"spatial": {"bbox": [list(info.bounds)], "crs": CRS84}}
    return doc


def collections(ws: Workspace, base: str) -> dict[str, Any]:
    """Return every collection."""
    return {
        "links": [_link(f"{base}/collections", "self")],
        "collections": [collection(ws, base, cid) for cid in collection_ids(ws)],
    }


def items(
    ws: Workspace,
    base: str,
    cid: str,
    *,
    bbox: Bbox | None,
    limit: int | None,
    offset: int,
    role: str,
) -> Page:
    """Return a page of features with ``self``, ``next`` and ``prev`` links."""
    if cid not in collection_ids(ws):
        raise LayerNotFoundError(f"There is no collection '{cid}'.")
    limit = DEFAULT_LIMIT if limit is None else min(limit, MAX_LIMIT)
    url = f"{base}/collections/{cid}/items"

    def href(off: int) -> str:
        params: dict[str, Any] = {"limit": limit, "offset": off}
        if bbox:
            params["bbox"] = ",".join(repr(float(v)) for v in bbox)
        return f"{url}?{urlencode(params)}"

    count = ws.count(cid, bbox=bbox)
    links = [_link(href(offset), "self", GEOJSON)]
    if offset + limit < count:
        links.append(_link(href(offset + limit), "next", GEOJSON))
    if offset > 0:
        links.append(_link(href(max(0, offset - limit)), "prev", GEOJSON))
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return layer_page(
        ws,
        cid,
        bbox=bbox,
        limit=limit,
        offset=offset,
        role=role,
        extra={"timeStamp": stamp, "links": links},
    )


def item(ws: Workspace, cid: str, fid: int, *, role: str) -> str:
    """Return one feature as GeoJSON text."""
    if cid not in collection_ids(ws):
        raise LayerNotFoundError(f"There is no collection '{cid}'.")
    frame = privacy.mask_frame(ws.feature(cid, fid), cid, role)
    tz = ws.get_meta("timezone", geojson.DEFAULT_TZ)
    return geojson.features(frame, LAYERS[cid].column_names, tz)[0]


def _param(
    name: str, where: str, schema: dict[str, Any], text: str, required: bool = False
) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": schema, "description": text}


def openapi(ws: Workspace, base: str) -> dict[str, Any]:
    """Return the OpenAPI 3.0 definition of this OGC API - Features service."""
    json_ok = {"200": {"description": "OK", "content": {JSON: {}}}}
    geo_ok = {"200": {"description": "OK", "content": {GEOJSON: {}}}}
    missing = {"404": {"description": "No such collection or feature", "content": {JSON: {}}}}
    bad = {"400": {"description": "A parameter is wrong", "content": {JSON: {}}}}
    bbox = _param(
        "bbox",
        "query",
        {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}},
        "minlon,minlat,maxlon,maxlat (CRS84)",
    )
    bbox["style"], bbox["explode"] = "form", False
    limit = _param(
        "limit",
        "query",
        {"type": "integer", "minimum": 0, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        "features per page",
    )
    offset = _param(
        "offset", "query", {"type": "integer", "minimum": 0, "default": 0}, "features to skip"
    )
    paths: dict[str, Any] = {
        "/": {"get": {"summary": "Landing page", "operationId": "landing", "responses": json_ok}},
        "/conformance": {
            "get": {
                "summary": "Conformance classes",
                "operationId": "conformance",
                "responses": json_ok,
            }
        },
        "/collections": {
            "get": {"summary": "Collections", "operationId": "collections", "responses": json_ok}
        },
    }
    for cid in collection_ids(ws):
        layer = LAYERS[cid]
        paths[f"/collections/{cid}"] = {
            "get": {"summary": layer.en, "operationId": f"describe_{cid}", "responses": json_ok}
        }
        paths[f"/collections/{cid}/items"] = {
            "get": {
                "summary": f"{layer.en} ({layer.zh})",
                "operationId": f"items_{cid}",
                "parameters": [bbox, limit, offset],
                "responses": {**geo_ok, **bad},
            }
        }
        paths[f"/collections/{cid}/items/{{featureId}}"] = {
            "get": {
                "summary": f"One feature of {cid}",
                "operationId": f"item_{cid}",
                "parameters": [
                    _param("featureId", "path", {"type": "integer"}, "feature id", True)
                ],
                "responses": {**geo_ok, **missing},
            }
        }
    return {
        "openapi": "3.0.3",
        "info": {"title": f"gridmap: {ws.get_meta('title', ws.name)}", "version": __version__},
        "servers": [{"url": base}],
        "paths": paths,
    }
