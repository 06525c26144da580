"""Grid planning over HTTP: ``/api/grids/edit``, undo, redo, versions, restore.

Thin views over :mod:`gridmap.service.planning` and :mod:`gridmap.service.plan_history`:
planners and the admin edit; every signed-in user may list the versions (what changed, who,
when — no personal data). Replies carry the grids the edit changed as GeoJSON (EPSG:4326),
each with its ``version`` for the next edit's ``versions``. A stale edit answers 409 with the
grids as they are now (``current``), so the page can show the other planner's change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pandas as pd
from flask import Blueprint, Response, jsonify, request, url_for

from gridmap.access.roles import ADMIN, PLANNER
from gridmap.errors import ConflictError, InputError
from gridmap.io import geojson
from gridmap.service import blocks as block_service
from gridmap.service import (
    grid_checks,
    partition_proposal,
    plan_history,
    plan_ids,
    plan_ops,
    plan_replies,
    planning,
    rebalance,
    visit_figures,
)
from gridmap.service.edit import served_docs
from web.api_doc_partition import PARTITION, PARTITION_ACCEPT
from web.api_doc_plan_more import REBALANCE_APPLY
from web.api_doc_planning import (
    BLOCKS,
    CHECKS,
    EDIT,
    PLAN,
    REBALANCE,
    REDO,
    RESTORE,
    UNDO,
    VERSION,
    VERSIONS,
)
from web.auth import SIGNED_IN, access, allow
from web.common import parse_int, workspace
from web.jobs import job_document, runner_of
from web.openapi import describe

bp = Blueprint("planning", __name__, url_prefix="/api/grids")

#: Who plans grids: the roles that write the grids layer.
PLANNERS = frozenset({ADMIN, PLANNER})
#: The most versions one request lists.
MAX_VERSIONS = 500


def _collection(frame: pd.DataFrame, codes: Iterable[str] | None = None) -> dict[str, Any]:
    """Return the grids of ``frame`` (all, or those of ``codes``) as the caller is served them."""
    ws, who = workspace(), access()
    if codes is not None:
        wanted = set(codes)
        frame = frame[frame["code"].isin(wanted)]
    return {"type": "FeatureCollection", "features": served_docs(ws, "grids", frame, access=who)}


def _json(doc: dict[str, Any], status: int = 200) -> Response:
    resp = Response(json.dumps(doc, ensure_ascii=False), status=status, mimetype="application/json")
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


def _conflict(exc: ConflictError, codes: Iterable[str], sent: Any = None) -> Response:
    """The 409 of a refused save: the error, and in it ``grids``, the grids of ``codes`` the
    caller had stale (not the version in ``sent``) with who changed each and when; ``current``:
    the grids of ``codes`` as they are now."""
    ws = workspace()
    codes = list(codes)
    doc: dict[str, Any] = dict(exc.to_dict())
    error = dict(doc["error"])
    error["grids"] = plan_replies.conflict_grids(ws, codes, sent)
    doc["error"] = error
    doc["current"] = _collection(ws.read("grids"), codes)
    return _json(doc, 409)


def _depth() -> dict[str, int]:
    """How many of the caller's plan edits undo and redo can take back now."""
    return plan_history.depth(workspace(), access().who)


def _body() -> Any:
    body = request.get_json(silent=True)
    if body is None:
        raise InputError(
            'Send the operation as JSON, such as {"op": "merge", "codes": ["…", "…"]}. '
            "(请以 JSON 发送操作。)"
        )
    return body


@bp.post("/edit")
@allow(PLANNERS)
@describe(EDIT)
def edit() -> Response:
    """Apply one planning operation (draw, reshape, split, merge, delete, give, paint)."""
    ws = workspace()
    body = plan_ids.stored_paint(ws, access(), _body())
    try:
        done = planning.edit_grids(ws, body, access=access())
    except ConflictError as exc:
        # the grids it names and those whose version the caller had wrong (the page sends
        # the versions of every grid it shows: not all of them come back)
        named = planning.parse_operation(body).named
        now = ws.read("grids", columns=["code"])
        current = dict(zip(now["code"].astype(str), now["version"].astype(int), strict=True))
        sent = body.get("versions") or {}
        stale = [c for c, v in sent.items() if c in current and current[c] != v]
        return _conflict(exc, [*named, *stale], sent)
    return _json(_edit_reply(done))


def _edit_reply(done: planning.PlanEdit) -> dict[str, Any]:
    """The reply of a saved edit: what changed, and the grids it changed or added."""
    grids = workspace().read("grids")
    return {
        "tx": done.tx,
        "changed": list(done.changed),
        "added": list(done.added),
        "removed": list(done.removed),
        "lineage": list(done.lineage),
        "notes": [{"en": en, "zh-CN": zh} for en, zh in done.notes],
        "moved": done.moved,
        "grids": _collection(grids, [*done.changed, *done.added]),
        "depth": _depth(),
    }


