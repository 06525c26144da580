"""Where a street block is cut between buildings, and how short that cut can be.

A grid border should run along streets. Where a block must be split (it is heavier than a
grid may be, or a grid needs part of it to reach its range) the border runs between its
buildings, and every metre of it is a metre off the street. Here a block's ground is divided
into the *cells* of its buildings (:func:`building_cells`: the ground nearer to a building's
outline than to any other's, a Voronoi diagram of sampled outlines, so cell edges run midway
between buildings), the cells form a graph whose edges carry the metres of their shared
border that lie farther than :data:`STREET_NEAR_M` from every street (:func:`cell_graph`;
a cell edge along a footway or service lane inside the block costs nothing), and:

- :func:`split_cells` cuts a block into pieces of balanced households along its cheapest
  lines (recursive bisection: sweeps in several directions, then single cell moves);
- :func:`forced_cut` finds the least off-street cut that splits a block into pieces no heavier
  than a grid may be (a MILP solved by HiGHS with its proven lower bound): the border every
  partition in range must have inside that block.

Geometry in a metric CRS (the area's UTM zone); lengths in metres. Plain data only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

#: A border within this of a street centre line or the area's edge runs along it, metres
#: (the measure of ``scripts/bench_partition_methods.py``).
STREET_NEAR_M = 5.0
#: Off-street lengths are measured on pieces of line this long at most, metres.
MEASURE_STEP_M = 1.0
#: Building outlines are sampled every this many metres for the cells.
CELL_SAMPLE_M = 4.0
#: Directions tried by the sweeps of :func:`split_cells` (over half a turn).
SWEEP_DIRECTIONS = 12
#: A piece of :func:`split_cells` may hold this share of a piece's households more or less than
#: its even share.
PIECE_TOLERANCE = 0.3
#: Cell pairs sharing less boundary than this (m) are not neighbours (a corner).
MIN_SHARED_M = 0.5
#: Pieces cut out of a block are snapped to the edges of their neighbours within this (m):
#: overlays leave a piece's edge a few nanometres off the block's, sharing no line with the
#: next block.
SNAP_M = 1e-3


def street_zone(
    area: BaseGeometry, streets: np.ndarray, near_m: float = STREET_NEAR_M
) -> BaseGeometry:
    """Return the ground within ``near_m`` metres of a street centre line or of ``area``'s
    edge (metric CRS): a border there runs along a street."""
    lines = [area.boundary]
    if len(streets):
        clipped = shapely.intersection(np.asarray(streets, dtype=object), area.buffer(near_m))
        lines += [g for g in clipped if not g.is_empty]
    # each line buffered, then joined: five times faster than the buffer of their union
    zone = shapely.union_all(shapely.buffer(np.asarray(lines, dtype=object), near_m))
    shapely.prepare(zone)
    return zone


def outside_length(lines: np.ndarray, zone: BaseGeometry) -> np.ndarray:
    """Return the metres of each line (metric CRS) that lie outside ``zone``, measured on
    pieces of at most :data:`MEASURE_STEP_M` (a piece counts by its middle)."""
    lines = np.asarray(lines, dtype=object)
    out = np.zeros(len(lines))
    parts, owner = shapely.get_parts(lines, return_index=True)
    keep = np.isin(shapely.get_type_id(parts), (1, 2))  # LineString, LinearRing
    parts, owner = parts[keep], owner[keep]
    if not len(parts):
        return out
    xy, part = shapely.get_coordinates(shapely.segmentize(parts, MEASURE_STEP_M), return_index=True)
    same = part[1:] == part[:-1]
    a, b = xy[:-1][same], xy[1:][same]
    mid = (a + b) / 2
    length = np.hypot(*(b - a).T)
    off = ~shapely.contains_xy(zone, mid[:, 0], mid[:, 1])
    np.add.at(out, owner[part[:-1][same][off]], length[off])
    return out


def off_street_lengths(
    polygons: np.ndarray, neighbours: list[set[int]], zone: BaseGeometry
) -> dict[tuple[int, int], float]:
    """Return, per adjacent pair ``(u, v)`` with ``u < v``, the metres of their shared border
    outside ``zone`` (:func:`street_zone`): the part that runs between buildings."""
    pairs = [(u, v) for u, near in enumerate(neighbours) for v in near if u < v]
    if not pairs:
        return {}
    rings = shapely.boundary(np.asarray(polygons, dtype=object))
    u, v = np.asarray(pairs).T
    off = outside_length(shapely.intersection(rings[u], rings[v]), zone)
    return {pair: float(length) for pair, length in zip(pairs, off.tolist(), strict=True)}


def clean(polygons: np.ndarray) -> np.ndarray:
    """Return ``polygons`` (a tiling, metric CRS) with shared edges made identical: pieces
    that overlays cut out of a block run along its edge a few nanometres off it, and would
    share no line with the next block (GEOS's coverage cleaning, snapping within
    :data:`SNAP_M`)."""
    polygons = np.asarray(polygons, dtype=object)
    if len(polygons) < 2:
        return polygons
    areal = np.asarray([_areal(p) for p in polygons], dtype=object)
    try:
        out = np.asarray(shapely.coverage_clean(areal, snapping_distance=SNAP_M), dtype=object)
    except (shapely.errors.GEOSException, TypeError):  # not a coverage after all: as it was
        return polygons
    empty = shapely.is_empty(out)
    out[empty] = polygons[empty]  # a sliver the cleaning dropped: keep it as it was
    return out


def _areal(shape: BaseGeometry) -> BaseGeometry:
    """Return the polygons of ``shape`` (an overlay may leave lines or points beside them)."""
    if shape.geom_type in ("Polygon", "MultiPolygon"):
        return shape
    parts = [q for q in shapely.get_parts(shape) if q.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def voronoi(
    block: BaseGeometry, footprints: np.ndarray, spacing: float = CELL_SAMPLE_M
) -> tuple[np.ndarray, np.ndarray]:
    """Return the Voronoi cells of points sampled every ``spacing`` metres along the
    footprints' outlines (reaching past ``block``), and the footprint each point is of."""
    outlines = shapely.segmentize(shapely.boundary(np.asarray(footprints, dtype=object)), spacing)
    xy, owner = shapely.get_coordinates(outlines, return_index=True)
    # adjoining buildings share outline points: each point once (the first building's)
    xy, first = np.unique(np.round(xy, 3), axis=0, return_index=True)
    parts = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=block, ordered=True)
    )
    return parts, owner[first]


