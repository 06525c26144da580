"""A first partition of an area into grids of balanced workload.

Grids are made of street blocks (:func:`street_units`), so their boundaries run along streets
and lanes; a block too heavy for one grid (a big compound) is cut into pieces of whole buildings
along its shortest lines between buildings (:mod:`gridmap.grids.cuts`; or, as before, by
weighted recursive bisection), each piece the Voronoi region of its buildings' outlines.
:func:`balanced_regions` groups units into connected regions of balanced households, and
:func:`settle` makes the final polygons tile the area with no overlap, no gap and no building
split. All geometry here is in a metric CRS (the caller projects; :func:`gridmap.geo.crs.utm_crs`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.grids import blocks, cuts, regions
from gridmap.grids.bisection import bisect, bisect_buildings, overlap_groups

#: Parts of a unit smaller than this are slivers left by geometry operations, square metres.
MIN_PART_M2 = 0.01
#: Empty pieces smaller than this that border no other unit are dropped, square metres.
MAX_SLIVER_M2 = 1.0
#: Spacing of the points sampled along building outlines for the Voronoi regions, metres.
SAMPLE_SPACING_M = 8.0


def grid_polygons(
    buildings: np.ndarray,
    labels: np.ndarray,
    area: BaseGeometry,
    spacing: float = SAMPLE_SPACING_M,
) -> list[BaseGeometry]:
    """Return one polygon per label that tiles ``area`` and holds its buildings whole.

    Parameters
    ----------
    buildings
        Building footprints (shapely polygons, metric CRS).
    labels
        Grid label of each building, 0 .. k-1.
    area
        The area to tile (metric CRS); it should contain the buildings.
    spacing
        Metres between the points sampled along the outlines (the Voronoi sites).
    """
    k = int(labels.max()) + 1
    outlines = shapely.segmentize(shapely.boundary(buildings), spacing)
    coords, owner = shapely.get_coordinates(outlines, return_index=True)
    centres = shapely.get_coordinates(shapely.point_on_surface(buildings))
    coords = np.vstack([coords, centres])
    owner = np.concatenate([owner, np.arange(len(buildings))])
    coords, first = np.unique(np.round(coords, 3), axis=0, return_index=True)
    owner = owner[first]
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(coords), extend_to=area, ordered=True)
    )
    raw = [shapely.coverage_union_all(cells[labels[owner] == g]) for g in range(k)]
    return settle(raw, buildings, labels, area)


def settle(
    raw: list[BaseGeometry], buildings: np.ndarray, labels: np.ndarray, area: BaseGeometry
) -> list[BaseGeometry]:
    """Turn rough regions that tile ``area`` into grids that hold their buildings whole.

    Each grid takes its own buildings entire and gives up every other grid's; pieces left
    holding none of its buildings go to the neighbour they border most; footprints that
    overlap across grids stay with the first grid.
    """
    everything = shapely.union_all(buildings)
    grids: list[BaseGeometry] = []
    for g, region in enumerate(raw):
        own = shapely.union_all(buildings[labels == g])
        grids.append(_clip(shapely.union(shapely.difference(region, everything), own), area))
    grids = _reassign_orphans(grids, [buildings[labels == g] for g in range(len(raw))])
    taken = shapely.Polygon()
    out = []
    for g in grids:
        out.append(shapely.make_valid(shapely.difference(g, taken)))
        taken = shapely.union(taken, g)
    return out


def _clip(shape: BaseGeometry, area: BaseGeometry) -> BaseGeometry:
    """Return ``shape`` within ``area``. GEOS's overlay can fail on nearly coincident edges and
    return a bare outline (seen on Xinjiekou: a block of 8 ha left as lines); when almost
    nothing is left of a shape whose inner point lies in the area, the overlay is redone on a
    1 mm grid."""
    inside = shapely.intersection(shape, area)
    if inside.area < 0.01 * shape.area and shapely.covers(area, shapely.point_on_surface(shape)):
        polygonal = shapely.union_all([q for q in shapely.get_parts(shape) if q.area > 0])
        try:
            snapped = shapely.intersection(polygonal, area, grid_size=1e-3)
        except shapely.errors.GEOSException:
            return inside
        if snapped.area > inside.area:
            return snapped
    return inside


def _reassign_orphans(grids: list[BaseGeometry], members: list[np.ndarray]) -> list[BaseGeometry]:
    """Give each piece of a grid that holds none of its buildings to the neighbour it borders most."""
    grids = list(grids)
    for i, grid in enumerate(grids):
        parts = shapely.get_parts(grid)
        if len(parts) < 2:
            continue
        keep = [p for p in parts if shapely.intersects(p, members[i]).any()]
        if not keep:
            keep = [max(parts, key=lambda p: p.area)]
        for part in parts:
            if any(part is q for q in keep):
                continue
            border = [
                shapely.length(shapely.intersection(part.buffer(0.01), other.boundary))
                if j != i
                else -1.0
                for j, other in enumerate(grids)
            ]
            j = int(np.argmax(border))
            if border[j] > 0:
                grids[j] = shapely.union(grids[j], part)
            else:
                keep.append(part)
        grids[i] = shapely.union_all(keep)
    return grids


@dataclass
class Units:
    """Street blocks (big ones cut in pieces) that grids are made of, in a metric CRS."""

    polygons: np.ndarray
    weights: np.ndarray
    building_unit: np.ndarray
    neighbours: list[set[int]]
    centres: np.ndarray
    #: Metres of the border each adjacent pair ``(u, v)``, ``u < v``, shares that run farther
    #: than :data:`gridmap.grids.cuts.STREET_NEAR_M` from every street and the area's edge.
    off_street: dict[tuple[int, int], float] = field(default_factory=dict)
    #: The ground within that distance of a street or the area's edge (None: not known).
    zone: BaseGeometry | None = None


def street_units(
    area: BaseGeometry,
    streets: np.ndarray,
    buildings: np.ndarray,
    weights: np.ndarray,
    *,
    max_weight: float,
    target: float,
    shortest: bool = True,
) -> Units:
    """Return the street blocks of ``area`` as units, cutting blocks heavier than ``max_weight``.

    A heavy block (a big compound) is cut into ceil(weight / target) pieces of whole buildings
    along its shortest lines between buildings (:func:`gridmap.grids.cuts.split_block`), and
    the units know which of their borders run off the streets (``off_street``, ``zone``).
    Without ``shortest``, as before issue 8's street borders: pieces by weighted bisection
    (:func:`bisect_buildings`), no off-street lengths.
    """
    found = blocks.street_blocks(area, streets)
    where = blocks.locate(buildings, found)
    zone = cuts.street_zone(area, streets) if shortest else None
    polys: list[BaseGeometry] = []
    building_unit = np.empty(len(buildings), dtype=int)
    for i, block in enumerate(found):
        members = np.flatnonzero(where == i)
        weight = float(weights[members].sum())
        if weight <= max_weight or len(members) < 2:
            building_unit[members] = len(polys)
            polys.append(block)
            continue
        k = min(len(members), math.ceil(weight / target))
        mine = buildings[members]
        groups = overlap_groups(mine) if shortest else np.zeros(0, dtype=int)
        if shortest:
            labels, raw = cuts.split_block(block, mine, weights[members], groups, k, zone)
            pieces = settle(raw, mine, labels, block)
        else:
            labels = bisect_buildings(mine, weights[members], k)
            pieces = grid_polygons(mine, labels, block)
        for g, piece in enumerate(pieces):
            building_unit[members[labels == g]] = len(polys)
            polys.append(piece)
    arr, building_unit = _single_parts(np.asarray(polys, dtype=object), building_unit, buildings)
    if shortest:
        arr = cuts.clean(arr)
    unit_weights = np.bincount(building_unit, weights=weights.astype(float), minlength=len(arr))
    # empty faces (squares, slivers at junctions) join the neighbour they border most, so that
    # no region is walled in by units nobody gains by moving
    neighbours = blocks.adjacency(arr)
    owner = _absorb_empty(arr, unit_weights, neighbours)
    # slivers left by geometry operations that border no unit and hold no building are dropped:
    # a grid would take them as a detached piece
    held = np.bincount(building_unit, minlength=len(arr))
    lonely = np.asarray([not n for n in neighbours], dtype=bool)
    sliver = lonely & (held == 0) & (shapely.area(arr) < MAX_SLIVER_M2)
    if sliver.all():  # nothing but slivers: keep them rather than nothing
        sliver[:] = False
    owner = np.where(sliver, -1, owner)
    keep = np.unique(owner[owner >= 0])
    merged = np.asarray([shapely.union_all(arr[owner == k]) for k in keep], dtype=object)
    building_unit = np.searchsorted(keep, owner[building_unit])
    merged_weights = np.bincount(
        building_unit, weights=weights.astype(float), minlength=len(merged)
    )
    centres = shapely.get_coordinates(shapely.point_on_surface(merged))
    nbrs = blocks.adjacency(merged)
    off = cuts.off_street_lengths(merged, nbrs, zone) if zone is not None else {}
    return Units(merged, merged_weights, building_unit, nbrs, centres, off, zone)


def _single_parts(
    polys: np.ndarray, building_unit: np.ndarray, buildings: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Make every unit one piece: a unit in several parts becomes one unit per part, each with
    the buildings whose inner point it holds; slivers without area are dropped."""
    out: list[BaseGeometry] = []
    new_unit = np.empty(len(building_unit), dtype=int)
    for u, poly in enumerate(polys):
        parts = [p for p in shapely.get_parts(poly) if p.area > MIN_PART_M2]
        members = np.flatnonzero(building_unit == u)
        if len(parts) <= 1:
            new_unit[members] = len(out)
            out.append(parts[0] if parts else poly)
            continue
        where = blocks.locate(buildings[members], np.asarray(parts, dtype=object))
        new_unit[members] = len(out) + where
        out.extend(parts)
    return np.asarray(out, dtype=object), new_unit


