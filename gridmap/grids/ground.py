"""The ground-moving primitives that every planning operation of :mod:`gridmap.grids.topology`
is made of: take ground for a grid from its neighbours, release ground to the neighbour it
borders most, clip to the community, clean the coverage of the communities an edit touched and
turn the changed outlines into an :class:`~gridmap.grids.plan.Edit`.

Geometry in the plan's CRS (EPSG:4326 degrees, on the storage grid); measures (areas, shared
border lengths) in :attr:`Plan.metric_crs`, metres. Plain data only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.errors import InputError
from gridmap.grids.plan import (
    HAIRLINE_CELLS,
    MIN_SHARED_M,
    NOTHING_M2,
    SLIVER_M2,
    Edit,
    Plan,
    clean,
)
from gridmap.grids.plan import polygons as _polygons

#: Grids this many grid cells apart (5e-7°, about 5 cm) touch; borders this close are shared.
TOUCH_CELLS = 5


def community_area(plan: Plan, code: str) -> BaseGeometry | None:
    """Return the ground grid ``code`` may hold: its community, else all communities, else None."""
    community = plan.community_of.get(code)
    if community and community in plan.communities:
        return plan.communities[community]
    if plan.communities:
        return shapely.union_all(list(plan.communities.values()), grid_size=plan.grid_size)
    return None


def known(plan: Plan, code: str) -> BaseGeometry:
    try:
        return plan.grids[code]
    except KeyError:
        raise InputError(
            f"There is no grid '{code}' in this plan. (没有编码为“{code}”的网格。)"
        ) from None


def neighbours(plan: Plan, geom: BaseGeometry, skip: Iterable[str] = ()) -> list[str]:
    """Return the codes of grids that touch or overlap ``geom`` (not in ``skip``)."""
    skip = set(skip)
    return [c for c in plan.near(geom, plan.grid_size * TOUCH_CELLS) if c not in skip]


def within(plan: Plan, line: BaseGeometry, other: BaseGeometry) -> BaseGeometry:
    """Return the part of ``line`` within :data:`TOUCH_CELLS` grid cells of ``other`` (a line)."""
    return shapely.intersection(line, shapely.buffer(other, plan.grid_size * TOUCH_CELLS))


def lines(geom: BaseGeometry) -> BaseGeometry:
    """Return the linear parts of ``geom`` as a MultiLineString (an intersection of two
    boundaries can also hold points, and GEOS refuses a mixed collection in an overlay)."""
    parts = shapely.get_parts(shapely.get_parts(geom))
    return shapely.MultiLineString(
        [p for p in parts if p.geom_type == "LineString" and not p.is_empty]
    )


def take(plan: Plan, code: str, shape: BaseGeometry, changed: dict[str, BaseGeometry]) -> None:
    """Make ``code`` hold ``shape``; every other grid loses what it had of it (into ``changed``)."""
    changed[code] = shape
    for other in neighbours(plan, shape, skip=[code]):
        current = changed.get(other, plan.grids[other])
        if not shapely.intersects(current, shape):
            continue
        rest = _polygons(plan, shapely.difference(current, shape, grid_size=plan.grid_size))
        if (
            plan.area_m2(shapely.symmetric_difference(rest, current, grid_size=plan.grid_size))
            >= SLIVER_M2
        ):
            changed[other] = rest


def release(
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
    at least half of the old outline around it that did not face another community's grid
    was shared with grids of ``community``: a border moved inward gives the neighbour what it
    gave up, but a grid shrunk away from the community's open edge leaves a gap there instead
    of handing a thin strip to whoever touches its end. The border with another community
    counts neither way (that ground may not go across, and it is no open edge either).
    A piece left over is a gap; the notes say so, and the plan's checks report it with a fix.

    Shared borders are measured within :data:`TOUCH_CELLS` grid cells (:func:`within`), the
    tolerance :func:`neighbours` finds neighbours with, not by an exact intersection on the
    grid, which misses a border whose two copies are a cell or two apart.
    """
    notes: list[tuple[str, str]] = []
    skip = set(skip)
    left = 0.0
    for piece in shapely.get_parts(_polygons(plan, ground)):
        edge = piece.boundary
        if outline is not None:
            old = lines(within(plan, edge, outline.boundary))
            if plan.length_m(old) >= MIN_SHARED_M:
                edge = old
        best, best_len, total, across = None, MIN_SHARED_M, 0.0, 0.0
        for other in neighbours(plan, piece, skip=skip):
            current = changed.get(other, plan.grids[other])
            length = plan.length_m(within(plan, edge, current.boundary))
            if plan.community_of.get(other) != community:
                across += length
                continue
            total += length
            if length >= best_len:
                best, best_len = other, length
        if best is None or (outline is not None and total < 0.5 * (plan.length_m(edge) - across)):
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


def clip(plan: Plan, code: str, shape: BaseGeometry) -> tuple[BaseGeometry, list[tuple[str, str]]]:
    """Return ``shape`` inside the ground ``code`` may hold, with a note on what was cut off."""
    shape = shapely.set_precision(shapely.make_valid(shape), plan.grid_size)
    area = community_area(plan, code)
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


