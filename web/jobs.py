"""Background jobs over HTTP (``/api/jobs``): start an export, follow it, download, cancel.

``POST /api/jobs`` ``{"kind": "export", "layer": …, "format": …, "lang": …, "bbox": …,
"where": [COLUMN<op>VALUE, …], "grids": "A,B" or [codes], "ids": "1,2" or [ids, as served]}`` answers 202 with the job and its ``Location``; ``GET /api/jobs/<id>`` its state and progress;
``GET /api/jobs/<id>/result`` the file once the state is ``done``; ``DELETE /api/jobs/<id>``
cancels it (or discards a finished one with its file); ``GET /api/jobs`` lists the caller's
jobs. Every route is for signed-in users; a job is its user's alone (another's is 404). The
limits, the queue and how long files are kept are :class:`gridmap.service.jobs.JobRunner`'s,
set by the app's config: ``JOBS_MAX_RUNNING`` (default 2), ``JOBS_MAX_RUNNING_PER_USER`` (1),
``JOBS_MAX_WAITING_PER_USER`` (3), ``JOBS_MAX_WAITING`` (20), ``JOBS_KEEP_S`` (3600) and
``JOBS_FOLDER`` (default: a new temporary folder, removed at shutdown).
"""

from __future__ import annotations

import weakref
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request, send_file, url_for
from flask.blueprints import BlueprintSetupState

from gridmap.errors import InputError
from gridmap.service import jobs as job_service
from web.auth import SIGNED_IN, access, allow
from web.common import choose_lang, parse_bbox, workspace
from web.headers import mark_personal

bp = Blueprint("jobs", __name__, url_prefix="/api/jobs")

#: The key, in ``app.extensions``, of the app's :class:`~gridmap.service.jobs.JobRunner`.
RUNNER_KEY = "gridmap.jobs"
#: Job kinds ``POST /api/jobs`` starts.
KINDS = ("export",)


@bp.record_once
def _start_runner(state: BlueprintSetupState) -> None:
    app = state.app
    config = app.config
    runner = job_service.JobRunner(
        max_running=int(config.get("JOBS_MAX_RUNNING", 2)),
        max_running_per_user=int(config.get("JOBS_MAX_RUNNING_PER_USER", 1)),
        max_waiting_per_user=int(config.get("JOBS_MAX_WAITING_PER_USER", 3)),
        max_waiting=int(config.get("JOBS_MAX_WAITING", 20)),
        keep_s=float(config.get("JOBS_KEEP_S", 3600)),
        folder=config.get("JOBS_FOLDER"),
    )
    app.extensions[RUNNER_KEY] = runner
    weakref.finalize(app, runner.close, 5.0)  # when the app goes, or at exit


def runner_of(app: Flask | None = None) -> job_service.JobRunner:
    """Return the job runner of ``app`` (default: the current app)."""
    found: job_service.JobRunner = (app or current_app).extensions[RUNNER_KEY]
    return found


def job_document(job: job_service.Job) -> dict[str, Any]:
    """Return ``job`` as JSON data with its URLs (``url``; ``result`` once it is done)."""
    doc = runner_of().document(job)
    doc["url"] = url_for("jobs.job_state", job_id=job.id)
    doc["result"] = (
        url_for("jobs.job_result", job_id=job.id) if doc["state"] == job_service.DONE else None
    )
    return doc


def _bbox(value: Any) -> tuple[float, float, float, float] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return parse_bbox(value)
    numbers = isinstance(value, list) and len(value) == 4
    if numbers and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return float(value[0]), float(value[1]), float(value[2]), float(value[3])
    raise InputError(
        "bbox must be minlon,minlat,maxlon,maxlat: four numbers, or their text. "
        "(bbox 应为 最小经度,最小纬度,最大经度,最大纬度 四个数。)"
    )