def _absorb_empty(polys: np.ndarray, weights: np.ndarray, neighbours: list[set[int]]) -> np.ndarray:
    """Return, per unit, the unit it merges into: itself if weighted, else a weighted neighbour's
    owner along the longest shared boundary (spreading outwards through chains of empty units)."""
    owner = np.where(weights > 0, np.arange(len(polys)), -1)
    boundaries = shapely.boundary(polys)
    changed = True
    while changed:
        changed = False
        for u in np.flatnonzero(owner < 0).tolist():
            options = [v for v in sorted(neighbours[u]) if owner[v] >= 0]
            if options:
                shared = [
                    shapely.length(shapely.intersection(boundaries[u], boundaries[v]))
                    for v in options
                ]
                owner[u] = owner[options[int(np.argmax(shared))]]
                changed = True
    lonely = owner < 0  # empty pieces with no weighted neighbour at all stay on their own
    owner[lonely] = np.flatnonzero(lonely)
    return owner


def balanced_regions(
    units: Units,
    k: int,
    members: np.ndarray | None = None,
    bounds: tuple[float, float] | None = None,
    *,
    restarts: int = 0,
    rng: np.random.Generator | None = None,
    stop: regions.Stop | None = None,
) -> np.ndarray:
    """Return a region label per unit of ``members`` (default all): k connected, balanced regions.

    Two starts are tried, region growing from spread seeds and weighted recursive bisection made
    connected, then ``restarts`` more grown from seeds drawn by ``rng``; each is polished by
    :func:`gridmap.grids.regions.rebalance`, and the one with fewer regions outside ``bounds``
    (then the smaller spread) wins. ``stop`` ends the restarts and the polishing early.
    """
    idx = np.arange(len(units.polygons)) if members is None else np.asarray(members)
    local = {int(u): i for i, u in enumerate(idx)}
    neighbours = [{local[v] for v in units.neighbours[u] if v in local} for u in idx.tolist()]
    w, xy = units.weights[idx], units.centres[idx]
    k = min(k, len(idx))
    starts = [
        regions.grow(w, neighbours, xy, k),
        regions.make_connected(bisect(xy, w, k), w, neighbours),
    ]
    if restarts:
        rng = rng or np.random.default_rng(0)
        weighted = np.flatnonzero(w > 0)
        pool = weighted if len(weighted) >= k else np.arange(len(idx))
        for _ in range(restarts):
            if stop is not None and stop():
                break
            seeds = rng.choice(pool, size=k, replace=False).tolist()
            starts.append(regions.grow(w, neighbours, xy, k, seeds=seeds))
    polished = [regions.rebalance(s, w, neighbours, bounds=bounds, stop=stop) for s in starts]
    rank = bounds or (-np.inf, np.inf)
    return min(polished, key=lambda labels: regions.imbalance(labels, w, rank))