def _undo_reply(tx: int, undone: int) -> Response:
    """Reply to an undo or redo with what it changed, as an edit's reply does: the grids it
    wrote (with their new versions) and the codes of those it removed. ``all`` true: the
    grids are every grid (it rewrote the layer), to be drawn in place of the plan."""
    ws = workspace()
    change = plan_history.changed_by(ws, tx)
    frame = ws.read("grids") if change.grids is None else change.grids
    doc = {
        "tx": tx,
        "undone": undone,
        "all": change.grids is None,
        "changed": [str(c) for c in frame["code"]],
        "removed": list(change.removed),
        "grids": _collection(frame),
        "depth": _depth(),
    }
    return _json(doc)


def _all_reply(tx: int, undone: int) -> Response:
    doc = {"tx": tx, "undone": undone, "all": True, "changed": [], "removed": []}
    return _json(doc | {"grids": _collection(workspace().read("grids")), "depth": _depth()})


@bp.post("/undo")
@allow(PLANNERS)
@describe(UNDO)
def undo() -> Response:
    """Take back the caller's latest plan edit."""
    tx, undone = plan_history.undo(workspace(), access=access())
    return _undo_reply(tx, undone)


@bp.post("/redo")
@allow(PLANNERS)
@describe(REDO)
def redo() -> Response:
    """Take back the caller's latest undo."""
    tx, undone = plan_history.redo(workspace(), access=access())
    return _undo_reply(tx, undone)


@bp.get("/plan")
@allow(SIGNED_IN)
@describe(PLAN)
def plan() -> Response:
    """Every grid as the caller is served it, each with its ``version``, and the plan's version."""
    ws = workspace()
    latest = plan_history.versions(ws, limit=1)
    doc = {
        "tx": latest[0].tx if latest else None,
        "range": {"min": grid_checks.DEFAULT_RANGE[0], "max": grid_checks.DEFAULT_RANGE[1]},
        "grids": _collection(ws.read("grids")),
        "depth": _depth(),
    }
    return _json(doc)


@bp.get("/versions")
@allow(SIGNED_IN)
@describe(VERSIONS)
def versions() -> Response:
    """List the plan's versions, newest first: ``?limit=`` (default 50)."""
    limit = parse_int("limit", 50)
    limit = 50 if limit is None else limit
    if not 1 <= limit <= MAX_VERSIONS:
        raise InputError(
            f"limit must be 1 to {MAX_VERSIONS}, not {limit}. (limit 应为 1 到 {MAX_VERSIONS}。)"
        )
    found = plan_history.versions(workspace(), limit=limit, access=access())
    return jsonify({"versions": [v.__dict__ for v in found]})


@bp.get("/versions/<int:tx>")
@allow(SIGNED_IN)
@describe(VERSION)
def version(tx: int) -> Response:
    """The grids as they were right after transaction ``tx``."""
    frame = plan_history.grids_at(workspace(), tx)
    return _json(_collection(frame))


def _float(name: str, default: float) -> float:
    text = request.args.get(name)
    if text is None or text == "":
        return default
    try:
        value = float(text)
    except ValueError:
        raise InputError(
            f"{name} must be a number, not '{text[:40]}'. ({name} 应为数字。)"
        ) from None
    if not 0 <= value < 1e9:
        raise InputError(f"{name} must be 0 or more, not {text[:40]}. ({name} 应为非负数。)")
    return value


@bp.get("/checks")
@allow(SIGNED_IN)
@describe(CHECKS)
def checks() -> Response:
    """Check the plan: ``?min=300&max=500&community=&grids=``; findings located, and the
    figures. ``grids`` (codes, comma-separated): an edit's re-check of those grids only, with
    the ``scope`` (a box, EPSG:4326) its findings without a grid answer for."""
    lo, hi = _float("min", 300), _float("max", 500)
    community = request.args.get("community") or None
    codes = plan_replies.parse_codes(request.args.get("grids"))
    ws = workspace()
    found = grid_checks.validate(ws, bounds=(lo, hi), community=community, grids=codes)
    who = access()
    findings = plan_ids.served_findings(ws, who, found.findings_json(who))
    figures = visit_figures.with_visit_figures(ws, who, found.figures_json(who))
    doc: dict[str, Any] = {
        "findings": findings,
        "figures": figures,
        "kinds": list(plan_replies.FINDING_KINDS),
    }
    if codes is not None:
        doc["grids"] = codes
        doc["scope"] = plan_replies.recheck_scope(ws, codes)
    return _json(doc)


@bp.get("/rebalance")
@allow(PLANNERS)
@describe(REBALANCE)
def rebalance_proposal() -> Response:
    """Propose the fewest street-block moves into ``households`` × (1 ± ``tolerance``); no write."""
    target = _float("households", rebalance.DEFAULT_HOUSEHOLDS)
    tolerance = _float("tolerance", rebalance.DEFAULT_TOLERANCE)
    community = request.args.get("community") or None
    ws = workspace()
    plan = rebalance.propose(ws, target=target, tolerance=tolerance, community=community)
    return _json(plan_ids.served_moves(ws, access(), plan.to_json()))


