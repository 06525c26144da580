"""OpenAPI descriptions of search (``/api/search``) and a building's register (:mod:`web.find`).

Places are longitude/latitude degrees (EPSG:4326). What a reader finds and sees follows their
role: households only for readers who see them (a grid worker: their own grids), the
register of a building listed only for them, its totals for everyone else.
"""

from __future__ import annotations

from typing import Any

from gridmap.service import register as register_service
from gridmap.service import search as search_service
from gridmap.service.search_index import SPECS
from web.openapi import add_schemas, errors, json_reply

_TITLE = {
    "type": "object",
    "properties": {"en": {"type": "string"}, "zh-CN": {"type": "string"}},
}
_BOX = {
    "type": ["array", "null"],
    "description": "minlon, minlat, maxlon, maxlat in degrees (null: no geometry)",
    "items": {"type": "number"},
    "minItems": 4,
    "maxItems": 4,
}
_DEGREES = {"type": ["number", "null"], "description": "degrees (EPSG:4326)"}
_COUNT = {"type": ["integer", "null"], "minimum": 0}
_ROWS = {"type": "array", "items": {"type": "object"}}

add_schemas(
    {
        "SearchHit": {
            "type": "object",
            "title": "A found feature: open it with GET /api/layers/{layer} or focus the map on it",
            "required": ["layer", "id", "label", "detail", "bbox", "lon", "lat"],
            "properties": {
                "layer": {"enum": list(SPECS)},
                "id": {
                    "type": ["integer", "string"],
                    "description": "the feature id as the caller is served it (a masked "
                    "reader's opaque id for buildings)",
                },
                "label": {"type": "string"},
                "detail": {"type": "string"},
                "bbox": _BOX,
                "lon": _DEGREES,
                "lat": _DEGREES,
                "key": {
                    "type": ["string", "null"],
                    "description": "the feature's key: a grid's or community's code, a "
                    "camera's code, a household's id",
                },
            },
        },
        "SearchResult": {
            "type": "object",
            "title": "What a search found, grouped by layer (the best group first)",
            "required": ["q", "normalised", "layers", "groups", "hits"],
            "properties": {
                "q": {"type": "string"},
                "normalised": {
                    "type": "string",
                    "description": "The query as compared: NFKC, case folded, without spaces "
                    "and hyphens",
                },
                "layers": {
                    "type": "array",
                    "items": {"enum": list(SPECS)},
                    "description": "The layers searched for this reader",
                },
                "groups": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["layer", "title", "matched", "returned"],
                        "properties": {
                            "layer": {"enum": list(SPECS)},
                            "title": _TITLE,
                            "matched": {"type": "integer", "minimum": 1},
                            "returned": {"type": "integer", "minimum": 1},
                        },
                    },
                },
                "hits": {"type": "array", "items": {"$ref": "#/components/schemas/SearchHit"}},
            },
        },
        "BuildingRegister": {
            "type": "object",
            "title": "A building's households by unit, floor and room (楼栋户室), as the caller "
            "may see them",
            "required": [
                "building",
                "read",
                "totals",
                "units",
                "households",
                "columns",
                "numberMatched",
                "numberReturned",
                "offset",
                "next",
            ],
            "properties": {
                "building": {
                    "type": "object",
                    "description": "The building as the buildings layer serves it to the "
                    "caller, with id (a masked reader's opaque id), bbox, lon and lat",
                    "required": ["id"],
                    "properties": {"id": {"type": ["integer", "string"]}, "bbox": _BOX},
                },
                "read": {
                    "enum": ["full", "own", "totals"],
                    "description": "full/own: households listed (own: of the caller's grids); "
                    "totals: the building's totals only",
                },
                "reason": {
                    "enum": [
                        register_service.REASON_MASKED,
                        register_service.REASON_OTHER_GRID,
                        register_service.REASON_NO_REGISTER,
                    ],
                    "description": "Why only totals: the register is masked for the role, "
                    "the building is not in the grid worker's grids, or no register at all",
                },
                "totals": {
                    "type": "object",
                    "required": ["households", "residents", "units", "floors"],
                    "properties": {
                        "households": _COUNT,
                        "residents": _COUNT,
                        "units": _COUNT,
                        "floors": _COUNT,
                    },
                },
                "units": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["unit", "households", "residents", "floors"],
                        "properties": {
                            "unit": {"type": ["string", "null"]},
                            "households": {"type": "integer"},
                            "residents": _COUNT,
                            "floors": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["floor", "households", "residents"],
                                    "properties": {
                                        "floor": {"type": ["integer", "null"]},
                                        "households": {"type": "integer"},
                                        "residents": _COUNT,
                                    },
                                },
                            },
                        },
                    },
                },
                "households": {
                    "type": "array",
                    "description": "This page, in unit, floor, room order: each household's "
                    "served columns, its unit, floor and room (read from its address) and its "
                    "people (when the caller may read people)",
                    "items": {
                        "type": "object",
                        "required": ["id", "unit", "floor", "room"],
                        "properties": {
                            "id": {"type": "integer"},
                            "unit": {"type": ["string", "null"]},
                            "floor": {"type": ["integer", "null"]},
                            "room": {"type": ["string", "null"]},
                            "people": _ROWS,
                        },
                    },
                },
                "columns": {
                    "type": "object",
                    "properties": {
                        "households": {"type": "array", "items": {"type": "string"}},
                        "people": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "numberMatched": {"type": "integer", "minimum": 0},
                "numberReturned": {"type": "integer", "minimum": 0},
                "offset": {"type": "integer", "minimum": 0},
                "next": {"type": ["integer", "null"], "description": "the next page's offset"},
            },
        },
    }
)


