"""Renumber grids in reading order, in a code form, in one transaction (``gridmap grids renumber``).

Each community's grids are numbered west to east in rows from north to south
(:func:`gridmap.grids.partition.reading_order`, on the outlines in the workspace's metric CRS,
metres) in the chosen code form (:mod:`gridmap.grids.codes`). The grids' ``code`` and the
``grid_code`` of every layer that carries one (buildings, households, facilities, cameras,
visits, incidents: the same ground under a new name, records included) are rewritten, and each
old → new code is recorded in the plan's lineage (setting ``grid_lineage``), all in one
transaction: one version of the plan in the history, undone as one. Renumbering grids that
are already in order writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from gridmap.errors import InputError
from gridmap.grids import codes
from gridmap.grids.partition import reading_order
from gridmap.schema import LAYERS
from gridmap.service.metric import metric_crs
from gridmap.service.planning import LINEAGE_KEY
from gridmap.store import Transaction, Workspace

#: Layers whose rows name their grid in ``grid_code``.
CODED_LAYERS = tuple(
    n for n, lay in LAYERS.items() if any(c.name == "grid_code" for c in lay.columns)
)


@dataclass(frozen=True)
class Renumbered:
    """What :func:`renumber` did (or would do, on a dry run).

    Attributes
    ----------
    form
        The code form of the new codes.
    changes
        ``(old, new, community)`` of every grid whose code changes, in the new order.
    moved
        Rows whose ``grid_code`` was rewritten, by layer (empty on a dry run).
    tx
        The transaction (audit-log row), None when nothing was written.
    """

    form: str
    changes: tuple[tuple[str, str, str | None], ...]
    moved: dict[str, int] = field(default_factory=dict)
    tx: int | None = None


def new_codes(
    grids: Any, crs: Any, form: str, object_code: str, community: str | None = None
) -> dict[str, str]:
    """Return ``{old: new}`` for the grids (of ``community``, else all) in reading order.

    ``grids`` is the grids layer (EPSG:4326); outlines are ordered in ``crs`` (metres). Raises
    InputError when a new code would be that of a grid left alone, or a community has more
    grids than the form can number.
    """
    frame = grids.to_crs(crs)
    comm = frame["community_code"].where(frame["community_code"].notna(), None)
    chosen = frame if community is None else frame[comm == community]
    if community is not None and chosen.empty:
        raise InputError(
            f"There are no grids in community '{community}'. (社区“{community}”下没有网格。)"
        )
    mapping: dict[str, str] = {}
    for key, group in chosen.groupby(comm.loc[chosen.index].fillna(""), sort=True):
        order = reading_order(list(group.geometry.values))
        olds = group["code"].astype(str).tolist()
        for n, i in enumerate(order, start=1):
            mapping[olds[i]] = codes.make_code(key or None, n, form, object_code)
    others = set(frame["code"].astype(str)) - set(mapping)
    clash = sorted(set(mapping.values()) & others)
    if clash:
        raise InputError(
            f"Renumbering would give grid code {clash[0]} that another grid already has; "
            "renumber the whole workspace or that grid's community too. "
            f"(重新编号后的编码 {clash[0]} 已被其他网格使用，请一并重新编号该社区或整个工作区。)"
        )
    return mapping


def _rewrite(tx: Transaction, mapping: dict[str, str]) -> dict[str, int]:
    """Write the new codes: grids (through temporary keys, so codes may swap), then every
    layer's ``grid_code``; return the rows rewritten by layer."""
    grids = tx.read("grids")
    fid_of = {str(c): int(f) for f, c in zip(grids.index, grids["code"], strict=True)}
    changed = {fid_of[o]: n for o, n in mapping.items()}
    tx.update_many("grids", {f: {"code": f"~renumber-{f}"} for f in changed})
    tx.update_many("grids", {f: {"code": n} for f, n in changed.items()})
    moved: dict[str, int] = {"grids": len(changed)}
    for layer in CODED_LAYERS:
        rows = tx.read(layer)
        if rows.empty:
            continue
        now = rows["grid_code"].astype(object).where(rows["grid_code"].notna(), None)
        hit = now.map(lambda c: c is not None and str(c) in mapping)
        if hit.any():
            tx.update_many(
                layer,
                {int(f): {"grid_code": mapping[str(c)]} for f, c in now[hit].items()},
            )
            moved[layer] = int(hit.sum())
    return moved


