r"""Tabu search over unit moves and swaps: the improvement stage of the grid partition.

Plain data in, labels out. Units (street blocks, heavy blocks cut between buildings) carry a
weight (households) and a neighbour set; a partition gives each unit a region label. A *move*
gives a border unit to an adjacent region, a *swap* exchanges two adjacent border units of two
regions. Both keep every region connected: a unit may leave its region only if it is not an
articulation point of the region's graph (:func:`articulation_points`; a region of one unit
may give it away and so vanish), and a swap is checked by a search of both regions.

The score minimised is :func:`gridmap.grids.objective.grid_costs` (households off the target,
summed, plus ``penalty`` times those outside the bounds) with a per-region deviation weight, plus
``compactness`` times the length of border between regions (metres; or the count of cut
neighbour pairs when no lengths are given): shorter borders for the same balance mean rounder
grids. A unit whose weight exceeds the top of the bounds (a *tower*) can never be in range
with anything else: it is kept alone in a region of its own, never moved and never joined, and
reported in :attr:`TabuResult.towers`.

The last move of each unit is tabu for ``tenure`` iterations (returning it to the region it
left), unless it leads to a score better than the best seen (aspiration). The search stops
after ``max_iterations``, ``patience`` iterations without a new best, or when ``stop`` says so;
it returns the best labels seen, never worse than the start.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from gridmap.grids import objective

Adjacency = Sequence[set[int]]
Stop = Callable[[], bool]

#: Households a metre of border between grids is worth in the score (50 m = 1 household).
COMPACTNESS = 0.02
#: Iterations a unit may not return to the region it left.
TENURE = 7
#: Iterations without a new best before the search gives up.
PATIENCE = 150
MAX_ITERATIONS = 3000


@dataclass(frozen=True)
class TabuResult:
    """The best partition the search found.

    Attributes
    ----------
    labels
        Region of each unit, 0 .. k-1 (consecutive; a region emptied by moves is dropped).
    objective
        :func:`gridmap.grids.objective.objective` of the regions' loads, households.
    score
        What the search minimised: the objective plus compactness (and move) terms.
    iterations
        Iterations run.
    towers
        Units heavier than the top of the bounds, each alone in its region.
    moved
        Units whose label differs from the start's (before relabelling), for the rebalance.
    """

    labels: np.ndarray
    objective: float
    score: float
    iterations: int
    towers: tuple[int, ...]
    moved: tuple[int, ...]


def articulation_points(members: set[int], adjacency: Adjacency) -> set[int]:
    """Return the units of ``members`` whose removal disconnects the rest (Tarjan, iterative).

    Only edges between members count. A connected region's non-articulation units can leave
    it without splitting it.
    """
    if len(members) <= 2:
        return set()
    disc: dict[int, int] = {}
    low: dict[int, int] = {}
    out: set[int] = set()
    root = min(members)
    disc[root] = low[root] = 0
    counter = 1
    root_children = 0
    stack: list[tuple[int, int, list[int]]] = [
        (root, -1, sorted(v for v in adjacency[root] if v in members))
    ]
    while stack:
        u, parent, todo = stack[-1]
        if todo:
            v = todo.pop()
            if v == parent:
                continue
            if v in disc:
                low[u] = min(low[u], disc[v])
                continue
            disc[v] = low[v] = counter
            counter += 1
            if u == root:
                root_children += 1
            stack.append((v, u, sorted(w for w in adjacency[v] if w in members)))
            continue
        stack.pop()
        if parent >= 0:
            low[parent] = min(low[parent], low[u])
            if parent != root and low[u] >= disc[parent]:
                out.add(parent)
    if root_children > 1:
        out.add(root)
    return out


def is_connected(members: set[int], adjacency: Adjacency) -> bool:
    """Return whether ``members`` (non-empty) form one connected piece of the unit graph."""
    if not members:
        return False
    start = next(iter(members))
    seen, todo = {start}, [start]
    while todo:
        u = todo.pop()
        for v in adjacency[u]:
            if v in members and v not in seen:
                seen.add(v)
                todo.append(v)
    return len(seen) == len(members)


def towers_of(weights: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    """Return the units heavier than the top of ``bounds`` (households)."""
    return np.flatnonzero(np.asarray(weights, dtype=float) > bounds[1])


def isolate_towers(
    labels: np.ndarray, weights: np.ndarray, adjacency: Adjacency, bounds: tuple[float, float]
) -> np.ndarray:
    """Return labels where each tower is alone in its region; what a tower leaves behind keeps
    its label per connected piece (new labels for all pieces but the heaviest)."""
    labels = np.asarray(labels).copy()
    nxt = int(labels.max()) + 1 if len(labels) else 0
    for t in towers_of(weights, bounds).tolist():
        rest = set(np.flatnonzero(labels == labels[t]).tolist()) - {t}
        if not rest:
            continue
        old = int(labels[t])
        labels[t] = nxt
        nxt += 1
        pieces = _pieces(rest, adjacency)
        pieces.sort(key=lambda p: -float(weights[list(p)].sum()))
        for piece in pieces[1:]:
            labels[list(piece)] = nxt
            nxt += 1
        labels[list(pieces[0])] = old
    return compact_labels(labels)


def _pieces(members: set[int], adjacency: Adjacency) -> list[set[int]]:
    left, out = set(members), []
    while left:
        start = left.pop()
        piece, todo = {start}, [start]
        while todo:
            u = todo.pop()
            for v in adjacency[u]:
                if v in left:
                    left.discard(v)
                    piece.add(v)
                    todo.append(v)
        out.append(piece)
    return out


def compact_labels(labels: np.ndarray) -> np.ndarray:
    """Return labels renumbered 0 .. k-1 in order of first appearance of each region."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first))
    return rank[inverse].astype(int)


