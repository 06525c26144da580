"""The JSON API under ``/api``: the workspace, its layers as GeoJSON, layers as files, health.

Each view parses the request, calls :mod:`gridmap.service` and renders the answer; errors are
raised and rendered by :mod:`web.errors` in the one error shape.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, jsonify, request

from gridmap.errors import InputError
from gridmap.service import jobs as job_service
from gridmap.service import layers as layer_service
from gridmap.service import workspace as workspace_service
from web import assets
from web.auth import EVERYONE, SIGNED_IN, access, allow
from web.common import choose_lang, geojson_response, parse_bbox, parse_int, workspace
from web.headers import etag_current, is_personal_layer, mark_personal, revalidated
from web.jobs import runner_of

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/workspace")
@allow(EVERYONE)
def workspace_doc() -> Response:
    """The workspace: title, extent, settings and every layer (the map page's JSON twin)."""
    doc = workspace_service.workspace_document(
        workspace(), access=access(), tiles=current_app.config["TILES"]
    )
    return jsonify(doc)


@bp.get("/layers/<name>")
@allow(EVERYONE)
def layer(name: str) -> Response:
    """One layer as GeoJSON: ``?bbox=minlon,minlat,maxlon,maxlat&limit=&offset=``, narrowed by
    ``where=COLUMN<op>VALUE`` (repeated; gridmap.service.filters), ``grids=A,B``, ``ids=1,2`` and sorted
    by ``sort=column,-column``."""
    ws = workspace()
    query = request.query_string.decode(errors="replace")
    etag = layer_service.layer_etag(ws, name, access=access(), query=query)
    if is_personal_layer(name):
        mark_personal()
    if etag_current(etag):
        return Response(status=304)
    page = layer_service.page(
        ws,
        name,
        bbox=parse_bbox(request.args.get("bbox")),
        limit=parse_int("limit", None),
        offset=parse_int("offset", 0) or 0,
        access=access(),
        where=request.args.getlist("where"),
        grids=request.args.get("grids"),
        sort=request.args.get("sort"),
        ids=request.args.get("ids"),
    )
    return revalidated(geojson_response(page.text), etag)


def _selection() -> job_service.Selection:
    """The part of a layer a request asks for: ``where`` (repeated), ``grids``, ``ids``."""
    return job_service.Selection.of(
        request.args.getlist("where"), request.args.get("grids"), request.args.get("ids")
    )


@bp.get("/layers/<name>/export")
@allow(SIGNED_IN)
def export(name: str) -> Response:
    """One layer as a file: ``?format=xlsx|csv|geojson|gpkg|shp&lang=zh-CN|en&bbox=``, narrowed by
    ``where=COLUMN<op>VALUE`` (repeated), ``grids=A,B`` and ``ids=1,2`` as ``/api/layers`` is.

    For scripts that wait for the file. It runs within the job limits of ``/api/jobs`` (the
    browser's way, with progress and cancel): when no slot is free at once, 429 with
    ``Retry-After`` rather than a request thread held waiting. HEAD answers the headers only
    and builds nothing. The file's name says layer, area, date and language.
    """
    fmt = request.args.get("format", "xlsx")
    lang = request.args.get("lang", choose_lang())
    bbox = parse_bbox(request.args.get("bbox"))
    selection = _selection()
    if is_personal_layer(name):
        mark_personal()
    if request.method == "HEAD":
        head = job_service.describe_export(
            workspace(), name, fmt=fmt, lang=lang, bbox=bbox, selection=selection, access=access()
        )
        resp = Response(mimetype=head.media_type)
        resp.headers["Content-Disposition"] = job_service.content_disposition(
            head.filename, head.ascii_filename
        )
        return resp
    runner = runner_of()
    job = job_service.run_export(
        runner,
        workspace(),
        name,
        fmt=fmt,
        lang=lang,
        bbox=bbox,
        selection=selection,
        access=access(),
    )
    if job.state != job_service.DONE or job.output is None:
        runner.discard(job)
        raise job.exception or job_service.job_not_ready(job.state)
    try:  # read whole, as before jobs: the request is done with the file once it is sent
        body = job.output.path.read_bytes()
    finally:
        runner.discard(job)
    resp = Response(body, mimetype=job.output.media_type)
    resp.headers["Content-Disposition"] = job_service.content_disposition(
        job.output.filename, job.output.path.name
    )
    return resp


@bp.get("/figures/<kind>")
@allow(SIGNED_IN)
def figures(kind: str) -> Response:
    """Register figures: ``register`` (per grid; ``?grids=A,B``; the six visit categories per
    grid for readers of the register, the households due visits rounded for the others) or
    ``categories`` (the six visit categories per community). Small counts are suppressed.
    ``?format=csv`` downloads (``&lang=zh-CN``: Chinese titles, with the byte order mark
    Excel needs)."""
    from gridmap.service import figures as figures_service
    from gridmap.service.figures_export import figures_csv

    grids = [g for g in request.args.get("grids", "").split(",") if g.strip()] or None
    fmt = request.args.get("format") or "json"
    if fmt not in ("json", "csv"):  # an xlsx asked for must not come back as JSON
        raise InputError(f"Figures come as json or csv, not '{fmt}'. (统计表格式为 json 或 csv。)")
    if kind == "register":
        table = figures_service.register_figures(workspace(), access(), grids)
    elif kind == "categories":
        table = figures_service.category_figures(workspace(), access())
    else:
        raise InputError(f"Figures are 'register' or 'categories', not '{kind}'.")
    if fmt == "csv":
        lang = "zh-CN" if request.args.get("lang") == "zh-CN" else "en"
        resp = Response(figures_csv(table, lang), mimetype="text/csv")
        title = {"register": "户籍统计", "categories": "六必访统计"}[kind]
        name = f"{title if lang == 'zh-CN' else 'figures-' + kind}_{lang}.csv"
        resp.headers["Content-Disposition"] = job_service.content_disposition(
            name, f"figures-{kind}_{lang}.csv"
        )
        return resp
    rows = json.loads(table.to_json(orient="records", force_ascii=False))
    return jsonify(
        {
            "kind": kind,
            "columns": list(table.columns),
            "rows": rows,
            "suppressed_below": figures_service.SMALL_COUNT,
            "rounded_to": dict(table.attrs.get("rounded_to") or {}),
        }
    )


@bp.get("/health")
@allow(EVERYONE)
def health() -> Response:
    """Whether the server can serve the map: the browser libraries it lacks, if any."""
    return jsonify({"status": "ok", "missing_vendor": assets.missing_vendor()})