def _limit(default: int, top: int, what: str) -> dict[str, Any]:
    return {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": what,
        "schema": {"type": "integer", "minimum": 1, "maximum": top, "default": default},
    }


SEARCH: dict[str, Any] = {
    "summary": "Find grids, communities, buildings, households, cameras, facilities, streets",
    "description": "Codes, names, addresses, household ids and facility kinds (派出所, police "
    "post, school), in Chinese or English; full-width characters, case, spaces and hyphens do "
    "not matter. Ranked exact > prefix > substring, then code > name > other text, then the "
    "shorter label. Households only for readers who see them (admin; a grid worker: their "
    "own grids), and such a search is recorded in the access log. Nobody signed in searches "
    "the layers an admin opened to the public (401 when there are none).",
    "tags": ["search"],
    "parameters": [
        {
            "name": "q",
            "in": "query",
            "required": True,
            "description": "What to find",
            "schema": {"type": "string", "minLength": 1, "maxLength": search_service.MAX_QUERY},
            "example": "320102001001001",
        },
        _limit(search_service.DEFAULT_LIMIT, search_service.MAX_LIMIT, "Hits per layer"),
        {
            "name": "layers",
            "in": "query",
            "required": False,
            "description": "Search only these layers (comma-separated: " + ", ".join(SPECS) + ")",
            "schema": {"type": "string"},
        },
        {
            "name": "lang",
            "in": "query",
            "required": False,
            "description": "Language of labels and details (default: the browser's)",
            "schema": {"enum": ["zh-CN", "en"]},
        },
    ],
    "responses": {
        "200": json_reply("The hits, grouped by layer", "SearchResult"),
        **errors(400),
    },
}

REGISTER: dict[str, Any] = {
    "summary": "A building's households by unit, floor and room (楼栋户室), with their people",
    "description": "Listed for readers who see households (admin; a grid worker in a building "
    "of their grids), with counts per unit and floor, and recorded in the access log; "
    "everyone else gets the building's totals as the buildings layer serves them. Units, "
    "floors and rooms are read from the addresses. Paged in room order. The building is "
    "named by its id as the caller is served it: the stored id for the admin, the opaque id "
    "of the buildings layer for everyone else.",
    "tags": ["search"],
    "parameters": [
        _limit(register_service.DEFAULT_LIMIT, register_service.MAX_LIMIT, "Households per page"),
        {
            "name": "offset",
            "in": "query",
            "required": False,
            "description": "Skip this many households first (room order)",
            "schema": {"type": "integer", "minimum": 0, "maximum": 10**9},
        },
    ],
    "responses": {
        "200": json_reply("The building's register", "BuildingRegister"),
        **errors(400, 403, 404),
    },
}
