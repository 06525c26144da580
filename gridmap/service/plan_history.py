"""The plan's versions: every save of the grids, undo and redo per planner, restore.

Each planning edit is one transaction (:mod:`gridmap.service.planning`), so a version of the
plan is an audit-log row that changed the ``grids`` layer. A planner's undo takes back their
latest edit not yet undone (the store's :meth:`~gridmap.store.Workspace.undo`, itself a new
transaction); redo takes back that undo. A new edit empties the redo list, as in any editor.
An undo that would overwrite someone else's later change is refused with
:class:`gridmap.errors.ConflictError` (409), nothing changed.

Restoring an old version writes the grids as they were then in a new transaction (so it can be
undone too), with every ``grid_code`` and figure recomputed. Like an edit it names the versions
the caller saw, and is refused (409) when a grid it would change was changed since.

The lineage (which codes became which, workspace setting ``grid_lineage``) keeps every entry
ever made, each with the transaction that made it; :func:`lineage` returns those in effect:
an entry of an undone split is not (until it is redone), nor one of an edit a restore took
back (until the restore is undone). So whichever way a version is taken back — the planning
page, ``gridmap undo``, a restore — the lineage says what the grids now are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.access.roles import ADMIN, PLANNER, Access
from gridmap.errors import ConflictError, InputError, NothingToUndoError
from gridmap.grids.ground import same
from gridmap.service.edit import require_writer
from gridmap.service.metric import metric_crs
from gridmap.service.plan_ops import OPERATIONS
from gridmap.service.planning import LINEAGE_KEY
from gridmap.service.relocate import PLACED_LAYERS, relocate
from gridmap.store import Workspace


@dataclass(frozen=True)
class Version:
    """One saved version of the plan: an audit-log row that changed the grids."""

    tx: int
    at: str
    user: str
    action: str
    grids: int


def _shown(ws: Workspace, user: str, access: Access | None, roles: dict[str, str]) -> str:
    """Return the login of ``user`` for the admin and planners, else only their role's name."""
    if access is None or access.role in (ADMIN, PLANNER):
        return user
    if user not in roles:
        record = ws.get_user(user)
        roles[user] = record.role if record is not None else "system"
    return roles[user]


def versions(ws: Workspace, *, limit: int = 50, access: Access | None = None) -> list[Version]:
    """Return the newest versions of the plan, newest first.

    ``access``: who asks; only the admin and planners see who made a version by login, the
    other roles see that person's role (a login names a person). None: everything (CLI).
    """
    log = ws.audit_log(limit=limit, layer="grids")
    out = []
    roles: dict[str, str] = {}
    for row in log.itertuples():
        detail = _detail(row.detail)
        out.append(
            Version(
                int(row.fid),
                str(row.at),
                _shown(ws, str(row.user), access, roles),
                str(row.action),
                int(detail.get("grids", 0)),
            )
        )
        if len(out) >= limit:
            break
    return out


