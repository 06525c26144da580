"""OpenAPI descriptions of grid planning (:mod:`web.planning`): edit, undo, redo, versions.

Partition proposals are described in :mod:`web.api_doc_partition`.

Geometry is GeoJSON, longitude/latitude degrees (EPSG:4326). An edit names the versions of the
grids it was made from; a stale one answers 409 with the grids as they are now.
"""

from __future__ import annotations

from typing import Any

from gridmap.service.plan_ops import OPERATIONS
from gridmap.service.visit_figures import CATEGORY_COLUMNS, VISIT_ROUNDING
from web.api_doc_plan_more import CONFLICT, DEPTH
from web.openapi import add_schemas, errors, json_body, json_reply

_CODE = {"type": "string", "minLength": 1, "description": "a grid code (15 digits)"}
_POSITION = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 3}
_RING = {"type": "array", "items": _POSITION, "minItems": 4}
_POLYGON = {
    "type": "object",
    "required": ["type", "coordinates"],
    "properties": {
        "type": {"enum": ["Polygon", "MultiPolygon"]},
        "coordinates": {"type": "array", "minItems": 1},
    },
    "description": "a GeoJSON Polygon or MultiPolygon, degrees (EPSG:4326)",
}
_LINE = {
    "type": "object",
    "required": ["type", "coordinates"],
    "properties": {
        "type": {"const": "LineString"},
        "coordinates": {"type": "array", "items": _POSITION, "minItems": 2},
    },
    "description": "a GeoJSON LineString, degrees (EPSG:4326)",
}
_VERSIONS = {
    "type": "object",
    "additionalProperties": {"type": "integer", "minimum": 1},
    "description": "the version of each grid the edit was made from, required for every grid "
    "the operation names (code, codes, to): 400 when one is missing, 409 when one is stale",
}
_TEXT = {"type": ["string", "null"]}
_MEMBERS: dict[str, dict[str, Any]] = {
    "geometry": _POLYGON,
    "code": _CODE,
    "line": _LINE,
    "codes": {"type": "array", "items": _CODE, "minItems": 2},
    "to": _CODE,
    "buildings": {"type": "array", "items": {"type": "integer", "minimum": 1}},
    "blocks": {
        "type": "array",
        "items": {"type": "integer", "minimum": 1},
        "description": "street block ids of GET /api/grids/blocks (send its `stamp` with them)",
    },
    "stamp": {
        "type": "string",
        "minLength": 1,
        "maxLength": 64,
        "description": "the `stamp` of GET /api/grids/blocks (or of a rebalance proposal) the "
        "block ids come from, required with `blocks`: a block's id is its place in a list "
        "that the streets and community boundaries number, so a paint whose stamp is not "
        "current (the streets or a boundary changed since) is refused with 409 "
        "`blocks_changed`; 400 when blocks come without it",
    },
    "name": _TEXT,
    "worker": _TEXT,
    "worker_phone": _TEXT,
    "community_code": _TEXT,
}
_REQUIRED = {
    "draw": ["geometry"],
    "reshape": ["code", "geometry"],
    "split": ["code", "line"],
    "merge": ["codes"],
    "delete": ["code"],
    "give": ["geometry", "to"],
    "paint": ["to"],
}


def _operation(op: str) -> dict[str, Any]:
    props: dict[str, Any] = {"op": {"const": op}, "versions": _VERSIONS}
    for name in OPERATIONS[op]:
        props[name] = _MEMBERS[name]
    if op == "delete":
        props["to"] = {"enum": ["neighbours", None], "description": "absent: leave a gap"}
    out: dict[str, Any] = {
        "type": "object",
        "title": f"{op} grids",
        "required": ["op", *_REQUIRED[op], *(["versions"] if op != "draw" else [])],
        "properties": props,
        "additionalProperties": False,
    }
    if op == "paint":
        out["dependentRequired"] = {"blocks": ["stamp"]}
    return out


_FC = {
    "type": "object",
    "required": ["type", "features"],
    "properties": {"type": {"const": "FeatureCollection"}, "features": {"type": "array"}},
}
_CODES = {"type": "array", "items": {"type": "string"}}
_CODES_RE = r"^([0-9]{15}|[0-9]{20})(,([0-9]{15}|[0-9]{20}))*$"

