"""Editing a plan of grids so that shared borders stay shared: draw, reshape, split, merge,
delete, give and paint.

A plan is a polygonal coverage: the grids of a community tile it, no overlap and no gap. Every
operation here keeps that true **by construction**. A grid that takes ground (drawn, reshaped
outward, given a piece) takes it from its neighbours, which lose exactly that ground; ground a
grid gives up (reshaped inward, deleted with ``to="neighbours"``) goes to the neighbour it
borders most. So moving a vertex on a shared border moves it for the neighbour too: the
neighbour's outline is computed from the edited grid's, never edited on its own.

Precision, and why these operations run in the storage CRS
-----------------------------------------------------------
Set operations are exact only on a fixed precision grid (GEOS's OverlayNG snap-rounding, the
``grid_size`` of shapely 2's overlay functions). The store keeps coordinates on a grid of
``grid_size`` (1e-7°, about 1 cm: :data:`gridmap.schema.STORAGE_PRECISION_DEG`); computing
on that same grid, in EPSG:4326, means what is computed is exactly what is stored, and a
vertex two grids share stays one coordinate in both. Computing in UTM and projecting back would
move every vertex of a changed grid by up to half a grid cell and open hair-line gaps along the
borders it did not change. Topology does not depend on the CRS; *measures* do, and every
threshold here (sliver area, shared border length) is measured in :attr:`Plan.metric_crs`.

The plan and an edit's result are :mod:`gridmap.grids.plan`'s. Everything here is plain data
(shapely geometries, dicts): no storage.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.errors import GeometryError, InputError
from gridmap.grids.plan import (
    MIN_SHARED_M,
    NOTHING_M2,
    SLIVER_M2,
    Edit,
    Plan,
    clean,
    ensure_polygon,
)
from gridmap.grids.plan import polygons as _polygons

__all__ = [
    "Edit",
    "Plan",
    "clean",
    "delete",
    "draw",
    "ensure_polygon",
    "give",
    "merge",
    "merge_keeper",
    "paint",
    "reshape",
    "split",
]


def _community_area(plan: Plan, code: str) -> BaseGeometry | None:
    """Return the ground grid ``code`` may hold: its community, else all communities, else None."""
    community = plan.community_of.get(code)
    if community and community in plan.communities:
        return plan.communities[community]
    if plan.communities:
        return shapely.union_all(list(plan.communities.values()), grid_size=plan.grid_size)
    return None


def _known(plan: Plan, code: str) -> BaseGeometry:
    try:
        return plan.grids[code]
    except KeyError:
        raise InputError(
            f"There is no grid '{code}' in this plan. (没有编码为“{code}”的网格。)"
        ) from None


def _neighbours(plan: Plan, geom: BaseGeometry, skip: Iterable[str] = ()) -> list[str]:
    """Return the codes of grids that touch or overlap ``geom`` (not in ``skip``)."""
    skip = set(skip)
    codes = [c for c in plan.grids if c not in skip]
    if not codes:
        return []
    geoms = np.asarray([plan.grids[c] for c in codes], dtype=object)
    near = shapely.dwithin(geoms, geom, plan.grid_size * 5)
    return [c for c, hit in zip(codes, near.tolist(), strict=True) if hit]


def _take(plan: Plan, code: str, shape: BaseGeometry, changed: dict[str, BaseGeometry]) -> None:
    """Make ``code`` hold ``shape``; every other grid loses what it had of it (into ``changed``)."""
    changed[code] = shape
    for other in _neighbours(plan, shape, skip=[code]):
        current = changed.get(other, plan.grids[other])
        if not shapely.intersects(current, shape):
            continue
        rest = _polygons(plan, shapely.difference(current, shape, grid_size=plan.grid_size))
        if (
            plan.area_m2(shapely.symmetric_difference(rest, current, grid_size=plan.grid_size))
            >= SLIVER_M2
        ):
            changed[other] = rest


def _release(
    plan: Plan,
    ground: BaseGeometry,
    changed: dict[str, BaseGeometry],
    skip: Iterable[str],
    *,
    outline: BaseGeometry | None = None,
    community: str | None = None,
) -> list[tuple[str, str]]:
    """Give each piece of ``ground`` to the grid (not in ``skip``) of ``community`` it
    borders most (the community of the grid that gave it up).

    Only a grid of the same community may receive it: ground of one community handed to a
    grid of another would move the community border; where no same-community grid borders a
    piece, it is left as a gap of its own community.

    With ``outline`` (the edited grid's old outline), a piece goes to a neighbour only where
    at least half of the old outline around it was shared with neighbours: a border moved
    inward gives the neighbour what it gave up, but a grid shrunk away from the community's
    edge leaves a gap there instead of handing a thin strip to whoever touches its end.
    A piece left over is a gap; the notes say so, and the plan's checks report it with a fix.
    """
    notes: list[tuple[str, str]] = []
    skip = set(skip)
    left = 0.0
    for piece in shapely.get_parts(_polygons(plan, ground)):
        edge = piece.boundary
        if outline is not None:
            old = shapely.intersection(edge, outline.boundary, grid_size=plan.grid_size)
            if plan.length_m(old) >= MIN_SHARED_M:
                edge = old
        best, best_len, total = None, MIN_SHARED_M, 0.0
        for other in _neighbours(plan, piece, skip=skip):
            if plan.community_of.get(other) != community:
                continue
            current = changed.get(other, plan.grids[other])
            shared = shapely.intersection(edge, current.boundary, grid_size=plan.grid_size)
            length = plan.length_m(shared)
            total += length
            if length >= best_len:
                best, best_len = other, length
        if best is None or (outline is not None and total < 0.5 * plan.length_m(edge)):
            left += plan.area_m2(piece)
            continue
        current = changed.get(best, plan.grids[best])
        changed[best] = _polygons(plan, shapely.union(current, piece, grid_size=plan.grid_size))
    if left >= NOTHING_M2:
        notes.append(
            (
                f"{left:.0f} m² borders no other grid and is left as a gap.",
                f"{left:.0f} 平方米不与其他网格相邻，留作空隙。",
            )
        )
    return notes


def _clip(plan: Plan, code: str, shape: BaseGeometry) -> tuple[BaseGeometry, list[tuple[str, str]]]:
    """Return ``shape`` inside the ground ``code`` may hold, with a note on what was cut off."""
    shape = shapely.set_precision(shapely.make_valid(shape), plan.grid_size)
    area = _community_area(plan, code)
    notes: list[tuple[str, str]] = []
    if area is not None:
        inside = shapely.intersection(shape, area, grid_size=plan.grid_size)
        outside = plan.area_m2(shapely.difference(shape, area, grid_size=plan.grid_size))
        if outside >= NOTHING_M2:
            notes.append(
                (
                    f"{outside:.0f} m² outside the community were left out.",
                    f"社区范围以外的 {outside:.0f} 平方米未纳入。",
                )
            )
        shape = inside
    return _polygons(plan, shape), notes


def _clean(plan: Plan, changed: dict[str, BaseGeometry], removed: Iterable[str]) -> None:
    """Clean the coverage of every community an edit touched (see :func:`clean`).

    Grids the cleaning changes (a neighbour that gets a vertex where the edited border meets
    it) join ``changed``.
    """
    gone = set(removed)
    communities = {plan.community_of.get(c) for c in changed} | {
        plan.community_of.get(c) for c in gone
    }
    after = {c: g for c, g in plan.grids.items() if c not in gone} | changed
    # ... with the grids of other communities that touch a changed grid: a split line or a
    # new outline can put a vertex on the border two communities share
    edited = [g for g in changed.values() if not g.is_empty]
    touching = {c for g in edited for c in _neighbours(plan, g, skip=changed) if c not in gone}
    codes = [
        c
        for c in after
        if plan.community_of.get(c, None) in communities or c in changed or c in touching
    ]
    cleaned = clean([after[c] for c in codes], plan.grid_size)
    for code, geom in zip(codes, cleaned, strict=True):
        before = plan.grids.get(code)
        if (
            code in changed
            or before is None
            or not shapely.equals_exact(shapely.normalize(geom), shapely.normalize(before), 0)
        ):
            changed[code] = _polygons(plan, geom)


def _result(plan: Plan, changed: dict[str, BaseGeometry], **kw: Any) -> Edit:
    """Return the Edit of ``changed``, moving grids left with no ground to ``removed``."""
    _clean(plan, changed, kw.get("removed", ()))
    emptied = tuple(c for c, g in changed.items() if g.is_empty and c not in kw.get("added", ()))
    kept = {c: g for c, g in changed.items() if not g.is_empty}
    notes = list(kw.pop("notes", ()))
    for c in emptied:
        notes.append(
            (f"Grid {c} is left with no ground and is removed.", f"网格 {c} 已无范围，被删除。")
        )
    removed = tuple(kw.pop("removed", ())) + emptied
    return Edit(kept, removed=removed, notes=tuple(notes), **kw)


# -- the operations ------------------------------------------------------------------------------


def reshape(plan: Plan, code: str, shape: BaseGeometry) -> Edit:
    """Give grid ``code`` the outline ``shape``; its neighbours follow.

    Ground the grid takes is taken from its neighbours; ground it gives up goes to the
    neighbour it borders most (a gap where it borders none). The outline is cut to the grid's
    community.
    """
    old = _known(plan, code)
    shape, notes = _clip(plan, code, ensure_polygon(shape, "grid outline"))
    if shape.is_empty:
        raise GeometryError(
            f"The new outline of grid {code} holds no ground inside its community. "
            f"(网格 {code} 的新边界不在社区范围内。)"
        )
    changed: dict[str, BaseGeometry] = {}
    _take(plan, code, shape, changed)
    notes += _release(
        plan,
        shapely.difference(old, shape, grid_size=plan.grid_size),
        changed,
        [code],
        outline=old,
        community=plan.community_of.get(code),
    )
    return _result(plan, changed, notes=notes)


def draw(plan: Plan, code: str, shape: BaseGeometry, community: str | None) -> Edit:
    """Add grid ``code`` with outline ``shape`` in ``community``, taking it from the grids there."""
    if code in plan.grids:
        raise InputError(f"A grid with code {code} exists already. (网格编码 {code} 已存在。)")
    plan = Plan(
        dict(plan.grids),
        {**plan.community_of, code: community},
        plan.communities,
        plan.metric_crs,
        plan.crs,
        plan.grid_size,
    )
    plan.grids[code] = shapely.MultiPolygon()
    shape, notes = _clip(plan, code, ensure_polygon(shape, "drawn grid"))
    if plan.area_m2(shape) < NOTHING_M2:
        raise GeometryError(
            "The drawn grid holds no ground inside the community: draw it inside the "
            "community's boundary. (所画网格不在社区范围内。)"
        )
    changed: dict[str, BaseGeometry] = {}
    _take(plan, code, shape, changed)
    return _result(plan, changed, added=(code,), notes=notes, community_of={code: community})


def split(plan: Plan, code: str, line: BaseGeometry, new_code: str) -> Edit:
    """Cut grid ``code`` in two along ``line``; the larger side keeps the code.

    The line must cross the grid from one side to the other and cut it into exactly two
    pieces (a line that zig-zags into more pieces is refused: draw one cut at a time).
    """
    grid = _known(plan, code)
    if line is None or line.is_empty or line.geom_type not in ("LineString", "MultiLineString"):
        raise GeometryError("A split needs a line. (拆分需要一条线。)")
    if not line.is_simple:
        raise GeometryError("The split line crosses itself. (拆分线自相交。)")
    cut: list[list[BaseGeometry]] = []
    for part in shapely.get_parts(grid):
        inside = shapely.intersection(line, part, grid_size=plan.grid_size)
        if inside.is_empty:
            continue
        noded = shapely.union(shapely.boundary(part), inside, grid_size=plan.grid_size)
        faces = [
            shapely.set_precision(f, plan.grid_size)
            for f in shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
            if part.contains(f.representative_point())
        ]
        faces = [f for f in faces if plan.area_m2(f) >= NOTHING_M2]
        if len(faces) > 1:
            cut.append(faces)
    if not cut:
        raise GeometryError(
            f"The line does not cut grid {code} in two: draw it from outside the grid, across "
            f"it, to outside on the other side. (拆分线没有把网格 {code} 分成两部分：请从网格外"
            "画起，穿过网格，到另一侧网格外结束。)"
        )
    pieces = sum(len(f) for f in cut) - len(cut) + 1
    if pieces > 2:
        raise GeometryError(
            f"The line must cross grid {code} once, from edge to edge: this one crosses it "
            f"more often and cuts it into {pieces} pieces. Draw one cut at a time. "
            f"(拆分线须从网格 {code} 的一边穿到另一边，只穿过一次：此线多次穿过网格，把它分成了 "
            f"{pieces} 块，请一次只切一刀。)"
        )
    faces = cut[0]
    faces.sort(key=plan.area_m2, reverse=True)
    new = _polygons(plan, shapely.intersection(faces[1], grid, grid_size=plan.grid_size))
    keep = _polygons(plan, shapely.difference(grid, new, grid_size=plan.grid_size))
    if new_code in plan.grids:
        raise InputError(
            f"A grid with code {new_code} exists already. (网格编码 {new_code} 已存在。)"
        )
    return _result(
        plan,
        {code: keep, new_code: new},
        added=(new_code,),
        community_of={new_code: plan.community_of.get(code)},
        lineage=({"op": "split", "from": [code], "to": [code, new_code]},),
    )


def merge_keeper(codes: Iterable[str], households: Mapping[str, float] | None = None) -> str:
    """Return the grid whose code (name, worker and phone) a merge of ``codes`` keeps.

    The grid with the most households (counts missing from ``households`` are 0); of grids with
    as many, the lowest code — the oldest, since codes are given out in order and never reused.
    Which grid was selected first does not matter: merging a new grid into an old one keeps the
    old one's code and worker.
    """
    households = households or {}
    return min(codes, key=lambda c: (-float(households.get(c) or 0), c))


def merge(plan: Plan, codes: list[str], households: Mapping[str, float] | None = None) -> Edit:
    """Merge adjacent grids into one; the others are removed.

    The merged grid keeps the code of :func:`merge_keeper` (the grid with the most
    ``households``, ties to the lowest code); the lineage records ``from`` in the order given
    and ``to`` the kept code. The grids must form one piece (each shares a border with another,
    not just a corner) and belong to one community.
    """
    codes = list(dict.fromkeys(codes))
    if len(codes) < 2:
        raise InputError("Choose two grids or more to merge. (请选择两个以上网格合并。)")
    keep = merge_keeper(codes, households)
    geoms = [_known(plan, c) for c in codes]
    communities = {plan.community_of.get(c) for c in codes}
    if len(communities) > 1:
        raise InputError(
            "Grids of different communities cannot be merged: a grid lies in one community. "
            "(不同社区的网格不能合并。)"
        )
    joined = {0}
    frontier = [0]
    while frontier:
        i = frontier.pop()
        for j in range(len(codes)):
            if j not in joined:
                shared = shapely.intersection(
                    geoms[i].boundary, geoms[j].boundary, grid_size=plan.grid_size
                )
                if plan.length_m(shared) >= MIN_SHARED_M:
                    joined.add(j)
                    frontier.append(j)
    apart = [codes[j] for j in range(len(codes)) if j not in joined]
    if apart:
        raise InputError(
            f"Grid(s) {', '.join(apart)} do not share a border with {codes[0]}'s group: only "
            f"grids that touch along a border can be merged. (网格 {'、'.join(apart)} 与其他"
            "网格没有共同边界，不能合并。)"
        )
    union = _polygons(plan, shapely.union_all(geoms, grid_size=plan.grid_size))
    return _result(
        plan,
        {keep: union},
        removed=tuple(c for c in codes if c != keep),
        lineage=({"op": "merge", "from": codes, "to": [keep]},),
    )


def delete(plan: Plan, code: str, *, to_neighbours: bool = False) -> Edit:
    """Remove grid ``code``; its ground becomes a gap, or goes to its neighbours."""
    grid = _known(plan, code)
    changed: dict[str, BaseGeometry] = {}
    notes: list[tuple[str, str]] = []
    if to_neighbours:
        rest = Plan(
            {c: g for c, g in plan.grids.items() if c != code},
            plan.community_of,
            plan.communities,
            plan.metric_crs,
            plan.crs,
            plan.grid_size,
        )
        notes = _release(rest, grid, changed, [code], community=plan.community_of.get(code))
    return _result(plan, changed, removed=(code,), notes=notes)


def give(plan: Plan, ground: BaseGeometry, to: str) -> Edit:
    """Give ``ground`` (an overlap, a gap, a building, painted blocks) to grid ``to``.

    The ground is cut to ``to``'s community; every other grid loses what it had of it.
    """
    target = _known(plan, to)
    ground, notes = _clip(plan, to, ensure_polygon(ground, "ground to give"))
    if plan.area_m2(ground) < SLIVER_M2:
        raise GeometryError(
            f"That ground lies outside grid {to}'s community. (该范围不在网格 {to} 所在社区内。)"
        )
    shape = _polygons(plan, shapely.union(target, ground, grid_size=plan.grid_size))
    changed: dict[str, BaseGeometry] = {}
    _take(plan, to, shape, changed)
    return _result(plan, changed, notes=notes)


def paint(plan: Plan, units: Iterable[BaseGeometry], to: str, *, snap: float = 0.0) -> Edit:
    """Move painted units (street blocks, building cells) to grid ``to``: :func:`give` of their
    union.

    Units computed from other layers (blocks from the streets) run along the grids' borders
    up to rounding; ``snap`` (in the plan's CRS, e.g. 5e-6° ≈ 0.5 m) first moves their
    vertices onto the vertices of the grids nearby, so that no hair-line strip is left between.
    """
    parts = [u for u in units if u is not None and not u.is_empty]
    if not parts:
        raise InputError("Paint at least one block or building. (请至少选择一个街区或楼栋。)")
    ground = shapely.union_all(parts, grid_size=plan.grid_size)
    if snap > 0:
        near = [plan.grids[c] for c in _neighbours(plan, ground.buffer(snap))]
        if near:
            points = shapely.multipoints(shapely.get_coordinates(shapely.boundary(near)))
            ground = shapely.make_valid(shapely.snap(ground, points, snap))
    return give(plan, ground, to)
