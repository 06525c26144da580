"""Building ids in planning requests and replies, as each reader is served them.

Every role but the admin is served the buildings with opaque ids
(:mod:`gridmap.service.feature_ids`): the building a planner paints, the building a check
finds cut and the buildings a rebalance moves reach the page by those tokens and come back by
them. These functions turn the stored ids of planning replies (findings, their fixes, a
rebalance's moves) into the reader's ids, and the ids of a ``paint`` back into stored ones.
"""

from __future__ import annotations

import copy
from typing import Any

from gridmap.access.roles import Access
from gridmap.errors import FeatureNotFoundError, InputError
from gridmap.service import feature_ids
from gridmap.store import Workspace


def _served(ws: Workspace, access: Access, fids: list[int]) -> list[int | str]:
    return feature_ids.served_ids(ws, "buildings", access, fids)


def stored_paint(ws: Workspace, access: Access, doc: Any) -> Any:
    """Return a planning request with a ``paint``'s ``buildings`` as stored ids.

    For a reader served tokens, each token must name a building (an unknown one is a
    FeatureNotFoundError, 404, naming it; a number is an InputError); other readers' ids, and every other request, are returned as they
    are (the operation's parser checks them).
    """
    if not isinstance(doc, dict) or doc.get("op") != "paint":
        return doc
    given = doc.get("buildings")
    if not isinstance(given, list) or not given or not feature_ids.opaque("buildings", access):
        return doc
    if not all(isinstance(t, str) for t in given):
        raise InputError(
            "'buildings' must list the building ids the map gave you (text ids). "
            "(buildings 应为地图所给的楼栋编号。)"
        )
    stored = feature_ids.stored_ids(ws, "buildings", access, given)
    assert isinstance(stored, list)
    missing = [t for t, f in zip(given, stored, strict=True) if not f]
    if missing:
        raise FeatureNotFoundError(
            f"There is no building {missing[0]} (any more): reload the map. "
            f"(楼栋 {missing[0]} 不存在，请重新加载地图。)"
        )
    return {**doc, "buildings": [int(f) for f in stored]}


def served_findings(
    ws: Workspace, access: Access, findings: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Return findings (JSON, :meth:`Validation.findings_json`) with the building of a
    ``detail`` and the buildings of a ``paint`` fix as ``access`` is served them."""
    if not feature_ids.opaque("buildings", access):
        return findings
    out = copy.deepcopy(findings)
    for f in out:
        detail = f.get("detail") or {}
        if "building" in detail:
            detail["building"] = _served(ws, access, [int(detail["building"])])[0]
        for fix in f.get("fixes") or []:
            if fix.get("buildings"):
                fix["buildings"] = _served(ws, access, [int(b) for b in fix["buildings"]])
    return out


def served_moves(ws: Workspace, access: Access, doc: dict[str, Any]) -> dict[str, Any]:
    """Return a rebalance proposal (JSON) with each move's buildings as ``access`` is served
    them."""
    if not feature_ids.opaque("buildings", access):
        return doc
    out = copy.deepcopy(doc)
    for move in out.get("moves") or []:
        if move.get("buildings"):
            move["buildings"] = _served(ws, access, [int(b) for b in move["buildings"]])
    return out


def stored_move(ws: Workspace, access: Access, move: dict[str, Any]) -> dict[str, Any]:
    """Return a rebalance move (as :func:`served_moves` gave it) with its buildings as stored
    ids (an unknown token: FeatureNotFoundError, 404)."""
    if not move.get("buildings"):
        return move
    doc = stored_paint(ws, access, {"op": "paint", "buildings": move["buildings"]})
    return {**move, "buildings": doc["buildings"]}


__all__ = ["served_findings", "served_moves", "stored_move", "stored_paint"]