class _State:
    """Labels, loads, members and cut length of a partition, updated move by move.

    ``near[u]`` holds, per region next to unit ``u``, how many of ``u``'s neighbours are in it
    and the border length they share with ``u``, so that a move's change of cut length costs
    a dictionary look-up instead of a walk over the neighbours.
    """

    def __init__(
        self,
        labels: np.ndarray,
        weights: np.ndarray,
        adjacency: Adjacency,
        lengths: Mapping[tuple[int, int], float] | None,
        cost: Callable[[np.ndarray], np.ndarray],
    ) -> None:
        self.labels = np.asarray(labels, dtype=int).copy()
        self.w = np.asarray(weights, dtype=float)
        self.adj = adjacency
        k = int(self.labels.max()) + 1
        self.load = np.bincount(self.labels, weights=self.w, minlength=k)
        self.members = [set(np.flatnonzero(self.labels == r).tolist()) for r in range(k)]
        self.cost = cost
        self.length = {}
        for u, nbrs in enumerate(adjacency):
            for v in nbrs:
                self.length[(u, v)] = (
                    1.0 if lengths is None else float(lengths.get((min(u, v), max(u, v)), 0.0))
                )
        lab = self.labels.tolist()
        self.near: list[dict[int, list[float]]] = []
        for u, nbrs in enumerate(adjacency):
            near: dict[int, list[float]] = {}
            for v in nbrs:
                entry = near.setdefault(lab[v], [0, 0.0])
                entry[0] += 1
                entry[1] += self.length[(u, v)]
            self.near.append(near)
        self._art: dict[int, set[int]] = {}

    def cut(self) -> float:
        return sum(
            ln for (u, v), ln in self.length.items() if u < v and self.labels[u] != self.labels[v]
        )

    def articulation(self, r: int) -> set[int]:
        if r not in self._art:
            self._art[r] = articulation_points(self.members[r], self.adj)
        return self._art[r]

    def border_delta(self, u: int, a: int, b: int, skip: int = -1) -> float:
        """Change of cut length when ``u`` goes from ``a`` to ``b`` (``skip``: the unit it swaps
        with, in ``b``, whose shared border stays between regions)."""
        near = self.near[u]
        d = (near[a][1] if a in near else 0.0) - (near[b][1] if b in near else 0.0)
        if skip >= 0:
            d += self.length[(u, skip)]
        return d

    def move(self, u: int, b: int) -> None:
        a = int(self.labels[u])
        self.labels[u] = b
        self.load[a] -= self.w[u]
        self.load[b] += self.w[u]
        self.members[a].discard(u)
        self.members[b].add(u)
        self._art.pop(a, None)
        self._art.pop(b, None)
        for v in self.adj[u]:
            near = self.near[v]
            ln = self.length[(v, u)]
            entry = near[a]
            entry[0] -= 1
            entry[1] -= ln
            if entry[0] == 0:
                del near[a]
            entry = near.setdefault(b, [0, 0.0])
            entry[0] += 1
            entry[1] += ln


