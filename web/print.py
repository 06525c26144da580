"""Printing grid sheets over HTTP (``/api/print``): as a background job, or the file at once.

``POST /api/print`` ``{"grids": "…,…" | [...] | "all", "paper", "orientation", "lang",
"format"}`` answers 202 with the job (kind ``print``) and its ``Location`` under
``/api/jobs``, which follows, downloads and cancels it as it does exports. ``GET
/api/print?grids=&paper=&orientation=&lang=&format=`` prints in the request, within the same
job limits (429 when no slot is free at once): a PDF as an attachment, HTML for print inline.
Every route is for signed-in users; what the sheet shows follows the caller's access
(:mod:`gridmap.print.grids`). The view parses; :mod:`gridmap.print.jobs` does the work.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from gridmap.errors import InputError
from gridmap.print import jobs as print_jobs
from gridmap.print.grids import choose_grids, sheet_filename, workspace_today
from gridmap.service import jobs as job_service
from gridmap.service.jobs.filenames import content_disposition
from web.api_doc_print import DOWNLOAD, START
from web.auth import SIGNED_IN, access, allow
from web.common import choose_lang, workspace
from web.jobs import job_document, runner_of
from web.openapi import describe

bp = Blueprint("print", __name__, url_prefix="/api")


def _text(body: dict[str, Any], name: str, default: str) -> str:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise InputError(f"{name} must be text. ({name} 须为文本。)")
    return value


def _options(source: dict[str, Any]) -> dict[str, Any]:
    """Return the print options of a body or query: paper, orientation, lang, format."""
    return {
        "paper": _text(source, "paper", "A4"),
        "orientation": _text(source, "orientation", "landscape"),
        "lang": _text(source, "lang", choose_lang()),
        "fmt": _text(source, "format", "pdf"),
    }


@bp.post("/print")
@allow(SIGNED_IN)
@describe(START)
def start() -> tuple[Response, int]:
    """Start a print job: ``{"grids", "paper", "orientation", "lang", "format"}`` → 202."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InputError(
            'Send the print as JSON: {"grids": "CODE,CODE" or "all"}. (请以 JSON 发送。)'
        )
    grids = body.get("grids")
    if isinstance(grids, list) and not all(isinstance(g, str) for g in grids):
        raise InputError("grids must be grid codes (text). (网格编码须为文本。)")
    if grids is not None and not isinstance(grids, str | list):
        raise InputError("grids must be codes with commas, a list of codes, or all.")
    job = print_jobs.start_print(runner_of(), workspace(), access(), grids, **_options(body))
    resp = jsonify(job_document(job))
    resp.headers["Location"] = url_for("jobs.job_state", job_id=job.id)
    return resp, 202


@bp.get("/print")
@allow(SIGNED_IN)
@describe(DOWNLOAD)
def download() -> Response:
    """Print at once: ``?grids=CODES|all&paper=&orientation=&lang=&format=pdf|html``."""
    args = request.args.to_dict()
    grids = args.get("grids")
    options = _options(args)
    ws = workspace()
    if request.method == "HEAD":  # the headers only: checked, nothing drawn
        print_jobs.print_params(grids, **options)
        choice = choose_grids(ws, access(), grids)
        fmt = options["fmt"]
        name = sheet_filename(choice.codes, choice.all, workspace_today(ws), fmt)
        resp = Response(mimetype=print_jobs.PRINT_TYPES[fmt])
        resp.headers["Content-Disposition"] = _disposition(name, fmt)
        return resp
    runner = runner_of()
    job = print_jobs.run_print(runner, ws, access(), grids, **options)
    if job.state != job_service.DONE or job.output is None:
        runner.discard(job)
        raise job.exception or job_service.job_not_ready(job.state)
    try:
        body = job.output.path.read_bytes()
    finally:
        runner.discard(job)
    resp = Response(body, mimetype=job.output.media_type.split(";")[0])
    resp.headers["Content-Disposition"] = _disposition(job.output.filename, options["fmt"])
    return resp


def _disposition(filename: str, fmt: str) -> str:
    """Return the Content-Disposition of a sheet: HTML inline (to print), PDF to save; a name
    that is not ASCII (a grid code 东区01) also as RFC 5987 UTF-8."""
    value = content_disposition(filename)
    return value.replace("attachment", "inline", 1) if fmt == "html" else value
