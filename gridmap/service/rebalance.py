"""Rebalance a workspace's plan: the fewest street-block moves that bring every grid into range.

The plan as units (:func:`plan_units`): each street block
(:func:`gridmap.service.blocks.workspace_blocks`, numbered as the planning page numbers them)
in one grid is a unit; a block that several grids share gives each its buildings there as a
unit, so a grid's households are those of its buildings.
Blocks move only between grids of one community. The moves come from
:func:`gridmap.grids.rebalance.fewest_moves` (metric CRS of the workspace; households). Applying
them paints the blocks into their new grids through
:func:`gridmap.service.planning.edit_in` (op ``paint``, one per grid that receives blocks), all
in one transaction: one version in the history, all or nothing, and one ``undo`` takes it back.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.access.roles import Access
from gridmap.errors import InputError
from gridmap.grids import rebalance
from gridmap.grids.blocks import adjacency, locate
from gridmap.grids.cells import building_cells
from gridmap.schema import STORAGE_CRS
from gridmap.service.blocks import blocks_stamp, workspace_blocks
from gridmap.service.grid_checks import DEFAULT_RANGE
from gridmap.service.metric import metric_crs
from gridmap.service.rebalance_check import PaintCheck, grouped
from gridmap.service.relocate import codes_at
from gridmap.store import Workspace

#: The range by default is the checks' and the planning page's (:data:`DEFAULT_RANGE`,
#: 300–500 households): its middle, and the share off it, 400 ± 25 %.
DEFAULT_HOUSEHOLDS = (DEFAULT_RANGE[0] + DEFAULT_RANGE[1]) / 2
DEFAULT_TOLERANCE = (DEFAULT_RANGE[1] - DEFAULT_RANGE[0]) / (DEFAULT_RANGE[1] + DEFAULT_RANGE[0])
#: Border two units must share to be neighbours, metres: less is a corner, not a side.
MIN_SIDE_M = 3.0
#: Searches of the moves, each without the units whose paint failed the check before.
ROUNDS = 4
NO_GAIN_EN = (
    "No improvement found: no block move that keeps every grid in one piece brings fewer "
    "grids into the range."
)
NO_GAIN_ZH = "未找到可改进的调整：在不拆分网格的前提下，移动街区无法减少超出范围的网格。"
#: The note of a proposal without moves though grids are outside the range.
NO_GAIN = f"{NO_GAIN_EN} ({NO_GAIN_ZH})"


@dataclass(frozen=True)
class RebalancePlan:
    """Proposed block moves and the grids' households before and after (block sums).

    Attributes
    ----------
    moves
        One dict per move: ``block`` (its number), ``from``, ``to`` (grid codes),
        ``households``, ``buildings`` (ids, when only the grid's share of the block moves).
    grids
        Per grid: ``code``, ``community_code``, ``before``, ``after`` (households).
    method
        ``exhaustive``, ``tabu`` (:class:`gridmap.grids.rebalance.Rebalance`) or ``none`` (no
        moves).
    towers
        Codes of grids that hold a block heavier than the range: no move can fix them.
    blocks
        The moved blocks (metric CRS), for the proposal file.
    versions
        Each grid's version when the proposal was made: applying it is refused (409) when a grid
        it paints into was changed since.
    stamp
        The street blocks' stamp (:func:`gridmap.service.blocks.blocks_stamp`) the moves'
        block ids are of: applying is refused (409) when the streets or a community boundary
        changed since.
    note
        Why there are no moves though grids are outside the range (:data:`NO_GAIN`, bilingual),
        else None.
    applied
        Audit transactions of the paint edits when applied.
    """

    moves: list[dict[str, Any]]
    grids: list[dict[str, Any]]
    bounds: tuple[float, float]
    target: float
    method: str
    towers: list[str]
    blocks: gpd.GeoDataFrame
    versions: dict[str, int] = field(default_factory=dict)
    stamp: str | None = None
    note: str | None = None
    applied: list[int] = field(default_factory=list)

    def outside(self, when: str) -> int:
        """Return how many grids are outside the range ``before`` or ``after`` the moves."""
        lo, hi = self.bounds
        return sum(1 for g in self.grids if not lo <= g[when] <= hi)

    def to_json(self) -> dict[str, Any]:
        """Return moves and figures as plain JSON-ready data."""
        return {
            "moves": self.moves,
            "grids": self.grids,
            "method": self.method,
            "towers": self.towers,
            "target": self.target,
            "bounds": list(self.bounds),
            "outside_before": self.outside("before"),
            "outside_after": self.outside("after"),
            "applied": self.applied,
            "note": self.note,
            "stamp": self.stamp,
            "versions": self.versions,
        }


def plan_units(ws: Workspace, community: str | None = None) -> gpd.GeoDataFrame:
    """Return the plan as units (metric CRS): each street block's share of each grid.

    A block wholly in one grid is one unit (its outline); a block its grids' border crosses (a
    big compound cut between buildings) gives one unit per grid, holding that grid's buildings
    there, whose outline is their cells (:func:`gridmap.grids.cells.building_cells`): what
    painting them moves.
    Columns: ``block`` (its number), ``community_code``, ``grid_code`` (of the buildings, or
    the grid at the inner point of a block without any), ``households``, ``fids`` (building
    ids), ``whole`` (the unit is the whole block). Blocks in no grid are left out.
    """
    blocks = workspace_blocks(ws)
    if community is not None:
        blocks = blocks[blocks["community_code"] == community]
        if not len(blocks):
            raise InputError(
                f"Community {community} has no street blocks (is the code right?). "
                f"(社区 {community} 没有街区，请检查编码。)"
            )
    crs = blocks.crs or metric_crs(ws)
    geoms = np.asarray(blocks.geometry.values, dtype=object)
    at = codes_at(geoms, ws.read("grids").to_crs(crs))
    buildings = ws.read("buildings").to_crs(crs)
    foot = np.asarray(buildings.geometry.values, dtype=object)
    where = locate(foot, geoms) if len(buildings) and len(geoms) else np.zeros(0, dtype=int)
    hh = pd.to_numeric(buildings["households"], errors="coerce").fillna(0).to_numpy()
    code = buildings["grid_code"].to_numpy() if len(buildings) else np.zeros(0, dtype=object)
    rows: list[dict[str, Any]] = []
    shapes: list[Any] = []
    ids = blocks.index.to_numpy()
    community_of = blocks["community_code"].astype(str).to_numpy()
    fids = buildings.index.to_numpy()
    known = pd.notna(code)
    # the buildings of each block, in id order: one sort, not a scan of them all per block
    order = np.argsort(where, kind="stable")
    members = np.split(order, np.searchsorted(where[order], np.arange(1, len(geoms))))
    for b in range(len(geoms)):
        inside = members[b]
        mine = inside[known[inside]]
        parts = sorted({str(c) for c in code[mine]}) or ([str(at[b])] if at[b] else [])
        cells = building_cells(geoms[b], foot[inside]) if len(parts) > 1 else None
        for c in parts:
            held = mine[code[mine] == c] if len(mine) else mine
            piece = geoms[b]
            if cells is not None:  # what painting its buildings moves: their cells
                piece = shapely.union_all(cells[np.isin(inside, held)])
            rows.append(
                {
                    "block": int(ids[b]),
                    "community_code": str(community_of[b]),
                    "grid_code": c,
                    "households": float(hh[held].sum()),
                    "fids": [int(f) for f in fids[held]],
                    "whole": len(parts) == 1,
                }
            )
            shapes.append(piece)
    return gpd.GeoDataFrame(rows, geometry=shapes, crs=crs)


def _neighbours(units: gpd.GeoDataFrame) -> list[set[int]]:
    """Units of one community whose outlines (what is painted) share at least
    :data:`MIN_SIDE_M` metres of border; pieces of one block only if theirs do."""
    geoms = np.asarray(units.geometry.values, dtype=object)
    comm = units["community_code"].to_numpy()
    near = adjacency(geoms, min_shared=MIN_SIDE_M)
    return [{v for v in nbrs if comm[v] == comm[u]} for u, nbrs in enumerate(near)]


def propose(
    ws: Workspace,
    *,
    target: float = DEFAULT_HOUSEHOLDS,
    tolerance: float = DEFAULT_TOLERANCE,
    community: str | None = None,
) -> RebalancePlan:
    """Return the fewest block moves that bring every grid of ``ws`` into target x (1 ± tolerance)."""
    if not target > 0 or not 0 <= tolerance < 1:
        raise InputError(
            f"Households per grid must be positive and the tolerance between 0 and 1 "
            f"(got {target:g} and {tolerance:g}). (户数须为正数，容差须在 0 到 1 之间。)"
        )
    bounds = (target * (1 - tolerance), target * (1 + tolerance))
    seen = ws.read("grids", columns=["code"])
    versions = {str(c): int(v) for c, v in zip(seen["code"], seen["version"], strict=True)}
    stamp = blocks_stamp(ws)  # before the blocks are read: a write between makes it stale
    units = plan_units(ws, community).reset_index(drop=True)
    codes = sorted(set(units["grid_code"]))
    if not codes:
        raise InputError("There are no grids to rebalance. (没有可调整的网格。)")
    label_of = {c: i for i, c in enumerate(codes)}
    labels = np.asarray([label_of[c] for c in units["grid_code"]], dtype=int)
    w = units["households"].to_numpy(dtype=float)
    found, kept = _whole_moves(ws, units, labels, w, target, bounds)
    before = found.before
    after = before.copy()
    for m in kept:
        after[m.source] -= m.weight
        after[m.target] += m.weight
    lo, hi = bounds
    note = None
    if kept and ((after < lo) | (after > hi)).sum() >= ((before < lo) | (before > hi)).sum():
        kept, after, note = [], before.copy(), NO_GAIN  # no grid comes into range: no moves
    elif not kept and ((before < lo) | (before > hi)).any():
        note = NO_GAIN
    moves = [
        {
            "block": int(units["block"].iloc[m.unit]),
            "from": codes[m.source],
            "to": codes[m.target],
            "households": _count(m.weight),
            "buildings": [] if units["whole"].iloc[m.unit] else units["fids"].iloc[m.unit],
        }
        for m in kept
    ]
    community_of = units.drop_duplicates("grid_code").set_index("grid_code")["community_code"]
    grids = [
        {
            "code": c,
            "community_code": str(community_of[c]),
            "before": _count(before[i]),
            "after": _count(after[i]),
        }
        for i, c in enumerate(codes)
    ]
    picked = [m.unit for m in kept]
    moved = units.iloc[picked][["block", "community_code", "households", "geometry"]].copy()
    moved["from"] = [m["from"] for m in moves]
    moved["to"] = [m["to"] for m in moves]
    return RebalancePlan(
        moves=moves,
        grids=grids,
        bounds=bounds,
        target=float(target),
        method=found.method if kept else "none",
        note=note,
        towers=[codes[t] for t in found.towers],
        blocks=gpd.GeoDataFrame(moved, geometry="geometry", crs=units.crs),
        versions=versions,
        stamp=stamp,
    )


def _whole_moves(
    ws: Workspace,
    units: gpd.GeoDataFrame,
    labels: np.ndarray,
    w: np.ndarray,
    target: float,
    bounds: tuple[float, float],
) -> tuple[rebalance.Rebalance, list[rebalance.Move]]:
    """Return the search's result and those of its moves whose paint leaves no grid in more
    pieces (:class:`gridmap.service.rebalance_check.PaintCheck`), in order.

    A move that fails the check is dropped and its unit kept where it is (its edges to other
    grids cut) for the next search, up to :data:`ROUNDS` searches. Each move is tried once, on
    the plan the moves kept before it left (:class:`gridmap.service.rebalance_check.Trial`);
    what ``apply`` then writes, their paints grouped by receiving grid, is checked once more,
    and in the rare case it fails the moves are tried again each on top of the kept ones.
    """
    nbrs = _neighbours(units)
    check = PaintCheck(ws, units.crs)
    ground = units.geometry.to_crs(STORAGE_CRS).values
    codes = sorted(set(units["grid_code"]))

    def paints(moves: list[rebalance.Move]) -> list[tuple[str, Any]]:
        return grouped([(codes[t.target], ground[t.unit]) for t in moves])

    for _round in range(ROUNDS):
        found = rebalance.fewest_moves(w, nbrs, labels, target, bounds)
        trial = check.trial()
        kept = [m for m in found.moves if trial.add(codes[m.target], ground[m.unit])]
        if kept and not check.keeps_whole(paints(kept)):  # (grouped as apply paints them)
            kept = []
            for m in found.moves:
                if check.keeps_whole(paints([*kept, m])):
                    kept.append(m)
        taken = {id(m) for m in kept}
        failed = [m.unit for m in found.moves if id(m) not in taken]
        if not failed:
            return found, kept
        for u in failed:  # the unit stays in its grid: no side to another one
            for v in [v for v in nbrs[u] if labels[v] != labels[u]]:
                nbrs[u].discard(v)
                nbrs[v].discard(u)
    return found, kept


@dataclass(frozen=True)
class Applied:
    """What :func:`apply_moves` wrote: one transaction (``tx``, 0 when no move changed
    anything), how many of the moves it applied, and the grids they changed."""

    tx: int
    moves: int
    changed: tuple[str, ...]


def _paints(moves: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Group moves by the grid they go to: its blocks, buildings and the grids they leave."""
    order: dict[str, dict[str, Any]] = {}
    for m in moves:
        paint = order.setdefault(m["to"], {"blocks": [], "buildings": [], "from": [], "n": 0})
        if m.get("buildings"):  # the grid's share of a block it shares: its buildings' cells
            paint["buildings"].extend(m["buildings"])
        else:
            paint["blocks"].append(m["block"])
        if m.get("from"):
            paint["from"].append(str(m["from"]))
        paint["n"] += 1
    return order