def tabu_regions(
    weights: np.ndarray,
    adjacency: Adjacency,
    labels: np.ndarray,
    target: float,
    bounds: tuple[float, float],
    *,
    penalty: float = objective.OUTSIDE_PENALTY,
    deviation: float = 1.0,
    compactness: float = COMPACTNESS,
    lengths: Mapping[tuple[int, int], float] | None = None,
    move_cost: float = 0.0,
    tenure: int = TENURE,
    patience: int = PATIENCE,
    max_iterations: int = MAX_ITERATIONS,
    swaps: bool = True,
    isolate: bool = True,
    vanish: bool = True,
    stop: Stop | None = None,
) -> TabuResult:
    """Improve a partition of units into connected regions by tabu search; see the module.

    Parameters
    ----------
    weights
        (n,) households (or the chosen weight) of each unit.
    adjacency
        Neighbours of each unit (indices 0 .. n-1), symmetric.
    labels
        (n,) start: region of each unit; every region connected.
    target, bounds, penalty
        As for :func:`gridmap.grids.objective.objective` (households).
    deviation
        Weight of the households off the target (1: the objective; the rebalance uses
        almost 0, caring only for the range and the moves).
    compactness
        Score per metre of border between regions (per cut pair without ``lengths``).
    lengths
        Shared border length in metres of each adjacent pair ``(u, v)`` with ``u < v``.
    move_cost
        Score per unit whose region differs from the start's (the rebalance's fewest moves).
    tenure, patience, max_iterations, stop
        The tabu tenure, and when to stop (see the module).
    swaps
        Also try swaps of two border units (off: moves only, faster).
    isolate
        Put each tower alone in a region first (off: towers stay where they are, unmoved).
    vanish
        Let a region give away its last unit. Off, the labels returned keep the numbering
        of ``compact_labels(labels)`` (the rebalance maps them back to its grids).
    """
    w = np.asarray(weights, dtype=float)
    n = len(w)
    if n == 0:
        return TabuResult(np.zeros(0, dtype=int), 0.0, 0.0, 0, (), ())
    lo, hi = bounds
    start = compact_labels(np.asarray(labels))
    if isolate:
        start = isolate_towers(start, w, adjacency, bounds)
    towers = tuple(towers_of(w, bounds).tolist())
    fixed = set(towers)

    def cost(h: np.ndarray) -> np.ndarray:
        h = np.asarray(h, dtype=float)
        outside = np.maximum(0.0, h - hi) + np.maximum(0.0, lo - h)
        # an emptied region costs nothing: it is gone
        return np.where(h > 0, deviation * np.abs(h - target) + penalty * outside, 0.0)

    def c1(h: float) -> float:
        if h <= 1e-12:
            return 0.0
        out = h - hi if h > hi else (lo - h if h < lo else 0.0)
        return deviation * abs(h - target) + penalty * out

    s = _State(start, w, adjacency, lengths, cost)
    origin = start.copy()
    origin_l, wl = origin.tolist(), w.tolist()
    tower_regions = {int(s.labels[t]) for t in towers}

    def total() -> float:
        moved = float((s.labels != origin).sum())
        return float(cost(s.load).sum()) + compactness * s.cut() + move_cost * moved

    current = total()
    best, best_labels = current, s.labels.copy()
    tabu: dict[tuple[int, int], int] = {}
    it, since = 0, 0
    while it < max_iterations and since < patience:
        if stop is not None and stop():
            break
        it += 1
        candidates: list[tuple[float, int, int, int]] = []  # delta, unit, to region, partner
        lab = s.labels.tolist()
        load = s.load.tolist()
        region_cost = [c1(h) for h in load]
        for u in range(n):
            a = lab[u]
            if u in fixed or a in tower_regions:
                continue
            wu = wl[u]
            near_u = s.near[u]
            for b in near_u.keys() - {a} - tower_regions:
                la, lb = load[a], load[b]
                base = region_cost[a] + region_cost[b]
                back = move_cost * (int(a == origin_l[u]) - int(b == origin_l[u]))
                d = c1(la - wu) + c1(lb + wu) - base + compactness * s.border_delta(u, a, b) + back
                candidates.append((float(d), u, b, -1))
                if not swaps:
                    continue
                for v in adjacency[u]:
                    if v < u or v in fixed or lab[v] != b:
                        continue  # each swap once, from its smaller unit
                    dw = wu - wl[v]
                    if dw == 0 and compactness == 0:
                        continue  # changes nothing the score sees
                    back_v = move_cost * (int(b == origin_l[v]) - int(a == origin_l[v]))
                    d = (
                        c1(la - dw)
                        + c1(lb + dw)
                        - base
                        + compactness
                        * (s.border_delta(u, a, b, skip=v) + s.border_delta(v, b, a, skip=u))
                        + back
                        + back_v
                    )
                    candidates.append((float(d), u, b, v))
        if not candidates:
            break
        candidates.sort()  # by delta, then unit, region and partner
        chosen = None
        for d, u, b, v in candidates:
            a = int(s.labels[u])
            is_tabu = tabu.get((u, b), 0) >= it or (v >= 0 and tabu.get((v, a), 0) >= it)
            if is_tabu and current + d >= best - 1e-9:
                continue
            if v < 0:
                if len(s.members[a]) == 1 and not vanish:
                    continue
                if len(s.members[a]) > 1 and u in s.articulation(a):
                    continue
            else:
                if not is_connected((s.members[a] - {u}) | {v}, adjacency):
                    continue
                if not is_connected((s.members[b] - {v}) | {u}, adjacency):
                    continue
            chosen = (d, u, b, v)
            break
        if chosen is None:
            break
        d, u, b, v = chosen
        a = int(s.labels[u])
        s.move(u, b)
        tabu[(u, a)] = it + tenure
        if v >= 0:
            s.move(v, a)
            tabu[(v, b)] = it + tenure
        current += d
        if current < best - 1e-9:
            best, best_labels, since = current, s.labels.copy(), 0
        else:
            since += 1
    out = compact_labels(best_labels) if vanish else best_labels
    loads = np.bincount(out, weights=w)
    return TabuResult(
        labels=out,
        objective=objective.objective(loads, target, bounds, penalty),
        score=best,
        iterations=it,
        towers=towers,
        moved=tuple(np.flatnonzero(best_labels != origin).tolist()),
    )


def shared_lengths(
    polygons: Sequence[object], adjacency: Adjacency
) -> dict[tuple[int, int], float]:
    """Return the length in metres of the border each adjacent pair of polygons shares.

    ``polygons`` are shapely polygons in a metric CRS; pairs are ``(u, v)`` with ``u < v``.
    """
    import shapely

    rings = shapely.boundary(np.asarray(polygons, dtype=object))
    out: dict[tuple[int, int], float] = {}
    for u, nbrs in enumerate(adjacency):
        for v in nbrs:
            if u < v:
                out[(u, v)] = float(shapely.length(shapely.intersection(rings[u], rings[v])))
    return out


__all__ = [
    "TabuResult",
    "articulation_points",
    "is_connected",
    "isolate_towers",
    "shared_lengths",
    "tabu_regions",
    "towers_of",
]
