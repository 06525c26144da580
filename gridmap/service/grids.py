"""Draw grids automatically in a workspace: read, partition, write in one transaction.

:func:`auto_grids` reads the communities, buildings and streets of a workspace, projects them to
the area's UTM zone and runs :class:`gridmap.grids.GridPartition`. The new grids are written as
an accepted partition proposal is, community by community in one transaction, through
:func:`gridmap.service.plan_replace.replace_community`: fitted to each community's border as its
neighbours have it (the plan stays one coverage), numbered after every code the community ever
had, with their figures (households, residents, buildings, area) and the ``grid_code`` of every
building, household, facility and camera they hold, the lineage recorded: all of it or nothing,
one version of the plan that one undo takes back. Logs keep the grid they were recorded in
(visits, incidents). No Flask here: the CLI and the web app call this function.
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
from gridmap.grids import GridPartition, GridPartitionResult
from gridmap.io import geojson
from gridmap.schema import STORAGE_CRS, get_layer
from gridmap.service.metric import metric_crs
from gridmap.service.plan_replace import keep_workers, numbered, replace_community
from gridmap.service.planning import codes_ever
from gridmap.solve import Progress
from gridmap.store import Workspace

#: Layers whose ``grid_code`` says where a thing is now, rewritten with the grids.
LOCATED_LAYERS = ("households", "facilities", "cameras")


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


def _point_codes(points: gpd.GeoSeries, grids: gpd.GeoDataFrame) -> np.ndarray:
    """Return the code of the grid each point (or shape's inner point) lies in, else None."""
    pts = shapely.point_on_surface(np.asarray(points.values, dtype=object))
    tree = shapely.STRtree(np.asarray(grids.geometry.values, dtype=object))
    pi, gi = tree.query(pts, predicate="within")
    out = np.full(len(pts), None, dtype=object)
    out[pi] = grids["code"].to_numpy()[gi]
    return out


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
    drawn_from = buildings
    if community is not None:  # the other communities' buildings are theirs, not "left out"
        drawn_from = buildings[buildings.representative_point().within(communities.union_all())]
    problem = GridPartition.from_frames(
        None,
        ws.read("streets").to_crs(crs),
        drawn_from.to_crs(crs),
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
    # numbered as the write numbers them: each community's next codes after every code it had
    ever = codes_ever(ws)
    present = old["code"] if len(old) else pd.Series(dtype=str)
    drawn = frames["grids"]
    parts = [
        numbered(ws, drawn[drawn["community_code"] == c], c, crs, present, ever)
        for c in sorted(set(drawn["community_code"]))
    ]
    new = pd.concat(parts, ignore_index=True) if parts else drawn.iloc[:0]
    new = gpd.GeoDataFrame(new, geometry="geometry", crs=STORAGE_CRS)
    recoded = dict(zip(new["drawn"], new["code"], strict=True))
    building_code = frames["buildings"]["grid_code"].map(recoded).reindex(buildings.index)
    residents = (
        pd.to_numeric(buildings["residents"], errors="coerce").fillna(0)
        if "residents" in buildings
        else pd.Series(0, index=buildings.index)
    )
    new["residents"] = (
        new["code"].map(residents.groupby(building_code).sum()).fillna(0).astype(int).to_numpy()
    )
    new["source"] = "user"
    if dry_run:
        return _preview(ws, result, new, mine, buildings, building_code, crs)
    say(f"writing {len(new)} grids in one transaction")
    action = f"grids auto ({community or 'all communities'}, {len(new)} grids)"
    moved: dict[str, int] = {}
    with ws.transaction(user=user, action=action) as tx:
        # the solve took a while: read again under the write lock, and refuse to overwrite
        # what someone changed meanwhile (the other communities' grids stay as they are now)
        now = tx.read("grids")
        mask = now["community_code"].isin(codes) if len(now) else pd.Series(dtype=bool)
        before = mine["version"] if len(mine) else pd.Series(dtype="Int64")
        if len(now[mask]) != len(before) or not now[mask]["version"].equals(before):
            raise ConflictError(
                "The grids of the communities being drawn were changed while gridmap drew "
                "them: run grids auto again. (自动划分期间，所划社区的网格已被他人修改，请重新运行 "
                "grids auto。)",
                layer="grids",
            )
        for code in sorted(codes):
            edit = replace_community(
                tx, code, new[new["community_code"] == code], crs=crs, ever=ever, user=user
            )
            for layer, n in edit.moved.items():
                moved[layer] = moved.get(layer, 0) + n
        written = tx.read("grids")
    written = written[written["community_code"].isin(codes)].sort_values("code")
    return AutoGrids(result, written, moved, replaced=len(mine), written=True)


def _preview(
    ws: Workspace,
    result: GridPartitionResult,
    new: gpd.GeoDataFrame,
    mine: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    building_code: pd.Series,
    crs: Any,
) -> AutoGrids:
    """Return what :func:`auto_grids` would write (nothing is): the new grids (EPSG:4326) with
    the workers they would keep (``crs``, metres), and how many rows would change grid, by
    layer."""
    new = keep_workers(new.to_crs(crs), mine.to_crs(crs) if len(mine) else mine).to_crs(STORAGE_CRS)
    columns = [c for c in get_layer("grids").column_names if c in new.columns]
    new = gpd.GeoDataFrame(new[columns], geometry=new.geometry, crs=STORAGE_CRS)
    # things in no new grid that pointed at a replaced grid would point at none
    gone = set(mine["code"]) - set(new["code"]) if len(mine) else set()
    changed = {"buildings": len(_changes(buildings["grid_code"], building_code, gone))}
    for layer in LOCATED_LAYERS:
        frame = ws.read(layer, columns=["grid_code"])
        if len(frame):
            codes_now = pd.Series(_point_codes(frame.geometry, new), index=frame.index)
            changed[layer] = len(_changes(frame["grid_code"], codes_now, gone))
    return AutoGrids(result, new, changed, replaced=len(mine), written=False)


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
