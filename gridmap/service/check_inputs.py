"""What the plan's checks read besides the grids, kept in memory per workspace.

``gridmap grids validate`` and the planning page's checks read every community, building
footprint, street centre line, camera, facility and incident, and project them to the metric
CRS. :func:`layer_frame` keeps them in memory per workspace and CRS and reads again only what
changed: nothing while the layer's content stamp stays (:meth:`Workspace.content_stamp` of it
alone: its count, largest id and sum of versions, a few milliseconds for 20,000 footprints;
not the file's time, which a write in the same clock tick may leave as it was); else the rows
whose version moved or that are new, found by :meth:`Workspace.versions` (every change of a
feature moves its version, by gridmap, QGIS or GDAL), while deleted rows drop out. An edit of
the plan relocates a few hundred buildings: those are read again, not 20,000.

Boxes are in EPSG:4326 degrees and keep what the store's box query keeps (features whose
geometry intersects the box); geometry comes out in the metric CRS (metres).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.schema import STORAGE_CRS
from gridmap.store import Workspace

#: The columns the checks and figures read of each layer (besides the geometry).
COLUMNS: dict[str, tuple[str, ...]] = {
    "community": ("code",),
    "buildings": ("households",),
    "streets": ("u", "v", "key"),
    "cameras": (),
    "facilities": (),
    "incidents": ("occurred_at",),
}
#: Re-read a whole layer when more than this share of its rows changed.
WHOLE_SHARE = 0.5


@dataclass
class _Layer:
    """One layer in memory: columns (index fid), version, storage and metric geometry."""

    rows: pd.DataFrame
    storage: np.ndarray
    metric: np.ndarray
    bounds: np.ndarray  # (n, 4): minx, miny, maxx, maxy of ``storage``
    frames: dict[bool, gpd.GeoDataFrame] = field(default_factory=dict)  # whole, by storage


@dataclass
class _Memo:
    """A workspace's layers in memory by (name, CRS), and the content stamp each was read at."""

    layers: dict[tuple[str, str], _Layer] = field(default_factory=dict)
    seen: dict[tuple[str, str], str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_MEMO: weakref.WeakKeyDictionary[Workspace, _Memo] = weakref.WeakKeyDictionary()
_MEMO_LOCK = threading.Lock()


def _frame(layer: _Layer, keep: np.ndarray, crs: Any, storage: bool) -> gpd.GeoDataFrame:
    whole = layer.frames.get(storage)
    if whole is None:
        shapes = layer.storage if storage else layer.metric
        geometry = gpd.GeoSeries(
            shapes, index=layer.rows.index, crs=STORAGE_CRS if storage else crs
        )
        whole = gpd.GeoDataFrame(layer.rows.drop(columns="version"), geometry=geometry)
        layer.frames[storage] = whole
    return whole.copy(deep=False) if keep.all() else whole.iloc[np.flatnonzero(keep)]


def _in_box(layer: _Layer, box: tuple[float, float, float, float] | None) -> np.ndarray:
    """Return which rows' geometry intersects ``box`` (all of them without one)."""
    n = len(layer.rows)
    if box is None:
        return np.ones(n, dtype=bool)
    minx, miny, maxx, maxy = box
    b = layer.bounds
    with np.errstate(invalid="ignore"):  # (an empty geometry has NaN bounds: never in a box)
        meets = (b[:, 0] <= maxx) & (b[:, 2] >= minx) & (b[:, 1] <= maxy) & (b[:, 3] >= miny)
        inside = (b[:, 0] >= minx) & (b[:, 2] <= maxx) & (b[:, 1] >= miny) & (b[:, 3] <= maxy)
    keep = inside.copy()
    test = meets & ~inside
    if test.any():
        keep[test] = shapely.intersects(layer.storage[test], shapely.box(minx, miny, maxx, maxy))
    return keep


def _load(frame: gpd.GeoDataFrame, versions: pd.Series, crs: Any) -> _Layer:
    """Return rows read from the store as a layer in memory (their versions as listed)."""
    storage = np.asarray(frame.geometry.values, dtype=object)
    rows = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    rows["version"] = versions.reindex(rows.index).to_numpy()
    metric = (
        np.asarray(frame.geometry.to_crs(crs).values, dtype=object)
        if len(frame)
        else np.zeros(0, dtype=object)
    )
    return _Layer(rows, storage, metric, shapely.bounds(storage).reshape(-1, 4))


def _concat(kept: _Layer, keep: np.ndarray, fresh: _Layer) -> _Layer:
    rows = pd.concat([kept.rows.iloc[np.flatnonzero(keep)], fresh.rows])
    order = np.argsort(rows.index.to_numpy(), kind="stable")
    storage = np.concatenate([kept.storage[keep], fresh.storage])[order]
    metric = np.concatenate([kept.metric[keep], fresh.metric])[order]
    bounds = np.concatenate([kept.bounds[keep], fresh.bounds])[order]
    return _Layer(rows.iloc[order], storage, metric, bounds)


def _refresh(ws: Workspace, name: str, crs: Any, old: _Layer | None) -> _Layer:
    """Return ``name`` as it is now, reading again only its new and changed rows."""
    versions = ws.versions(name)
    columns = list(COLUMNS[name])
    if old is None:
        return _load(ws.read(name, columns=columns, system=False), versions, crs)
    cached = old.rows["version"]
    now = versions.reindex(cached.index)
    keep = (now.notna() & (now.to_numpy() == cached.to_numpy())).to_numpy(dtype=bool)
    todo = versions.index.difference(cached.index[keep])
    if keep.all() and not len(todo):
        return old
    if not len(todo):  # (rows deleted only)
        return _concat(old, keep, _load(_empty(old), versions, crs))
    if len(todo) > WHOLE_SHARE * len(versions):
        return _load(ws.read(name, columns=columns, system=False), versions, crs)
    fresh = ws.read(name, columns=columns, system=False, where={"fid": todo.tolist()})
    return _concat(old, keep, _load(fresh, versions, crs))


def _empty(old: _Layer) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(old.rows.iloc[:0].drop(columns="version"), geometry=[], crs=STORAGE_CRS)


def _layer(ws: Workspace, name: str, crs: Any) -> _Layer:
    with _MEMO_LOCK:
        memo = _MEMO.get(ws)
        if memo is None:
            memo = _MEMO[ws] = _Memo()
    key = (name, str(crs))
    with memo.lock:
        stamp = ws.content_stamp([name])  # taken first: a write during the read moves it
        found = memo.layers.get(key)
        if found is None or memo.seen.get(key) != stamp:
            found = memo.layers[key] = _refresh(ws, name, crs, found)
            memo.seen[key] = stamp
        return found


def layer_frame(
    ws: Workspace,
    name: str,
    crs: Any,
    *,
    box: tuple[float, float, float, float] | None = None,
    storage: bool = False,
) -> gpd.GeoDataFrame:
    """Return the features of layer ``name`` whose geometry intersects ``box`` (EPSG:4326
    degrees; all without one) with the columns of :data:`COLUMNS`, geometry in ``crs``
    (metres; ``storage``: as stored, EPSG:4326), index fid, in fid order; from memory where
    nothing changed (see the module)."""
    layer = _layer(ws, name, crs)
    return _frame(layer, _in_box(layer, box), crs, storage)


__all__ = ["COLUMNS", "layer_frame"]
