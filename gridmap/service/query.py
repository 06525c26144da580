"""Pages of features for the web API and OGC API - Features: filter, page, mask, encode."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.access import privacy
from gridmap.access.roles import Access
from gridmap.errors import InputError
from gridmap.io import geojson
from gridmap.schema import get_layer
from gridmap.service import feature_ids, scope
from gridmap.service.filters import LayerFilter
from gridmap.store import Bbox, Workspace

MAX_LIMIT = 100_000


@dataclass(frozen=True)
class Page:
    """One page of a layer as GeoJSON text, with how many features matched and were returned."""

    text: str
    matched: int
    returned: int


def layer_page(
    ws: Workspace,
    layer: str,
    *,
    access: Access,
    bbox: Bbox | None = None,
    limit: int | None = None,
    offset: int = 0,
    extra: dict[str, Any] | None = None,
    filter: LayerFilter | None = None,
) -> Page:
    """Return features of ``layer`` meeting ``bbox`` and ``filter`` as ``access`` may see them.

    A grid worker gets only the register rows of their own grids; a read that shows personal
    data unmasked is recorded in the access log. ``numberMatched`` and ``numberReturned`` are
    added to the collection, then ``extra``. ``filter`` (checked by
    :func:`gridmap.service.filters.layer_filter`) narrows and sorts the rows. A reader served
    opaque ids gets them in token order (ties of the sort too: :mod:`gridmap.access.ids`).
    """
    get_layer(layer)  # an unknown layer is 404 first
    if limit is not None and not 0 <= limit <= MAX_LIMIT:
        raise InputError(
            f"limit must be between 0 and {MAX_LIMIT}. (limit 应在 0 到 {MAX_LIMIT} 之间。)"
        )
    if offset < 0:
        raise InputError("offset must not be negative.")
    flt = filter or LayerFilter(layer)
    where = scope.scoped_where(ws, access, layer, flt.where)
    scope.check_bbox(access, layer, bbox)
    keep = flt.keep()
    if feature_ids.opaque(layer, access):  # ids and order that tell nothing hidden
        box = bbox if keep is None else (bbox or tuple(flt.area.bounds))
        frame, matched = feature_ids.served_page(
            ws,
            layer,
            access=access,
            boxes=[box] if box else None,
            where=where,
            keep=keep,
            order=flt.order,
            limit=limit,
            offset=offset,
        )
    elif keep is None:
        frame = ws.read(
            layer, bbox=bbox, where=where, limit=limit, offset=offset, system=False, order=flt.order
        )
        whole = limit is None and offset == 0
        matched = len(frame) if whole else ws.count(layer, bbox=bbox, where=where)
    else:  # grids chosen for a layer placed only by its geometry: test it here
        box = bbox or tuple(flt.area.bounds)
        frame = ws.read(layer, bbox=box, where=where, system=False, order=flt.order)
        frame = frame[keep(frame).to_numpy(dtype=bool)]
        matched = len(frame)
        frame = frame.iloc[offset : None if limit is None else offset + limit]
    members = {"numberMatched": matched, "numberReturned": len(frame), **(extra or {})}
    text = encode_page(ws, layer, frame, access=access, members=members)
    shown = {"bbox": list(bbox) if bbox else None, "limit": limit, "offset": offset or None}
    scope.record(
        ws, access, layer, len(frame), action="read", filter={**_given(shown), **flt.describe()}
    )
    return Page(text, matched, len(frame))


def _given(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class FramePage:
    """One page of rows: the frame, how many rows matched, and whether more follow it."""

    frame: pd.DataFrame
    matched: int
    more: bool


def read_page(
    ws: Workspace,
    layer: str,
    *,
    boxes: list[Bbox] | None = None,
    where: dict[str, Any] | None = None,
    keep: Callable[[pd.DataFrame], pd.Series] | None = None,
    limit: int,
    offset: int = 0,
) -> FramePage:
    """Return the rows of ``layer`` meeting every filter, ``limit`` rows from ``offset`` on.

    With one box or none and no ``keep``, the store pages: one row more than asked is read to
    tell whether more follow, and the matches are counted only when the page does not tell
    how many. Otherwise the matching rows are read whole, filtered here, then sliced.

    Parameters
    ----------
    ws
        The workspace.
    layer
        Layer name.
    boxes
        (minlon, minlat, maxlon, maxlat) boxes in CRS84 degrees; a feature is kept when its
        geometry meets any of them (two boxes for a query across the antimeridian).
    where
        Keep rows whose columns equal these values.
    keep
        A row filter the store cannot run (a time interval): frame -> boolean Series.
    limit, offset
        The page, in feature-id order (``limit`` 0 reads nothing but still counts).

    Returns
    -------
    FramePage
        The rows (EPSG:4326 geometry, unmasked), the number of matches, and whether more
        rows follow the page.
    """
    if limit < 0 or offset < 0:
        raise InputError("limit and offset must not be negative.")
    if keep is None and (boxes is None or len(boxes) == 1):
        bbox = boxes[0] if boxes else None
        frame = ws.read(layer, bbox=bbox, where=where, limit=limit + 1, offset=offset, system=False)
        more = len(frame) > limit
        frame = frame.iloc[:limit]
        if not more and (len(frame) or not offset):
            matched = offset + len(frame)
        else:
            matched = ws.count(layer, bbox=bbox, where=where)
        return FramePage(frame, matched, more)
    parts = [ws.read(layer, bbox=b, where=where, system=False) for b in (boxes or [None])]  # type: ignore[list-item]
    frame = parts[0] if len(parts) == 1 else pd.concat(parts)
    if len(parts) > 1:
        frame = frame[~frame.index.duplicated()].sort_index()
    if keep is not None:
        frame = frame[keep(frame).to_numpy(dtype=bool)]
    matched = len(frame)
    return FramePage(frame.iloc[offset : offset + limit], matched, offset + limit < matched)


def encode_page(
    ws: Workspace,
    layer: str,
    frame: pd.DataFrame,
    *,
    access: Access,
    members: dict[str, Any],
    crs_swap: bool = False,
) -> str:
    """Return ``frame`` as ``access`` may see it as a GeoJSON FeatureCollection with ``members``.

    Features have the ids ``access`` is served (:func:`gridmap.service.feature_ids.served_ids`).
    ``crs_swap`` writes coordinates latitude first (EPSG:4326 axis order) instead of GeoJSON's
    longitude first.
    """
    schema = get_layer(layer)
    ids = feature_ids.served_ids(ws, layer, access, frame.index)
    frame = privacy.present(frame, schema, access)
    served = privacy.served_layer(schema, access)
    if crs_swap:
        frame = swap_axes(frame)
    tz = ws.get_meta("timezone", geojson.DEFAULT_TZ)
    return geojson.feature_collection(frame, served.column_names, extra=members, tz=tz, ids=ids)


def swap_axes(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with x and y of every geometry exchanged (lon/lat to lat/lon)."""
    if not isinstance(frame, gpd.GeoDataFrame) or frame.empty:
        return frame
    out = frame.copy()
    geoms = np.asarray(out.geometry.values, dtype=object)
    out[out.geometry.name] = gpd.GeoSeries(
        shapely.transform(geoms, lambda xy: xy[:, ::-1]), index=out.index, crs=out.crs
    )
    return out
