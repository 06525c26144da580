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

import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.errors import GeometryError, InputError
from gridmap.grids.ground import (
    TOUCH_CELLS,
    clip,
    known,
    lines,
    neighbours,
    release,
    result,
    take,
)
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

#: Each part of a split holds at least this share of the grid's area ...
MIN_SPLIT_SHARE = 0.01
#: ... and at least this many square metres.
MIN_SPLIT_M2 = 100.0

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
    "replace",
    "replace_ground",
    "reshape",
    "split",
]


# -- the operations ------------------------------------------------------------------------------


def reshape(plan: Plan, code: str, shape: BaseGeometry) -> Edit:
    """Give grid ``code`` the outline ``shape``; its neighbours follow.

    Ground the grid takes is taken from its neighbours; ground it gives up goes to the
    neighbour it borders most (a gap where it borders none). The outline is cut to the grid's
    community.
    """
    old = known(plan, code)
    shape, notes = clip(plan, code, ensure_polygon(shape, "grid outline"))
    if shape.is_empty:
        raise GeometryError(
            f"The new outline of grid {code} holds no ground inside its community. "
            f"(网格 {code} 的新边界不在社区范围内。)"
        )
    changed: dict[str, BaseGeometry] = {}
    take(plan, code, shape, changed)
    notes += release(
        plan,
        shapely.difference(old, shape, grid_size=plan.grid_size),
        changed,
        [code],
        outline=old,
        community=plan.community_of.get(code),
    )
    return result(plan, changed, notes=notes)


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
    shape, notes = clip(plan, code, ensure_polygon(shape, "drawn grid"))
    if plan.area_m2(shape) < NOTHING_M2:
        raise GeometryError(
            "The drawn grid holds no ground inside the community: draw it inside the "
            "community's boundary. (所画网格不在社区范围内。)"
        )
    changed: dict[str, BaseGeometry] = {}
    take(plan, code, shape, changed)
    return result(plan, changed, added=(code,), notes=notes, community_of={code: community})


