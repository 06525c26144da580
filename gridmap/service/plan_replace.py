"""Replace one community's grids with new outlines, as one planning edit: the one route by
which drawn-anew grids enter a plan.

Both ways of drawing a community anew write through :func:`replace_community` — an accepted
partition proposal (:func:`gridmap.service.partition_proposal.accept_partition`) and
``gridmap grids auto --replace`` (:func:`gridmap.service.grids.auto_grids`) — so both leave
the plan one polygonal coverage: the new outlines fill the community's ground — its boundary
less what other communities' grids hold, so a gap the old grids left is filled and the border
with a neighbour is the one it has (:func:`gridmap.grids.topology.replace`) — and the coverage
is cleaned (a neighbour gains at most a vertex there). In the caller's transaction, the new grids are
numbered west to east, north to south after every code the community ever had
(:func:`numbered`), each keeps the worker of the old grid covering most of it
(:func:`keep_workers`), the ``grid_code`` of buildings, households, facilities and cameras and
every grid's figures are recomputed (:func:`gridmap.service.relocate.relocate`), and the
lineage records the old codes and the new ones with the transaction, so that an undo of that
transaction takes the lineage back too (:func:`gridmap.service.plan_history.lineage`).

Storage and geometry in EPSG:4326; areas and reading order in the workspace's UTM zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.grids import codes as grid_codes
from gridmap.grids import topology
from gridmap.schema import STORAGE_CRS
from gridmap.service.planning import LINEAGE_KEY, PlanEdit, codes_used, edit_reply, read_plan
from gridmap.service.relocate import changed_figures, relocate
from gridmap.service.renumber import new_codes
from gridmap.store import Transaction, Workspace

#: A new grid keeps the worker of the old grid that held at least this share of its area.
WORKER_OVERLAP = 0.5
#: What a new grid takes from the drawn ones besides its outline.
PROPS = ("name", "worker", "worker_phone")


def keep_workers(new: gpd.GeoDataFrame, old: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Give each new grid the worker of the old grid covering most of it (at least half).

    ``new`` and ``old`` in one metric CRS (areas in m²); returns ``new`` with ``worker`` and
    ``worker_phone``.
    """
    new = new.copy()
    new["worker"] = None
    new["worker_phone"] = None
    if not len(old) or "worker" not in old:
        return new
    tree = shapely.STRtree(np.asarray(old.geometry.values, dtype=object))
    for i, geom in enumerate(new.geometry.values):
        hits = tree.query(geom, predicate="intersects")
        if not len(hits):
            continue
        shared = shapely.area(shapely.intersection(geom, old.geometry.values[hits]))
        best = int(np.argmax(shared))
        if shared[best] >= WORKER_OVERLAP * geom.area:
            row = old.iloc[int(hits[best])]
            new.iloc[i, new.columns.get_loc("worker")] = row.get("worker")
            new.iloc[i, new.columns.get_loc("worker_phone")] = row.get("worker_phone")
    return new


def numbered(
    reader: Workspace | Transaction,
    grids: gpd.GeoDataFrame,
    community: str,
    crs: Any,
    present: pd.Series,
    ever: Iterable[str],
) -> gpd.GeoDataFrame:
    """Return the drawn ``grids`` of ``community`` coded in reading order (``crs``, metres) in
    the workspace's code form (``present``: the grid codes there now), in code order, named
    after their community and code (…第N网格, :func:`gridmap.grids.codes.grid_name`); column ``drawn`` keeps the code each had.

    Codes are never reused: the new grids take the community's next codes after every code it
    ever had (``ever``, :func:`gridmap.service.planning.codes_ever`, the lineage and
    ``present``), so that the visits and incidents recorded with an old code keep naming the
    ground they were recorded on.
    """
    out = grids.copy()
    out["community_code"] = community
    out["drawn"] = out["code"].astype(str)
    mapping: dict[str, str] = {}
    meta = reader.meta()
    if len(out):
        form, obj = grid_codes.code_form(meta, present.astype(str))
        in_order = new_codes(out, crs, form, obj, community)  # drawn → 1..N in reading order
        used = codes_used(meta, present.astype(str), ever)
        prefix = grid_codes.code_prefix(community, form, obj)
        for drawn, _n in sorted(in_order.items(), key=lambda kv: kv[1]):
            mapping[drawn] = grid_codes.next_code(used, prefix, form)
            used.add(mapping[drawn])
    out["code"] = out["drawn"].map(mapping)
    out = out.sort_values("code").reset_index(drop=True)
    found = reader.read("community", where={"code": community})
    prefix = str(found.iloc[0]["name"]) if len(found) else ""
    out["name"] = [grid_codes.grid_name(prefix, c) for c in out["code"]]
    return out


