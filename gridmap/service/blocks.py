"""Street blocks and building cells of a workspace, for painting grids.

Blocks are the faces the streets cut each community into (:func:`gridmap.grids.blocks.
street_blocks`), numbered in reading order (north to south, west to east) within the
workspace; a building's cell is its share of its block (:mod:`gridmap.grids.cells`). Both are
computed in the workspace's metric CRS and served in EPSG:4326.

A block's id is its place in that order, so it names other ground once the streets or a
community boundary change. Blocks therefore come with a :func:`blocks_stamp` of what they were
computed from (the ``community`` and ``streets`` layers' content, :func:`gridmap.service.
stamps.content`, and the metric CRS); a paint of blocks sends it back, and
:func:`check_stamp` refuses a stale one inside the paint's transaction
(:class:`gridmap.errors.BlocksChangedError`, 409). Blocks are kept while that stamp stays.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections.abc import Iterable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.access.counts import shown_count
from gridmap.access.roles import Access
from gridmap.errors import BlocksChangedError, FeatureNotFoundError
from gridmap.grids.blocks import locate, street_blocks
from gridmap.grids.cells import building_cells
from gridmap.schema import STORAGE_CRS
from gridmap.service import stamps
from gridmap.service.metric import metric_crs
from gridmap.service.relocate import codes_at
from gridmap.store import Transaction, Workspace

#: The layers the street blocks are computed from: a change of either renumbers them.
BLOCK_LAYERS: tuple[str, ...] = ("community", "streets")

_LOCK = threading.Lock()
_MEMO: weakref.WeakKeyDictionary[Any, tuple[str, gpd.GeoDataFrame]] = weakref.WeakKeyDictionary()
_TX_MEMO: dict[str, gpd.GeoDataFrame] = {}


def _blocks(communities: gpd.GeoDataFrame, streets: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the blocks of every community (metric frames in, metric frame out)."""
    lines = np.asarray(streets.geometry.values, dtype=object)
    rows: list[tuple[str, BaseGeometry]] = []
    for community in communities.itertuples():
        for face in street_blocks(community.geometry, lines):
            rows.append((str(community.code), face))
    frame = gpd.GeoDataFrame(
        {"community_code": [r[0] for r in rows]},
        geometry=[r[1] for r in rows],
        crs=communities.crs,
    )
    if len(frame):  # reading order: rows of 100 m from the north, west to east in a row
        inner = shapely.get_coordinates(shapely.point_on_surface(frame.geometry.values))
        order = np.lexsort((inner[:, 0], -np.floor(inner[:, 1] / 100.0)))
        frame = frame.iloc[order].reset_index(drop=True)
    frame.index = frame.index + 1
    frame.index.name = "id"
    return frame


def _stamp(layers_stamp: str, crs: Any) -> str:
    return hashlib.sha1(f"blocks|{layers_stamp}|{crs}".encode()).hexdigest()[:16]


def blocks_stamp(reader: Workspace | Transaction, crs: Any = None) -> str:
    """Return the stamp of the street blocks as ``reader`` sees them: it changes when the
    communities, the streets or the metric CRS ``crs`` (default: the workspace's) change.

    A transaction computes it on its own connection, as it sees those layers now.
    """
    if isinstance(reader, Workspace):
        return _stamp(stamps.content(reader, BLOCK_LAYERS), crs or metric_crs(reader))
    return _stamp(reader.content_stamp(BLOCK_LAYERS), crs)


def stamped_blocks(ws: Workspace) -> tuple[str, gpd.GeoDataFrame]:
    """Return the street blocks of ``ws`` (index: block id from 1; metric CRS) and their
    :func:`blocks_stamp`, memoised by it.

    The stamp is taken before the layers are read: a write in between makes it older than
    the blocks, so a paint sent with it is refused (never the other way round).
    """
    crs = metric_crs(ws)
    key = blocks_stamp(ws, crs)
    with _LOCK:
        memo = _MEMO.get(ws)
    if memo is not None and memo[0] == key:
        return key, memo[1]
    found = _blocks(ws.read("community").to_crs(crs), ws.read("streets").to_crs(crs))
    with _LOCK:
        _MEMO[ws] = (key, found)
    return key, found


def workspace_blocks(ws: Workspace) -> gpd.GeoDataFrame:
    """Return the street blocks of ``ws`` (index: block id from 1; metric CRS), memoised."""
    return stamped_blocks(ws)[1]


def transaction_blocks(tx: Transaction, crs: Any) -> gpd.GeoDataFrame:
    """Return the street blocks as the open transaction ``tx`` sees the communities and
    streets (index: block id from 1; metric CRS ``crs``), so that a write committed by
    someone else cannot slip in between; memoised by their :func:`blocks_stamp`."""
    key = blocks_stamp(tx, crs)
    with _LOCK:
        memo = _TX_MEMO.get(key)
    if memo is not None:
        return memo
    found = _blocks(tx.read("community").to_crs(crs), tx.read("streets").to_crs(crs))
    with _LOCK:
        _TX_MEMO.clear()
        _TX_MEMO[key] = found
    return found