add_schemas(
    {
        "PlanOperation": {
            "oneOf": [_operation(op) for op in OPERATIONS],
            "description": "One planning operation; see the operation descriptions.",
        },
        "PlanEdit": {
            "type": "object",
            "required": ["tx", "changed", "added", "removed", "lineage", "notes", "moved", "grids"],
            "properties": {
                "tx": {
                    "type": "integer",
                    "description": "the transaction: the plan's version; 0 when the edit changed "
                    "nothing (ground painted into the grid that holds it already): no version "
                    "is written, and a note says so",
                },
                "changed": _CODES,
                "added": _CODES,
                "removed": _CODES,
                "lineage": {"type": "array", "items": {"type": "object"}},
                "notes": {"type": "array", "items": {"type": "object"}},
                "moved": {"type": "object", "additionalProperties": {"type": "integer"}},
                "grids": _FC,
                "depth": DEPTH,
            },
        },
        "PlanUndo": {
            "type": "object",
            "required": ["tx", "undone", "all", "changed", "removed", "grids"],
            "properties": {
                "tx": {"type": "integer"},
                "undone": {"type": "integer"},
                "all": {
                    "type": "boolean",
                    "description": "true: grids holds every grid (draw it in place of the plan)",
                },
                "changed": {"type": "array", "items": {"type": "string"}},
                "removed": {"type": "array", "items": {"type": "string"}},
                "grids": _FC,
                "depth": DEPTH,
            },
        },
        "PlanVersions": {
            "type": "object",
            "required": ["versions"],
            "properties": {
                "versions": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["tx", "at", "user", "action", "grids"],
                        "properties": {
                            "tx": {"type": "integer"},
                            "at": {"type": "string"},
                            "user": {"type": "string"},
                            "action": {"type": "string"},
                            "grids": {"type": "integer", "description": "grid rows it changed"},
                        },
                    },
                }
            },
        },
    }
)

