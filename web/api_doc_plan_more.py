"""OpenAPI descriptions of grid planning beyond one edit (:mod:`web.planning`): a rebalance
applied in one transaction, and the members every planning reply shares (``depth``, the grids
a 409 names). Geometry is GeoJSON, longitude/latitude degrees (EPSG:4326).
"""

from __future__ import annotations

from typing import Any

from web.openapi import errors, json_body, json_reply

#: How many of the caller's plan edits undo and redo can take back (the page's buttons).
DEPTH: dict[str, Any] = {
    "type": "object",
    "required": ["undo", "redo"],
    "properties": {
        "undo": {"type": "integer", "minimum": 0},
        "redo": {"type": "integer", "minimum": 0},
    },
    "description": "how many of your plan edits undo can take back, and redo restore, now",
}
#: The grids a refused save names (409 ``error.grids``): those the caller had stale.
CONFLICT_GRIDS: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["code", "version", "changed_by", "changed_at", "when"],
        "properties": {
            "code": {"type": "string"},
            "version": {"type": ["integer", "null"], "description": "now; null: it is gone"},
            "yours": {"type": ["integer", "null"], "description": "the version you sent"},
            "changed_by": {"type": ["string", "null"]},
            "changed_at": {"type": ["string", "null"], "description": "ISO 8601, UTC"},
            "when": {
                "type": ["string", "null"],
                "description": "that time in the workspace's time zone (its `timezone` setting)",
            },
        },
    },
    "description": "the grids that made the save stale, each with who changed it and when",
}
#: A 409 of a planning save: the one error shape, its ``grids``, and ``current``.
CONFLICT: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "status"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "status": {"const": 409},
                "grids": CONFLICT_GRIDS,
            },
        },
        "current": {"type": "object", "description": "those grids as they are now (GeoJSON)"},
    },
}
_MOVE = {
    "type": "object",
    "required": ["block", "to"],
    "properties": {
        "block": {"type": "integer", "minimum": 1},
        "from": {"type": ["string", "null"]},
        "to": {"type": "string", "minLength": 1},
        "buildings": {"type": "array", "items": {"type": ["integer", "string"]}},
    },
}

REBALANCE_APPLY = {
    "summary": "Apply a rebalance proposal: every move, in one transaction",
    "description": "Send the proposal of GET /api/grids/rebalance as it came: its `moves`, "
    "`versions` (each grid's version when it was made) and `stamp` (the street blocks' the "
    "block ids are of). All moves are painted in ONE transaction: one version of the plan, "
    "which one undo takes back; a move that changes nothing (its ground is in its grid "
    "already) is skipped. Nothing is written when a grid a move paints into or out of changed "
    "since (409 `edit_conflict`, naming those grids) or the streets or a community boundary "
    "did (409 `blocks_changed`). The reply says how many moves were applied and the grids "
    "they changed (GeoJSON, EPSG:4326, each with its version).",
    "tags": ["planning"],
    "requestBody": json_body(
        {
            "type": "object",
            "required": ["moves", "versions"],
            "properties": {
                "moves": {"type": "array", "items": _MOVE, "minItems": 1, "maxItems": 5000},
                "versions": {
                    "type": "object",
                    "additionalProperties": {"type": "integer", "minimum": 1},
                },
                "stamp": {"type": ["string", "null"], "maxLength": 64},
            },
            "additionalProperties": False,
        }
    ),
    "responses": {
        "200": json_reply(
            "What the rebalance changed",
            {
                "type": "object",
                "required": ["tx", "applied", "moves", "changed", "grids", "depth"],
                "properties": {
                    "tx": {"type": "integer", "description": "the version; 0: nothing changed"},
                    "applied": {"type": "integer", "description": "moves applied"},
                    "moves": {"type": "integer", "description": "moves sent"},
                    "changed": {"type": "array", "items": {"type": "string"}},
                    "grids": {"type": "object"},
                    "depth": DEPTH,
                },
            },
        ),
        "409": json_reply("A grid or the street blocks changed since the proposal", CONFLICT),
        **errors(400, 403, 404),
    },
}

__all__ = ["CONFLICT", "CONFLICT_GRIDS", "DEPTH", "REBALANCE_APPLY"]