def replace_community(
    tx: Transaction,
    community: str,
    grids: gpd.GeoDataFrame,
    *,
    crs: Any,
    ever: Iterable[str],
    user: str,
) -> PlanEdit:
    """Replace every grid of ``community`` with ``grids``, in ``tx`` (see the module).

    Parameters
    ----------
    tx
        The open transaction; the grids are read through it (its earlier writes seen).
    community
        The community's 12-digit code.
    grids
        The drawn grids (EPSG:4326): an outline and a ``code`` each, which only tells them
        apart: they are numbered anew (:func:`numbered`).
    crs
        The workspace's metric CRS (:func:`gridmap.service.metric.metric_crs`).
    ever
        Every grid code the history shows (:func:`gridmap.service.planning.codes_ever`).
    user
        Recorded with the lineage.

    Returns
    -------
    PlanEdit
        What was written: every drawn grid is new (``added``: codes are never reused); the
        old grids are ``removed``; ``changed``, the neighbours the cleaning gave a vertex.
    """
    plan, current = read_plan(tx, crs)
    mine = current[current["community_code"] == community]
    new = numbered(tx, grids, community, crs, current["code"], ever)
    new = keep_workers(new.to_crs(crs), mine.to_crs(crs) if len(mine) else mine)
    new = new.to_crs(STORAGE_CRS).set_index("code", drop=False)
    result = topology.replace(
        plan, community, dict(zip(new["code"], new.geometry.values, strict=True))
    )
    fid_of = {str(c): int(f) for f, c in zip(current.index, current["code"], strict=True)}
    region = shapely.union_all(
        [shapely.box(*g.bounds) for g in (*mine.geometry.values, *result.changed.values())]
    )
    kept = [
        (c, g)
        for c, g in zip(current["code"], current.geometry.values, strict=True)
        if c not in result.removed
    ]
    after = gpd.GeoDataFrame(
        {"code": [c for c, _ in kept] + list(result.added)},
        geometry=[result.changed.get(c, g) for c, g in kept]
        + [result.changed[c] for c in result.added],
        crs=STORAGE_CRS,
    )
    moved = relocate(tx, after, metric_crs=crs, region=region, grids_changed=set(result.changed))
    if result.removed:
        tx.delete("grids", [fid_of[c] for c in result.removed])
    updates = changed_figures(current[~current["code"].isin(result.removed)], moved.figures)
    for c, g in result.changed.items():
        if c in fid_of:  # a neighbour: a vertex where the new border meets it
            updates.setdefault(fid_of[c], {})["geometry"] = g
    if updates:
        tx.update_many("grids", updates)
    if result.added:
        rows = [
            {
                "code": c,
                "community_code": community,
                "source": "user",
                **{k: _value(new.at[c, k]) for k in PROPS},
                **moved.figures.get(c, {}),
                "geometry": result.changed[c],
            }
            for c in result.added
        ]
        tx.append("grids", gpd.GeoDataFrame(rows, geometry="geometry", crs=STORAGE_CRS))
    now = datetime.now(UTC).isoformat(timespec="seconds")
    entries = [{**e, "at": now, "user": user, "tx": tx.tx_id} for e in result.lineage]
    tx.set_meta(LINEAGE_KEY, [*(tx.meta().get(LINEAGE_KEY) or []), *entries])
    return edit_reply(tx.tx_id or 0, result, moved.codes)


def _value(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else value


__all__ = ["keep_workers", "numbered", "replace_community"]