EDIT = {
    "summary": "Edit the grids: draw, reshape, split, merge, delete, give, paint",
    "description": "One operation in one transaction. Shared borders stay shared: a grid that "
    "takes ground takes it from its neighbours, ground it gives up goes to the neighbour it "
    "borders most; outlines are cut to the grid's community. Every grid_code of buildings, "
    "households, facilities and cameras there and the grids' figures are recomputed in the "
    "same transaction. 409 with `current` (the grids now) when a grid in `versions` changed "
    "(`edit_conflict`), or when a paint's street blocks changed since their `stamp` "
    "(`blocks_changed`: reload GET /api/grids/blocks and paint again).",
    "tags": ["planning"],
    "requestBody": json_body("PlanOperation"),
    "responses": {
        "200": json_reply("What the edit changed, and the changed grids", "PlanEdit"),
        "409": json_reply(
            "A grid changed since you read it, or the street blocks did: the grids as they are now",
            CONFLICT,
        ),
        **errors(400, 403, 404),
    },
}
UNDO = {
    "summary": "Undo your latest plan edit",
    "description": "A new transaction that takes back your latest edit of the grids; 400 "
    "`nothing_to_undo` when there is none (`depth` of the replies says how many there are), "
    "409 when someone changed those grids since.",
    "tags": ["planning"],
    "responses": {
        "200": json_reply("The undo and the grids it changed", "PlanUndo"),
        **errors(400, 403, 409),
    },
}
REDO = {
    **UNDO,
    "summary": "Redo: take back your latest undo",
    "description": "400 `nothing_to_undo` when there is nothing to redo (a new edit empties "
    "the list); 409 when someone changed those grids since.",
}
VERSIONS = {
    "summary": "The plan's versions, newest first",
    "tags": ["planning"],
    "parameters": [
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 500},
            "description": "how many (default 50)",
        }
    ],
    "responses": {"200": json_reply("The versions", "PlanVersions"), **errors(400)},
}
VERSION = {
    "summary": "The grids as they were after one version",
    "tags": ["planning"],
    "parameters": [
        {"name": "tx", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
    ],
    "responses": {
        "200": json_reply("The grids then", _FC, media="application/json"),
        **errors(400, 404),
    },
}
RESTORE = {
    "summary": "Restore an old version of the plan, as a new version",
    "tags": ["planning"],
    "requestBody": json_body(
        {
            "type": "object",
            "required": ["tx", "versions"],
            "properties": {
                "tx": {"type": "integer", "minimum": 1},
                "versions": {
                    "type": "object",
                    "description": "The version of every grid as the caller saw it (grid code "
                    "→ version); a grid the restore would change that was changed since "
                    "refuses the restore with 409.",
                    "additionalProperties": {"type": "integer", "minimum": 1},
                },
            },
            "additionalProperties": False,
        }
    ),
    "responses": {
        "200": json_reply("The restore and every grid now", "PlanUndo"),
        **errors(400, 403, 409),
    },
}


_COUNT_OR_SMALL = {"type": ["integer", "string", "null"], "description": "a count, or `<5`"}
_FIGURE_ROW = {
    "type": "object",
    "required": ["code", "households", "visit_households", "visit_households_exact"],
    "properties": {
        "code": {"type": "string"},
        "households": _COUNT_OR_SMALL,
        "residents": _COUNT_OR_SMALL,
        "visit_households": {
            **_COUNT_OR_SMALL,
            "description": "households in any of the six visit categories (the visits due "
            f"each month); rounded to {VISIT_ROUNDING} unless `visit_households_exact`",
        },
        "visit_households_exact": {"type": "boolean"},
        **{
            c: {
                "type": ["integer", "null"],
                "minimum": 0,
                "description": "null unless the reader may read this grid's register",
            }
            for c in CATEGORY_COLUMNS
        },
    },
}


def _number(name: str, default: int, text: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "schema": {"type": "number", "minimum": 0, "default": default},
        "description": text,
    }


CHECKS = {
    "summary": "Check the plan: findings located on the map, with fixes, and each grid's figures",
    "description": "Overlaps, gaps inside a community, parts outside every community, grids in "
    "several pieces, buildings cut by a border (the share on each side), buildings in no grid, "
    "grids outside the household range, grids not inside exactly one community. Each finding "
    "has its geometry (GeoJSON, EPSG:4326), a point `at`, messages in English and Chinese and "
    "fixes as planning operations (a give needs the finding's geometry). Figures per grid: "
    "households, residents, buildings, area (m²), street length (m), cameras, facilities, "
    "incidents of the last 12 months, deviation from the middle of the range, and the visits "
    "due: `visit_households` (households in any of the six visit categories, each visited "
    "every month). A count of households or residents from 1 to 4 is the text `<5` (and the "
    "deviation null) for a reader who may not count that grid's register: a grid worker, "
    "outside their own grids. Who is in which category, per grid (`hardship_households`, "
    "`hardship_people`, … for each of the six), only a reader of that grid's register gets "
    "(the admin; a grid worker, in their own grids); for everyone else these are null, and "
    f"`visit_households` is rounded to {VISIT_ROUNDING} (1 to 4: `<5`; "
    "`visit_households_exact` false), since a grid's count of one category ranks that "
    "category's households, and exact figures around an edit count a building's.",
    "tags": ["planning"],
    "parameters": [
        _number("min", 300, "fewest households a grid should hold"),
        _number("max", 500, "most households a grid should hold"),
        {
            "name": "community",
            "in": "query",
            "schema": {"type": "string"},
            "description": "check only this community (its code)",
        },
        {
            "name": "grids",
            "in": "query",
            "schema": {"type": "string", "pattern": _CODES_RE},
            "description": "an edit's re-check: only these grids (codes of 15 or 20 digits, "
            "comma-separated, at most 500): the findings naming one of them, those without a "
            "grid inside `scope`, and their figures",
        },
    ],
    "responses": {
        "200": json_reply(
            "Findings and figures",
            {
                "type": "object",
                "required": ["findings", "figures", "kinds"],
                "properties": {
                    "findings": {"type": "array", "items": {"type": "object"}},
                    "figures": {"type": "array", "items": _FIGURE_ROW},
                    "kinds": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "the kinds of findings, most serious first (their order)",
                    },
                    "grids": {"type": "array", "items": {"type": "string"}},
                    "scope": {
                        "type": ["array", "null"],
                        "items": {"type": "number"},
                        "description": "with `grids`: the box (EPSG:4326) the re-check read",
                    },
                },
            },
        ),
        **errors(400, 404),
    },
}

