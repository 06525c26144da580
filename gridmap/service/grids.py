"""Draw grids automatically in a workspace: read, partition, write in one transaction.

:func:`auto_grids` reads the communities, buildings and streets of a workspace, projects them to
the area's UTM zone, runs :class:`gridmap.grids.GridPartition` and writes the new grids with
their figures (households, residents, buildings, area), the ``grid_code`` of every building,
household, facility and camera they hold, in one transaction: all of it or nothing. Logs keep
the grid they were recorded in (visits, incidents). No Flask here: the CLI and the web app call
this function.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.errors import ConflictError, FeatureNotFoundError, GridsExistError, InputError
from gridmap.geo.crs import utm_crs
from gridmap.grids import GridPartition, GridPartitionResult
from gridmap.io import geojson
from gridmap.schema import STORAGE_CRS, get_layer
from gridmap.solve import Progress
from gridmap.store import Workspace

#: Layers whose ``grid_code`` says where a thing is now, rewritten with the grids.
LOCATED_LAYERS = ("households", "facilities", "cameras")
#: A new grid keeps the worker of the old grid that held at least this share of its area.
WORKER_OVERLAP = 0.5


@dataclass(frozen=True)
class AutoGrids:
    """What :func:`auto_grids` did (or, on a dry run, would do).

    Attributes
    ----------
    result
        The checked partition (figures, objective, bound, status).
    grids
        The new grids as written (EPSG:4326), with their figures.
    changed
        Rows whose ``grid_code`` changed (or would change), by layer.
    replaced
        How many grids the new ones replace.
    written
        False on a dry run.
    """

    result: GridPartitionResult
    grids: gpd.GeoDataFrame
    changed: dict[str, int] = field(default_factory=dict)
    replaced: int = 0
    written: bool = False


def metric_crs(ws: Workspace) -> Any:
    """Return the workspace's metric CRS (its setting, else the UTM zone of its centre)."""
    text = ws.get_meta("metric_crs")
    if text:
        return text
    minx, miny, maxx, maxy = ws.bounds()
    return utm_crs((minx + maxx) / 2, (miny + maxy) / 2)


def _point_codes(points: gpd.GeoSeries, grids: gpd.GeoDataFrame) -> np.ndarray:
    """Return the code of the grid each point (or shape's inner point) lies in, else None."""
    pts = shapely.point_on_surface(np.asarray(points.values, dtype=object))
    tree = shapely.STRtree(np.asarray(grids.geometry.values, dtype=object))
    pi, gi = tree.query(pts, predicate="within")
    out = np.full(len(pts), None, dtype=object)
    out[pi] = grids["code"].to_numpy()[gi]
    return out


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


