"""OpenAPI descriptions of background jobs (:mod:`web.jobs`) and register figures (``/api/figures``).

A job is its user's alone: another user's job, an expired one or one that never was is 404.
Bounding boxes are minlon, minlat, maxlon, maxlat in degrees (EPSG:4326); times UTC ISO 8601.
"""

from __future__ import annotations

from typing import Any

from gridmap.print.jobs import PRINT_TYPES
from gridmap.schema import LAYER_ORDER, VISIT_CATEGORIES
from gridmap.service.figures import CATEGORY_COLUMNS, COLUMNS, SMALL_COUNT
from gridmap.service.jobs.runner import CANCELLED, DONE, FAILED, QUEUED, RUNNING
from gridmap.service.layers import EXPORT_TYPES
from gridmap.service.visit_figures import CATEGORY_COLUMNS as GRID_CATEGORY_COLUMNS
from gridmap.service.visit_figures import VISIT_ROUNDING
from web.openapi import add_schemas, errors, json_body, json_reply, ref, register

_TIME = {"type": ["string", "null"], "description": "UTC ISO 8601 time"}
_BBOX_NUMBERS = {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4}
_JOB_ID = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "description": "The job's id (from POST /api/jobs)",
    "schema": {"type": "string", "minLength": 1},
}

add_schemas(
    {
        "Job": {
            "type": "object",
            "title": "A background job of the caller: state, progress, and its file when done",
            "required": ["id", "kind", "state", "progress", "message", "url", "result"],
            "properties": {
                "id": {"type": "string"},
                "kind": {"enum": ["export", "print", "partition"]},
                "state": {"enum": [QUEUED, RUNNING, DONE, FAILED, CANCELLED]},
                "progress": {"type": "number", "minimum": 0, "maximum": 1},
                "message": {
                    "type": "object",
                    "properties": {"en": {"type": "string"}, "zh-CN": {"type": "string"}},
                },
                "cancel_requested": {"type": "boolean"},
                "layer": {"type": "string"},
                "format": {"enum": [*EXPORT_TYPES, *PRINT_TYPES]},
                "paper": {"enum": ["A4", "A3"], "description": "A print's paper"},
                "orientation": {"enum": ["landscape", "portrait"]},
                "lang": {"enum": ["en", "zh-CN"]},
                "bbox": {"anyOf": [{"type": "null"}, _BBOX_NUMBERS]},
                "where": {"type": "array", "items": {"type": "string"}},
                "grids": {
                    "anyOf": [{"type": "array", "items": {"type": "string"}}, {"const": "all"}]
                },
                "ids": {"type": "integer", "minimum": 0, "description": "How many ids"},
                "community": {"type": "string", "description": "A partition's community"},
                "households": {"type": "number", "description": "A partition's target"},
                "tolerance": {"type": "number", "description": "A partition's tolerance"},
                "created_at": _TIME,
                "started_at": _TIME,
                "finished_at": _TIME,
                "expires_at": {**_TIME, "description": "When a done job's file is removed"},
                "filename": {"type": ["string", "null"]},
                "error": {
                    "description": "Why a failed job failed (the error shape's inner object)",
                    "anyOf": [
                        {"type": "null"},
                        {
                            "type": "object",
                            "required": ["code", "message", "status"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "status": {"type": "integer"},
                            },
                        },
                    ],
                },
                "url": {"type": "string"},
                "result": {
                    "type": ["string", "null"],
                    "description": "The URL of the file, once the state is done",
                },
            },
        },
        "Jobs": {
            "type": "object",
            "required": ["jobs", "limits"],
            "properties": {
                "jobs": {"type": "array", "items": ref("Job")},
                "limits": {
                    "type": "object",
                    "description": "Jobs at once on this server and per user, waiting jobs "
                    "per user and in all, and seconds a finished job is kept",
                    "required": [
                        "running",
                        "running_per_user",
                        "waiting_per_user",
                        "waiting",
                        "keep_s",
                    ],
                    "properties": {
                        "running": {"type": "integer"},
                        "running_per_user": {"type": "integer"},
                        "waiting_per_user": {"type": "integer"},
                        "waiting": {"type": "integer"},
                        "keep_s": {"type": "number"},
                    },
                },
            },
        },
        "NewJob": {
            "type": "object",
            "title": "An export of one layer, or of the part asked for (bbox, where, grids, "
            "ids), as a file",
            "required": ["layer"],
            "properties": {
                "kind": {"enum": ["export"], "default": "export"},
                "layer": {"enum": list(LAYER_ORDER)},
                "format": {
                    "enum": list(EXPORT_TYPES),
                    "default": "xlsx",
                    "description": "geojson and shp only for layers with geometry",
                },
                "lang": {
                    "description": "zh-CN titles the columns in Chinese; other text: English; "
                    "none: the request's language",
                },
                "bbox": {
                    "description": "minlon,minlat,maxlon,maxlat in degrees (EPSG:4326): four "
                    "numbers or their text",
                    "anyOf": [{"type": "null"}, {"type": "string"}, _BBOX_NUMBERS],
                },
                "where": {
                    "description": "Conditions COLUMN<op>VALUE (all must hold), as /api/layers "
                    "takes them: one, or a list",
                    "anyOf": [
                        {"type": "null"},
                        {"type": "string"},
                        {"type": "array", "items": {"type": "string"}, "maxItems": 20},
                    ],
                },
                "grids": {
                    "description": "Grid codes: only what belongs to these grids",
                    "anyOf": [
                        {"type": "null"},
                        {"type": "string"},
                        {"type": "array", "items": {"type": "string"}},
                    ],
                },
                "ids": {
                    "description": "Feature ids as the caller is served them (a masked "
                    "reader's opaque ids are text): only these features (a selection)",
                    "anyOf": [
                        {"type": "null"},
                        {"type": "string"},
                        {"type": "array", "items": {"type": ["integer", "string"]}},
                    ],
                },
            },
        },
    }
)