def best_regions(
    units: Units,
    members: np.ndarray,
    target: float,
    bounds: tuple[float, float],
    *,
    restarts: int = 0,
    rng: np.random.Generator | None = None,
    stop: regions.Stop | None = None,
    by_objective: bool = True,
) -> np.ndarray:
    """Return :func:`balanced_regions` of ``members`` for the region count that fits ``bounds``
    best, trying the counts nearest to total weight / ``target``: fewest regions outside
    ``bounds``, then (``by_objective``) the fewest households off the target, or the smallest
    squared spread per region."""
    total = float(units.weights[members].sum())
    guess = total / target
    counts = sorted(
        {max(1, math.floor(guess)), max(1, math.ceil(guess)), grid_count(int(total), int(target))}
    )
    w = units.weights[members]
    tried = [
        balanced_regions(units, k, members, bounds, restarts=restarts, rng=rng, stop=stop)
        for k in counts
        if k <= len(members)
    ]

    def rank(labels: np.ndarray) -> tuple[int, float]:
        # regions outside the bounds, then the households off the target: the count of
        # regions sets how far the total is off k targets, which the spread does not see
        outside, spread = regions.imbalance(labels, w, bounds)
        if not by_objective:
            return outside, spread / (int(labels.max()) + 1)
        loads = np.bincount(labels, weights=w.astype(float))
        return outside, float(np.abs(loads - target).sum())

    best = min(tried, key=rank)
    if rank(best)[0] == 0:
        return best
    # a region outside the bounds may be walled in: redraw it with a neighbour, polish again
    local = {int(u): i for i, u in enumerate(members)}
    neighbours = [{local[v] for v in units.neighbours[u] if v in local} for u in members.tolist()]
    redrawn = regions.rebalance(
        regions.merge_split(best, w, neighbours, bounds, stop=stop),
        w,
        neighbours,
        bounds=bounds,
        stop=stop,
    )
    return min([best, redrawn], key=rank)