def building_cells(
    block: BaseGeometry,
    footprints: np.ndarray,
    spacing: float = CELL_SAMPLE_M,
    *,
    whole: bool = True,
    sites: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Return the cell of each footprint in ``block``: the block's ground nearer to its outline
    than to the others' (metric CRS). The cells tile the block; with ``whole`` each also
    holds its footprint (where footprints overlap, the tiling is lost there). ``sites``:
    :func:`voronoi` of the footprints, when already made."""
    footprints = np.asarray(footprints, dtype=object)
    if len(footprints) <= 1:
        return np.asarray([block] * len(footprints), dtype=object)
    parts, owner = sites if sites is not None else voronoi(block, footprints, spacing)
    rough = np.asarray(
        [shapely.coverage_union_all(parts[owner == i]) for i in range(len(footprints))],
        dtype=object,
    )
    cells = shapely.intersection(rough, block)
    if not whole:
        return cells
    inside = shapely.intersection(footprints, block)
    tree = shapely.STRtree(inside)
    out = np.empty(len(footprints), dtype=object)
    for i, cell in enumerate(cells):
        # a footprint is its own cell's ground, wherever the Voronoi edges cut it
        others = [j for j in tree.query(cell, predicate="intersects").tolist() if j != i]
        if others:
            cell = shapely.difference(cell, shapely.union_all(inside[others]))
        out[i] = shapely.union(cell, inside[i])
    return out


@dataclass(frozen=True)
class CellGraph:
    """Cells of a block's buildings as a graph: ``pairs`` (E, 2) of adjacent cells, ``off``
    (E,) the metres of each pair's shared border off the street, ``xy`` (n, 2) cell centres."""

    pairs: np.ndarray
    off: np.ndarray
    xy: np.ndarray

    def neighbours(self, n: int) -> list[dict[int, float]]:
        """Return, per cell, its neighbours and the off-street metres shared with each."""
        out: list[dict[int, float]] = [{} for _ in range(n)]
        for (i, j), length in zip(self.pairs.tolist(), self.off.tolist(), strict=True):
            out[i][j] = out[i].get(j, 0.0) + length
            out[j][i] = out[j].get(i, 0.0) + length
        return out


def cell_graph(cells: np.ndarray, zone: BaseGeometry | None) -> CellGraph:
    """Return the graph of ``cells`` (polygons tiling a block) with the metres of each shared
    border that lie outside ``zone`` (all of it when ``zone`` is None)."""
    cells = np.asarray(cells, dtype=object)
    xy = np.zeros((len(cells), 2))
    full = ~shapely.is_empty(cells)
    if full.any():
        xy[full] = shapely.get_coordinates(shapely.point_on_surface(cells[full]))
    if len(cells) < 2:
        return CellGraph(np.zeros((0, 2), dtype=int), np.zeros(0), xy)
    rings = shapely.boundary(cells)
    left, right = shapely.STRtree(cells).query(cells, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    shared = shapely.intersection(rings[left], rings[right])
    touching = shapely.length(shared) >= MIN_SHARED_M
    left, right, shared = left[touching], right[touching], shared[touching]
    off = shapely.length(shared) if zone is None else outside_length(shared, zone)
    return CellGraph(np.column_stack([left, right]).astype(int), np.asarray(off, float), xy)


def _cut(side: np.ndarray, graph: CellGraph) -> float:
    if not len(graph.pairs):
        return 0.0
    crossing = side[graph.pairs[:, 0]] != side[graph.pairs[:, 1]]
    return float(graph.off[crossing].sum())


def _connected(members: np.ndarray, nbrs: list[dict[int, float]]) -> bool:
    idx = set(np.flatnonzero(members).tolist())
    if not idx:
        return False
    start = next(iter(idx))
    seen, todo = {start}, [start]
    while todo:
        for v in nbrs[todo.pop()]:
            if v in idx and v not in seen:
                seen.add(v)
                todo.append(v)
    return len(seen) == len(idx)


def _bisect(
    idx: np.ndarray,
    weights: np.ndarray,
    graph: CellGraph,
    nbrs: list[dict[int, float]],
    share: float,
    window: tuple[float, float],
) -> np.ndarray:
    """Return a boolean per cell of ``idx``: the side (True) that holds about ``share`` of the
    households, within ``window`` (households), cut along the cheapest line found."""
    w = weights[idx].astype(float) + 1e-9  # empty buildings still split by place
    n = len(idx)
    pos = {int(c): i for i, c in enumerate(idx)}
    local = [{pos[v]: ln for v, ln in nbrs[c].items() if v in pos} for c in idx.tolist()]
    total = float(w.sum())
    ideal = total * share
    lo, hi = window
    best: tuple[float, float, np.ndarray] | None = None
    xy = graph.xy[idx]
    for d in range(SWEEP_DIRECTIONS):
        angle = math.pi * d / SWEEP_DIRECTIONS
        order = np.argsort(xy @ np.array([math.cos(angle), math.sin(angle)]), kind="stable")
        side = np.zeros(n, dtype=bool)
        cut, load = 0.0, 0.0
        for step, i in enumerate(order[:-1].tolist()):
            side[i] = True
            load += w[i]
            cut += sum(ln if not side[j] else -ln for j, ln in local[i].items())
            if lo <= load <= hi and step + 1 < n:
                key = (cut, abs(load - ideal))
                if best is None or key < best[:2]:
                    best = (cut, abs(load - ideal), side.copy())
    if best is None:  # no prefix fits the window: the nearest to the ideal share
        order = np.argsort(xy[:, 0], kind="stable")
        side = np.zeros(n, dtype=bool)
        side[order[: max(1, int(np.searchsorted(np.cumsum(w[order]), ideal)))]] = True
        return side
    side = best[2]
    _refine(side, w, local, (lo, hi))
    return side


def _refine(
    side: np.ndarray, w: np.ndarray, local: list[dict[int, float]], window: tuple[float, float]
) -> None:
    """Move single border cells across the cut while that shortens it, keeps the households of
    the True side in ``window`` and both sides connected (in place)."""
    lo, hi = window
    load = float(w[side].sum())
    for _ in range(4 * len(side)):
        best: tuple[float, int] | None = None
        for i in range(len(side)):
            gain = sum(ln if side[j] != side[i] else -ln for j, ln in local[i].items())
            if gain <= 1e-9 or (best is not None and gain <= best[0]):
                continue
            after = load - w[i] if side[i] else load + w[i]
            if not lo <= after <= hi:
                continue
            side[i] = not side[i]
            ok = _connected(side, local) and _connected(~side, local)
            side[i] = not side[i]
            if ok:
                best = (gain, i)
        if best is None:
            return
        i = best[1]
        load += -w[i] if side[i] else w[i]
        side[i] = not side[i]


def split_cells(weights: np.ndarray, graph: CellGraph, k: int) -> np.ndarray:
    """Return a piece label (0 .. k-1) per cell: k pieces of about even households, cut
    along the cheapest off-street lines found (recursive bisection, see the module).

    Parameters
    ----------
    weights
        (n,) households of each cell's building.
    graph
        The cells' graph (:func:`cell_graph`).
    k
        Number of pieces, 1 <= k <= n.
    """
    n = len(weights)
    if not 1 <= k <= max(n, 1):
        raise ValueError(f"cannot split {n} cells into {k} pieces")
    nbrs = graph.neighbours(n)
    labels = np.zeros(n, dtype=int)
    stack = [(np.arange(n), k, 0)]
    while stack:
        idx, parts, first = stack.pop()
        if parts == 1:
            labels[idx] = first
            continue
        left = parts // 2
        total = float(weights[idx].sum())
        piece = total / parts
        slack = PIECE_TOLERANCE * piece
        window = (left * piece - slack, left * piece + slack)
        side = _bisect(idx, weights, graph, nbrs, left / parts, window)
        # each side needs a cell per piece
        if side.sum() < left or (~side).sum() < parts - left:
            order = np.argsort(graph.xy[idx, 0], kind="stable")
            side = np.zeros(len(idx), dtype=bool)
            side[order[:left]] = True
        stack.append((idx[side], left, first))
        stack.append((idx[~side], parts - left, first + left))
    return labels


def split_block(
    block: BaseGeometry,
    footprints: np.ndarray,
    weights: np.ndarray,
    groups: np.ndarray,
    k: int,
    zone: BaseGeometry | None,
) -> tuple[np.ndarray, list[BaseGeometry]]:
    """Return a piece label (0 .. k'-1, k' <= k) per footprint of ``block`` and the rough
    pieces (unions of Voronoi cells, reaching past the block: clip and settle them, e.g. with
    :func:`gridmap.grids.partition.settle`): pieces of about even households cut along the
    cheapest off-street lines found (:func:`split_cells` on the graph of the buildings' cells,
    off the street outside ``zone``). Footprints of one ``groups`` value (overlapping ones)
    stay together.
    """
    n = int(groups.max()) + 1
    merged = np.asarray(
        [shapely.union_all(footprints[groups == g]) for g in range(n)], dtype=object
    )
    sites = voronoi(block, merged)
    graph = cell_graph(building_cells(block, merged, whole=False, sites=sites), zone)
    gw = np.bincount(groups, weights=np.asarray(weights, dtype=float), minlength=n)
    piece = split_cells(gw, graph, min(k, n))
    parts, owner = sites
    raw = [shapely.coverage_union_all(parts[piece[owner] == g]) for g in range(piece.max() + 1)]
    return piece[groups], raw


@dataclass(frozen=True)
class ForcedCut:
    """The least off-street cut of a block into pieces no heavier than a grid may be.

    ``length`` is the cut HiGHS found (metres, once per cut, not per side), ``bound`` its
    proven lower bound (equal when solved to optimality), ``pieces`` the pieces it uses.
    """

    length: float
    bound: float
    pieces: int


def forced_cut(
    weights: np.ndarray, graph: CellGraph, most: float, time_limit: float = 20.0
) -> ForcedCut:
    """Return the least off-street cut along cell edges that splits the cells into pieces of at
    most ``most`` households (a building heavier than that counts as ``most``: alone).

    The pieces need not be connected here, so the bound holds for every partition whose borders
    inside the block run along cell edges (midway between buildings).
    """
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import lil_matrix

    w = np.minimum(np.asarray(weights, dtype=float), most)
    n, e = len(w), len(graph.pairs)
    if w.sum() <= most or n < 2:
        return ForcedCut(0.0, 0.0, 1)
    p = math.ceil(w.sum() / most) + 1  # one spare piece: a bin packing may need it
    nv = n * p + e
    a = lil_matrix((n + p + 2 * e * p, nv))
    lb: list[float] = []
    ub: list[float] = []
    row = 0
    for i in range(n):  # each cell in one piece
        a[row, i * p : (i + 1) * p] = 1
        lb.append(1)
        ub.append(1)
        row += 1
    for g in range(p):  # each piece at most ``most``
        for i in range(n):
            a[row, i * p + g] = w[i]
        lb.append(0)
        ub.append(most)
        row += 1
    for k, (i, j) in enumerate(graph.pairs.tolist()):  # y_k = 1 when i and j part
        for g in range(p):
            for s in (1, -1):
                a[row, n * p + k] = 1
                a[row, i * p + g] = -s
                a[row, j * p + g] = s
                lb.append(0)
                ub.append(np.inf)
                row += 1
    c = np.concatenate([np.zeros(n * p), graph.off])
    low = np.zeros(nv)
    low[0] = 1  # the first cell in the first piece: fewer symmetric copies
    found = milp(
        c,
        constraints=LinearConstraint(a.tocsr(), lb, ub),
        integrality=np.concatenate([np.ones(n * p), np.zeros(e)]),
        bounds=Bounds(low, np.ones(nv)),
        options={"time_limit": time_limit},
    )
    if found.x is None:
        return ForcedCut(math.inf, float(getattr(found, "mip_dual_bound", 0.0) or 0.0), p)
    x = np.round(found.x[: n * p]).reshape(n, p)
    bound = getattr(found, "mip_dual_bound", None)
    return ForcedCut(
        float(found.fun),
        float(found.fun if bound is None or not np.isfinite(bound) else bound),
        int((x.sum(axis=0) > 0).sum()),
    )


__all__ = [
    "CellGraph",
    "ForcedCut",
    "building_cells",
    "cell_graph",
    "clean",
    "forced_cut",
    "off_street_lengths",
    "outside_length",
    "split_block",
    "split_cells",
    "street_zone",
    "voronoi",
]