def auto_grids(
    ws: Workspace,
    *,
    community: str | None = None,
    target: float = 400,
    bounds: tuple[float, float] = (300, 500),
    time_limit: float | None = None,
    seed: int = 0,
    method: str = "heuristic",
    restarts: int = 0,
    replace: bool = False,
    dry_run: bool = False,
    user: str = "gridmap",
    progress: Progress | None = None,
) -> AutoGrids:
    """Draw the grids of every community (or of ``community``) and write them.

    Parameters
    ----------
    ws
        The workspace; it needs communities, buildings with households, and streets.
    community
        Code of the one community to draw anew (default: all).
    target, bounds
        Households a grid should hold, and the range it may hold (households).
    time_limit, seed, method, restarts
        As for :meth:`gridmap.grids.GridPartition.solve` (seconds; heuristic or exact).
    replace
        Existing grids are replaced only with this; without it they raise
        :class:`GridsExistError` (409) and nothing changes.
    dry_run
        Solve and report, write nothing.
    user
        Recorded in the audit log.
    progress
        Called with a line per step.

    Returns
    -------
    AutoGrids
        The result and what changed. Areas in m² (the area's UTM zone), storage in EPSG:4326.
    """
    say = progress or (lambda _m: None)
    communities = ws.read("community")
    if not len(communities):
        raise InputError(
            "The workspace has no communities: import the community boundaries first "
            "(gridmap import WORKSPACE community FILE)."
        )
    if community is not None:
        communities = communities[communities["code"] == community]
        if not len(communities):
            raise FeatureNotFoundError(f"The workspace has no community with code '{community}'.")
    codes = set(communities["code"])
    old = ws.read("grids")
    mine = old[old["community_code"].isin(codes)] if len(old) else old
    if len(mine) and not (replace or dry_run):
        where = f"community {community}" if community else "the workspace"
        zh_where = f"社区 {community}" if community else "工作区"
        raise GridsExistError(
            f"{where[0].upper()}{where[1:]} has {len(mine)} grid(s) already: add --replace to "
            "draw them anew (the old ones stay in the history), or -o FILE.geojson without "
            "--replace to see the new ones first. "
            f"({zh_where}已有 {len(mine)} 个网格：加 --replace 重新划分（旧网格保留在历史中），"
            "或只加 -o 文件.geojson 先预览新网格。)"
        )
    crs = metric_crs(ws)
    say("reading buildings and streets")
    buildings = ws.read("buildings")
    problem = GridPartition.from_frames(
        None,
        ws.read("streets").to_crs(crs),
        buildings.to_crs(crs),
        weight="households",
        communities=communities.to_crs(crs),
        target=target,
        bounds=bounds,
    )
    say("drawing grids")
    result = problem.solve(
        time_limit=time_limit, seed=seed, progress=say, method=method, restarts=restarts
    )
    frames = result.to_frames(storage=True)
    new = frames["grids"]
    building_code = frames["buildings"]["grid_code"]
    residents = (
        pd.to_numeric(buildings["residents"], errors="coerce").fillna(0)
        if "residents" in buildings
        else pd.Series(0, index=buildings.index)
    )
    new["residents"] = (
        new["code"].map(residents.groupby(building_code).sum()).fillna(0).astype(int).to_numpy()
    )
    new = keep_workers(new.to_crs(crs), mine.to_crs(crs) if len(mine) else mine).to_crs(STORAGE_CRS)
    new["source"] = "user"
    columns = [c for c in get_layer("grids").column_names if c in new.columns]
    new = gpd.GeoDataFrame(new[columns], geometry=new.geometry, crs=STORAGE_CRS)

    # grid codes of what lies in the new grids; things in no new grid that pointed at a replaced
    # grid point at none
    gone = set(mine["code"]) - set(new["code"]) if len(mine) else set()
    updates: dict[str, dict[int, Any]] = {}
    read_versions: dict[str, pd.Series] = {"buildings": buildings["version"]}
    updates["buildings"] = _changes(buildings["grid_code"], building_code, gone)
    for layer in LOCATED_LAYERS:
        frame = ws.read(layer)
        if not len(frame):
            continue
        codes_now = pd.Series(_point_codes(frame.geometry, new), index=frame.index)
        updates[layer] = _changes(frame["grid_code"], codes_now, gone)
        read_versions[layer] = frame["version"]
    changed = {layer: len(rows) for layer, rows in updates.items()}
    outcome = AutoGrids(result, new, changed, replaced=len(mine), written=False)
    if dry_run:
        return outcome
    say(f"writing {len(new)} grids and {sum(changed.values())} grid codes in one transaction")
    action = f"grids auto ({community or 'all communities'}, {len(new)} grids)"
    with ws.transaction(user=user, action=action) as tx:
        # the solve took a while: read again under the write lock, and refuse to overwrite
        # what someone changed meanwhile (the other communities' grids stay as they are now)
        now = tx.read("grids")
        drawn = now["community_code"].isin(codes) if len(now) else pd.Series(dtype=bool)
        before = mine["version"] if len(mine) else pd.Series(dtype="Int64")
        if len(now[drawn]) != len(before) or not now[drawn]["version"].equals(before):
            raise ConflictError(
                "The grids of the communities being drawn were changed while gridmap drew "
                "them: run grids auto again.",
                layer="grids",
            )
        others = now[~drawn] if len(now) else now
        if len(others):
            tx.replace("grids", pd.concat([others, new], ignore_index=True))
        else:
            tx.replace("grids", new)
        for layer, rows in updates.items():
            versions = read_versions[layer]
            tx.update_many(
                layer,
                {fid: {"grid_code": code} for fid, code in rows.items()},
                expected_versions={fid: int(versions[fid]) for fid in rows},
            )
    return AutoGrids(result, new, changed, replaced=len(mine), written=True)


def _changes(current: pd.Series, computed: pd.Series, gone: set[str]) -> dict[int, Any]:
    """Return {fid: new grid_code} for rows whose code changes.

    ``computed`` is None where a row lies in no new grid: such a row keeps its code unless it
    named a grid that is gone.
    """
    out: dict[int, Any] = {}
    for fid, now, new in zip(current.index, current.tolist(), computed.tolist(), strict=True):
        now = None if pd.isna(now) else now
        target = new if new is not None and not pd.isna(new) else (None if now in gone else now)
        if target != now:
            out[int(fid)] = target
    return out


def write_preview(result: AutoGrids, path: str | os.PathLike[str]) -> Path:
    """Write the new grids of ``result`` to a GeoJSON file (EPSG:4326) and return its path."""
    out = Path(path)
    if out.suffix.lower() not in (".geojson", ".json"):
        raise InputError(f"A preview is a GeoJSON file (.geojson), not '{out.name}'.")
    frame = result.grids.reset_index(drop=True)
    frame.index = frame.index + 1
    columns = [c for c in get_layer("grids").column_names if c in frame.columns]
    figures = {k: v for k, v in result.result.figures().items() if not isinstance(v, float)}
    figures.update(
        objective=result.result.objective, bound=result.result.bound, gap=result.result.gap
    )
    text = geojson.feature_collection(frame, columns, extra={"gridmap": figures})
    out.write_text(text, encoding="utf-8")
    return out
