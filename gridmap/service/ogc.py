"""OGC API - Features (Part 1 Core, GeoJSON; Part 2 CRS; queryables as query parameters).

The API logic knows nothing of Flask, as in pygeoapi: each function takes the workspace and an
:class:`OgcRequest` (the service's base URL, the query parameters in order, who asks)
and returns an :class:`OgcResponse` (status, media type, headers, body). ``web.ogc`` adapts HTTP
to these and back. Errors are raised as :mod:`gridmap.errors` classes; :func:`exception`
renders one as the OGC exception document.

Collections are the workspace layers with geometry. Coordinates are CRS84 (longitude, latitude,
degrees) unless ``crs`` asks for EPSG:4326 (latitude, longitude). Personal data is masked for
the role exactly as in every other reply (:mod:`gridmap.access.privacy`).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import geopandas as gpd
import pandas as pd

from gridmap.access import privacy
from gridmap.access.roles import Access
from gridmap.errors import (
    AuthenticationError,
    FeatureNotFoundError,
    GridmapError,
    InputError,
    LayerNotFoundError,
    PermissionDeniedError,
)
from gridmap.io import geojson
from gridmap.schema import LAYER_ORDER, LAYERS, STORAGE_CRS, Layer
from gridmap.service import feature_ids, ogc_schema, scope, stamps
from gridmap.service import ogc_params as params
from gridmap.service.query import FramePage, encode_page, read_page, swap_axes
from gridmap.store import LayerInfo, Workspace

JSON = "application/json"
GEOJSON = "application/geo+json"
SCHEMA_JSON = "application/schema+json"
XML = "application/xml"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
REL_QUERYABLES = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
REL_SCHEMA = "http://www.opengis.net/def/rel/ogc/1.0/schema"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/schemas",
]
TRS_GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"


@dataclass(frozen=True)
class OgcRequest:
    """What the API logic needs of an HTTP request.

    ``base`` is the URL of the service root (``http://host/ogc``, keeping any proxy prefix);
    ``args`` the query parameters in the order given, repeats kept; ``access`` who asks.
    """

    base: str
    access: Access
    args: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class OgcResponse:
    """A reply: HTTP status, media type, extra headers and the body text."""

    status: int
    media_type: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)


def _json(doc: Any, media_type: str = JSON, headers: dict[str, str] | None = None) -> OgcResponse:
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    return OgcResponse(200, media_type, text, headers or {})


def _link(href: str, rel: str, type_: str = JSON, title: str | None = None) -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": type_}
    if title:
        link["title"] = title
    return link


def exception(code: str, description: str, status: int) -> OgcResponse:
    """Return the OGC API exception document (``{"code", "description"}``) as a reply."""
    doc = {"code": code, "description": description, "status": status}
    return OgcResponse(status, JSON, json.dumps(doc, ensure_ascii=False))


def error_response(exc: GridmapError) -> OgcResponse:
    """Return a gridmap error as the OGC exception document with its HTTP status."""
    return exception(exc.code, exc.message, exc.status)


def collection_ids(access: Access | None = None) -> list[str]:
    """Return the layers served as collections, in drawing order: every layer with geometry,
    and attribute tables placed by another layer (people: each feature is at its household's
    point, and ``bbox`` selects them by where their household is).

    With ``access``, only those it may read.
    """
    names = [name for name in LAYER_ORDER if LAYERS[name].geometry or LAYERS[name].located_by]
    if access is None:
        return names
    return [name for name in names if scope.serves(access, name) and _placed(access, name)]


def _placed(access: Access, name: str) -> bool:
    """Return whether ``access`` gets the rows of ``name`` with a place (masked visits: not)."""
    served = privacy.served_layer(name, access)
    return bool(served.geometry or served.located_by)


def _layer(cid: str, access: Access) -> Layer:
    """Return the collection's layer; 404 for none, 401/403 for one ``access`` may not read."""
    if cid not in collection_ids():
        known = ", ".join(collection_ids(access))
        raise LayerNotFoundError(f"There is no collection '{cid}'. Collections: {known}.")
    scope.require(access, cid)
    if not _placed(access, cid):
        raise PermissionDeniedError(
            f"Your role ({access.role}) gets '{cid}' without their place, so they are no "
            f"features here: read them at /api/layers/{cid}."
        )
    return LAYERS[cid]


def _no_params(req: OgcRequest) -> None:
    params.check_known(req.args, ())


def landing(ws: Workspace, req: OgcRequest) -> OgcResponse:
    """Return the landing page."""
    _no_params(req)
    base = req.base
    return _json(
        {
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
    )


def conformance(ws: Workspace, req: OgcRequest) -> OgcResponse:
    """Return the conformance declaration."""
    _no_params(req)
    return _json({"conformsTo": CONFORMANCE})


# -- collections ------------------------------------------------------------------------------

_temporal_cache: dict[tuple[str, str], list[str | None]] = {}
_temporal_lock = threading.Lock()


def _temporal_extent(ws: Workspace, layer: Layer) -> list[str | None] | None:
    """Return [first, last] instant of the layer's time column (UTC), cached per workspace state."""
    column = params.time_column(layer)
    if column is None:
        return None
    key = (stamps.content(ws), layer.name)
    with _temporal_lock:
        if key in _temporal_cache:
            return _temporal_cache[key]
    values = pd.Series(ws.read(layer.name, columns=[column.name])[column.name]).dropna()
    extent: list[str | None] = [None, None]
    if len(values):
        extent = [
            pd.Timestamp(v).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
            for v in (values.min(), values.max())
        ]
    with _temporal_lock:
        if len(_temporal_cache) > 64:
            _temporal_cache.clear()
        _temporal_cache[key] = extent
    return extent


def _collection_doc(ws: Workspace, base: str, layer: Layer, info: LayerInfo) -> dict[str, Any]:
    cid = layer.name
    url = f"{base}/collections/{cid}"
    doc: dict[str, Any] = {
        "id": cid,
        "title": layer.en,
        "description": f"{layer.zh}. {layer.description}",
        "itemType": "feature",
        "crs": list(params.SUPPORTED_CRS),
        "storageCrs": params.CRS84,
        "links": [
            _link(url, "self"),
            _link(f"{url}/items", "items", GEOJSON, "Features"),
            _link(f"{url}/queryables", REL_QUERYABLES, SCHEMA_JSON, "Queryable properties"),
            _link(f"{url}/schema", REL_SCHEMA, SCHEMA_JSON, "Feature schema (JSON Schema)"),
            _link(f"{url}/schema", "describedby", SCHEMA_JSON, "Feature schema (JSON Schema)"),
            # GDAL's OAPIF driver (3.6 compares the relation case-sensitively as 'describedBy';
            # relation types are case-insensitive, RFC 8288) types its fields from an XML
            # Schema, and its JSON Schema reading has no 64-bit integers.
            _link(f"{url}/schema.xsd", "describedBy", XML, "Feature schema (GML application)"),
        ],
        "extent": {},
    }
    if info.bounds:
        doc["extent"]["spatial"] = {"bbox": [list(info.bounds)], "crs": params.CRS84}
    temporal = _temporal_extent(ws, layer)
    if temporal is not None:
        column = params.time_column(layer)
        doc["extent"]["temporal"] = {"interval": [temporal], "trs": TRS_GREGORIAN}
        doc["datetimeProperty"] = column.name if column else None
        doc["description"] += f" datetime filters on '{doc['datetimeProperty']}'."
    if not doc["extent"]:
        del doc["extent"]
    return doc


def collections(ws: Workspace, req: OgcRequest) -> OgcResponse:
    """Return every collection, from one pass over the workspace's layer table."""
    _no_params(req)
    if not req.access.signed_in and not collection_ids(req.access):
        raise AuthenticationError(  # a 401 tells GDAL and QGIS users why they see nothing
            "Nothing here is open to readers who are not signed in: send an API token "
            "(Authorization: Bearer …; GDAL: GDAL_HTTP_HEADERS)."
        )
    infos = {li.name: li for li in ws.layers()}
    return _json(
        {
            "links": [_link(f"{req.base}/collections", "self")],
            "crs": list(params.SUPPORTED_CRS),
            "collections": [
                _collection_doc(ws, req.base, LAYERS[cid], infos[cid])
                for cid in collection_ids(req.access)
            ],
        }
    )


def collection(ws: Workspace, req: OgcRequest, cid: str) -> OgcResponse:
    """Return the description of one collection."""
    layer = _layer(cid, req.access)
    _no_params(req)
    return _json(_collection_doc(ws, req.base, layer, ws.info(cid)))


def queryables(ws: Workspace, req: OgcRequest, cid: str) -> OgcResponse:
    """Return the queryable properties of a collection for the caller's role."""
    layer = _layer(cid, req.access)
    _no_params(req)
    url = f"{req.base}/collections/{cid}/queryables"
    return _json(ogc_schema.queryables_schema(layer, url, req.access), SCHEMA_JSON)


def schema(ws: Workspace, req: OgcRequest, cid: str) -> OgcResponse:
    """Return the JSON Schema of a collection's features as served to the caller's role."""
    layer = _layer(cid, req.access)
    _no_params(req)
    url = f"{req.base}/collections/{cid}/schema"
    return _json(ogc_schema.feature_schema(layer, url, req.access), SCHEMA_JSON)


def schema_xsd(ws: Workspace, req: OgcRequest, cid: str) -> OgcResponse:
    """Return the GML application schema (XML Schema) of a collection's features."""
    layer = _layer(cid, req.access)
    _no_params(req)
    text = ogc_schema.feature_xsd(layer, req.access, f"{req.base}/collections")
    return OgcResponse(200, XML, text)


# -- features ---------------------------------------------------------------------------------


def _content_crs(crs: str) -> dict[str, str]:
    return {"Content-Crs": f"<{crs}>"}


def items(ws: Workspace, req: OgcRequest, cid: str) -> OgcResponse:
    """Return a page of a collection's features with ``self``, ``next`` and ``prev`` links.

    Parameters
    ----------
    ws
        The workspace.
    req
        The request. Its query parameters: ``bbox`` (features whose geometry meets the box;
        degrees, CRS84 unless ``bbox-crs`` is EPSG:4326), ``datetime`` (on the layer's time
        column), ``column=value`` for each queryable of the caller's role, ``crs`` of the
        coordinates returned, ``limit`` (default :data:`ogc_params.DEFAULT_LIMIT`, at most
        :data:`ogc_params.MAX_LIMIT`) and ``offset``.
    cid
        The collection (layer) id.

    Returns
    -------
    OgcResponse
        A GeoJSON FeatureCollection, masked for the role, with ``numberMatched``,
        ``numberReturned`` and links (``next`` exactly when more features follow); headers
        ``Content-Crs`` and ``Link``.

    Raises
    ------
    LayerNotFoundError
        No such collection (404).
    InputError
        A parameter is unknown, repeated or wrong (400).
    """
    layer = _layer(cid, req.access)
    allowed = params.items_params(layer, req.access)
    for name, _ in req.args:
        if name in layer.column_names and name not in allowed:
            if layer.column(name).type in ("date", "datetime"):
                raise InputError(f"'{name}' is a time: filter it with datetime=….")
            raise InputError(
                f"Features cannot be filtered on '{name}': it is personal data, which your role "
                f"({req.access.role}) sees masked."
            )
    given = params.check_known(req.args, allowed)
    crs = params.parse_crs(given.get("crs"))
    bbox_crs = params.parse_crs(given.get("bbox-crs"))
    if "bbox-crs" in given and "bbox" not in given:
        raise InputError("bbox-crs names the CRS of a bbox: give the bbox too.")
    boxes = params.parse_bbox(given.get("bbox"), bbox_crs)
    limit = params.parse_limit(given.get("limit"))
    offset = params.parse_int("offset", given.get("offset"), 0, params.MAX_OFFSET)
    tz = ws.get_meta("timezone", geojson.DEFAULT_TZ)
    period = params.parse_datetime(given.get("datetime"), tz)
    names = set(params.filter_names(layer, req.access))
    filters = params.parse_filters(
        {k: v for k, v in given.items() if k in names}, layer, req.access
    )
    where = scope.scoped_where(ws, req.access, cid, filters)
    scope.check_bbox(req.access, cid, boxes)
    keep = None
    if period is not None:
        column = params.time_column(layer)
        assert column is not None  # datetime is only accepted on layers with one
        keep = _period_filter(period, column.name)
    if feature_ids.opaque(cid, req.access):  # ids and order that tell nothing hidden
        rows, matched = feature_ids.served_page(
            ws,
            cid,
            access=req.access,
            boxes=boxes,
            where=where or None,
            keep=keep,
            limit=limit,
            offset=offset,
        )
        page = FramePage(rows, matched, offset + len(rows) < matched)
    else:
        page = read_page(
            ws, cid, boxes=boxes, where=where or None, keep=keep, limit=limit, offset=offset
        )
    frame = placed(ws, layer, page.frame)

    url = f"{req.base}/collections/{cid}/items"
    rest = {k: v for k, v in given.items() if k not in ("limit", "offset")}

    def href(off: int) -> str:
        return f"{url}?{urlencode({**rest, 'limit': limit, 'offset': off}, quote_via=quote)}"

    links = [
        _link(href(offset), "self", GEOJSON, "This page"),
        _link(f"{req.base}/collections/{cid}", "collection", JSON, layer.en),
    ]
    if page.more and limit > 0:
        links.append(_link(href(offset + limit), "next", GEOJSON, "Next page"))
    if offset > 0 and limit > 0:
        links.append(_link(href(max(0, offset - limit)), "prev", GEOJSON, "Previous page"))
    members: dict[str, Any] = {"timeStamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    members["numberMatched"] = page.matched
    members["numberReturned"] = len(page.frame)
    members["links"] = links
    text = encode_page(
        ws, cid, frame, access=req.access, members=members, crs_swap=crs == params.EPSG4326
    )
    logged = {  # a personal value asked for is kept masked in the access log
        k: privacy.logged_value(layer, k, v) if k in layer.column_names else v
        for k, v in given.items()
    }
    scope.record(ws, req.access, cid, len(page.frame), action="ogc items", filter=logged)
    queryables_link = _link(
        f"{req.base}/collections/{cid}/queryables", REL_QUERYABLES, SCHEMA_JSON, "Queryables"
    )
    headers = {**_content_crs(crs), "Link": _link_header([*links, queryables_link])}
    return OgcResponse(200, GEOJSON, text, headers)


def placed(ws: Workspace, layer: Layer, frame: pd.DataFrame) -> pd.DataFrame:
    """Return rows of an attribute table placed by another layer with that layer's geometry.

    People get their household's point (EPSG:4326); a layer with geometry is returned as it is.
    """
    if layer.geometry or not layer.located_by:
        return frame
    by, key = layer.located_by
    keys = sorted(set(frame[key].dropna())) if len(frame) else []
    parents = ws.read(by, where={key: keys}, columns=(key,), system=False) if keys else None
    points = {} if parents is None else dict(zip(parents[key], parents.geometry, strict=True))
    return gpd.GeoDataFrame(frame, geometry=[points.get(k) for k in frame[key]], crs=STORAGE_CRS)


def _link_header(links: list[dict[str, str]]) -> str:
    """Return links as an HTTP ``Link`` header (RFC 8288); hrefs carry no raw comma."""
    return ", ".join(
        f'<{link["href"].replace(",", "%2C")}>; rel="{link["rel"]}"; type="{link["type"]}"'
        for link in links
    )


def _period_filter(period: params.Period, column: str) -> Any:
    def keep(frame: pd.DataFrame) -> pd.Series:
        return period.mask(frame[column])

    return keep


def item(ws: Workspace, req: OgcRequest, cid: str, fid_text: str) -> OgcResponse:
    """Return one feature, with links to itself and its collection."""
    layer = _layer(cid, req.access)
    given = params.check_known(req.args, ("crs",))
    crs = params.parse_crs(given.get("crs"))
    fid = feature_ids.stored_id(ws, cid, req.access, fid_text)  # a masked reader's token
    where = scope.scoped_where(ws, req.access, cid, {"fid": fid})
    frame = ws.read(cid, where=where, system=False) if fid is not None else None
    if frame is None or frame.empty:
        raise FeatureNotFoundError(f"Collection '{cid}' has no feature '{fid_text}'.")
    scope.record(ws, req.access, cid, 1, action="ogc item", filter={"fid": fid})
    served_id = feature_ids.served_ids(ws, cid, req.access, frame.index)
    frame = privacy.present(placed(ws, layer, frame), layer, req.access)
    if crs == params.EPSG4326:
        frame = swap_axes(frame)
    tz = ws.get_meta("timezone", geojson.DEFAULT_TZ)
    columns = privacy.served_layer(layer, req.access).column_names
    text = geojson.features(frame, columns, tz, ids=served_id)[0]
    url = f"{req.base}/collections/{cid}"
    own = f"{url}/items/{served_id[0]}" + (f"?{urlencode({'crs': crs})}" if "crs" in given else "")
    links = [
        _link(own, "self", GEOJSON, "This feature"),
        _link(url, "collection", JSON, layer.en),
    ]
    text = text[:-1] + ',"links":' + json.dumps(links, ensure_ascii=False) + "}"
    return OgcResponse(200, GEOJSON, text, _content_crs(crs))


def openapi(ws: Workspace, req: OgcRequest) -> OgcResponse:
    """Return the OpenAPI 3.0 definition of the service, for the caller's role."""
    from gridmap.service.ogc_openapi import definition

    _no_params(req)
    return _json(definition(ws, req.base, req.access), OPENAPI)
