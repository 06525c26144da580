"""Grid planning edits: one request, one checked operation, one transaction.

The planning page (and anything else through ``POST /api/grids/edit``) sends an operation —
draw, reshape, split, merge, delete, give, paint — as JSON; :func:`edit_grids` parses it, reads
the grids under the write lock, runs the operation of :mod:`gridmap.grids.topology` (which
keeps shared borders shared by construction), writes every grid it changed, recomputes the
``grid_code`` of what lies there and the figures of the grids concerned
(:func:`gridmap.service.relocate.relocate`) and records which old codes became which new ones,
all in one transaction: one version of the plan in the history, undone as one.

A stale edit is refused: the operation names the versions of the grids it was made from
(``versions``: ``{code: version}``), required for every grid it names (a missing one is an
:class:`gridmap.errors.InputError`, 400); when one of them changed since, nothing is written
and :class:`gridmap.errors.ConflictError` (409) names the grid.
A paint of street blocks names them by their ids in ``GET /api/grids/blocks``, which are
places in a list the streets and community boundaries number: it sends the ``stamp`` those
blocks came with (required, 400 without), and when the streets or a boundary changed since,
nothing is written and :class:`gridmap.errors.BlocksChangedError` (409) says to reload them.

Geometry travels as GeoJSON (EPSG:4326 degrees); operations run on the storage grid
(:mod:`gridmap.grids.topology` says why), areas are measured in the workspace's UTM zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.access.roles import Access
from gridmap.errors import ConflictError, FeatureNotFoundError, InputError
from gridmap.grids import topology
from gridmap.grids.codes import grid_name
from gridmap.grids.plan import SLIVER_M2
from gridmap.schema import STORAGE_CRS, STORAGE_PRECISION_DEG
from gridmap.service import blocks
from gridmap.service.edit import require_writer
from gridmap.service.local_time import local_text, zone
from gridmap.service.metric import metric_crs
from gridmap.service.plan_ops import (
    Operation,
    parse_operation,
)
from gridmap.service.relocate import changed_figures, relocate
from gridmap.store import Transaction, Workspace

#: Painted blocks and cells snap onto the grids' vertices this close (degrees, about 0.5 m).
PAINT_SNAP_DEG = 5e-6
#: The workspace setting that keeps which grid codes became which: every entry ever made, each
#: with the transaction (``tx``) that made it; the entries still in effect after undo, redo
#: and restore are :func:`gridmap.service.plan_history.lineage`'s.
LINEAGE_KEY = "grid_lineage"


@dataclass(frozen=True)
class PlanEdit:
    """What :func:`edit_grids` wrote.

    Attributes
    ----------
    tx
        The transaction (the audit-log row: the plan's new version); 0 when the edit changed
        nothing (ground painted into the grid that holds it already) and nothing was written.
    changed, added, removed
        Codes of grids whose outline changed, of new grids, of grids that are gone.
    lineage
        Which old codes became which new ones (split, merge).
    notes
        ``(English, Chinese)`` remarks (ground left as a gap, parts outside the community …).
    moved
        Rows whose ``grid_code`` changed, by layer.
    """

    tx: int
    changed: tuple[str, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    lineage: tuple[dict[str, Any], ...]
    notes: tuple[tuple[str, str], ...]
    moved: dict[str, int]


# -- parsing -----------------------------------------------------------------------------------


# -- the plan as the transaction sees it -------------------------------------------------------


def read_plan(reader: Transaction | Workspace, crs: Any) -> tuple[topology.Plan, gpd.GeoDataFrame]:
    """Return the grids and communities as a :class:`~gridmap.grids.topology.Plan`, and the
    grids' rows (indexed by feature id)."""
    grids = reader.read("grids")
    communities = reader.read("community")
    plan = topology.Plan(
        grids={str(r.code): r.geometry for r in grids.itertuples()},
        community_of={
            str(r.code): (None if pd.isna(r.community_code) else str(r.community_code))
            for r in grids.itertuples()
        },
        communities={str(r.code): r.geometry for r in communities.itertuples()},
        metric_crs=crs,
        grid_size=STORAGE_PRECISION_DEG,
    )
    return plan, grids


def _check_versions(
    op: Operation,
    grids: gpd.GeoDataFrame,
    codes: Iterable[str] | None = None,
    ws: Workspace | None = None,
) -> None:
    """Refuse an operation made from an older version of a grid it names (409).

    ``codes``: check only the versions given for these grids (those an edit's result
    changes or removes); None: every version given, and every named grid must have one
    (a grid not there is a 404, saying who removed it and when from ``ws``'s history).
    """
    by_code = {
        str(c): (int(f), int(v))
        for c, f, v in zip(grids["code"], grids.index, grids["version"], strict=True)
    }
    if codes is not None:
        wanted = set(codes)
        for code, version in op.versions.items():
            if code in wanted and code in by_code and by_code[code][1] != version:
                _stale(code, version, grids.loc[by_code[code][0]], by_code[code], ws)
        return
    for code in op.named:
        if code not in by_code:
            raise _not_there(ws, code)
    missing = [code for code in op.named if code not in op.versions]
    if missing:
        listed = ", ".join(missing)
        raise InputError(
            f"Send the versions of the grids you edited: 'versions' lacks {listed} "
            f'(such as {{"{missing[0]}": 3}}), so that a save cannot overwrite a change you '
            f"did not see. (请在 versions 中提供所编辑网格 {'、'.join(missing)} 的版本号。)"
        )
    for code, version in op.versions.items():
        if code not in op.named:
            continue  # checked against the result, if the edit changes it
        # (a named grid not there was answered above: 404, saying who removed it and when)
        if by_code[code][1] != version:
            _stale(code, version, grids.loc[by_code[code][0]], by_code[code], ws)


def removal(ws: Workspace, code: str) -> tuple[str, str, str | None] | None:
    """Return ``(who, when, new code)`` of the newest change that took grid code ``code``
    away, from the change history: a delete (a merge, a restore or an undo deletes too; new
    code None) or a renumbering (the code it got). None when no grid ever had that code.
    ``when``: ISO 8601 UTC, to the minute."""
    rows = list(ws.history(layer="grids", limit=None).itertuples())
    for row in rows:
        before, after = row.before, row.after
        if not isinstance(before, dict) or before.get("code") != code:
            continue
        if row.op == "delete":
            return str(row.user), str(row.at)[:16], None
        if isinstance(after, dict) and after.get("code") not in (None, code):
            recoded = str(after["code"])
            # a renumbering goes through a temporary code (~renumber-FID) in its transaction
            for later in reversed(rows):
                if later.tx == row.tx and _code(later.before) == recoded:
                    recoded = _code(later.after) or recoded
            return str(row.user), str(row.at)[:16], recoded
    return None


def _code(values: Any) -> str | None:
    code = values.get("code") if isinstance(values, dict) else None
    return str(code) if code is not None else None


def deleted_grid(ws: Workspace, fid: int) -> FeatureNotFoundError:
    """The 404 of grid feature ``fid`` (the write API's): who deleted it and when, by its
    code, where the change history has its deletion."""
    rows = ws.history(layer="grids", fid=int(fid), limit=None)
    for row in rows.itertuples():
        code = _code(row.before) if row.op == "delete" else None
        if code:
            return _not_there(ws, code)
    return FeatureNotFoundError(f"Layer 'grids' has no feature {fid}. (网格图层中没有要素 {fid}。)")


def _not_there(ws: Workspace | None, code: str) -> FeatureNotFoundError:
    """The 404 of grid ``code``: who took it away and when, where the history says."""
    gone = removal(ws, code) if ws is not None else None
    if gone is None:
        return FeatureNotFoundError(f"There is no grid '{code}'. (没有编码为“{code}”的网格。)")
    by, at, recoded = gone
    when = local_text(at, zone(ws))
    if recoded is None:
        en = f"{by} deleted it at {when}"
        zh = f"已被 {by} 于 {when} 删除"
    else:
        en = f"{by} renumbered it {recoded} at {when}"
        zh = f"已被 {by} 于 {when} 重新编号为 {recoded}"
    return FeatureNotFoundError(
        f"There is no grid '{code}' any more: {en}. (网格“{code}”{zh}。)",
        changed_by=by,
        changed_at=at,
    )


def _stale(
    code: str, version: int, row: pd.Series, stored: tuple[int, int], ws: Workspace | None
) -> None:
    """Raise the 409 of grid ``code`` edited from ``version``: who changed it, and when (in
    the workspace's time zone)."""
    fid, actual = stored
    by = str(row.get("updated_by") or "?")
    at = str(row.get("updated_at") or "")[:16]
    when = local_text(at, zone(ws)) if at else "?"
    raise ConflictError(
        f"Grid {code} was changed by {by} at {when} since you read it (your version "
        f"{version}, now {actual}): look at their change, then edit again. "
        f"(网格 {code} 在您读取后已被 {by} 于 {when} 修改，请查看后重新编辑。)",
        layer="grids",
        fid=fid,
        expected=version,
        actual=actual,
        changed_by=by,
        changed_at=at or None,
    )


def _community_of(plan: topology.Plan, shape: BaseGeometry, given: str | None) -> str | None:
    if given:
        if given not in plan.communities:
            raise InputError(f"There is no community '{given}'. (没有编码为“{given}”的社区。)")
        return given
    best, most = None, 0.0
    for code, geom in plan.communities.items():
        shared = shapely.intersection(shape, geom).area
        if shared > most:
            best, most = code, shared
    if best is None:
        raise InputError(
            "The drawn grid lies in no community: draw it inside a community's boundary. "
            "(所画网格不在任何社区内。)"
        )
    return best


def codes_ever(ws: Workspace) -> set[str]:
    """Return every grid code the workspace's history shows (grids deleted, restored away,
    recoded: the ``code`` before and after each change of the grids layer)."""
    seen: set[str] = set()
    for values in ws.history(layer="grids", limit=None)[["before", "after"]].to_numpy().ravel():
        if isinstance(values, dict) and isinstance(values.get("code"), str):
            seen.add(values["code"])
    return seen


def next_code(
    ws_meta: Mapping[str, Any],
    plan: topology.Plan,
    community: str | None,
    ever: Iterable[str] = (),
) -> str:
    """Return the next unused grid code of ``community`` in the workspace's code form.

    Codes are never reused: those in the lineage (split, merged, deleted away) and ``ever``
    (every code the history shows, :func:`codes_ever`: a grid an undo or a restore removed)
    count as used, so a code always names one grid through the plan's history.
    """
    from gridmap.grids import codes

    form, obj = codes.code_form(ws_meta, plan.grids)
    prefix = codes.code_prefix(community, form, obj)
    return codes.next_code(codes_used(ws_meta, plan.grids, ever), prefix, form)


def codes_used(ws_meta: Mapping[str, Any], present: Iterable[str], ever: Iterable[str]) -> set[str]:
    """Return every grid code counted as used, never to be given again: the codes
    ``present`` now, ``ever`` (:func:`codes_ever`: every code the history shows) and every
    code the lineage (workspace setting :data:`LINEAGE_KEY`) names."""
    used = {str(c) for c in present} | {str(c) for c in ever}
    for entry in ws_meta.get(LINEAGE_KEY) or []:
        used.update((*entry.get("from", []), *entry.get("to", [])))
    return used


def _run(
    op: Operation,
    plan: topology.Plan,
    tx: Transaction,
    meta: Mapping[str, Any],
    crs: Any,
    households: Mapping[str, float],
    ever: Iterable[str] = (),
) -> topology.Edit:
    if op.op == "reshape":
        assert op.code and op.geometry is not None
        return topology.reshape(plan, op.code, op.geometry)
    if op.op == "draw":
        assert op.geometry is not None
        community = _community_of(plan, op.geometry, op.props.get("community_code"))
        return topology.draw(plan, next_code(meta, plan, community, ever), op.geometry, community)
    if op.op == "split":
        assert op.code and op.line is not None
        new_code = next_code(meta, plan, plan.community_of.get(op.code), ever)
        return topology.split(plan, op.code, op.line, new_code)
    if op.op == "merge":
        return topology.merge(plan, list(op.codes), households)
    if op.op == "delete":
        assert op.code
        return topology.delete(plan, op.code, to_neighbours=op.to == "neighbours")
    if op.op == "give":
        assert op.to and op.geometry is not None
        return topology.give(plan, op.geometry, op.to)
    assert op.op == "paint" and op.to
    units = blocks.buildings_ground(tx, crs, op.buildings) if op.buildings else []
    units += blocks.blocks_ground(tx, crs, op.blocks) if op.blocks else []
    return topology.paint(plan, units, op.to, snap=PAINT_SNAP_DEG)


def _new_row(op: Operation, result: topology.Edit, code: str, tx: Transaction) -> dict[str, Any]:
    """Return the row of a new grid: the drawn grid's given properties, or a name made up."""
    community = result.community_of.get(code)
    props = op.props if op.op == "draw" else {"name": op.props.get("name")}
    name = props.get("name")
    if not name:
        found = tx.read("community", where={"code": community}) if community else None
        prefix = str(found.iloc[0]["name"]) if found is not None and len(found) else ""
        name = grid_name(prefix, code)
    return {
        "code": code,
        "name": name,
        "community_code": community,
        "worker": props.get("worker"),
        "worker_phone": props.get("worker_phone"),
        "source": "user",
        "geometry": result.changed[code],
    }


def _after(grids: gpd.GeoDataFrame, result: topology.Edit) -> gpd.GeoDataFrame:
    """Return every grid (code, geometry) as the edit leaves them."""
    rows = [
        (code, result.changed.get(code, geom))
        for code, geom in zip(grids["code"].tolist(), grids.geometry.values, strict=True)
        if code not in result.removed
    ]
    rows += [(c, result.changed[c]) for c in result.added]
    return gpd.GeoDataFrame(
        {"code": [r[0] for r in rows]}, geometry=[r[1] for r in rows], crs=STORAGE_CRS
    )


def _unchanged(plan: topology.Plan, result: topology.Edit) -> bool:
    """Whether ``result`` changes no grid by a sliver or more (ground painted or given to the
    grid that holds it already, an outline saved as it was)."""
    if result.added or result.removed:
        return False
    for code, geom in result.changed.items():
        before = plan.grids.get(code)
        if before is None:
            return False
        moved = shapely.symmetric_difference(geom, before, grid_size=plan.grid_size)
        if plan.area_m2(moved) >= SLIVER_M2:
            return False
    return True


def _nothing(op: Operation) -> PlanEdit:
    """The answer to an edit that changes nothing: no version written (``tx`` 0), a note."""
    if op.to and op.op in ("paint", "give"):
        note = (
            f"Nothing changed: that ground is in grid {op.to} already; nothing was saved.",
            f"未作改动：所选范围已在网格 {op.to} 内，未保存。",
        )
    else:
        note = ("Nothing changed; nothing was saved.", "未作改动，未保存。")
    return PlanEdit(tx=0, changed=(), added=(), removed=(), lineage=(), notes=(note,), moved={})


def edit_grids(ws: Workspace, doc: Any, *, access: Access) -> PlanEdit:
    """Parse and apply one planning operation in one transaction; see the module.

    Raises InputError/GeometryError (400) for a bad operation, FeatureNotFoundError (404) for
    a grid or building that is not there, ConflictError (409) for a stale version or stale
    street blocks (BlocksChangedError), PermissionDeniedError (403) for a role that may not
    plan. Nothing is written then.
    """
    require_writer(access, "grids")
    op = parse_operation(doc)
    crs = metric_crs(ws)
    with ws.transaction(
        user=access.who, action=f"grids {op.op} {' '.join(op.named)}".strip()
    ) as tx:
        return edit_in(ws, tx, op, access=access, crs=crs)


def edit_in(ws: Workspace, tx: Transaction, op: Operation, *, access: Access, crs: Any) -> PlanEdit:
    """Apply the parsed operation ``op`` in the open transaction ``tx`` (reads see its
    writes, so several operations make one version: a rebalance's paints); see
    :func:`edit_grids`, which opens the transaction for one. ``crs``: the workspace's metric
    CRS. ``tx`` 0 in the answer: the operation changed nothing and wrote nothing."""
    plan, grids = read_plan(tx, crs)
    _check_versions(op, grids, ws=ws)
    if op.stamp is not None:  # block ids are places in a list the streets renumber
        blocks.check_stamp(tx, crs, op.stamp)
    meta = tx.meta()
    ever = codes_ever(ws) if op.op in ("draw", "split") else set()
    households = {
        str(c): float(h) if pd.notna(h) else 0.0
        for c, h in zip(grids["code"], grids["households"], strict=True)
    }
    result = _run(op, plan, tx, meta, crs, households, ever)
    if _unchanged(plan, result):
        return _nothing(op)
    # a grid the edit changes or removes without naming it was seen as it is now
    _check_versions(op, grids, [*result.changed, *result.removed], ws)
    unseen = [c for c in result.removed if c not in op.named and c not in op.versions]
    if unseen:
        listed = ", ".join(unseen)
        raise InputError(
            f"This {op.op} would remove grid {listed} entirely. Send its version in "
            f"'versions' too, to confirm you saw it; nothing was saved. "
            f"(此操作将整体移除网格 {'、'.join(unseen)}，请在 versions 中一并提供其版本号以确认；"
            f"未保存。)"
        )
    fid_of = {str(c): int(f) for f, c in zip(grids.index, grids["code"], strict=True)}
    region = shapely.union_all(
        [shapely.box(*g.bounds) for g in result.changed.values()]
        + [
            shapely.box(*plan.grids[c].bounds)
            for c in (*result.changed, *result.removed)
            if c in plan.grids
        ]
    )
    after = _after(grids, result)
    moved = relocate(tx, after, metric_crs=crs, region=region, grids_changed=set(result.changed))
    if result.removed:
        tx.delete("grids", [fid_of[c] for c in result.removed])
    kept = grids[~grids["code"].isin(result.removed)]
    updates = changed_figures(kept, moved.figures)
    for c, g in result.changed.items():
        if c in fid_of:
            updates.setdefault(fid_of[c], {})["geometry"] = g
    if updates:
        tx.update_many("grids", updates)
    if result.added:
        rows = [
            _new_row(op, result, code, tx) | moved.figures.get(code, {}) for code in result.added
        ]
        tx.append("grids", gpd.GeoDataFrame(rows, geometry="geometry", crs=STORAGE_CRS))
    tx_id = tx.tx_id or 0
    if result.lineage:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        entries = [{**e, "at": now, "user": access.who, "tx": tx_id} for e in result.lineage]
        tx.set_meta(LINEAGE_KEY, [*(meta.get(LINEAGE_KEY) or []), *entries])
    return edit_reply(tx_id, result, moved.codes)


def edit_reply(tx: int, result: topology.Edit, moved: dict[str, int]) -> PlanEdit:
    """Return the answer to a saved edit: transaction ``tx``, what ``result`` changed, added
    and removed, and ``moved`` (rows that changed grid, by layer)."""
    return PlanEdit(
        tx=tx,
        changed=tuple(c for c in result.changed if c not in result.added),
        added=result.added,
        removed=result.removed,
        lineage=result.lineage,
        notes=result.notes,
        moved=moved,
    )