def clean_touched(plan: Plan, changed: dict[str, BaseGeometry], removed: Iterable[str]) -> None:
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
    touching = {c for g in edited for c in neighbours(plan, g, skip=changed) if c not in gone}
    codes = [
        c
        for c in after
        if plan.community_of.get(c, None) in communities or c in changed or c in touching
    ]
    cleaned = clean([after[c] for c in codes], plan.grid_size)
    for code, geom in zip(codes, cleaned, strict=True):
        before = plan.grids.get(code)
        if code in changed or not same(before, geom):
            changed[code] = _polygons(plan, geom)


def same(before: BaseGeometry | None, after: BaseGeometry) -> bool:
    """Whether ``after`` is ``before`` vertex for vertex (a Polygon and its MultiPolygon too)."""
    if before is None:
        return False
    a, b = (shapely.normalize(shapely.MultiPolygon(shapely.get_parts(g))) for g in (before, after))
    return bool(shapely.equals_exact(a, b, 0))


def keep_ground(
    plan: Plan,
    changed: dict[str, BaseGeometry],
    removed: Iterable[str],
    community_of: dict[str, str | None],
) -> None:
    """Give the crumbs of ground an edit would leave in no grid, unseen, to a grid.

    Set operations drop slivers (:data:`SLIVER_M2`), a border moved by a few grid cells leaves
    a strip along the community's edge that the cleaner does not close (it closes gaps between
    grids only), and a grid grown into a gap can leave a splinter of it. A piece of the edited
    grids' communities (or of their old ground) that is in no grid after the edit and is
    smaller than :data:`NOTHING_M2` (the plan's checks report gaps from 1 m²) or thinner than
    :data:`HAIRLINE_CELLS` cells goes to the grid of its community it shares the longest
    border with. A gap the edit means to leave (a deleted grid, ground no neighbour takes) is
    larger and stays, and the checks report it.
    """
    gone = set(removed)
    codes = [*changed, *gone]
    of = {**plan.community_of, **community_of}
    g = plan.grid_size
    homes = {of.get(c) for c in codes} & set(plan.communities)
    ground = [plan.grids[c] for c in codes if c in plan.grids]
    ground += [plan.communities[k] for k in homes]  # type: ignore[index]
    if not ground:
        return
    area = shapely.union_all(ground, grid_size=g)
    after = {c: x for c, x in plan.grids.items() if c not in gone} | changed
    near = [x for x in after.values() if shapely.intersects(x, area)]
    lost = shapely.difference(area, shapely.union_all(near, grid_size=g), grid_size=g)
    for piece in shapely.get_parts(shapely.get_parts(lost)):
        if piece.geom_type != "Polygon" or not (
            plan.area_m2(piece) < NOTHING_M2
            or shapely.buffer(piece, -g * HAIRLINE_CELLS / 2).is_empty
        ):
            continue
        inside = shapely.point_on_surface(piece)
        home = next((k for k, x in plan.communities.items() if x.intersects(inside)), None)
        best, most = None, 0.0
        for code, x in after.items():
            if (home is not None and of.get(code) != home) or not shapely.dwithin(
                x, piece, g * TOUCH_CELLS
            ):
                continue
            border = shapely.intersection(piece.boundary, x.boundary, grid_size=g).length
            if border > most:
                best, most = code, border
        if best is not None:
            changed[best] = after[best] = _polygons(
                plan, shapely.union(after[best], piece, grid_size=g)
            )


def result(plan: Plan, changed: dict[str, BaseGeometry], **kw: Any) -> Edit:
    """Return the Edit of ``changed``, moving grids left with no ground to ``removed`` (a new
    grid left with none is not added: ``added`` holds only grids of ``changed``).

    A grid whose outline comes out exactly as it was (same vertices) is not in the result:
    nothing is written for it, its version stays.
    """
    clean_touched(plan, changed, kw.get("removed", ()))
    keep_ground(plan, changed, kw.get("removed", ()), kw.get("community_of", {}))
    emptied = tuple(c for c, g in changed.items() if g.is_empty and c not in kw.get("added", ()))
    kept = {
        c: g
        for c, g in changed.items()
        if not g.is_empty and (c in kw.get("added", ()) or not same(plan.grids.get(c), g))
    }
    notes = list(kw.pop("notes", ()))
    added = tuple(kw.pop("added", ()))
    for c in added:
        if c not in kept:  # a new grid that came out empty is not added
            notes.append(
                (f"New grid {c} holds no ground and is not added.", f"新网格 {c} 无范围，未添加。")
            )
    for c in emptied:
        notes.append(
            (f"Grid {c} is left with no ground and is removed.", f"网格 {c} 已无范围，被删除。")
        )
    removed = tuple(kw.pop("removed", ())) + emptied
    return Edit(
        kept,
        removed=removed,
        added=tuple(c for c in added if c in kept),
        notes=tuple(notes),
        **kw,
    )
