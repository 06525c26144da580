"""OpenAPI descriptions of printing grid sheets (:mod:`web.print`): ``/api/print``.

``POST`` starts a print job (followed, downloaded and cancelled through ``/api/jobs``);
``GET`` returns the file at once, within the same job limits. What a role sees on a sheet
follows its access: a grid worker prints only their own grids (another grid is 404).
"""

from __future__ import annotations

from typing import Any

from gridmap.print.jobs import PRINT_TYPES
from gridmap.print.paper import ORIENTATIONS, PAPERS
from gridmap.service.jobs.runner import CANCELLED, DONE, FAILED, QUEUED, RUNNING
from web.openapi import add_schemas, errors, json_body, json_reply

_TIME = {"type": ["string", "null"], "description": "UTC ISO 8601 time"}
_GRIDS_TEXT = (
    "Grid codes with commas between, or all (every grid the caller may print; a grid worker: "
    "their own). A code that does not exist, or is another grid worker's, is 404."
)
_OPTIONS: dict[str, dict[str, Any]] = {
    "paper": {"enum": list(PAPERS), "default": "A4", "description": "ISO paper size"},
    "orientation": {
        "enum": list(ORIENTATIONS),
        "default": "landscape",
        "description": "landscape: the map left, legend and tables right; portrait: below",
    },
    "lang": {
        "enum": ["zh-CN", "en"],
        "description": "The sheet's language (default: the request's; zh-CN unless the "
        "browser prefers English)",
    },
    "format": {
        "enum": list(PRINT_TYPES),
        "default": "pdf",
        "description": "pdf (fonts embedded), or html: one document for the browser to print",
    },
}

add_schemas(
    {
        "NewPrint": {
            "type": "object",
            "title": "A print of grid sheets: an overview page and one page per grid",
            "required": ["grids"],
            "properties": {
                "grids": {
                    "description": _GRIDS_TEXT + " Also a list of codes.",
                    "anyOf": [
                        {"type": "string", "minLength": 1},
                        {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    ],
                },
                **_OPTIONS,
            },
        },
        "PrintJob": {
            "type": "object",
            "title": "A print job of the caller: state, progress, and its file when done",
            "required": ["id", "kind", "state", "progress", "message", "url", "result"],
            "properties": {
                "id": {"type": "string"},
                "kind": {"const": "print"},
                "state": {"enum": [QUEUED, RUNNING, DONE, FAILED, CANCELLED]},
                "progress": {"type": "number", "minimum": 0, "maximum": 1},
                "message": {
                    "type": "object",
                    "properties": {"en": {"type": "string"}, "zh-CN": {"type": "string"}},
                },
                "cancel_requested": {"type": "boolean"},
                "grids": {
                    "anyOf": [{"const": "all"}, {"type": "array", "items": {"type": "string"}}]
                },
                "paper": {"enum": list(PAPERS)},
                "orientation": {"enum": list(ORIENTATIONS)},
                "lang": {"enum": ["zh-CN", "en"]},
                "format": {"enum": list(PRINT_TYPES)},
                "created_at": _TIME,
                "started_at": _TIME,
                "finished_at": _TIME,
                "expires_at": _TIME,
                "filename": {"type": ["string", "null"]},
                "error": {"anyOf": [{"type": "null"}, {"type": "object"}]},
                "url": {"type": "string", "description": "The job under /api/jobs"},
                "result": {
                    "type": ["string", "null"],
                    "description": "The URL of the file, once the state is done",
                },
            },
        },
    }
)

START = {
    "summary": "Start printing grid sheets (PDF or HTML for print) in the background",
    "description": "Each chosen grid gets a page: its map at a true scale (UTM) with scale bar, "
    "north arrow and legend, its details and its buildings; two grids or more also get an "
    "overview page. Follow the job at its url (/api/jobs/{job_id}), download its result, "
    "cancel it with DELETE. 429 when the caller's or the server's queue is full.",
    "tags": ["print"],
    "requestBody": json_body("NewPrint"),
    "responses": {
        "202": json_reply(
            "The job, queued or running",
            "PrintJob",
            headers={"Location": {"schema": {"type": "string"}}},
        ),
        **errors(400, 403, 404, 429),
    },
}


def _query(name: str, schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": name == "grids",
        "description": description,
        "schema": schema,
        **extra,
    }


DOWNLOAD = {
    "summary": "Grid sheets as a file at once (PDF or HTML for print)",
    "description": "For scripts that wait for the file, within the job limits of /api/jobs: "
    "429 with Retry-After when no slot is free at once. An HTML sheet comes inline (open it and "
    "print it from the browser), a PDF as an attachment.",
    "tags": ["print"],
    "parameters": [
        _query(
            "grids",
            {"type": "string", "minLength": 1},
            _GRIDS_TEXT,
            example="320102001001001,320102001001002",
        ),
        *(
            _query(
                name, {k: v for k, v in schema.items() if k != "description"}, schema["description"]
            )
            for name, schema in _OPTIONS.items()
        ),
    ],
    "responses": {
        "200": {
            "description": "The sheet",
            "headers": {"Content-Disposition": {"schema": {"type": "string"}}},
            "content": {
                "application/pdf": {"schema": {}},
                "text/html": {"schema": {"type": "string"}},
            },
        },
        **errors(400, 403, 404, 429),
    },
}

__all__ = ["DOWNLOAD", "START"]