@bp.post("/rebalance/apply")
@allow(PLANNERS)
@describe(REBALANCE_APPLY)
def rebalance_apply() -> Response:
    """Apply a rebalance proposal ``{"moves", "versions", "stamp"}``: one transaction."""
    ws, who = workspace(), access()
    moves, versions, stamp = plan_ops.parse_rebalance(_body())
    moves = [plan_ids.stored_move(ws, who, m) for m in moves]
    try:
        done = rebalance.apply_moves(ws, moves, versions=versions, stamp=stamp, access=who)
    except ConflictError as exc:
        codes = [c for m in moves for c in (m["to"], m.get("from")) if c]
        return _conflict(exc, list(dict.fromkeys(codes)), versions)
    grids = ws.read("grids")
    doc = {
        "tx": done.tx,
        "applied": done.moves,
        "moves": len(moves),
        "changed": list(done.changed),
        "grids": _collection(grids, done.changed),
        "depth": _depth(),
    }
    return _json(doc)


@bp.post("/partition")
@allow(PLANNERS)
@describe(PARTITION)
def partition() -> tuple[Response, int]:
    """Start computing a partition proposal of one community (a job; nothing is written)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InputError(
            'Send the proposal as JSON: {"community": "…", "households": 400, "tolerance": 0.2}.'
            " (请以 JSON 发送。)"
        )
    job = partition_proposal.start_partition(
        runner_of(),
        workspace(),
        community=body.get("community"),
        households=body.get("households", 400),
        tolerance=body.get("tolerance", 0.2),
        access=access(),
    )
    resp = jsonify(job_document(job))
    resp.headers["Location"] = url_for("jobs.job_state", job_id=job.id)
    return resp, 202


@bp.post("/partition/accept")
@allow(PLANNERS)
@describe(PARTITION_ACCEPT)
def partition_accept() -> Response:
    """Replace the community's grids with a finished proposal ``{"job": ID}``: one edit."""
    body = _body()
    job_id = body.get("job") if isinstance(body, dict) else None
    if not isinstance(job_id, str) or not job_id:
        raise InputError(
            'Send {"job": ID}: the partition job whose proposal to accept. '
            "(请发送要采用的自动划分任务 job。)"
        )
    runner, who = runner_of(), access()
    job = runner.get(who.owner, job_id)
    if job.kind != "partition":
        raise InputError(
            f"Job {job_id} is not a partition proposal. (任务 {job_id} 不是自动划分方案。)"
        )
    out = runner.result(who.owner, job_id)
    proposal = partition_proposal.PartitionProposal.from_geojson(
        json.loads(out.path.read_text(encoding="utf-8"))
    )
    ws = workspace()
    try:
        done = partition_proposal.accept_partition(ws, proposal, access=who)
    except ConflictError as exc:
        now = ws.read("grids")
        mine = now.loc[now["community_code"] == proposal.community, "code"].astype(str)
        return _conflict(exc, [*proposal.versions, *mine], proposal.versions)
    return _json(_edit_reply(done))


@bp.get("/blocks")
@allow(SIGNED_IN)
@describe(BLOCKS)
def blocks() -> Response:
    """The street blocks, with their grid, buildings and households: what a planner paints;
    ``stamp``, what they were computed from, goes back with a paint of them."""
    stamp, frame = block_service.served_blocks(workspace(), access())
    columns = ["community_code", "grid_code", "buildings", "households"]
    body = geojson.feature_collection(frame, columns, extra={"stamp": stamp})
    resp = Response(body, mimetype="application/geo+json")
    resp.headers["Cache-Control"] = "private, no-cache"
    return resp


@bp.post("/restore")
@allow(PLANNERS)
@describe(RESTORE)
def restore() -> Response:
    """Make the grids what they were after ``{"tx": N}``, as a new version."""
    body = _body()
    tx = body.get("tx") if isinstance(body, dict) else None
    if not isinstance(tx, int) or isinstance(tx, bool):
        raise InputError(
            'Send {"tx": N, "versions": {...}}: the version to restore. (请发送要恢复的版本 tx。)'
        )
    unknown = sorted(set(body) - {"tx", "versions"})
    if unknown:
        raise InputError(
            f"A restore takes tx and versions, not {', '.join(unknown)}. "
            f"(恢复不接受 {'、'.join(unknown)}。)"
        )
    if "versions" not in body:
        raise InputError(
            "Send the versions of the grids you looked at: 'versions' such as "
            '{"320102001001001": 3}, so that a restore cannot overwrite a change you did not '
            "see. (请在 versions 中提供您所见网格的版本号。)"
        )
    versions = plan_ops.parse_versions(body["versions"])
    new = plan_history.restore(workspace(), tx, access=access(), versions=versions)
    return _all_reply(new, tx)
