"""After grids change: each thing's ``grid_code`` and each grid's figures, in the same transaction.

Whatever changes the grids — an edit in the planning page, the write API, an import, the
automatic partition — calls :func:`relocate` inside its transaction, so that buildings,
households, facilities and cameras name the grid they now lie in, and each grid's households,
residents, buildings and area agree with its outline, in the same commit: all or nothing.

Where a thing lies: a building in the grid holding the inner point of its footprint
(:func:`shapely.point_on_surface`); a household in its building's grid (a household of a
building cut by a border goes with its building, not its map point), else by its point;
facilities and cameras by their point. Something in no grid keeps no code. Visits and incidents
are records of the past: they keep the grid they were recorded in.

Point-in-polygon tests are done in the storage CRS (EPSG:4326: containment does not depend on
the CRS); areas are measured in the workspace's metric CRS (square metres).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.schema import STORAGE_CRS
from gridmap.store import Transaction
from gridmap.store.conditions import Missing

#: The layers whose ``grid_code`` says where a thing is now.
PLACED_LAYERS = ("buildings", "households", "facilities", "cameras")
#: A point this close to a grid (degrees, about half a metre: a camera on the street a border
#: follows) keeps that grid as its own.
ON_BORDER_DEG = 5e-6
#: The grid figures kept with each grid.


@dataclass
class Relocated:
    """What :func:`relocate` changed and computed.

    Attributes
    ----------
    codes
        Rows whose ``grid_code`` changed, by layer.
    figures
        Grid code → its figures (households, residents, buildings, area_m2) for every grid
        whose outline or members changed: the caller writes them with the outline.
    """

    codes: dict[str, int] = field(default_factory=dict)
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)


def codes_at(points_of: Any, grids: gpd.GeoDataFrame, current: Any = None) -> np.ndarray:
    """Return the code of the grid holding each geometry's inner point (None where none does).

    ``points_of`` and ``grids`` in one CRS. A point on a border two grids share (a camera at a
    crossing, on the street the border follows) keeps its ``current`` code when that is one of
    them, else goes to the first.
    """
    geoms = np.asarray(points_of, dtype=object)
    out = np.full(len(geoms), None, dtype=object)
    if not len(geoms) or not len(grids):
        return out
    present = ~pd.isna(geoms)
    present[present] = ~shapely.is_empty(geoms[present])
    where = np.flatnonzero(present)
    pts = shapely.point_on_surface(geoms[where])
    tree = shapely.STRtree(np.asarray(grids.geometry.values, dtype=object))
    pi, gi = tree.query(pts, predicate="intersects")
    codes = grids["code"].to_numpy(dtype=object)
    found = np.full(len(pts), None, dtype=object)
    found[pi[::-1]] = codes[gi[::-1]]  # the first grid where several hold a point
    if current is not None:  # on a border (within ON_BORDER_DEG): keep the current grid
        now = np.asarray(current, dtype=object)[where]
        ni, ng = tree.query(pts, predicate="dwithin", distance=ON_BORDER_DEG)
        keep = codes[ng] == now[ni]
        found[ni[keep]] = now[ni[keep]]
    out[where] = found
    return out


def _bbox(region: BaseGeometry | None) -> tuple[float, float, float, float] | None:
    if region is None or region.is_empty:
        return None
    minx, miny, maxx, maxy = region.bounds
    pad = 1e-5  # about a metre: a thing on the region's edge is looked at too
    return (minx - pad, miny - pad, maxx + pad, maxy + pad)


def _changes(frame: pd.DataFrame, computed: np.ndarray) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for fid, now, new in zip(frame.index, frame["grid_code"].tolist(), computed, strict=True):
        now = None if pd.isna(now) else str(now)
        new = None if new is None or pd.isna(new) else str(new)
        if now != new:
            out[int(fid)] = {"grid_code": new}
    return out


def relocate(
    tx: Transaction,
    grids: gpd.GeoDataFrame,
    *,
    metric_crs: Any,
    region: BaseGeometry | None = None,
    grids_changed: set[str] | None = None,
    known_codes: Mapping[str, Mapping[int, str | None]] | None = None,
) -> Relocated:
    """Write the ``grid_code`` of what lies in ``region``; return the figures of the grids there.

    Parameters
    ----------
    tx
        The open transaction that changes the grids.
    grids
        Every grid as it is to be (``code``, geometry in EPSG:4326), written or not yet.
    metric_crs
        The workspace's metric CRS (areas in m²).
    region
        Where grids change (EPSG:4326): the old and new outlines of the changed grids. None:
        everywhere (an import that replaced every grid).
    grids_changed
        Codes of grids whose outline changes: their figures are computed even where no thing
        moved (their area changed). Grids that gain or lose members are computed too.
    known_codes
        Layer → ``{fid: grid_code}`` of rows whose grid is known rather than computed (a
        restore: the code a thing that has not moved had in the version restored, so that a
        point on a border goes back to its grid of then). A code of no grid in ``grids`` is
        not taken.

    Returns
    -------
    Relocated
        The rows whose ``grid_code`` changed per layer, and the grids' figures to write.
    """
    bbox = _bbox(region)
    out = Relocated()
    building_codes: dict[Any, Any] = {}
    touched: set[str] = set(grids_changed or ())
    moved_buildings: list[Any] = []
    for layer in PLACED_LAYERS:
        if layer == "households" and bbox is not None:
            # a household goes with its building: read those of the buildings that moved, and
            # those of no building in the region (tens of rows, not the region's thousands)
            frame = pd.concat(
                [
                    tx.read(layer, where={"building_osm_id": moved_buildings})
                    if moved_buildings
                    else tx.read(layer, limit=0),
                    tx.read(layer, bbox=bbox, where={"building_osm_id": Missing()}),
                ]
            )
        else:
            frame = tx.read(layer, bbox=bbox)
        if not len(frame):
            continue
        computed = codes_at(frame.geometry.values, grids, frame["grid_code"].to_numpy(dtype=object))
        given = (known_codes or {}).get(layer)
        if given:
            codes = set(grids["code"].astype(str))
            for pos, fid in enumerate(frame.index.tolist()):
                if fid in given and (given[fid] is None or given[fid] in codes):
                    computed[pos] = given[fid]
        if layer == "buildings":
            building_codes = dict(zip(frame["osm_id"].tolist(), computed.tolist(), strict=True))
        elif layer == "households" and building_codes:
            by_building = frame["building_osm_id"].map(building_codes)
            known = frame["building_osm_id"].isin(list(building_codes))
            computed = np.where(known.to_numpy(), by_building.to_numpy(dtype=object), computed)
        changes = _changes(frame, computed)
        if layer == "buildings":
            moved_buildings = [frame.at[fid, "osm_id"] for fid in changes]
            moved_buildings = [i for i in moved_buildings if i is not None and not pd.isna(i)]
        if changes:
            versions = frame["version"]
            tx.update_many(
                layer,
                changes,
                expected_versions={fid: int(versions[fid]) for fid in changes},
            )
            for fid, change in changes.items():
                old = frame.at[fid, "grid_code"]
                touched.update(
                    str(c) for c in (change["grid_code"], old) if c is not None and not pd.isna(c)
                )
        out.codes[layer] = len(changes)
    out.figures = figures(tx, grids, metric_crs=metric_crs, codes=touched)
    return out


def figures(
    tx: Transaction, grids: gpd.GeoDataFrame, *, metric_crs: Any, codes: set[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Return households, residents, buildings and area (m²) of grids ``codes`` (None: all).

    Households and residents are the sums over the grid's buildings (their stored
    ``grid_code``, as :func:`relocate` left it), as the register keeps its totals per building.
    """
    chosen = grids if codes is None else grids[grids["code"].isin(sorted(codes))]
    if not len(chosen):
        return {}
    buildings = tx.read("buildings", where={"grid_code": sorted(chosen["code"])})
    households = pd.to_numeric(buildings["households"], errors="coerce").fillna(0)
    residents = pd.to_numeric(buildings["residents"], errors="coerce").fillna(0)
    by = buildings["grid_code"]
    h, r, n = households.groupby(by).sum(), residents.groupby(by).sum(), by.value_counts()
    areas = gpd.GeoSeries(chosen.geometry.values, crs=STORAGE_CRS).to_crs(metric_crs).area
    return {
        str(code): {
            "households": int(h.get(code, 0)),
            "residents": int(r.get(code, 0)),
            "buildings": int(n.get(code, 0)),
            "area_m2": round(float(area), 1),
        }
        for code, area in zip(chosen["code"].tolist(), areas.tolist(), strict=True)
    }