register(
    "jobs.start",
    {
        "summary": "Start a job: an export of a layer, made in the background",
        "description": "Personal data masked as the caller's role sees it (an unmasked export "
        "is recorded in the access log). 429 when the caller's or the server's queue is full.",
        "tags": ["jobs"],
        "requestBody": json_body("NewJob"),
        "responses": {
            "202": json_reply(
                "The job, queued or running",
                "Job",
                headers={"Location": {"schema": {"type": "string"}}},
            ),
            **errors(400, 403, 404, 429, 503),
        },
    },
)
register(
    "jobs.list_jobs",
    {
        "summary": "The caller's jobs, newest first, and the limits they run under",
        "tags": ["jobs"],
        "responses": {"200": json_reply("The jobs", "Jobs")},
    },
)
register(
    "jobs.job_state",
    {
        "summary": "One job of the caller: its state, progress and message",
        "tags": ["jobs"],
        "parameters": [_JOB_ID],
        "responses": {"200": json_reply("The job", "Job"), **errors(404)},
    },
)
register(
    "jobs.job_result",
    {
        "summary": "The file of a finished job",
        "description": "409 before the job is done (or when it failed or was cancelled); "
        "404 once it expired.",
        "tags": ["jobs"],
        "parameters": [_JOB_ID],
        "responses": {
            "200": {
                "description": "The file, as an attachment",
                "content": {
                    media: {"schema": {}}
                    for media in [*EXPORT_TYPES.values(), *PRINT_TYPES.values()]
                },
            },
            **errors(404, 409),
        },
    },
)
register(
    "jobs.cancel",
    {
        "summary": "Cancel a job, or discard a finished one with its file",
        "tags": ["jobs"],
        "parameters": [_JOB_ID],
        "responses": {
            "200": json_reply("A waiting job, cancelled", "Job"),
            "202": json_reply("A running job, cancelled when its work next checks", "Job"),
            "204": {"description": "A finished job, discarded"},
            **errors(404),
        },
    },
)

_FIGURES_TEXT = {
    "register": (
        "Register figures per grid: households, residents by gender and age band, migrants, "
        "registered here, rented homes, households due visits",
        COLUMNS,
    ),
    "categories": (
        "Households of each of the six visit categories (六必访: "
        + ", ".join(VISIT_CATEGORIES)
        + ") per community",
        CATEGORY_COLUMNS,
    ),
}


def _figures(kind: str) -> dict[str, Any]:
    summary, columns = _FIGURES_TEXT[kind]
    key = columns[0]
    more = GRID_CATEGORY_COLUMNS if kind == "register" else ()
    row = {
        "type": "object",
        "required": list(columns),
        "properties": {
            key: {"type": "string"},
            **{c: {"type": ["integer", "null"], "minimum": 0} for c in (*columns[1:], *more)},
        },
    }
    listed: dict[str, Any] = {"const": list(columns)}
    if more:
        listed = {
            "type": "array",
            "items": {"enum": [*columns, *more]},
            "description": f"{', '.join(columns)}; then, for a reader of the register (the "
            "admin, a grid worker in their own grids), households and people of each visit "
            "category: " + ", ".join(more),
        }
    params: list[dict[str, Any]] = [
        {
            "name": "format",
            "in": "query",
            "required": False,
            "description": "csv: the table as a CSV file; json (the default): as JSON",
            "schema": {"enum": ["json", "csv"], "default": "json"},
        },
        {
            "name": "lang",
            "in": "query",
            "required": False,
            "description": "zh-CN: a CSV file with Chinese titles and the UTF-8 byte order mark "
            "Excel needs; otherwise column names. Suppressed counts say 已隐藏 / hidden",
            "schema": {"type": "string"},
        },
    ]
    if kind == "register":
        params.insert(
            0,
            {
                "name": "grids",
                "in": "query",
                "required": False,
                "description": "Grid codes, with commas between (default: every grid; a grid "
                "worker's own only). A code that does not exist is 404.",
                "schema": {"type": "string"},
            },
        )
    return {
        "summary": summary,
        "description": f"Counts from 1 to {SMALL_COUNT - 1} are suppressed (null), and the "
        "next smallest where one would follow from a total."
        + (
            " `visit_households` (households in any of the six visit categories, visited "
            "every month) is exact for a reader of the grid's register (the admin, a grid "
            f"worker) and rounded to {VISIT_ROUNDING} for everyone else (`rounded_to` says "
            "so); only a reader of the register gets each category's households and people "
            "per grid (a grid's count of one category ranks that category's households)."
            if kind == "register"
            else ""
        ),
        "tags": ["figures"],
        "parameters": params,
        "responses": {
            "200": {
                "description": "The table",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["kind", "columns", "rows", "suppressed_below"],
                            "properties": {
                                "kind": {"const": kind},
                                "columns": listed,
                                "rows": {"type": "array", "items": row},
                                "suppressed_below": {"const": SMALL_COUNT},
                                "rounded_to": {
                                    "type": "object",
                                    "additionalProperties": {"type": "integer"},
                                    "description": "columns rounded for this reader, and to "
                                    "what (empty: all exact)",
                                },
                            },
                        }
                    },
                    "text/csv": {"schema": {"type": "string"}},
                },
            },
            **errors(400, 403, 404),
        },
    }


register("api.figures", _figures, each={"kind": tuple(_FIGURES_TEXT)})