def _listed(body: dict[str, Any], key: str, kinds: tuple[type, ...]) -> Any:
    """A ``grids`` or ``ids`` member: comma-separated text, or a list of such values."""
    value = body.get(key)
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, str):
        return value
    ok = isinstance(value, list) and all(
        isinstance(v, kinds) and not isinstance(v, bool) for v in value
    )
    if not ok:
        raise InputError(f"{key} must be comma-separated text or a list. ({key} 格式不对。)")
    return value


def _selection(body: dict[str, Any]) -> job_service.Selection:
    """The part of the layer a job body asks for: ``where``, ``grids``, ``ids``."""
    where = body.get("where")
    if where is not None and not isinstance(where, str | list):
        raise InputError("where must be a condition or a list of them: COLUMN=VALUE.")
    return job_service.Selection.of(
        where, _listed(body, "grids", (str,)), _listed(body, "ids", (int, str))
    )


@bp.post("")
@allow(SIGNED_IN)
def start() -> tuple[Response, int]:
    """Start a job: ``{"kind": "export", "layer", "format", "lang", "bbox", "where", "grids",
    "ids"}`` → 202 and the job."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InputError('Send the job as JSON: {"kind": "export", "layer": "…", "format": "…"}.')
    kind = body.get("kind", "export")
    if kind not in KINDS:
        raise InputError(f"kind must be one of: {', '.join(KINDS)}.")
    layer, fmt, lang = body.get("layer"), body.get("format", "xlsx"), body.get("lang")
    if not isinstance(layer, str) or not layer:
        raise InputError("Name the layer to export: layer.")
    if not isinstance(fmt, str):
        raise InputError("format must be text: xlsx, csv, geojson, gpkg or shp.")
    job = job_service.start_export(
        runner_of(),
        workspace(),
        layer,
        fmt=fmt,
        lang=lang if isinstance(lang, str) else choose_lang(),
        bbox=_bbox(body.get("bbox")),
        selection=_selection(body),
        access=access(),
    )
    resp = jsonify(job_document(job))
    resp.headers["Location"] = url_for("jobs.job_state", job_id=job.id)
    return resp, 202


@bp.get("")
@allow(SIGNED_IN)
def list_jobs() -> Response:
    """The caller's jobs, newest first, and the limits they run under."""
    runner = runner_of()
    return jsonify(
        {
            "jobs": [job_document(j) for j in runner.jobs(access().owner)],
            "limits": {
                "running": runner.max_running,
                "running_per_user": runner.max_running_per_user,
                "waiting_per_user": runner.max_waiting_per_user,
                "waiting": runner.max_waiting,
                "keep_s": runner.keep_s,
            },
        }
    )


@bp.get("/<job_id>")
@allow(SIGNED_IN)
def job_state(job_id: str) -> Response:
    """One job of the caller: its state, progress, message, and the URL of its file when done."""
    return jsonify(job_document(runner_of().get(access().owner, job_id)))


@bp.get("/<job_id>/result")
@allow(SIGNED_IN)
def job_result(job_id: str) -> Response:
    """The file of a finished job (409 ``job_not_ready`` before; 404 once expired)."""
    runner = runner_of()
    job = runner.get(access().owner, job_id)
    out = runner.result(access().owner, job_id)
    if job.personal:
        mark_personal()
    resp = send_file(
        out.path,
        mimetype=out.media_type,
        as_attachment=True,
        download_name=out.path.name,
        max_age=0,
        conditional=False,
        etag=False,
    )
    # the name in the export's language, with the ASCII name on disk as the fallback
    resp.headers["Content-Disposition"] = job_service.content_disposition(
        out.filename, out.path.name
    )
    return resp


@bp.delete("/<job_id>")
@allow(SIGNED_IN)
def cancel(job_id: str) -> Response:
    """Cancel a job (a waiting one at once: 200; a running one when it next checks: 202); a
    finished one is discarded with its file (204)."""
    runner = runner_of()
    before = runner.get(access().owner, job_id).state
    job = runner.cancel(access().owner, job_id)
    if before in job_service.FINISHED:
        return Response(status=204)
    resp = jsonify(job_document(job))
    resp.status_code = 200 if job.state in job_service.FINISHED else 202
    return resp
