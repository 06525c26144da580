"""OpenAPI descriptions of the routes of :mod:`web.api` and :mod:`web.login`.

Those modules' views are described here with :func:`web.openapi.register` (until they carry
``@describe`` themselves); the schemas of their replies are added to the document's
components. Coordinates are longitude/latitude degrees (EPSG:4326) throughout.
"""

from __future__ import annotations

from gridmap.access.roles import ALL_ROLES
from gridmap.schema import LAYER_ORDER
from gridmap.service.layers import EXPORT_TYPES
from web.openapi import add_schemas, errors, json_body, json_reply, ref, register

_NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": "The layer's name",
    "schema": {"type": "string", "enum": list(LAYER_ORDER)},
}
_BBOX = {
    "name": "bbox",
    "in": "query",
    "required": False,
    "description": "minlon,minlat,maxlon,maxlat in degrees (EPSG:4326)",
    "schema": {"type": "string"},
    "example": "118.78,32.04,118.79,32.05",
}
_PAGE = [
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": "At most this many features (all by default)",
        "schema": {"type": "integer", "minimum": 0, "maximum": 100_000},
    },
    {
        "name": "offset",
        "in": "query",
        "required": False,
        "description": "Skip this many features first (feature-id order)",
        "schema": {"type": "integer", "minimum": 0, "maximum": 10**9},
    },
]
#: Filters of a layer (gridmap.service.filters): shared by the routes that narrow one.
FILTERS = [
    {
        "name": "where",
        "in": "query",
        "required": False,
        "description": "A condition COLUMN<op>VALUE, repeatable (all must hold): = (a comma "
        "list: any of them), !=, <, <=, >, >=, ~ (contains). Dates and times in the "
        "workspace's time zone. Only columns the caller's view serves as stored.",
        "schema": {"type": "array", "items": {"type": "string"}, "maxItems": 20},
        "style": "form",
        "explode": True,
        "example": ["kind=burglary", "occurred_at>=2026-01-01"],
    },
    {
        "name": "grids",
        "in": "query",
        "required": False,
        "description": "Grid codes, comma-separated: only what belongs to these grids",
        "schema": {"type": "string"},
    },
    {
        "name": "ids",
        "in": "query",
        "required": False,
        "description": "Feature ids, comma-separated: only these features (a selection). "
        "The ids as the caller is served them: stored ids, or for a reader of a masked view "
        "with opaque ids (households, visits: planner, patrol lead, analyst) their 16-character "
        "tokens",
        "schema": {"type": "string"},
        "example": "12,40",
    },
    {
        "name": "sort",
        "in": "query",
        "required": False,
        "description": "Columns to sort by, comma-separated; a leading - sorts descending",
        "schema": {"type": "string"},
        "example": "-households,name",
    },
]
_TITLE = {
    "type": "object",
    "properties": {"en": {"type": "string"}, "zh-CN": {"type": "string"}},
}
_BOUNDS = {
    "type": ["array", "null"],
    "description": "minlon, minlat, maxlon, maxlat in degrees",
    "items": {"type": "number"},
    "minItems": 4,
    "maxItems": 4,
}

add_schemas(
    {
        "GeoJSONFeature": {
            "type": "object",
            "title": "A GeoJSON Feature (longitude/latitude degrees)",
            "required": ["type", "geometry", "properties"],
            "properties": {
                "type": {"const": "Feature"},
                "id": {
                    "type": ["integer", "string"],
                    "description": "The feature id; for a reader of a masked view with opaque "
                    "ids (households, visits) a 16-character token",
                },
                "geometry": {
                    "anyOf": [
                        {"type": "null"},
                        {
                            "type": "object",
                            "required": ["type"],
                            "properties": {"type": {"type": "string"}},
                        },
                    ]
                },
                "properties": {"type": "object"},
            },
        },
        "FeatureCollection": {
            "type": "object",
            "title": "One page of a layer as GeoJSON, masked as the caller's role sees it",
            "required": ["type", "features", "numberMatched", "numberReturned"],
            "properties": {
                "type": {"const": "FeatureCollection"},
                "numberMatched": {"type": "integer", "minimum": 0},
                "numberReturned": {"type": "integer", "minimum": 0},
                "features": {"type": "array", "items": ref("GeoJSONFeature")},
            },
        },
        "LayerDocument": {
            "type": "object",
            "required": ["name", "title", "geometry", "count", "bounds", "version", "columns"],
            "properties": {
                "name": {"type": "string"},
                "title": _TITLE,
                "description": {"type": "string"},
                "geometry": {"type": ["string", "null"]},
                "located_by": {"type": ["array", "null"], "items": {"type": "string"}},
                "count": {"type": "integer"},
                "bounds": _BOUNDS,
                "version": {"type": "integer"},
                "read": {"enum": ["full", "own", "masked"]},
                "columns": {"type": "array", "items": {"type": "object"}},
            },
        },
        "Workspace": {
            "type": "object",
            "title": "The workspace as the map page draws it (its JSON twin)",
            "required": ["name", "title", "bounds", "center", "role", "layers"],
            "properties": {
                "name": {"type": "string"},
                "title": {"type": "string"},
                "bounds": _BOUNDS,
                "center": {"type": "array", "items": {"type": "number"}},
                "attribution": {"type": "string"},
                "synthetic": {"type": "boolean"},
                "timezone": {"type": "string"},
                "masked_value": {"type": "string"},
                "role": {"enum": list(ALL_ROLES)},
                "user": {"type": ["string", "null"]},
                "grids": {"type": "array", "items": {"type": "string"}},
                "personal_visible": {"type": "boolean"},
                "layers": {"type": "array", "items": ref("LayerDocument")},
                "tiles": {"type": "array"},
            },
        },
        "Health": {
            "type": "object",
            "required": ["status", "missing_vendor"],
            "properties": {
                "status": {"const": "ok"},
                "missing_vendor": {"type": "array", "items": {"type": "string"}},
            },
        },
        "Session": {
            "type": "object",
            "title": "Who is signed in, and the CSRF token a browser script sends with writes",
            "required": ["signed_in", "user", "role", "grids", "csrf_token"],
            "properties": {
                "signed_in": {"type": "boolean"},
                "user": {"type": ["string", "null"]},
                "display_name": {"type": ["string", "null"]},
                "role": {"enum": list(ALL_ROLES)},
                "role_title": _TITLE,
                "grids": {"type": "array", "items": {"type": "string"}},
                "by_token": {"type": "boolean"},
                "csrf_token": {"type": "string"},
            },
        },
        "SignIn": {
            "type": "object",
            "required": ["name", "password"],
            "properties": {
                "name": {"type": "string", "maxLength": 40},
                "password": {"type": "string", "maxLength": 200},
            },
        },
    }
)