PLAN = {
    "summary": "The plan to edit: every grid with its version, and the plan's latest version",
    "description": "What the planning page loads: the grids as the caller may see them, each "
    "with its `version` (send it in an edit's `versions`), `tx` (the plan's latest version, null "
    "before any) and the default household range of the checks.",
    "tags": ["planning"],
    "responses": {
        "200": json_reply(
            "The plan",
            {
                "type": "object",
                "required": ["tx", "range", "grids", "depth"],
                "properties": {
                    "tx": {"type": ["integer", "null"]},
                    "depth": DEPTH,
                    "range": {
                        "type": "object",
                        "properties": {"min": {"type": "number"}, "max": {"type": "number"}},
                    },
                    "grids": _FC,
                },
            },
        )
    },
}

REBALANCE = {
    "summary": "Propose the fewest street-block moves that bring every grid into range",
    "description": "Nothing is written: the page shows the moves and sends them to POST "
    "/api/grids/rebalance/apply (one transaction) when the planner accepts. Range: households × (1 ± tolerance). Each move names the "
    "block (the ids of GET /api/grids/blocks), the grids it leaves and joins, its households "
    "and, when only a grid's share of a block moves, the buildings. `towers`: grids holding a "
    "block above the range, which no move can fix. Every move is checked on the painted geometry: "
    "none leaves a grid in more pieces; a proposal that would not lower the number of grids "
    "outside the range has no moves and a `note`.",
    "tags": ["planning"],
    "parameters": [
        _number("households", 400, "households a grid should hold (the middle of the range)"),
        {
            "name": "tolerance",
            "in": "query",
            "schema": {"type": "number", "minimum": 0, "exclusiveMaximum": 1, "default": 0.25},
            "description": "the share off `households` a grid may be (by default 400 ± 25 %: "
            "300–500, the range of the checks)",
        },
        {
            "name": "community",
            "in": "query",
            "schema": {"type": "string"},
            "description": "only this community (its code)",
        },
    ],
    "responses": {
        "200": json_reply(
            "The proposal",
            {
                "type": "object",
                "required": [
                    "moves",
                    "grids",
                    "method",
                    "towers",
                    "outside_before",
                    "outside_after",
                ],
                "properties": {
                    "moves": {"type": "array", "items": {"type": "object"}},
                    "grids": {"type": "array", "items": {"type": "object"}},
                    "method": {"type": "string"},
                    "towers": {"type": "array", "items": {"type": "string"}},
                    "outside_before": {"type": "integer"},
                    "outside_after": {"type": "integer"},
                    "stamp": {
                        "type": ["string", "null"],
                        "description": "the street blocks' stamp the moves' block ids are "
                        "of: send it to POST /api/grids/rebalance/apply with the moves",
                    },
                    "versions": {
                        "type": "object",
                        "additionalProperties": {"type": "integer"},
                        "description": "each grid's version when the proposal was made",
                    },
                    "note": {
                        "type": ["string", "null"],
                        "description": "why there are no moves though grids are outside the "
                        "range (no move that keeps every grid in one piece brings fewer of "
                        "them into it), in English and Chinese; null otherwise",
                    },
                },
            },
        ),
        **errors(400, 403),
    },
}

BLOCKS = {
    "summary": "The street blocks a planner paints into grids",
    "description": "Faces the streets cut each community into, numbered from 1 in reading "
    "order (north to south, west to east); each with its community, the grid holding it, and "
    "its buildings and households. Send their ids as `blocks` of a paint, with the reply's "
    "`stamp`: what the blocks were computed from (the streets, the community boundaries); a "
    "paint whose stamp is no longer current is refused with 409 `blocks_changed`, since the "
    "same id may name another block by then. Households from 1 to 4 are the text `<5` for a "
    "reader who may not count that grid's register (a grid worker, outside their own grids).",
    "tags": ["planning"],
    "responses": {
        "200": json_reply(
            "The blocks",
            {
                "type": "object",
                "required": ["type", "stamp", "features"],
                "properties": {
                    "type": {"const": "FeatureCollection"},
                    "stamp": {
                        "type": "string",
                        "description": "what the blocks were computed from: send it with a "
                        "paint of their ids",
                    },
                    "features": {"type": "array"},
                },
            },
            media="application/geo+json",
        )
    },
}

__all__ = [
    "BLOCKS",
    "CHECKS",
    "EDIT",
    "PLAN",
    "REBALANCE",
    "REDO",
    "RESTORE",
    "UNDO",
    "VERSION",
    "VERSIONS",
]