def _detail(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _is_planning(action: str) -> bool:
    """Whether an audit action is a planning edit, a restore or an accepted partition
    proposal (not an import, not ``grids auto --apply``)."""
    words = action.split()
    return (
        len(words) >= 2
        and words[0] == "grids"
        and (words[1] in OPERATIONS or words[1] in ("restore", "accept", "rebalance"))
    )


def _stacks(ws: Workspace, user: str) -> tuple[list[int], list[int]]:
    """Return the user's undo list and redo list of transactions (last: the next to take).

    Only the user's own planning edits and restores count (imports, ``grids auto --apply``
    and other kinds of change are not undone from the planning page), with their undos and
    redos of those; every such transaction of theirs is read, however old.
    """
    log = ws.audit_log(limit=None, user=user, layer="grids")
    rows = sorted(log.itertuples(), key=lambda r: int(r.fid))
    undo: list[int] = []
    redo: list[int] = []
    for r in rows:
        action = str(r.action)
        tx = int(r.fid)
        if action.startswith("undo "):
            target = action.split(" ", 1)[1].strip()
            target_tx = int(target) if target.isdigit() else None
            if undo and undo[-1] == target_tx:
                undo.pop()
                redo.append(tx)
            elif redo and redo[-1] == target_tx:
                redo.pop()
                undo.append(tx)
            continue  # an undo of something else is not a planning edit
        if not _is_planning(action):
            continue
        undo.append(tx)
        redo.clear()
    return undo, redo


def undo(ws: Workspace, *, access: Access) -> tuple[int, int]:
    """Take back the caller's latest plan edit; return (the undo's tx, the tx undone)."""
    require_writer(access, "grids")
    todo, _ = _stacks(ws, access.who)
    if not todo:
        raise NothingToUndoError("There is nothing of yours to undo. (没有可撤销的操作。)")
    return _undo(ws, todo[-1], access), todo[-1]


def redo(ws: Workspace, *, access: Access) -> tuple[int, int]:
    """Take back the caller's latest undo; return (the redo's tx, the undo taken back)."""
    require_writer(access, "grids")
    _, todo = _stacks(ws, access.who)
    if not todo:
        raise NothingToUndoError("There is nothing of yours to redo. (没有可重做的操作。)")
    return _undo(ws, todo[-1], access), todo[-1]


def depth(ws: Workspace, user: str) -> dict[str, int]:
    """Return how many of ``user``'s plan edits undo can take back, and redo restore:
    ``{"undo": n, "redo": m}`` (the planning page enables its buttons by them)."""
    todo, again = _stacks(ws, user)
    return {"undo": len(todo), "redo": len(again)}


def _grids_of(ws: Workspace, tx: int) -> list[str]:
    """Return the codes of the grids transaction ``tx`` changed (an undo: what it undid)."""
    rows = ws.history(layer="grids", tx=tx, limit=None)
    log = ws.audit_log(limit=None, layer="grids")
    action = " ".join(log.loc[log["fid"] == tx, "action"].astype(str).tolist())
    if action.startswith("undo ") and action.split()[1].isdigit():
        return _grids_of(ws, int(action.split()[1]))
    codes = [w for w in action.split()[2:] if w.isdigit() and len(w) >= 12]
    for row in rows.itertuples():
        for side in (row.after, row.before):
            if isinstance(side, dict) and side.get("code"):
                codes.append(str(side["code"]))
    return list(dict.fromkeys(codes))


def _undo(ws: Workspace, tx: int, access: Access) -> int:
    try:
        return ws.undo(tx, user=access.who)
    except ConflictError:
        codes = _grids_of(ws, tx)
        shown = ", ".join(codes[:10]) + (" …" if len(codes) > 10 else "")
        raise ConflictError(
            f"Someone changed grid(s) {shown} (or what lies in them) after your edit: undo is "
            "refused so that their change is not lost; look at the versions and edit again. "
            f"(他人已修改网格 {'、'.join(codes[:10])}，无法撤销，以免覆盖其修改。)",
            layer="grids",
        ) from None


#: An undo or redo that wrote more grids than this is answered with every grid (a restore's).
MAX_CHANGED = 200


@dataclass(frozen=True)
class Changed:
    """The grids one transaction wrote and removed (what an undo's reply carries).

    Attributes
    ----------
    grids
        The grids it inserted or updated, as they are now (EPSG:4326, with system columns);
        None when it wrote more than :data:`MAX_CHANGED` or removed grids it does not name
        (a whole layer replaced): the caller then sends every grid.
    removed
        Codes of the grids it deleted.
    """

    grids: gpd.GeoDataFrame | None
    removed: tuple[str, ...]


def changed_by(ws: Workspace, tx: int) -> Changed:
    """Return the grids transaction ``tx`` wrote and the codes of those it deleted.

    Read from the change history of ``tx`` (a few rows for a planning edit or its undo), so
    that answering an undo does not read and serve every grid of the district.
    """
    rows = ws.history(layer="grids", tx=tx, limit=None)
    written: list[int] = []
    removed: list[str] = []
    whole = False
    for row in rows.itertuples():
        last = row.fid_last if row.fid_last is not None and not pd.isna(row.fid_last) else row.fid
        fids = range(int(row.fid), int(last) + 1)
        if row.op == "delete":
            code = row.before.get("code") if isinstance(row.before, dict) else None
            if code is None or len(fids) > 1:
                whole = True
            else:
                removed.append(str(code))
        else:
            written += fids
    written = sorted(set(written))
    if whole or len(written) > MAX_CHANGED:
        return Changed(None, tuple(dict.fromkeys(removed)))
    frames = [ws.feature("grids", fid) for fid in written]
    frame = pd.concat(frames) if frames else ws.read("grids", limit=0)
    return Changed(frame, tuple(dict.fromkeys(removed)))


def lineage(ws: Workspace) -> list[dict[str, Any]]:
    """Return the lineage entries in effect, oldest first (see the module).

    Each transaction's effect on the set of lineage-making transactions in effect is replayed
    from the audit log: an edit that made entries adds itself, a restore of version ``n``
    makes the set what it was right after ``n``, and an undo applies the inverse of what it
    undoes (so a redo, an undo of an undo, puts back what the undo took out). Entries without
    a ``tx`` (made before entries carried one) stay in effect.
    """
    entries = ws.meta().get(LINEAGE_KEY) or []
    makers = {int(e["tx"]) for e in entries if isinstance(e.get("tx"), int)}
    if not makers:
        return list(entries)
    live: set[int] = set()
    effect: dict[int, tuple[set[int], set[int]]] = {}  # tx → (put in, taken out)
    at: dict[int, set[int]] = {0: set()}  # tx → the makers in effect right after it
    log = ws.audit_log(limit=None, layer="grids")
    for row in sorted(log.itertuples(), key=lambda r: int(r.fid)):
        tx, words = int(row.fid), str(row.action).split()
        gain: set[int] = set()
        loss: set[int] = set()
        if tx in makers:
            gain = {tx}
        elif words[:2] == ["grids", "restore"] and len(words) > 2 and words[2].isdigit():
            then = at[max((t for t in at if t <= int(words[2])), default=0)]
            gain, loss = then - live, live - then
        elif words[:1] == ["undo"] and len(words) > 1 and words[1].isdigit():
            loss, gain = effect.get(int(words[1]), (set(), set()))
        live = (live - loss) | gain
        effect[tx] = (gain, loss)
        at[tx] = set(live)
    return [e for e in entries if not isinstance(e.get("tx"), int) or int(e["tx"]) in live]


def grids_at(ws: Workspace, tx: int) -> gpd.GeoDataFrame:
    """Return the grids as they were right after transaction ``tx`` (EPSG:4326)."""
    if not isinstance(tx, int) or isinstance(tx, bool) or tx < 1:
        raise InputError(f"A version is a transaction number, not {tx!r}. (版本应为事务编号。)")
    if tx not in set(ws.audit_log(limit=None, layer="grids")["fid"].astype(int).tolist()):
        raise InputError(
            f"Transaction {tx} is not a version of the plan (it did not change the grids). "
            f"(事务 {tx} 未修改网格，不是规划版本。)"
        )
    return ws.as_of("grids", tx)


def _check_restore(now: gpd.GeoDataFrame, old: gpd.GeoDataFrame, seen: Mapping[str, int]) -> None:
    """Refuse (409) a restore that would overwrite a change the caller did not see.

    The grids a restore changes are those changed since the version (their version now is not
    the one they had then), new since, or deleted since. Each must be as the caller saw it:
    ``seen`` (``{code: version}``, the versions of the plan the caller looked at) holds its
    version now, or, for a grid deleted since, does not name it.
    """
    then = dict(zip(old["code"].astype(str), old["version"].astype(int), strict=True))
    current = {str(r.code): (int(fid), int(r.version)) for fid, r in now.iterrows()}
    changed = {c for c in {*then, *current} if then.get(c) != current.get(c, (0, None))[1]}
    stale = sorted(c for c in changed if seen.get(c) != current.get(c, (0, None))[1])
    if stale:
        shown = ", ".join(stale[:10]) + (" …" if len(stale) > 10 else "")
        first = current.get(stale[0])
        raise ConflictError(
            f"Grid(s) {shown} changed since you loaded the plan: the restore is refused so "
            "that the change is not lost; look at the plan as it is now, then restore again. "
            f"(网格 {'、'.join(stale[:10])} 在您读取后已被修改，恢复被拒绝，以免覆盖他人修改；"
            "请查看最新规划后再恢复。)",
            layer="grids",
            fid=None if first is None else first[0],
            expected=seen.get(stale[0]),
            actual=None if first is None else first[1],
        )


def restore(ws: Workspace, tx: int, *, access: Access, versions: Mapping[str, int]) -> int:
    """Make the grids what they were after ``tx``, in a new transaction; return its id.

    ``versions``: ``{code: version}`` of the grids as the caller saw them; a restore that
    would overwrite a grid changed since is refused with ConflictError (409) naming the
    grids, nothing written (see :func:`_check_restore`).

    The restore is exact and writes only what differs: a grid whose outline and properties
    are as they were then is not written (its version stays, no planner gets a 409 for it);
    a grid whose outline goes back takes its area of then. Buildings, households, facilities
    and cameras that have not moved since take the ``grid_code`` they had then (a camera on
    a border goes back to its grid of then, :data:`gridmap.service.relocate.ON_BORDER_DEG`
    notwithstanding); what moved or came since is placed by its point. Households,
    residents and buildings of a grid are counted from its members.
    """
    require_writer(access, "grids")
    old = grids_at(ws, tx)
    then = {layer: ws.as_of(layer, tx) for layer in PLACED_LAYERS}
    crs = metric_crs(ws)
    with ws.transaction(user=access.who, action=f"grids restore {tx}") as t:
        now = t.read("grids")
        _check_restore(now, old, versions)
        fid_now = {str(c): int(f) for f, c in zip(now.index, now["code"], strict=True)}
        old_by = old.set_index(old["code"].astype(str))
        now_by = now.set_index(now["code"].astype(str))
        reshaped = {
            c
            for c in old_by.index
            if c not in now_by.index or not same(now_by.geometry[c], old_by.geometry[c])
        } | {c for c in now_by.index if c not in old_by.index}
        known = {layer: _unmoved(t.read(layer), frame) for layer, frame in then.items()}
        moved = relocate(
            t, old, metric_crs=crs, region=None, grids_changed=reshaped, known_codes=known
        )
        gone = [fid_now[c] for c in now_by.index if c not in old_by.index]
        if gone:
            t.delete("grids", gone)
        updates: dict[int, dict[str, Any]] = {}
        for code in old_by.index.intersection(now_by.index):
            row = {
                k: _plain(old_by.at[code, k])
                for k in _PROPS
                if k in old_by and _plain(old_by.at[code, k]) != _plain(now_by.at[code, k])
            }
            if code in reshaped:
                row["geometry"] = old_by.geometry[code]
            row.update(
                _figures(
                    moved.figures.get(code), old_by.loc[code], now_by.loc[code], code in reshaped
                )
            )
            if row:
                updates[fid_now[code]] = row
        if updates:
            t.update_many("grids", updates)
        fresh = [c for c in old_by.index if c not in now_by.index]
        if fresh:
            frame = old_by.loc[fresh].drop(columns=[c for c in _SYSTEM if c in old_by])
            for column, values in _counts(moved.figures, fresh).items():
                frame[column] = values
            t.append("grids", frame.reset_index(drop=True))
        new_tx = t.tx_id or 0
    return new_tx


#: The columns of a grid a restore takes from the version restored as they were.
_PROPS = ("name", "community_code", "worker", "worker_phone", "source")
#: What the store keeps of each row, not written back.
_SYSTEM = ("version", "updated_at", "updated_by")
#: Figures counted from a grid's members.
_COUNTS = ("households", "residents", "buildings")


def _plain(value: Any) -> Any:
    """``value`` with pandas' missing values as None (to compare stored values)."""
    if value is None or (not isinstance(value, str | bytes) and bool(pd.isna(value))):
        return None
    return value.item() if hasattr(value, "item") else value


def _figures(
    counted: Mapping[str, Any] | None, then: pd.Series, now: pd.Series, reshaped: bool
) -> dict[str, Any]:
    """The figures of a grid in both versions to write: those that differ from what is
    stored now — counts from its members (``counted``, when they were counted) and, for a
    grid whose outline goes back (``reshaped``), the area it had then (m²)."""
    want: dict[str, Any] = {}
    if counted:
        want.update({k: counted[k] for k in _COUNTS})
    area = _plain(then.get("area_m2"))
    if reshaped and area is not None:
        want["area_m2"] = area
    out = {}
    for k, v in want.items():
        stored = _plain(now.get(k))
        if stored is None or abs(float(stored) - float(v)) > 1e-9:
            out[k] = v
    return out


def _counts(figures: Mapping[str, Mapping[str, Any]], codes: list[str]) -> dict[str, list[Any]]:
    """The counts of grids ``codes`` written back by a restore (their members counted)."""
    return {k: [figures.get(c, {}).get(k, 0) for c in codes] for k in _COUNTS}


def _unmoved(now: pd.DataFrame, then: pd.DataFrame) -> dict[int, str | None]:
    """Return ``{fid: grid_code then}`` of the rows of a placed layer that have not moved
    since (same geometry; a household, the same building)."""
    both = now.index.intersection(then.index)
    if not len(both):
        return {}
    a, b = now.loc[both], then.loc[both]
    keep = shapely.equals_exact(
        np.asarray(a.geometry.values, dtype=object), np.asarray(b.geometry.values, dtype=object), 0
    )
    if "building_osm_id" in a:
        x, y = a["building_osm_id"], b["building_osm_id"]
        keep &= ((x == y) | (x.isna() & y.isna())).to_numpy()
    codes = b["grid_code"].to_numpy(dtype=object)
    return {
        int(f): (None if c is None or pd.isna(c) else str(c))
        for f, c, k in zip(both.tolist(), codes, keep, strict=True)
        if k
    }
