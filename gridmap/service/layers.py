"""One layer for the JSON API: a page of GeoJSON with its validator, and a layer as a file.

Flask-free: :mod:`web.api` parses the request, calls these and turns the result into a reply.
Coordinates are lon/lat degrees (EPSG:4326) throughout, as stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from gridmap.access.roles import Access, audited
from gridmap.schema import get_layer
from gridmap.service import feature_ids, filters, scope, stamps
from gridmap.service.query import Page, layer_page
from gridmap.store import Bbox, Workspace

#: Export formats and the media type of the file each is sent as.
EXPORT_TYPES: dict[str, str] = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
    "shp": "application/zip",
}


@dataclass(frozen=True)
class ExportFile:
    """A layer written as a file: its bytes, the name to save it as and its media type."""

    body: bytes
    filename: str
    media_type: str


def layer_etag(ws: Workspace, layer: str, *, access: Access, query: str) -> str:
    """Return the validator of a layer reply: it changes when the reply may change.

    Parameters
    ----------
    ws
        The workspace; its :meth:`~gridmap.store.Workspace.stamp` changes with every edit,
        including those made by QGIS or GDAL.
    layer
        The layer's name; an unknown name raises :class:`~gridmap.errors.LayerNotFoundError`.
    access
        Who asks (masked, own-grid and full replies differ).
    query
        The request's query string, as received.

    Returns
    -------
    str
        20 hex digits.
    """
    get_layer(layer)  # an unknown layer is 404 before anything else
    scope.require(access, layer)  # a refused layer is 401/403, never a 304
    who = f"{access.role}|{','.join(sorted(access.grids))}|{','.join(sorted(access.public_layers))}"
    # an unmasked read is recorded each time, so its tag follows the file (every record
    # moves it) and it is never answered by a 304 without its record; other readers' tags
    # follow the layers' content, so the access log's rows do not empty their caches
    state = ws.stamp() if audited(access, layer) else stamps.content(ws)
    key = f"{state}|{layer}|{who}|{query}"
    return hashlib.sha1(key.encode()).hexdigest()[:20]


def page(
    ws: Workspace,
    layer: str,
    *,
    bbox: Bbox | None = None,
    limit: int | None = None,
    offset: int = 0,
    access: Access,
    where: Sequence[str] = (),
    grids: str | None = None,
    sort: str | None = None,
    ids: str | None = None,
) -> Page:
    """Return the features of ``layer`` that meet ``bbox`` as a masked GeoJSON FeatureCollection.

    Parameters
    ----------
    ws
        The workspace.
    layer
        The layer's name.
    bbox
        minlon, minlat, maxlon, maxlat in degrees (EPSG:4326); None for the whole layer.
        Layers without geometry (people) are placed by their household.
    limit, offset
        Paging: at most ``limit`` features (None: all) after skipping ``offset``.
    access
        Who asks: personal data as their role may see it (a grid worker: own grids only).
    where, grids, sort, ids
        Conditions, grid codes, sort order and feature ids as :func:`gridmap.service.filters.layer_filter`
        takes them (only columns the reader's view serves as stored; ids as the reader is
        served them: :mod:`gridmap.service.feature_ids`).

    Returns
    -------
    Page
        The GeoJSON text with ``numberMatched`` and ``numberReturned``.
    """
    get_layer(layer)
    scope.require(access, layer)
    asked = feature_ids.stored_ids(ws, layer, access, ids)  # a masked reader's tokens
    flt = filters.layer_filter(ws, layer, access, where=where, grids=grids, sort=sort, ids=asked)
    return layer_page(ws, layer, bbox=bbox, limit=limit, offset=offset, access=access, filter=flt)
