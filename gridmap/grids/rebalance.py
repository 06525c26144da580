"""The fewest block moves that bring every grid of an existing plan into range.

Plain data in, moves out. Blocks (units) carry households and neighbours; the plan gives each
block a grid (region label). A move gives one block to an adjacent grid; it is allowed when the
grid it leaves stays connected and keeps at least one block (:func:`gridmap.grids.tabu.
articulation_points`). A grid holding a block heavier than the top of the range (a *tower*)
can never be in range: it is left as it is and reported.

:func:`fewest_moves` first searches every sequence of 1 to :data:`MAX_EXHAUSTIVE` moves
(depth by depth, so the first depth that brings every grid into range is the fewest; among
its solutions the one with the fewest households off the target wins). Each move must touch a
grid out of range or one an earlier move touched, each block moves once, and a branch stops
when more grids are out of range than its moves left can change (two each). When that finds
nothing within :data:`BUDGET` states (a plan with many grids out of range), a tabu search
(:func:`gridmap.grids.tabu.tabu_regions`) with a cost per moved block takes over: not proven
fewest, but every grid it can bring into range for few moves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gridmap.grids import tabu
from gridmap.grids.tabu import Adjacency, Stop

#: Most moves the exhaustive search tries.
MAX_EXHAUSTIVE = 3
#: States the exhaustive search may visit before the tabu search takes over.
BUDGET = 50_000
#: Score of a moved block in the tabu search, against 10 per household outside the range.
MOVE_COST = 1.0


@dataclass(frozen=True)
class Move:
    """One block given to another grid: the unit, the grid it leaves, the grid it joins."""

    unit: int
    source: int
    target: int
    weight: float


@dataclass(frozen=True)
class Rebalance:
    """What :func:`fewest_moves` found.

    Attributes
    ----------
    moves
        The moves, in an order that keeps every grid connected after each.
    before, after
        Households of each grid before and after the moves.
    method
        ``"exhaustive"`` (proven fewest for up to :data:`MAX_EXHAUSTIVE` moves), ``"tabu"``, or
        ``"none"`` (already in range).
    towers
        Grids that hold a tower and cannot come into range by block moves.
    """

    moves: tuple[Move, ...]
    before: np.ndarray
    after: np.ndarray
    method: str
    towers: tuple[int, ...]

    def outside(self, bounds: tuple[float, float], loads: np.ndarray | None = None) -> int:
        """Return how many grids are outside ``bounds`` (after the moves by default)."""
        h = self.after if loads is None else loads
        return int(((h < bounds[0]) | (h > bounds[1])).sum())


def fewest_moves(
    weights: np.ndarray,
    adjacency: Adjacency,
    labels: np.ndarray,
    target: float,
    bounds: tuple[float, float],
    *,
    max_exhaustive: int = MAX_EXHAUSTIVE,
    budget: int = BUDGET,
    stop: Stop | None = None,
) -> Rebalance:
    """Return the fewest moves of units that bring every region into ``bounds``; see the module.

    Parameters
    ----------
    weights
        (n,) households of each block.
    adjacency
        Neighbours of each block (0 .. n-1), symmetric; only blocks that may be moved between
        each other's grids should be neighbours (the same community).
    labels
        (n,) grid of each block, 0 .. k-1, each grid connected.
    target, bounds
        Households a grid should hold and its range (lo, hi).
    max_exhaustive, budget
        Depth and size of the exhaustive search.
    stop
        Ends the tabu search early.
    """
    w = np.asarray(weights, dtype=float)
    labels = np.asarray(labels, dtype=int)
    k = int(labels.max()) + 1 if len(labels) else 0
    before = np.bincount(labels, weights=w, minlength=k)
    lo, hi = bounds
    towers = tuple(sorted({int(labels[t]) for t in tabu.towers_of(w, bounds)}))
    frozen = set(towers)

    def bad(load: np.ndarray) -> list[int]:
        return [r for r in range(k) if r not in frozen and not lo <= load[r] <= hi]

    if not bad(before):
        return Rebalance((), before, before.copy(), "none", towers)
    found = _exhaustive(w, adjacency, labels, target, bounds, frozen, max_exhaustive, budget)
    if found is not None:
        moves = tuple(found)
        method = "exhaustive"
    else:
        moves = _by_tabu(w, adjacency, labels, target, bounds, stop)
        method = "tabu"
    after = before.copy()
    for m in moves:
        after[m.source] -= m.weight
        after[m.target] += m.weight
    return Rebalance(moves, before, after, method, towers)


def _exhaustive(
    w: np.ndarray,
    adjacency: Adjacency,
    labels: np.ndarray,
    target: float,
    bounds: tuple[float, float],
    frozen: set[int],
    depth: int,
    budget: int,
) -> list[Move] | None:
    """Return the best sequence of the fewest moves (at most ``depth``), or None."""
    lo, hi = bounds
    k = int(labels.max()) + 1
    load0 = np.bincount(labels, weights=w, minlength=k)
    members0 = [set(np.flatnonzero(labels == r).tolist()) for r in range(k)]
    out0 = {r for r in range(k) if r not in frozen and not lo <= load0[r] <= hi}
    visited = 0

    def candidates(lab: np.ndarray, members: list[set[int]], touched: set[int], used: set[int]):
        art: dict[int, set[int]] = {}
        for u in range(len(lab)):
            a = int(lab[u])
            if u in used or a in frozen or len(members[a]) < 2:
                continue
            for b in sorted({int(lab[v]) for v in adjacency[u]} - {a} - frozen):
                if a not in touched and b not in touched:
                    continue
                if a not in art:
                    art[a] = tabu.articulation_points(members[a], adjacency)
                if u in art[a]:
                    continue
                yield u, a, b

    for n in range(1, depth + 1):
        best: tuple[float, list[Move]] | None = None
        seen: set[frozenset[tuple[int, int]]] = set()
        stack: list[list[Move]] = [[]]
        while stack:
            path = stack.pop()
            lab = labels.copy()
            load = load0.copy()
            members = [set(m) for m in members0]
            for m in path:
                lab[m.unit] = m.target
                load[m.source] -= m.weight
                load[m.target] += m.weight
                members[m.source].discard(m.unit)
                members[m.target].add(m.unit)
            wrong = sum(1 for r in range(k) if r not in frozen and not lo <= load[r] <= hi)
            if wrong > 2 * (n - len(path)):  # a move changes two grids: too few moves left
                continue
            touched = out0 | {m.source for m in path} | {m.target for m in path}
            used = {m.unit for m in path}
            for u, a, b in candidates(lab, members, touched, used):
                key = frozenset({(m.unit, m.target) for m in path} | {(u, b)})
                if key in seen:
                    continue
                seen.add(key)
                visited += 1
                if visited > budget:
                    return best[1] if best else None
                step = [*path, Move(u, a, b, float(w[u]))]
                if len(step) < n:
                    stack.append(step)
                    continue
                after = load.copy()
                after[a] -= w[u]
                after[b] += w[u]
                if all(r in frozen or lo <= after[r] <= hi for r in range(k)):
                    dev = float(np.abs(after - target).sum())
                    if best is None or dev < best[0] - 1e-9:
                        best = (dev, step)
        if best is not None:
            return best[1]
    return None


def _by_tabu(
    w: np.ndarray,
    adjacency: Adjacency,
    labels: np.ndarray,
    target: float,
    bounds: tuple[float, float],
    stop: Stop | None,
) -> tuple[Move, ...]:
    """Return the moves of a tabu search that pays :data:`MOVE_COST` per moved block."""
    start = tabu.compact_labels(labels)
    back = {int(s): int(o) for s, o in zip(start.tolist(), labels.tolist(), strict=True)}
    found = tabu.tabu_regions(
        w,
        adjacency,
        start,
        target,
        bounds,
        deviation=1e-3,
        compactness=0.0,
        move_cost=MOVE_COST,
        isolate=False,
        vanish=False,
        stop=stop,
    )
    final = found.labels
    moved = [u for u in range(len(w)) if final[u] != start[u]]
    return tuple(_ordered(w, adjacency, labels, {u: back[int(final[u])] for u in moved}))


def _ordered(
    w: np.ndarray, adjacency: Adjacency, labels: np.ndarray, goal: dict[int, int]
) -> list[Move]:
    """Return the moves to ``goal`` (unit -> grid) in an order that keeps grids connected
    after each where one exists (else the rest in unit order)."""
    lab = labels.copy()
    left = dict(goal)
    out: list[Move] = []
    while left:
        for u in sorted(left):
            a, b = int(lab[u]), left[u]
            mine = set(np.flatnonzero(lab == a).tolist())
            touches = any(int(lab[v]) == b for v in adjacency[u])
            if touches and tabu.is_connected(mine - {u}, adjacency):
                break
        else:
            u = min(left)
            a, b = int(lab[u]), left[u]
        out.append(Move(u, a, b, float(w[u])))
        lab[u] = b
        del left[u]
    return out


__all__ = ["Move", "Rebalance", "fewest_moves"]
