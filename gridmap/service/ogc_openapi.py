"""The OpenAPI 3.0 definition of the OGC API - Features service.

Shared parameters live in ``components/parameters`` and the items paths refer to them with
``$ref``: GDAL's OAPIF driver (3.8 and later) takes its page size from the ``limit`` parameter
found that way (the larger of 1000 and ``default``, at most ``maximum``). Property filters are
declared per collection and per role, so the definition lists exactly what the caller may send;
anything else gets a 400.
"""

from __future__ import annotations

from typing import Any

from gridmap import __version__
from gridmap.access.roles import Access
from gridmap.schema import LAYERS
from gridmap.service import ogc_params as params
from gridmap.service.ogc_schema import property_schema
from gridmap.store import Workspace

JSON = "application/json"
GEOJSON = "application/geo+json"
SCHEMA_JSON = "application/schema+json"
XML = "application/xml"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"

_LINK = {
    "type": "object",
    "required": ["href", "rel"],
    "properties": {
        "href": {"type": "string"},
        "rel": {"type": "string"},
        "type": {"type": "string"},
        "title": {"type": "string"},
    },
}
_LINKS = {"type": "array", "items": {"$ref": "#/components/schemas/link"}}
_SCHEMAS: dict[str, Any] = {
    "link": _LINK,
    "exception": {
        "type": "object",
        "required": ["code"],
        "properties": {
            "code": {"type": "string"},
            "description": {"type": "string"},
            "status": {"type": "integer"},
        },
    },
    "landingPage": {
        "type": "object",
        "required": ["links"],
        "properties": {
            "title": {"type": "string"},
            "description": {"type": "string"},
            "links": _LINKS,
        },
    },
    "confClasses": {
        "type": "object",
        "required": ["conformsTo"],
        "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}},
    },
    "collection": {
        "type": "object",
        "required": ["id", "links"],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "links": _LINKS,
            "extent": {"type": "object"},
            "itemType": {"type": "string"},
            "crs": {"type": "array", "items": {"type": "string"}},
            "storageCrs": {"type": "string"},
        },
    },
    "collections": {
        "type": "object",
        "required": ["links", "collections"],
        "properties": {
            "links": _LINKS,
            "collections": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/collection"},
            },
        },
    },
    "featureCollection": {
        "type": "object",
        "required": ["type", "features"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": {"$ref": "#/components/schemas/feature"}},
            "links": _LINKS,
            "timeStamp": {"type": "string", "format": "date-time"},
            "numberMatched": {"type": "integer", "minimum": 0},
            "numberReturned": {"type": "integer", "minimum": 0},
        },
    },
    "feature": {
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
            "geometry": {"type": "object", "nullable": True},
            "properties": {"type": "object", "nullable": True},
            "links": _LINKS,
        },
    },
    "jsonSchema": {"type": "object"},
}
_PARAMETERS: dict[str, Any] = {
    "limit": {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": "Features per page. A value above the maximum is served as the "
        "maximum; 0 returns no features, only numberMatched.",
        "schema": {
            "type": "integer",
            "minimum": 0,
            "maximum": params.MAX_LIMIT,
            "default": params.DEFAULT_LIMIT,
        },
        "style": "form",
        "explode": False,
    },
    "offset": {
        "name": "offset",
        "in": "query",
        "required": False,
        "description": "Features to skip, in feature-id order.",
        "schema": {"type": "integer", "minimum": 0, "maximum": params.MAX_OFFSET, "default": 0},
        "style": "form",
        "explode": False,
    },
    "bbox": {
        "name": "bbox",
        "in": "query",
        "required": False,
        "description": "Features whose geometry meets the box: minlon,minlat,maxlon,maxlat "
        "(CRS84, degrees; latitude first with bbox-crs EPSG:4326), or six numbers with heights "
        "(ignored). minlon > maxlon crosses the antimeridian.",
        "schema": {
            "type": "array",
            "minItems": 4,
            "maxItems": 6,
            "items": {"type": "number", "minimum": -180, "maximum": 180},
        },
        "style": "form",
        "explode": False,
    },
    "bbox-crs": {
        "name": "bbox-crs",
        "in": "query",
        "required": False,
        "description": "CRS of bbox (default CRS84).",
        "schema": {"type": "string", "format": "uri", "enum": list(params.SUPPORTED_CRS)},
        "style": "form",
        "explode": False,
    },
    "crs": {
        "name": "crs",
        "in": "query",
        "required": False,
        "description": "CRS of the coordinates returned (default CRS84, longitude first).",
        "schema": {"type": "string", "format": "uri", "enum": list(params.SUPPORTED_CRS)},
        "style": "form",
        "explode": False,
    },
    "datetime": {
        "name": "datetime",
        "in": "query",
        "required": False,
        "description": "An instant or a closed interval (RFC 3339; '..' opens an end; a date "
        "is the whole day, and a time without offset local time, in the workspace time zone).",
        "schema": {"type": "string", "pattern": params.DATETIME_PATTERN},
        "style": "form",
        "explode": False,
    },
    "featureId": {
        "name": "featureId",
        "in": "path",
        "required": True,
        "description": "Feature id (a positive 64-bit integer; for a reader of a masked view "
        "with opaque ids, the 16-character token the features carry).",
        "schema": {"type": "string"},
    },
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


def _ok(media: str, schema: str) -> dict[str, Any]:
    return {
        "description": "OK",
        "content": {media: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _error(text: str) -> dict[str, Any]:
    return {
        "description": text,
        "content": {JSON: {"schema": {"$ref": "#/components/schemas/exception"}}},
    }


_BAD = {"400": _error("A query parameter is unknown or wrong")}
_MISSING = {"404": _error("No such collection or feature")}


def _get(
    summary: str, op: str, responses: dict[str, Any], parameters: list[Any] | None = None
) -> dict[str, Any]:
    doc: dict[str, Any] = {"summary": summary, "operationId": op, "responses": responses}
    if parameters:
        doc["parameters"] = parameters
    return {"get": doc}


def definition(ws: Workspace, base: str, access: Access) -> dict[str, Any]:
    """Return the OpenAPI 3.0 document of the service at ``base`` as ``access`` may call it."""
    from gridmap.service.ogc import collection_ids

    paths: dict[str, Any] = {
        "/": _get("Landing page", "landing", {"200": _ok(JSON, "landingPage"), **_BAD}),
        "/api": _get("This API definition", "api", {"200": _ok(OPENAPI, "jsonSchema"), **_BAD}),
        "/conformance": _get(
            "Conformance classes", "conformance", {"200": _ok(JSON, "confClasses"), **_BAD}
        ),
        "/collections": _get(
            "Collections", "collections", {"200": _ok(JSON, "collections"), **_BAD}
        ),
    }
    for cid in collection_ids(access):
        layer = LAYERS[cid]
        one = {**_BAD, **_MISSING}
        paths[f"/collections/{cid}"] = _get(
            layer.en, f"describe_{cid}", {"200": _ok(JSON, "collection"), **one}
        )
        paths[f"/collections/{cid}/queryables"] = _get(
            f"Queryables of {cid}",
            f"queryables_{cid}",
            {"200": _ok(SCHEMA_JSON, "jsonSchema"), **one},
        )
        paths[f"/collections/{cid}/schema"] = _get(
            f"Feature schema of {cid}",
            f"schema_{cid}",
            {"200": _ok(SCHEMA_JSON, "jsonSchema"), **one},
        )
        paths[f"/collections/{cid}/schema.xsd"] = _get(
            f"Feature schema of {cid} (GML application schema)",
            f"xsd_{cid}",
            {"200": {"description": "OK", "content": {XML: {"schema": {"type": "string"}}}}, **one},
        )
        parameters: list[Any] = [_ref(n) for n in ("limit", "offset", "bbox", "bbox-crs", "crs")]
        if params.time_column(layer):
            parameters.append(_ref("datetime"))
        for column in params.queryables(layer, access):
            schema = property_schema(column, nullable=False)
            schema.pop("x-ogc-unit", None)
            if schema["type"] == "string" and "enum" not in schema:
                schema["minLength"] = 1  # an empty value filters nothing: refused
            parameters.append(
                {
                    "name": column.name,
                    "in": "query",
                    "required": False,
                    "description": f"Features whose {column.name} equals this ({column.en})",
                    "schema": {k: v for k, v in schema.items() if k not in ("title",)},
                    "style": "form",
                    "explode": False,
                }
            )
        paths[f"/collections/{cid}/items"] = _get(
            f"{layer.en} ({layer.zh})",
            f"items_{cid}",
            {"200": _ok(GEOJSON, "featureCollection"), **one},
            parameters,
        )
        paths[f"/collections/{cid}/items/{{featureId}}"] = _get(
            f"One feature of {cid}",
            f"item_{cid}",
            {"200": _ok(GEOJSON, "feature"), **one},
            [_ref("featureId"), _ref("crs")],
        )
    return {
        "openapi": "3.0.3",
        "info": {
            "title": f"gridmap: {ws.get_meta('title', ws.name)}",
            "version": __version__,
            "description": "OGC API - Features over a gridmap workspace. Personal data is "
            "masked for roles without access to it.",
        },
        "servers": [{"url": base}],
        "paths": paths,
        "components": {"parameters": _PARAMETERS, "schemas": _SCHEMAS},
    }