def apply_moves(
    ws: Workspace,
    moves: list[dict[str, Any]],
    *,
    versions: dict[str, int],
    stamp: str | None,
    access: Access,
) -> Applied:
    """Paint ``moves`` (a proposal's: ``block``, ``from``, ``to``, ``buildings`` as stored
    ids) into their grids, all in ONE transaction: one version of the plan, one undo.

    ``versions``: each grid's version when the proposal was made; ``stamp``: the street
    blocks' stamp the block ids are of. A paint that changes nothing is skipped (its moves are
    not counted). Raises :class:`gridmap.errors.ConflictError` (409) when a grid a move
    paints into or out of was changed since, :class:`gridmap.errors.BlocksChangedError`
    when the streets or a community boundary were: nothing is written then.
    """
    from gridmap.service.edit import require_writer
    from gridmap.service.plan_ops import parse_operation
    from gridmap.service.planning import edit_in

    require_writer(access, "grids")
    order = _paints(moves)
    unknown = sorted(set(order) - set(versions))
    if unknown:  # (a grid that is not there at all: the paint's 404 says so)
        present = set(ws.read("grids", where={"code": unknown}, columns=["code"])["code"])
        unknown = [c for c in unknown if c in present]
    if unknown:
        raise InputError(
            f"The plan moves blocks into grid {', '.join(unknown)}, which was not in the plan "
            f"when it was proposed (no version of it): propose again; nothing was saved. "
            f"(调整方案要把街区移入网格 {'、'.join(unknown)}，但方案计算时没有该网格（无版本号），"
            "请重新计算；未保存。)"
        )
    crs = metric_crs(ws)
    seen = dict(versions)
    changed: list[str] = []
    applied = 0
    with ws.transaction(user=access.who, action=f"grids rebalance {' '.join(order)}") as tx:
        for to, paint in order.items():
            codes = [to, *paint["from"]]
            doc: dict[str, Any] = {
                "op": "paint",
                "to": to,
                "versions": {c: seen[c] for c in dict.fromkeys(codes) if c in seen},
            }
            if stamp is not None:
                doc["stamp"] = stamp
            doc.update({k: paint[k] for k in ("blocks", "buildings") if paint[k]})
            edit = edit_in(ws, tx, parse_operation(doc), access=access, crs=crs)
            if not edit.tx:  # nothing to move after all: nothing written for it
                continue
            applied += paint["n"]
            changed.extend(edit.changed)
            # this transaction's own paints change grids it paints into or out of next
            now = tx.read("grids", where={"code": list(edit.changed)})
            seen.update(zip(now["code"].astype(str), now["version"].astype(int), strict=True))
        tx_id = (tx.tx_id or 0) if applied else 0
    return Applied(tx_id, applied, tuple(dict.fromkeys(changed)))


def apply(ws: Workspace, plan: RebalancePlan, *, access: Access) -> list[int]:
    """Paint the plan's blocks into their new grids in one transaction
    (:func:`apply_moves`: one undoable version); return its audit transaction (none when no
    move changed anything) and add it to ``plan.applied``."""
    done = apply_moves(ws, plan.moves, versions=plan.versions, stamp=plan.stamp, access=access)
    out = [done.tx] if done.tx else []
    plan.applied.extend(out)
    return out


def write_proposal(plan: RebalancePlan, path: str | os.PathLike[str]) -> Path:
    """Write the moved blocks (EPSG:4326) with block, community, households, from and to."""
    out = Path(path)
    frame = plan.blocks.to_crs(STORAGE_CRS).reset_index(drop=True)
    doc = (
        json.loads(frame.to_json(drop_id=True))
        if len(frame)
        else {"type": "FeatureCollection", "features": []}
    )
    doc["rebalance"] = {k: v for k, v in plan.to_json().items() if k not in ("moves",)}
    out.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return out


def _count(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(float(value), 2)


__all__ = [
    "Applied",
    "RebalancePlan",
    "apply",
    "apply_moves",
    "plan_units",
    "propose",
    "write_proposal",
]