def changed_figures(
    stored: pd.DataFrame, computed: dict[str, dict[str, Any]]
) -> dict[int, dict[str, Any]]:
    """Return ``{fid: figures}`` for the stored grids whose figures differ from ``computed``."""
    out: dict[int, dict[str, Any]] = {}
    for fid, row in stored.iterrows():
        new = computed.get(str(row["code"]))
        if new and any(_differs(row.get(k), v) for k, v in new.items()):
            out[int(fid)] = new
    return out


def refigure(
    tx: Transaction,
    *,
    metric_crs: Any,
    region: BaseGeometry | None = None,
    codes: set[str] | None = None,
) -> Relocated:
    """Relocate what lies in ``region`` and write the figures of the grids as stored now.

    For writers that changed grids through the store directly (an import, the write API):
    the grids ``codes`` (whose outline they changed) and those that gained or lost members
    get their figures — one more version of those rows. ``region`` None: everything.
    """
    grids = tx.read("grids")
    done = relocate(tx, grids, metric_crs=metric_crs, region=region, grids_changed=codes)
    if region is None:
        done.figures = figures(tx, grids, metric_crs=metric_crs)
    updates = changed_figures(grids, done.figures)
    if updates:
        tx.update_many(
            "grids", updates, expected_versions={f: int(grids.at[f, "version"]) for f in updates}
        )
    return done


def _differs(old: Any, new: Any) -> bool:
    if old is None or pd.isna(old):
        return True
    return abs(float(old) - float(new)) > 0.05