def check_stamp(tx: Transaction, crs: Any, stamp: str) -> None:
    """Refuse a paint made from street blocks other than those the open transaction ``tx``
    sees (``stamp``: the :func:`blocks_stamp` the blocks were served with; ``crs``: the
    workspace's metric CRS): :class:`gridmap.errors.BlocksChangedError` (409)."""
    if stamp != blocks_stamp(tx, crs):
        raise BlocksChangedError(
            "The street blocks changed since you loaded them (someone edited the streets or a "
            "community boundary), so their numbers may name other ground now: reload the "
            "blocks and paint again; nothing was saved. "
            "(街区在您加载后已变化（街道或社区边界被修改），编号可能已对应其他街区，"
            "请重新加载街区后再划入；未保存。)"
        )


def blocks_with_figures(ws: Workspace, access: Access | None = None) -> gpd.GeoDataFrame:
    """Return the blocks (EPSG:4326) with the community, the grid holding each block's inner
    point (``grid_code``), and its buildings and households, for the planning page.

    ``access``: who asks; a household count under 5 is ``"<5"`` for a reader who may not count
    that grid's register (:mod:`gridmap.access.counts`). None: exact (the CLI).
    """
    return served_blocks(ws, access)[1]


def served_blocks(ws: Workspace, access: Access | None = None) -> tuple[str, gpd.GeoDataFrame]:
    """Return :func:`blocks_with_figures` and the :func:`blocks_stamp` of those blocks: what
    a paint of them sends back."""
    stamp, out = _blocks_with_figures(ws)
    if access is not None:
        out = out.copy()
        out["households"] = [
            shown_count(int(n), access, [None if pd.isna(g) else str(g)])
            for n, g in zip(out["households"], out["grid_code"], strict=True)
        ]
    return stamp, out


def _blocks_with_figures(ws: Workspace) -> tuple[str, gpd.GeoDataFrame]:
    stamp, blocks = stamped_blocks(ws)
    crs = blocks.crs
    out = blocks.copy()
    geoms = np.asarray(blocks.geometry.values, dtype=object)
    buildings = ws.read("buildings").to_crs(crs)
    if not len(geoms) or not len(buildings):
        out["buildings"], out["households"], out["grid_code"] = 0, 0, None
        return stamp, out.to_crs(STORAGE_CRS)
    where = locate(np.asarray(buildings.geometry.values, dtype=object), geoms)
    by = pd.Series(blocks.index.to_numpy()[where], index=buildings.index)
    households = pd.to_numeric(buildings["households"], errors="coerce").fillna(0)
    out["buildings"] = by.value_counts().reindex(blocks.index, fill_value=0).astype(int)
    out["households"] = households.groupby(by).sum().reindex(blocks.index, fill_value=0).astype(int)
    grids = ws.read("grids").to_crs(crs)
    out["grid_code"] = codes_at(geoms, grids)
    return stamp, out.to_crs(STORAGE_CRS)


def blocks_ground(tx: Transaction, crs: Any, ids: Iterable[int]) -> list[BaseGeometry]:
    """Return the outlines (EPSG:4326) of the blocks ``ids`` as the transaction ``tx`` sees
    them (``crs``: the workspace's metric CRS); 404 for an id that is none."""
    blocks = transaction_blocks(tx, crs)
    wanted = list(ids)
    missing = [i for i in wanted if i not in blocks.index]
    if missing:
        raise FeatureNotFoundError(
            f"There is no street block {', '.join(map(str, missing[:5]))}. (街区不存在。)"
        )
    return list(blocks.loc[wanted].to_crs(STORAGE_CRS).geometry.values)


def buildings_ground(tx: Transaction, crs: Any, fids: Iterable[int]) -> list[BaseGeometry]:
    """Return each building's cell (EPSG:4326): what moves with it to another grid, read
    through the open transaction ``tx`` (cells built in the metric CRS ``crs``).

    404 (FeatureNotFoundError) for a building id that is not there.
    """
    wanted = sorted(set(fids))
    found = tx.read("buildings", where={"fid": wanted})
    missing = sorted(set(wanted) - {int(f) for f in found.index})
    if missing:
        raise FeatureNotFoundError(
            f"There is no building {', '.join(map(str, missing[:5]))}. (楼栋不存在。)"
        )
    blocks = transaction_blocks(tx, crs)
    if not len(blocks):  # no streets or communities: the footprints alone
        return list(found.geometry.values)
    block_geoms = np.asarray(blocks.geometry.values, dtype=object)
    mine = found.to_crs(crs)
    where = locate(np.asarray(mine.geometry.values, dtype=object), block_geoms)
    out: list[BaseGeometry] = []
    for b in sorted(set(where.tolist())):
        block = block_geoms[b]
        near = tx.read("buildings", bbox=_degrees_bbox(block, crs)).to_crs(crs)
        near_geoms = np.asarray(near.geometry.values, dtype=object)
        held = near_geoms[locate(near_geoms, block_geoms) == b]
        ids = near.index[locate(near_geoms, block_geoms) == b]
        cells = building_cells(block, held)
        for fid, cell in zip(ids.tolist(), cells, strict=True):
            if int(fid) in wanted:
                out.append(cell)
    return list(gpd.GeoSeries(out, crs=crs).to_crs(STORAGE_CRS).values)


def _degrees_bbox(geom: BaseGeometry, crs: Any) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = gpd.GeoSeries([geom], crs=crs).to_crs(STORAGE_CRS).total_bounds
    return (float(minx), float(miny), float(maxx), float(maxy))