register(
    "api.workspace_doc",
    {
        "summary": "The workspace: title, extent, settings and the layers the caller may read",
        "tags": ["layers"],
        "responses": {"200": json_reply("The workspace document", "Workspace")},
    },
)
register(
    "api.layer",
    {
        "summary": "One layer as GeoJSON, as the caller's role may see it",
        "description": "A grid worker gets the register rows of their own grids only; reads "
        "of personal data unmasked are recorded in the access log.",
        "tags": ["layers"],
        "parameters": [_NAME, _BBOX, *_PAGE, *FILTERS],
        "responses": {
            "200": json_reply(
                "The features",
                "FeatureCollection",
                "application/geo+json",
                headers={"ETag": {"schema": {"type": "string"}}},
            ),
            "304": {"description": "Not modified since the ETag sent as If-None-Match"},
            **errors(400, 403, 404, 503),
        },
    },
)
register(
    "api.export",
    {
        "summary": "One layer as a file (Excel, CSV, GeoJSON, GeoPackage, zipped Shapefile)",
        "description": "Personal data masked unless the role sees it; an unmasked export is "
        "recorded in the access log with what was asked. Narrowed as /api/layers is (where, "
        "grids, ids: a masked reader filters only by columns their view serves as stored). "
        "The file is named layer_area_date_lang (Content-Disposition with an ASCII filename "
        "and an RFC 5987 filename*).",
        "tags": ["layers"],
        "parameters": [
            _NAME,
            {
                "name": "format",
                "in": "query",
                "required": False,
                "schema": {"enum": list(EXPORT_TYPES), "default": "xlsx"},
            },
            {
                "name": "lang",
                "in": "query",
                "required": False,
                "description": "zh-CN: Chinese titles (with units), values (是/否, 已隐藏), "
                "notes and file name; en: English. Default: the request's language",
                "schema": {"type": "string"},
            },
            _BBOX,
            *[f for f in FILTERS if f["name"] != "sort"],
        ],
        "responses": {
            "200": {
                "description": "The file, as an attachment",
                "headers": {"Content-Disposition": {"schema": {"type": "string"}}},
                "content": {media: {"schema": {}} for media in EXPORT_TYPES.values()},
            },
            **errors(400, 403, 404, 429, 503),
        },
    },
)
register(
    "api.health",
    {
        "summary": "Whether the server can serve the map",
        "tags": ["api"],
        "responses": {"200": json_reply("Health", "Health")},
    },
)
register(
    "login.session_doc",
    {
        "summary": "Who is signed in (and the CSRF token for writes from a browser session)",
        "tags": ["sessions"],
        "responses": {"200": json_reply("The session", "Session")},
    },
)
register(
    "login.session_start",
    {
        "summary": "Sign in with a name and password; starts a browser session",
        "tags": ["sessions"],
        "requestBody": json_body("SignIn"),
        "responses": {"200": json_reply("The new session", "Session"), **errors(429)},
    },
)
register(
    "login.session_end",
    {
        "summary": "Sign out this browser's session",
        "tags": ["sessions"],
        "responses": {"204": {"description": "Signed out"}},
    },
)