def split(plan: Plan, code: str, line: BaseGeometry, new_code: str) -> Edit:
    """Cut grid ``code`` in two along ``line``; the larger side keeps the code.

    The line must cross the grid from one side to the other and cut it into exactly two
    pieces (a line that zig-zags into more pieces is refused: draw one cut at a time), each
    at least :data:`MIN_SPLIT_SHARE` of the grid and :data:`MIN_SPLIT_M2`; a line that ends
    inside the grid (a loose end longer than :data:`~gridmap.grids.plan.MIN_SHARED_M`) is
    refused too. Refusals are :class:`~gridmap.errors.GeometryError` (an InputError).
    """
    grid = known(plan, code)
    if line is None or line.is_empty or line.geom_type not in ("LineString", "MultiLineString"):
        raise GeometryError("A split needs a line. (拆分需要一条线。)")
    if not line.is_simple:
        raise GeometryError("The split line crosses itself. (拆分线自相交。)")
    cut: list[list[BaseGeometry]] = []
    for part in shapely.get_parts(grid):
        inside = lines(shapely.intersection(line, part, grid_size=plan.grid_size))
        if inside.is_empty:
            continue
        noded = shapely.union(shapely.boundary(part), inside, grid_size=plan.grid_size)
        polys, _, loose, _ = shapely.polygonize_full(shapely.get_parts(noded))
        faces = [
            shapely.set_precision(f, plan.grid_size)
            for f in shapely.get_parts(polys)
            if part.contains(f.representative_point())
        ]
        faces = [f for f in faces if plan.area_m2(f) >= NOTHING_M2]
        if len(faces) > 1:
            if plan.length_m(loose) >= MIN_SHARED_M:
                raise GeometryError(
                    f"The split line ends inside grid {code}: draw it across the whole grid, "
                    f"from outside on one side to outside on the other. (拆分线在网格 {code} "
                    "内部结束：请从网格一侧外部画起，穿过整个网格，到另一侧外部结束。)"
                )
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
    least = max(MIN_SPLIT_M2, MIN_SPLIT_SHARE * plan.area_m2(grid))
    if plan.area_m2(faces[1]) < least:
        raise GeometryError(
            f"The line cuts only {plan.area_m2(faces[1]):.0f} m² off grid {code}; each part "
            f"of a split must hold at least {least:.0f} m² ({MIN_SPLIT_SHARE:.0%} of the grid, "
            f"{MIN_SPLIT_M2:.0f} m² at least): draw the line across the grid. (拆分线只从网格 "
            f"{code} 切下 {plan.area_m2(faces[1]):.0f} 平方米；拆分后每部分至少应有 "
            f"{least:.0f} 平方米，请让拆分线横穿网格。)"
        )
    new = _polygons(plan, shapely.intersection(faces[1], grid, grid_size=plan.grid_size))
    keep = _polygons(plan, shapely.difference(grid, new, grid_size=plan.grid_size))
    if new_code in plan.grids:
        raise InputError(
            f"A grid with code {new_code} exists already. (网格编码 {new_code} 已存在。)"
        )
    return result(
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
    geoms = [known(plan, c) for c in codes]
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
    return result(
        plan,
        {keep: union},
        removed=tuple(c for c in codes if c != keep),
        lineage=({"op": "merge", "from": codes, "to": [keep]},),
    )


def delete(plan: Plan, code: str, *, to_neighbours: bool = False) -> Edit:
    """Remove grid ``code``; its ground becomes a gap, or goes to its neighbours."""
    grid = known(plan, code)
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
        notes = release(rest, grid, changed, [code], community=plan.community_of.get(code))
    return result(plan, changed, removed=(code,), notes=notes)


def give(plan: Plan, ground: BaseGeometry, to: str) -> Edit:
    """Give ``ground`` (an overlap, a gap, a building, painted blocks) to grid ``to``.

    The ground is cut to ``to``'s community; every other grid loses what it had of it.
    """
    target = known(plan, to)
    ground, notes = clip(plan, to, ensure_polygon(ground, "ground to give"))
    if plan.area_m2(ground) < SLIVER_M2:
        raise GeometryError(
            f"That ground lies outside grid {to}'s community. (该范围不在网格 {to} 所在社区内。)"
        )
    shape = _polygons(plan, shapely.union(target, ground, grid_size=plan.grid_size))
    changed: dict[str, BaseGeometry] = {}
    take(plan, to, shape, changed)
    return result(plan, changed, notes=notes)


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
        near = [plan.grids[c] for c in neighbours(plan, ground.buffer(snap))]
        if near:
            points = shapely.multipoints(shapely.get_coordinates(shapely.boundary(near)))
            ground = shapely.make_valid(shapely.snap(ground, points, snap))
    return give(plan, ground, to)


def replace(plan: Plan, community: str, shapes: dict[str, BaseGeometry]) -> Edit:
    """Replace every grid of ``community`` with ``shapes`` (code → outline, degrees): an
    accepted automatic partition.

    The new outlines are cut to the community's ground: its boundary less what the grids of
    other communities hold (:func:`replace_ground`), so that the new grids cover the whole
    community as proposed — a gap the old grids left included — and its border with a
    neighbour stays the chain of vertices that neighbour has; the coverage is then cleaned
    with the neighbours (a hair-line between the new outer border and the old goes to the
    grid beside it). Old codes not among ``shapes`` are removed.

    Every outline of ``shapes`` must keep ground: one that holds none inside the community
    (all of it lies outside, or in other communities' grids) is refused with a
    :class:`~gridmap.errors.GeometryError`, as a planner expects the grids written as proposed.
    """
    old = [c for c, k in plan.community_of.items() if k == community]
    ground = replace_ground(plan, community)
    added = tuple(c for c in shapes if c not in plan.grids)
    plan = Plan(
        {**plan.grids, **{c: shapely.MultiPolygon() for c in added}},
        {**plan.community_of, **{c: community for c in shapes}},
        plan.communities,
        plan.metric_crs,
        plan.crs,
        plan.grid_size,
    )
    changed: dict[str, BaseGeometry] = {}
    for code, shape in shapes.items():
        shape = shapely.set_precision(shapely.make_valid(shape), plan.grid_size)
        changed[code] = _polygons(
            plan, shapely.intersection(shape, ground, grid_size=plan.grid_size)
        )
    empty = [c for c, g in changed.items() if plan.area_m2(g) < NOTHING_M2]
    if empty:
        raise GeometryError(
            f"Grid(s) {', '.join(empty)} of the new plan hold no ground in community "
            f"{community}: other communities' grids hold all of it. Propose again. "
            f"(新方案中的网格 {'、'.join(empty)} 在社区 {community} 内没有范围（已属其他社区的"
            "网格），请重新计算方案。)"
        )
    removed = tuple(c for c in old if c not in shapes)
    lineage = ({"op": "partition", "from": sorted(old), "to": list(shapes)},)
    return result(
        plan,
        changed,
        removed=removed,
        added=added,
        lineage=lineage,
        community_of={c: community for c in shapes},
    )


def replace_ground(plan: Plan, community: str) -> BaseGeometry:
    """Return the ground a replace of ``community``'s grids fills (degrees, storage grid).

    The community's boundary less what the grids of other communities hold; a community the
    plan has no boundary for: the ground its grids hold now. InputError when it has neither.
    """
    if community in plan.communities:
        ground = plan.communities[community]
        others = [
            plan.grids[c]
            for c in plan.near(ground, plan.grid_size * TOUCH_CELLS)
            if plan.community_of.get(c) != community
        ]
        if others:
            held = shapely.union_all(others, grid_size=plan.grid_size)
            ground = shapely.difference(ground, held, grid_size=plan.grid_size)
        return _polygons(plan, ground)
    old = [plan.grids[c] for c, k in plan.community_of.items() if k == community]
    if old:
        return shapely.union_all(old, grid_size=plan.grid_size)
    raise InputError(f"There is no community '{community}'. (没有编码为“{community}”的社区。)")
