"""The automatic partition of one community as a proposal: computed without writing, accepted
as one planning edit.

:func:`propose_partition` draws the community's grids anew with
:func:`gridmap.service.grids.auto_grids` (a dry run: nothing is written), numbered in
reading order in the workspace's code form as a write would number them
(:func:`gridmap.service.plan_replace.numbered`), with their figures and the versions of the
community's grids it was made from. In the web app it
runs as a job (:func:`start_partition`, kind ``partition``), whose file is the proposal as
GeoJSON (:meth:`PartitionProposal.to_geojson`).

:func:`accept_partition` replaces the community's grids with the proposed ones in one
transaction, through :func:`gridmap.service.plan_replace.replace_community` (the route of
``gridmap grids auto --replace`` too: outlines cut to the community's ground) — the ``grid_code`` of buildings, households, facilities and cameras and every
grid's figures recomputed (:func:`gridmap.service.relocate.relocate`), the lineage recorded,
each new grid keeping the worker of the old grid covering most of it — refused (409) when a
grid of the community changed since the proposal was computed. Its audit action is
``grids accept COMMUNITY``: a planning edit, which the planner's undo takes back as one.
Visits and incidents keep the grid code they were recorded with (records of the past).

Storage and geometry in EPSG:4326; areas and reading order in the workspace's UTM zone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd

from gridmap.access.roles import Access
from gridmap.errors import ConflictError, FeatureNotFoundError, InputError
from gridmap.schema import STORAGE_CRS
from gridmap.service.edit import require_writer
from gridmap.service.grids import auto_grids
from gridmap.service.jobs.runner import Job, JobContext, JobOutput, JobRunner
from gridmap.service.metric import metric_crs
from gridmap.service.plan_replace import replace_community
from gridmap.service.planning import PlanEdit, codes_ever
from gridmap.store import Workspace

#: Random restarts of the solve (as ``gridmap grids auto``'s default; 1 to 2 s a community of
#: the demo).
RESTARTS = 10
#: The columns of a proposed grid.
COLUMNS = ("code", "name", "community_code", "households", "residents", "buildings", "area_m2")
#: The media type of a proposal file.
MEDIA_TYPE = "application/geo+json"


class _Cancelled(Exception):
    """The job was cancelled between two steps of the solve (nothing was written): the job
    runner takes any exception of a cancelled job for the cancel, not for a failure."""


@dataclass(frozen=True)
class PartitionProposal:
    """A community's grids drawn anew, not written.

    Attributes
    ----------
    community
        The community's 12-digit code.
    target, tolerance, bounds
        Households a grid should hold, the share off it allowed, and the range (households).
    grids
        The proposed grids (EPSG:4326): code (reading order, the workspace's code form),
        name, community_code, households, residents, buildings, area_m2 (m², UTM).
    versions
        ``{code: version}`` of the community's grids when the proposal was computed.
    fids
        ``{code: feature id}`` of those grids (a code may name a new grid since, whose version
        starts again at 1).
    figures
        grids, in_range, outside, min, max, max_deviation (households off ``target``),
        objective, bound, gap, status, method, seconds; ``current``: grids, in_range and
        max_deviation of the community's grids as they are.
    notes
        Remarks of the solve, ``(English, Chinese)`` (a building above the range made a grid of its own …).
    """

    community: str
    target: float
    tolerance: float
    bounds: tuple[float, float]
    grids: gpd.GeoDataFrame
    versions: dict[str, int]
    fids: dict[str, int] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    notes: tuple[tuple[str, str], ...] = ()

    def to_geojson(self) -> dict[str, Any]:
        """Return the proposal as a GeoJSON FeatureCollection with a ``proposal`` member."""
        frame = self.grids.reset_index(drop=True)
        features = json.loads(frame[[*COLUMNS, "geometry"]].to_json(drop_id=True))["features"]
        return {
            "type": "FeatureCollection",
            "features": features,
            "proposal": {
                "community": self.community,
                "households": self.target,
                "tolerance": self.tolerance,
                "bounds": list(self.bounds),
                "versions": self.versions,
                "fids": self.fids,
                "figures": self.figures,
                "notes": [{"en": en, "zh-CN": zh} for en, zh in self.notes],
            },
        }

    @classmethod
    def from_geojson(cls, doc: Any) -> PartitionProposal:
        """Return the proposal of :meth:`to_geojson`'s document (InputError when it is not)."""
        try:
            about = doc["proposal"]
            grids = gpd.GeoDataFrame.from_features(doc["features"], crs=STORAGE_CRS)
            return cls(
                community=str(about["community"]),
                target=float(about["households"]),
                tolerance=float(about["tolerance"]),
                bounds=(float(about["bounds"][0]), float(about["bounds"][1])),
                grids=grids,
                versions={str(k): int(v) for k, v in about["versions"].items()},
                fids={str(k): int(v) for k, v in about["fids"].items()},
                figures=dict(about["figures"]),
                notes=tuple(_note(n) for n in about["notes"]),
            )
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            raise InputError(
                "This is not a partition proposal of gridmap. (这不是 gridmap 的自动划分方案。)"
            ) from None


#: Households a proposal may aim at per grid: below, a grid is a building or two (and the solve
#: a long one for nothing); above, no grid worker could visit them.
HOUSEHOLDS_RANGE = (50.0, 5000.0)


def check_request(
    ws: Workspace, community: Any, households: Any, tolerance: Any
) -> tuple[str, float, float]:
    """Return ``(community, households, tolerance)`` checked, or raise saying what is wrong.

    InputError (400) for a missing community code, households outside
    :data:`HOUSEHOLDS_RANGE` or a tolerance not in [0, 1); FeatureNotFoundError (404) for a community that is not there.
    """
    if not isinstance(community, str) or not community.strip():
        raise InputError(
            "Name the community to draw anew: 'community', its 12-digit code. "
            "(请提供要自动划分的社区编码 community。)"
        )
    numbers = []
    for name, value in (("households", households), ("tolerance", tolerance)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(f"{name} must be a number, not {value!r}. ({name} 应为数字。)")
        numbers.append(float(value))
    target, tol = numbers
    lo, hi = HOUSEHOLDS_RANGE
    if not lo <= target <= hi or not 0 <= tol < 1:
        raise InputError(
            f"households must be {lo:g} to {hi:g} a grid and the tolerance between 0 and 1 "
            f"(got {target:g} and {tol:g}). (每格户数须在 {lo:g} 到 {hi:g} 之间，容差须在 0 到 1 "
            f"之间。)"
        )
    code = community.strip()
    if not len(ws.read("community", where={"code": code}, columns=["code"])):
        raise FeatureNotFoundError(
            f"There is no community '{code[:40]}'. (没有编码为“{code[:40]}”的社区。)"
        )
    return code, target, tol


def _in_range(households: pd.Series, bounds: tuple[float, float]) -> int:
    lo, hi = bounds
    values = pd.to_numeric(households, errors="coerce").fillna(0)
    return int(((values >= lo) & (values <= hi)).sum())


def propose_partition(
    ws: Workspace,
    *,
    community: str,
    households: float = 400,
    tolerance: float = 0.2,
    restarts: int = RESTARTS,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> PartitionProposal:
    """Draw the grids of ``community`` anew into ``households`` × (1 ± ``tolerance``); write
    nothing.

    Parameters
    ----------
    ws
        The workspace (storage EPSG:4326; the solve runs in its UTM zone, metres).
    community
        The 12-digit code of the community.
    households, tolerance
        Households a grid should hold and the share off it a grid may be.
    restarts, seed
        As for :func:`gridmap.service.grids.auto_grids` (the solve is deterministic per seed).
    progress
        Called with a line per step of the solve; it may raise to stop it.

    Returns
    -------
    PartitionProposal
        The proposed grids, their figures and the versions they were made from.
    """
    community, target, tol = check_request(ws, community, households, tolerance)
    bounds = (target * (1 - tol), target * (1 + tol))
    grids_now = ws.read("grids")
    mine = grids_now[grids_now["community_code"] == community]
    versions = {str(c): int(v) for c, v in zip(mine["code"], mine["version"], strict=True)}
    fids = {str(c): int(f) for c, f in zip(mine["code"], mine.index, strict=True)}
    outcome = auto_grids(
        ws,
        community=community,
        target=target,
        bounds=bounds,
        seed=seed,
        restarts=restarts,
        dry_run=True,
        progress=progress,
    )
    grids = outcome.grids  # numbered as a write would number them
    grids = gpd.GeoDataFrame(grids[list(COLUMNS)], geometry=grids.geometry, crs=STORAGE_CRS)
    f = outcome.result.figures()
    r = outcome.result
    hh = pd.to_numeric(mine["households"], errors="coerce").fillna(0) if len(mine) else None
    figures = {
        "grids": int(f["grids"]),
        "in_range": _in_range(grids["households"], bounds),
        "outside": int(f["outside_bounds"]),
        "min": int(f["min"]),
        "max": int(f["max"]),
        "max_deviation": float(f["max_deviation"]),
        "objective": float(r.objective),
        "bound": float(r.bound),
        "gap": float(r.gap),
        "status": str(r.status),
        "method": str(r.method),
        "seconds": round(float(r.seconds), 2),
        "current": {
            "grids": len(mine),
            "in_range": _in_range(hh, bounds) if hh is not None else 0,
            "max_deviation": float((hh - target).abs().max()) if hh is not None else 0.0,
        },
    }
    return PartitionProposal(
        community, target, tol, bounds, grids, versions, fids, figures, _notes(r)
    )


def _note(value: Any) -> tuple[str, str]:
    """One note of a proposal document: ``{"en", "zh-CN"}`` (an English text: both)."""
    if isinstance(value, dict):
        en = str(value["en"])
        return en, str(value.get("zh-CN") or en)
    return str(value), str(value)


def _notes(result: Any) -> tuple[tuple[str, str], ...]:
    """The solve's notes that concern this community, ``(English, Chinese)`` (not the
    buildings of the others, which a one-community solve leaves out by design)."""
    en = [str(n) for n in result.notes]
    zh = [str(n) for n in getattr(result, "notes_zh", ())]
    zh = zh if len(zh) == len(en) else en
    return tuple(
        (e, z) for e, z in zip(en, zh, strict=True) if "outside the communities drawn" not in e
    )


def _check_versions(proposal: PartitionProposal, mine: gpd.GeoDataFrame) -> None:
    """Refuse (409) when a grid of the community changed, came or went since the proposal."""
    now = {
        str(c): (int(fid), int(v))
        for fid, c, v in zip(mine.index, mine["code"], mine["version"], strict=True)
    }
    for code, version in sorted(proposal.versions.items()):
        if code not in now:
            raise ConflictError(
                f"Grid {code} was deleted since the proposal was computed: propose again. "
                f"(方案计算后网格 {code} 已被删除，请重新计算。)",
                layer="grids",
                expected=version,
            )
        fid, actual = now[code]
        if actual != version or fid != proposal.fids.get(code, fid):
            raise ConflictError(
                f"Grid {code} was changed since the proposal was computed (version {version}, "
                f"now {actual}): look at the change, then propose again. "
                f"(方案计算后网格 {code} 已被修改，请查看后重新计算。)",
                layer="grids",
                fid=fid,
                expected=version,
                actual=actual,
            )
    extra = sorted(set(now) - set(proposal.versions))
    if extra:
        raise ConflictError(
            f"Grid {extra[0]} was added to community {proposal.community} since the proposal "
            f"was computed: propose again. (方案计算后社区新增了网格 {extra[0]}，请重新计算。)",
            layer="grids",
            fid=now[extra[0]][0],
        )


def accept_partition(ws: Workspace, proposal: PartitionProposal, *, access: Access) -> PlanEdit:
    """Replace the community's grids with the proposed ones in one transaction (see module).

    The write is :func:`gridmap.service.plan_replace.replace_community`'s (as ``gridmap grids
    auto --replace``'s): the outlines cut to the community's ground (its boundary less what
    other communities' grids hold: a gap the old grids left is filled), so the plan stays one
    coverage and every proposed grid is written as proposed, each a new grid numbered after
    every code the community ever had.

    Raises PermissionDeniedError (403) for a role that may not plan, ConflictError (409)
    when a grid of the community changed since the proposal, GeometryError (400) when a
    proposed grid holds no ground of the community any more; nothing is written then.
    """
    require_writer(access, "grids")
    crs = metric_crs(ws)
    community = proposal.community
    ever = codes_ever(ws)
    with ws.transaction(user=access.who, action=f"grids accept {community}") as tx:
        _check_versions(proposal, tx.read("grids", where={"community_code": community}))
        return replace_community(tx, community, proposal.grids, crs=crs, ever=ever, user=access.who)


# -- the job -------------------------------------------------------------------------------------


def start_partition(
    runner: JobRunner,
    ws: Workspace,
    *,
    community: Any,
    households: Any = 400,
    tolerance: Any = 0.2,
    access: Access,
) -> Job:
    """Check the request, then queue the proposal as a job of ``access``'s user (kind
    ``partition``); its file is the proposal as GeoJSON. Nothing is written to ``ws``."""
    require_writer(access, "grids")
    community, target, tol = check_request(ws, community, households, tolerance)

    def work(ctx: JobContext) -> JobOutput:
        steps = [0.1]

        def say(line: str) -> None:
            if ctx.cancelled():
                raise _Cancelled("Cancelled. (已取消。)")
            steps[0] = min(0.9, steps[0] + 0.15)
            ctx.progress(steps[0], f"Drawing the grids: {line}", "正在自动划分网格…")

        ctx.progress(0.05, "Reading the community", "正在读取社区数据")
        found = propose_partition(
            ws, community=community, households=target, tolerance=tol, progress=say
        )
        path = ctx.folder / f"partition-{community}.geojson"
        path.write_text(json.dumps(found.to_geojson(), ensure_ascii=False), encoding="utf-8")
        ctx.progress(1.0, "Proposal ready", "方案已生成")
        return JobOutput(path, path.name, MEDIA_TYPE)

    params = {"community": community, "households": target, "tolerance": tol}
    return runner.submit(access.owner, "partition", work, params=params)


__all__ = [
    "PartitionProposal",
    "accept_partition",
    "check_request",
    "propose_partition",
    "start_partition",
]