def region_polygons(
    units: Units,
    labels: np.ndarray,
    members: np.ndarray,
    buildings: np.ndarray,
    area: BaseGeometry,
    weights: np.ndarray | None = None,
) -> tuple[list[BaseGeometry], np.ndarray]:
    """Return the polygon of each region and the region of each building of ``members``' units.

    ``labels[i]`` is the region of unit ``members[i]``; ``weights`` (households per building)
    decide which piece of a region split by another's buildings stays. Returns (polygons,
    building_region) where building_region is -1 for buildings outside ``members``.
    """
    k = int(labels.max()) + 1
    unit_region = np.full(len(units.polygons), -1)
    unit_region[members] = labels
    building_region = unit_region[units.building_unit]
    inside = building_region >= 0
    raw = [shapely.union_all(units.polygons[members[labels == g]]) for g in range(k)]
    polys = settle(raw, buildings[inside], building_region[inside], area)
    w = np.ones(len(buildings)) if weights is None else np.asarray(weights, dtype=float)
    return _one_piece(polys, buildings, building_region, w)


def _one_piece(
    polys: list[BaseGeometry],
    buildings: np.ndarray,
    building_region: np.ndarray,
    weights: np.ndarray,
) -> tuple[list[BaseGeometry], np.ndarray]:
    """Give every minor piece of a region (fewest households, then smallest), with its buildings,
    to the neighbour it borders most."""
    polys = list(polys)
    building_region = building_region.copy()
    points = shapely.point_on_surface(buildings)
    for g in range(len(polys)):
        mine = building_region == g

        def load(part: BaseGeometry, g: int = g, mine: np.ndarray = mine) -> tuple[float, float]:
            inside = mine & shapely.contains(part.buffer(0.01), points)
            return float(weights[inside].sum()), part.area

        pieces = [p for p in shapely.get_parts(polys[g]) if p.area > MIN_PART_M2]
        parts = sorted(pieces, key=load, reverse=True)
        if not parts:  # the region vanished (only slivers left): its buildings go where they lie
            polys[g] = shapely.Polygon()
            for b in np.flatnonzero(mine).tolist():
                holder = [j for j, q in enumerate(polys) if j != g and q.covers(points[b])]
                building_region[b] = holder[0] if holder else g
            continue
        keep = [parts[0]]
        for part in parts[1:]:
            ring = part.buffer(0.05)
            border = [
                -1.0
                if j == g
                else shapely.length(shapely.intersection(ring, shapely.boundary(other)))
                for j, other in enumerate(polys)
            ]
            j = int(np.argmax(border))
            if border[j] <= 0:
                keep.append(part)
                continue
            moved = (building_region == g) & shapely.contains(part.buffer(0.01), points)
            building_region[moved] = j
            polys[j] = shapely.union(polys[j], part)
        polys[g] = shapely.union_all(keep)
    return polys, building_region


def reading_order(polygons: list[BaseGeometry]) -> list[int]:
    """Return indices that number polygons west to east in rows from north to south."""
    if not polygons:
        return []
    centres = shapely.get_coordinates(shapely.centroid(np.asarray(polygons, dtype=object)))
    total = shapely.union_all(polygons)
    band = math.sqrt(total.area / len(polygons))
    top = centres[:, 1].max()
    rows = np.floor((top - centres[:, 1]) / band + 0.5).astype(int)
    return sorted(range(len(polygons)), key=lambda i: (rows[i], centres[i, 0]))


def grid_count(total_households: int, target: int = 400) -> int:
    """Return how many grids give about ``target`` households each (at least 1)."""
    return max(1, round(total_households / target))