def renumber(
    ws: Workspace,
    *,
    form: str | None = None,
    community: str | None = None,
    object_code: str | None = None,
    dry_run: bool = False,
    user: str = "cli",
) -> Renumbered:
    """Renumber the grids (of ``community``, else all) in reading order, in one transaction.

    Parameters
    ----------
    ws
        The workspace (storage in EPSG:4326; ordering in its metric CRS).
    form
        ``db11`` or ``cjt349``; None: the workspace's setting (``grid_code_form``). A new form
        for the whole workspace becomes its setting, so later grids get codes of that form.
    community
        The 12-digit code of the only community to renumber; the form must then stay the
        workspace's (one workspace, one form).
    object_code
        CJ/T 349's 6-digit management/service object code (CJ/T 348) for cjt349 codes; it
        becomes the setting ``grid_code_object``. None: the setting, else 000000.
    dry_run
        Compute and return the changes, write nothing.
    user
        Who is recorded in the audit log and the lineage.

    Raises InputError (bilingual) for an unknown form, a community without grids, a code that
    would collide, or more grids than the form numbers; nothing is written then.
    """
    meta = ws.meta()
    current, obj = codes.code_form(meta, ws.read("grids")["code"].astype(str))
    form = codes.check_form(form or current)
    if object_code is not None:
        obj = codes.code_prefix(None, "cjt349", object_code)[:6]
    if community is not None and form != current:
        raise InputError(
            f"The workspace's grid codes are {current}: renumber the whole workspace to change "
            f"the form to {form}. (工作区网格编码为 {current} 格式，改为 {form} 须对整个工作区重新编号。)"
        )
    crs = metric_crs(ws)
    if dry_run:
        mapping = new_codes(ws.read("grids"), crs, form, obj, community)
        return Renumbered(form, _changes(mapping, ws.read("grids")))
    with ws.transaction(user=user, action=f"grids renumber {form} {community or ''}".strip()) as tx:
        grids = tx.read("grids")
        mapping = {o: n for o, n in new_codes(grids, crs, form, obj, community).items() if o != n}
        changes = _changes(mapping, grids)
        moved: dict[str, int] = {}
        if mapping:
            moved = _rewrite(tx, mapping)
            now = datetime.now(UTC).isoformat(timespec="seconds")
            entries = [
                {"op": "renumber", "from": [o], "to": [n], "at": now, "user": user, "tx": tx.tx_id}
                for o, n, _ in changes
            ]
            tx.set_meta(LINEAGE_KEY, [*(meta.get(LINEAGE_KEY) or []), *entries])
        if object_code is not None and object_code != meta.get(codes.OBJECT_KEY):
            tx.set_meta(codes.OBJECT_KEY, object_code)
        if form != meta.get(codes.FORM_KEY, codes.DEFAULT_FORM):
            tx.set_meta(codes.FORM_KEY, form)
        tx_id = tx.tx_id
    return Renumbered(form, changes, moved, tx_id)


def _changes(mapping: dict[str, str], grids: Any) -> tuple[tuple[str, str, str | None], ...]:
    """Return ``(old, new, community)`` of the grids whose code changes, by new code."""
    comm = {
        str(c): (None if pd.isna(k) else str(k))
        for c, k in zip(grids["code"], grids["community_code"], strict=True)
    }
    rows = [(o, n, comm.get(o)) for o, n in mapping.items() if o != n]
    return tuple(sorted(rows, key=lambda r: r[1]))
