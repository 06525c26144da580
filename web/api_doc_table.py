"""OpenAPI descriptions of the attribute table's routes (:mod:`web.table`).

``/api/layers/<name>/rows`` (pages of rows without geometry) and ``/api/layers/<name>/values``
(a column's distinct values with counts). Bounding boxes are minlon, minlat, maxlon, maxlat in
degrees (EPSG:4326); times are written in the workspace's time zone with their offset.
"""

from __future__ import annotations

from typing import Any

from gridmap.schema import LAYER_ORDER
from gridmap.service.rows import DEFAULT_LIMIT, DEFAULT_VALUES, MAX_LIMIT, MAX_VALUES
from web.api_doc import FILTERS
from web.openapi import add_schemas, errors, json_reply, ref

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
    "description": "minlon,minlat,maxlon,maxlat in degrees (EPSG:4326): only rows whose place "
    "meets it (people: their household's). Refused for a view without a place (masked visits).",
    "schema": {"type": "string"},
    "example": "118.78,32.04,118.79,32.05",
}
_TITLE = {
    "type": "object",
    "properties": {"en": {"type": "string"}, "zh-CN": {"type": "string"}},
}
_ETAG = {"ETag": {"schema": {"type": "string"}}}

add_schemas(
    {
        "TableColumn": {
            "type": "object",
            "title": "A column as the caller is served it",
            "required": ["name", "title", "type", "unit", "choices", "filterable"],
            "properties": {
                "name": {"type": "string"},
                "title": _TITLE,
                "type": {"enum": ["int", "float", "str", "bool", "date", "datetime"]},
                "unit": {"type": ["string", "null"]},
                "choices": {"type": ["array", "null"], "items": {"type": "string"}},
                "choice_titles": {"type": ["object", "null"]},
                "personal": {"type": "boolean"},
                "filterable": {
                    "type": "boolean",
                    "description": "Whether the caller may filter, sort and list values by it",
                },
            },
        },
        "TableRow": {
            "type": "object",
            "title": "One row: its feature id, its bounding box where it has a place, its values",
            "required": ["id"],
            "properties": {
                "id": {
                    "type": ["integer", "string"],
                    "description": "The feature id; for a reader of a masked view with opaque "
                    "ids (households, visits) a 16-character token",
                },
                "bbox": {
                    "type": "array",
                    "description": "minlon, minlat, maxlon, maxlat in degrees (EPSG:4326)",
                    "items": {"type": "number"},
                    "minItems": 4,
                    "maxItems": 4,
                },
            },
            "additionalProperties": True,
        },
        "TableRows": {
            "type": "object",
            "title": "One page of a layer's rows, masked as the caller's role sees it",
            "required": [
                "layer",
                "columns",
                "rows",
                "numberMatched",
                "numberReturned",
                "offset",
                "limit",
            ],
            "properties": {
                "layer": {"type": "string"},
                "columns": {"type": "array", "items": ref("TableColumn")},
                "rows": {"type": "array", "items": ref("TableRow")},
                "numberMatched": {"type": "integer", "minimum": 0},
                "numberReturned": {"type": "integer", "minimum": 0},
                "offset": {"type": "integer", "minimum": 0},
                "limit": {"type": "integer", "minimum": 0},
            },
        },
        "ColumnValues": {
            "type": "object",
            "title": "The distinct values of a column among the rows meeting the filters",
            "required": ["layer", "column", "values", "distinct", "more", "numberMatched"],
            "properties": {
                "layer": {"type": "string"},
                "column": {"type": "string"},
                "values": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["value", "count"],
                        "properties": {
                            "value": {"description": "The value (null: missing)"},
                            "count": {"type": "integer", "minimum": 1},
                        },
                    },
                },
                "distinct": {"type": "integer", "minimum": 0},
                "more": {"type": "boolean", "description": "Whether values were left out"},
                "numberMatched": {"type": "integer", "minimum": 0},
            },
        },
    }
)

ROWS_DOC: dict[str, Any] = {
    "summary": "One page of a layer's rows for the attribute table (no geometry)",
    "description": "Rows as the caller's role may see them (masked views as /api/layers serves "
    "them; a grid worker's register of their own grids), sorted and paged by the store. People "
    "come as rows only to the admin and grid workers (others: /api/figures/register). Reads "
    "of personal data unmasked are recorded in the access log.",
    "tags": ["layers"],
    "parameters": [
        _NAME,
        _BBOX,
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": f"Rows per page (default {DEFAULT_LIMIT})",
            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_LIMIT},
        },
        {
            "name": "offset",
            "in": "query",
            "required": False,
            "description": "Skip this many rows of the sorted, filtered layer first",
            "schema": {"type": "integer", "minimum": 0, "maximum": 10**9},
        },
        *FILTERS,
    ],
    "responses": {
        "200": json_reply("The page", "TableRows", headers=_ETAG),
        "304": {"description": "Not modified since the ETag sent as If-None-Match"},
        **errors(400, 403, 404, 503),
    },
}

VALUES_DOC: dict[str, Any] = {
    "summary": "The distinct values of one column, with counts (the table's filter lists)",
    "description": "Among the rows meeting the filters, as the caller may see them. Only a "
    "column the caller may filter by (400 otherwise: a masked view's hidden columns). When "
    "there are more distinct values than limit, the most frequent are listed (more: true); "
    "they come sorted by value, the missing value last.",
    "tags": ["layers"],
    "parameters": [
        _NAME,
        {
            "name": "column",
            "in": "query",
            "required": True,
            "description": "The column",
            "schema": {"type": "string"},
            "example": "kind",
        },
        _BBOX,
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": f"The most values listed (default {DEFAULT_VALUES})",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_VALUES},
        },
        *[p for p in FILTERS if p["name"] != "sort"],
    ],
    "responses": {
        "200": json_reply("The values", "ColumnValues", headers=_ETAG),
        "304": {"description": "Not modified since the ETag sent as If-None-Match"},
        **errors(400, 403, 404, 503),
    },
}
