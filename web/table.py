"""The attribute table's JSON: ``/api/layers/<name>/rows`` and ``/api/layers/<name>/values``.

Thin views over :mod:`gridmap.service.rows`: they parse the request, answer 304 when the
caller's copy is current (the ETag of ``/api/layers``: the workspace's stamp, who asks and
the query), and render the JSON. Replies with register rows are ``private, no-store``.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from gridmap.access.roles import Access
from gridmap.service import layers as layer_service
from gridmap.service import rows as rows_service
from gridmap.store import Workspace
from web.api_doc_table import ROWS_DOC, VALUES_DOC
from web.auth import EVERYONE, access, allow
from web.common import parse_bbox, parse_int, workspace
from web.headers import etag_current, is_personal_layer, mark_personal, revalidated
from web.openapi import describe

bp = Blueprint("table", __name__, url_prefix="/api/layers")


def _current(ws: Workspace, name: str, who: Access, kind: str) -> tuple[str, bool]:
    """Return the reply's ETag and whether the caller's copy is current (a 304)."""
    query = request.query_string.decode(errors="replace")
    etag = layer_service.layer_etag(ws, name, access=who, query=f"{kind}?{query}")
    if is_personal_layer(name):
        mark_personal()
    return etag, etag_current(etag)


def _reply(doc: dict[str, object], etag: str) -> Response:
    return revalidated(jsonify(doc), etag)


@bp.get("/<name>/rows")
@allow(EVERYONE)
@describe(ROWS_DOC)
def rows(name: str) -> Response:
    """One page of rows: ``?where=&grids=&ids=&sort=&bbox=&limit=&offset=`` (no geometry)."""
    ws, who = workspace(), access()
    etag, current = _current(ws, name, who, "rows")
    if current:
        return Response(status=304)
    page = rows_service.rows_page(
        ws,
        name,
        access=who,
        bbox=parse_bbox(request.args.get("bbox")),
        limit=parse_int("limit", None),
        offset=parse_int("offset", 0) or 0,
        where=request.args.getlist("where"),
        grids=request.args.get("grids"),
        sort=request.args.get("sort"),
        ids=request.args.get("ids"),
    )
    return _reply(page.document(), etag)


@bp.get("/<name>/values")
@allow(EVERYONE)
@describe(VALUES_DOC)
def values(name: str) -> Response:
    """A column's distinct values with counts: ``?column=&where=&grids=&ids=&bbox=&limit=``."""
    ws, who = workspace(), access()
    etag, current = _current(ws, name, who, "values")
    if current:
        return Response(status=304)
    found = rows_service.column_values(
        ws,
        name,
        request.args.get("column"),
        access=who,
        bbox=parse_bbox(request.args.get("bbox")),
        limit=parse_int("limit", None),
        where=request.args.getlist("where"),
        grids=request.args.get("grids"),
        ids=request.args.get("ids"),
    )
    return _reply(found.document(), etag)
