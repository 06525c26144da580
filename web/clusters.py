"""The map's bubbles: ``/api/layers/<name>/clusters`` (a point layer gathered into cells).

A thin view over :func:`gridmap.service.clusters.layer_clusters`: it parses ``zoom``, ``bbox``
and the filters of ``/api/layers/<name>``, answers 304 when the caller's copy is current (the
ETag of ``/api/layers``: the workspace's stamp, who asks and the query) and renders the JSON.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from gridmap.errors import InputError
from gridmap.service import clusters as cluster_service
from gridmap.service import layers as layer_service
from web.api_doc_speed import CLUSTERS_DOC
from web.auth import EVERYONE, access, allow
from web.common import parse_bbox, workspace
from web.headers import etag_current, revalidated
from web.openapi import describe

bp = Blueprint("clusters", __name__, url_prefix="/api/layers")


def parse_zoom(text: str | None) -> int:
    """Return the whole zoom level of a ``zoom`` query value (required)."""
    low, high = cluster_service.MIN_ZOOM, cluster_service.MAX_ZOOM
    if text in (None, ""):
        raise InputError(
            f"zoom is required: the map's zoom level, a whole number from {low} to {high}. "
            f"(需要 zoom：地图缩放级别，{low} 到 {high} 的整数。)"
        )
    try:
        zoom = int(text)
    except ValueError as exc:
        raise InputError(
            f"zoom must be a whole number from {low} to {high}, not '{text}'. "
            f"(zoom 应为 {low} 到 {high} 的整数。)"
        ) from exc
    return cluster_service.check_zoom(zoom)


@bp.get("/<name>/clusters")
@allow(EVERYONE)
@describe(CLUSTERS_DOC)
def clusters(name: str) -> Response:
    """Cells of a point layer: ``?zoom=&bbox=&where=&grids=&ids=`` (counts, centroids, stacks)."""
    ws, who = workspace(), access()
    query = request.query_string.decode(errors="replace")
    cluster_service.require_points(name, who)  # refused before its parameters (and any 304)
    etag = layer_service.layer_etag(ws, name, access=who, query=f"clusters?{query}")
    if etag_current(etag):
        return Response(status=304)
    found = cluster_service.layer_clusters(
        ws,
        name,
        access=who,
        zoom=parse_zoom(request.args.get("zoom")),
        bbox=parse_bbox(request.args.get("bbox")),
        where=request.args.getlist("where"),
        grids=request.args.get("grids"),
        ids=request.args.get("ids"),
    )
    return revalidated(jsonify(found.document()), etag)
