"""Rows of a layer for the attribute table: pages of served values, and a column's values.

Flask-free: :mod:`web.table` serves :func:`rows_page` at ``/api/layers/<name>/rows`` and
:func:`column_values` at ``/api/layers/<name>/values``. Both take the filters of
:mod:`gridmap.service.filters` (conditions, grids, ids, sort) and a bounding box, and go
through the same checks as ``/api/layers`` (:mod:`gridmap.service.scope`): a refused layer
raises, a grid worker reads only their own grids' register, a masked reader gets the masked
view of :func:`gridmap.access.privacy.present` and filters, sorts and lists values only of
the columns their view serves as stored. Reads that show personal data unmasked are recorded
in the access log.

A page is read by the store with ``ORDER BY … LIMIT … OFFSET`` (one row more than asked, to
tell whether the page is the last), so that paging through the 59,377 people of the demo
never reads them all; rows carry no geometry, only their bounding box (lon/lat degrees,
EPSG:4326) for zooming to them where the served view has a place on the map.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely

from gridmap.access import privacy
from gridmap.access.roles import Access
from gridmap.errors import InputError
from gridmap.io import geojson
from gridmap.schema import Column, Layer, choice_titles, get_layer
from gridmap.service import feature_ids, filters, scope
from gridmap.service.filters import LayerFilter
from gridmap.store import Bbox, Workspace

#: Rows per page unless the request says otherwise.
DEFAULT_LIMIT = 100
#: The most rows one page may hold (the table pages; nothing lists a whole layer at once).
MAX_LIMIT = 1000
#: Distinct values listed by default, and at most, by :func:`column_values`.
DEFAULT_VALUES = 200
MAX_VALUES = 1000
#: Members of a row besides its served values: no schema column may take these names.
ROW_KEYS = ("id", "bbox")
#: Decimals of a row's bounding box (about 1 cm, as GeoJSON coordinates are written).
BBOX_DIGITS = 7


@dataclass(frozen=True)
class RowsPage:
    """One page of rows as JSON-ready values: what :func:`rows_page` returns.

    ``columns`` describe the served columns (:func:`column_documents`), ``rows`` hold ``id``,
    ``bbox`` (where the served view has a place) and the served values, ``matched`` counts
    every row meeting the filters.
    """

    layer: str
    columns: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    matched: int
    offset: int
    limit: int

    def document(self) -> dict[str, Any]:
        """Return the page as the JSON reply of ``/api/layers/<name>/rows``."""
        return {
            "layer": self.layer,
            "columns": self.columns,
            "rows": self.rows,
            "numberMatched": self.matched,
            "numberReturned": len(self.rows),
            "offset": self.offset,
            "limit": self.limit,
        }


def column_documents(layer: str | Layer, access: Access) -> list[dict[str, Any]]:
    """Return the columns of ``layer`` as ``access`` is served them, for table headers.

    Each is ``{name, title: {en, zh-CN}, type, unit, choices, choice_titles, personal,
    filterable}``: ``type`` is the served type (a coarsened column is text), ``filterable``
    whether the reader may filter and sort by it (:func:`gridmap.service.filters.filterable`).
    """
    schema = get_layer(layer) if isinstance(layer, str) else layer
    served = privacy.served_layer(schema, access)
    usable = {c.name for c in filters.filterable(schema, access)}
    return [_column_document(schema.name, c, c.name in usable) for c in served.columns]


def _column_document(layer: str, column: Column, usable: bool) -> dict[str, Any]:
    titles = choice_titles(layer, column.name) if column.choices else {}
    return {
        "name": column.name,
        "title": {"en": column.en, "zh-CN": column.zh},
        "type": column.type,
        "unit": column.unit,
        "choices": list(column.choices) if column.choices else None,
        "choice_titles": {code: {"en": en, "zh-CN": zh} for code, (en, zh) in titles.items()}
        or None,
        "personal": bool(column.personal or column.personal_values),
        "filterable": usable,
    }


def _check_page(limit: int | None, offset: int) -> int:
    limit = DEFAULT_LIMIT if limit is None else limit
    if not 0 <= limit <= MAX_LIMIT:
        raise InputError(
            f"limit must be between 0 and {MAX_LIMIT} rows. (每页行数应在 0 到 {MAX_LIMIT} 之间。)"
        )
    if offset < 0:
        raise InputError("offset must not be negative. (偏移量不能为负数。)")
    return limit


def _stored_columns(schema: Layer, access: Access) -> list[str]:
    """Return the stored columns the served view is made of (coarsened ones from theirs)."""
    served = set(privacy.served_layer(schema, access).column_names)
    return [c for c in schema.column_names if c in served]


def rows_page(
    ws: Workspace,
    layer: str,
    *,
    access: Access,
    bbox: Bbox | None = None,
    limit: int | None = None,
    offset: int = 0,
    where: Sequence[str] = (),
    grids: str | Sequence[str] | None = None,
    sort: str | None = None,
    ids: str | Sequence[int] | None = None,
) -> RowsPage:
    """Return one page of ``layer``'s rows as ``access`` may see them, without geometry.

    Parameters
    ----------
    ws
        The workspace.
    layer
        The layer's name (unknown: LayerNotFoundError, 404).
    access
        Who reads: a refused layer raises (401/403, the masked people view too: their figures
        replace the rows), a grid worker gets their own grids' register only.
    bbox
        minlon, minlat, maxlon, maxlat in degrees (EPSG:4326): only rows whose geometry (for
        people: their household's) meets it. Refused where the served view has no place.
    limit, offset
        The page: at most ``limit`` rows (default :data:`DEFAULT_LIMIT`, at most
        :data:`MAX_LIMIT`) after skipping ``offset`` rows of the sorted, filtered layer.
    where, grids, sort, ids
        The filters of :func:`gridmap.service.filters.layer_filter` (only the columns the
        reader's view serves as stored).

    Returns
    -------
    RowsPage
        The rows (``id`` as the reader is served it, :mod:`gridmap.service.feature_ids`;
        ``bbox`` in degrees where the view has a place, the served values
        as ``/api/layers`` serves them: times in the workspace's time zone, codes as codes,
        masked values as the masked view has them) and how many rows matched.
    """
    schema = get_layer(layer)
    scope.require(access, layer)
    limit = _check_page(limit, offset)
    asked = feature_ids.stored_ids(ws, layer, access, ids)  # a masked reader's tokens
    flt = filters.layer_filter(ws, layer, access, where=where, grids=grids, sort=sort, ids=asked)
    stored_where = scope.scoped_where(ws, access, layer, flt.where)
    scope.check_bbox(access, layer, bbox)
    frame, matched = _read(ws, schema, access, flt, stored_where, bbox, limit, offset)
    served = privacy.served_layer(schema, access)
    shown = privacy.present(frame, schema, access)
    tz = ws.get_meta("timezone", geojson.DEFAULT_TZ)
    values = geojson.records(shown, served.column_names, tz)
    boxes = _boxes(ws, schema, served, frame)
    rows = []
    served_ids = feature_ids.served_ids(ws, layer, access, frame.index)
    for fid, box, row in zip(served_ids, boxes, values, strict=True):
        head: dict[str, Any] = {"id": fid}
        if box is not None:
            head["bbox"] = box
        rows.append({**head, **row})
    given = {"bbox": list(bbox) if bbox else None, "limit": limit, "offset": offset or None}
    scope.record(
        ws,
        access,
        layer,
        len(rows),
        action="read",
        filter={**{k: v for k, v in given.items() if v is not None}, **flt.describe()},
    )
    return RowsPage(layer, column_documents(schema, access), rows, matched, offset, limit)


def _read(
    ws: Workspace,
    schema: Layer,
    access: Access,
    flt: LayerFilter,
    where: dict[str, Any] | None,
    bbox: Bbox | None,
    limit: int,
    offset: int,
) -> tuple[pd.DataFrame, int]:
    """Return the page's stored rows and the number of matches.

    The store sorts and pages: one row more than asked tells whether the page is the last (then
    the matches are counted from it), else they are counted by the store. Grids chosen for a
    layer placed only by its geometry (streets) are tested here, on the rows in their box.
    """
    columns = _stored_columns(schema, access)
    keep = flt.keep()
    if feature_ids.opaque(schema, access):  # token order: the stored order would place rows
        box = bbox if keep is None else (bbox or tuple(flt.area.bounds))
        return feature_ids.served_page(
            ws,
            schema.name,
            access=access,
            boxes=[box] if box else None,
            where=where,
            keep=keep,
            order=flt.order,
            limit=limit,
            offset=offset,
            columns=columns,
        )
    if keep is not None:
        box = bbox or tuple(flt.area.bounds)
        frame = ws.read(
            schema.name, bbox=box, where=where, columns=columns, system=False, order=flt.order
        )
        frame = frame[keep(frame).to_numpy(dtype=bool)]
        return frame.iloc[offset : offset + limit], len(frame)
    if flt.order:
        # sorted: the store sorts the rows' ids and sort keys only (a narrow sort stays in
        # memory; all 17 columns of 57,280 people spill to disk and take 7 times as long),
        # then reads the page's rows by id
        keys = ws.read(
            schema.name,
            bbox=bbox,
            where=where,
            columns=[name for name, _ in flt.order],
            system=False,
            order=flt.order,
            limit=limit + 1,
            offset=offset,
        )
        more = len(keys) > limit
        fids = keys.index[:limit].tolist()
        frame = ws.read(schema.name, where={"fid": fids}, columns=columns, system=False)
        # a row deleted between the two reads is left out of the page, not a KeyError (500)
        frame = frame.loc[[fid for fid in fids if fid in frame.index]]
    else:
        frame = ws.read(
            schema.name,
            bbox=bbox,
            where=where,
            columns=columns,
            system=False,
            limit=limit + 1,
            offset=offset,
        )
        more = len(frame) > limit
        frame = frame.iloc[:limit]
    if not more and (len(frame) or not offset):
        return frame, offset + len(frame)
    return frame, ws.count(schema.name, bbox=bbox, where=where)


def _boxes(
    ws: Workspace, schema: Layer, served: Layer, frame: pd.DataFrame
) -> list[list[float] | None]:
    """Return each row's bounding box (minlon, minlat, maxlon, maxlat), or None per row.

    Rows of a layer with geometry are boxed by it, rows placed by another layer (people by their
    household) by that layer's geometry; a served view without a place gets no boxes at all.
    """
    if not len(frame):
        return []
    if served.geometry is not None and schema.geometry is not None:
        return _bounds(np.asarray(frame.geometry.values, dtype=object))
    if served.located_by is None or served.located_by[1] not in frame.columns:
        return [None] * len(frame)
    other, key = served.located_by
    keys = sorted({k for k in frame[key].dropna().tolist()})
    if not keys:
        return [None] * len(frame)
    places = ws.read(other, where={key: keys}, columns=(key,), system=False)
    by_key = dict(
        zip(places[key].tolist(), _bounds(np.asarray(places.geometry.values)), strict=True)
    )
    return [by_key.get(k) for k in frame[key].tolist()]


def _bounds(geoms: np.ndarray) -> list[list[float] | None]:
    out: list[list[float] | None] = []
    for row in shapely.bounds(geoms).tolist():
        out.append(None if any(v != v for v in row) else [round(v, BBOX_DIGITS) for v in row])
    return out


@dataclass(frozen=True)
class ColumnValues:
    """The distinct values of one column among the rows meeting a filter, with their counts."""

    layer: str
    column: str
    values: list[dict[str, Any]]
    distinct: int
    matched: int

    @property
    def more(self) -> bool:
        """Whether values were left out (only the most frequent are listed)."""
        return self.distinct > len(self.values)

    def document(self) -> dict[str, Any]:
        """Return the values as the JSON reply of ``/api/layers/<name>/values``."""
        return {
            "layer": self.layer,
            "column": self.column,
            "values": self.values,
            "distinct": self.distinct,
            "more": self.more,
            "numberMatched": self.matched,
        }


def _filter_column(schema: Layer, name: str | None, access: Access) -> Column:
    """Return the column ``name`` if ``access`` may filter ``schema`` by it, else raise."""
    if not name:
        raise InputError("Say which column: ?column=NAME. (请用 column 参数指明列名。)")
    usable = {c.name: c for c in filters.filterable(schema, access)}
    if name in usable:
        return usable[name]
    if name in schema.column_names:
        raise InputError(
            f"Layer '{schema.name}' cannot list the values of '{name}' for your role "
            f"({access.role}): your view leaves it out. (您的角色无法查看“{name}”的取值。)"
        )
    raise InputError(
        f"Layer '{schema.name}' has no column '{name}'. Columns you may use: "
        f"{', '.join(usable) or 'none'}. (图层没有“{name}”这一列。)"
    )


def column_values(
    ws: Workspace,
    layer: str,
    column: str | None,
    *,
    access: Access,
    bbox: Bbox | None = None,
    limit: int | None = None,
    where: Sequence[str] = (),
    grids: str | Sequence[str] | None = None,
    ids: str | Sequence[int] | None = None,
) -> ColumnValues:
    """Return the distinct values of ``column`` among the rows of ``layer`` meeting the filters.

    For the table's filter lists: each value with how many rows hold it, the missing value as
    ``None``. When there are more than ``limit`` (default :data:`DEFAULT_VALUES`, at most
    :data:`MAX_VALUES`) distinct values, only the most frequent are listed. Values are sorted
    as the store sorts them (missing last) and written as the rows write them.

    Parameters
    ----------
    ws
        The workspace.
    layer
        The layer's name.
    column
        A column ``access`` may filter by (:func:`gridmap.service.filters.filterable`); any
        other is an InputError (400), so that a masked reader learns no hidden value.
    access
        Who asks (a grid worker: their own grids' register only).
    bbox
        minlon, minlat, maxlon, maxlat in degrees (EPSG:4326).
    limit
        The most values listed.
    where, grids, ids
        The filters of :func:`gridmap.service.filters.layer_filter`.
    """
    schema = get_layer(layer)
    scope.require(access, layer)
    col = _filter_column(schema, column, access)
    cap = DEFAULT_VALUES if limit is None else limit
    if not 1 <= cap <= MAX_VALUES:
        raise InputError(
            f"limit must be between 1 and {MAX_VALUES} values. (取值个数应在 1 到 {MAX_VALUES} 之间。)"
        )
    asked = feature_ids.stored_ids(ws, layer, access, ids)  # a masked reader's tokens
    flt = filters.layer_filter(ws, layer, access, where=where, grids=grids, ids=asked)
    stored_where = scope.scoped_where(ws, access, layer, flt.where)
    scope.check_bbox(access, layer, bbox)
    keep = flt.keep()
    box = bbox if keep is None else (bbox or tuple(flt.area.bounds))
    frame = ws.read(layer, bbox=box, where=stored_where, columns=(col.name,), system=False)
    if keep is not None:
        frame = frame[keep(frame).to_numpy(dtype=bool)]
    series = frame[col.name]
    counts = series.value_counts(dropna=False, sort=True)
    kept = counts.iloc[:cap]
    tz = ws.get_meta("timezone", geojson.DEFAULT_TZ)
    present = kept[kept.index.notna()] if kept.index.hasnans else kept
    ordered = present.sort_index(kind="stable")
    values = [
        {"value": v, "count": int(n)}
        for v, n in zip(
            geojson.column_values(pd.Series(ordered.index, dtype=series.dtype), tz),
            ordered.tolist(),
            strict=True,
        )
    ]
    if len(present) < len(kept):
        values.append({"value": None, "count": int(kept[kept.index.isna()].sum())})
    scope.record(
        ws,
        access,
        layer,
        len(frame),
        action="read",
        filter={"values": col.name, **flt.describe(), **({"bbox": list(bbox)} if bbox else {})},
    )
    return ColumnValues(layer, col.name, values, len(counts), len(frame))
