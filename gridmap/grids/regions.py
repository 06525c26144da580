"""Contiguous regions of balanced weight on an adjacency graph (districting).

Units (street blocks, or pieces of large blocks) carry weights (households). :func:`grow` makes
``k`` connected regions: seeds spread over the area, then the lightest region takes its nearest
unassigned neighbour until every unit is taken. :func:`rebalance` then moves units across region
borders while that lowers the spread of region weights and keeps every region connected.
Everything here is deterministic: ties break on unit index.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence

import numpy as np

Adjacency = Sequence[set[int]]
#: Called between steps of a long search; True asks it to stop with what it has.
Stop = Callable[[], bool]


def _seeds(xy: np.ndarray, weights: np.ndarray, k: int) -> list[int]:
    """Return k units spread out: farthest-point sampling from the unit farthest from the centre."""
    w = weights.astype(float) + 1e-9
    centre = (xy * w[:, None]).sum(axis=0) / w.sum()
    first = int(np.argmax(np.hypot(*(xy - centre).T)))
    seeds = [first]
    dist = np.hypot(*(xy - xy[first]).T)
    while len(seeds) < k:
        nxt = int(np.argmax(np.where(weights > 0, dist, -1.0)))
        if nxt in seeds:  # fewer weighted units than regions: take any unit not yet a seed
            nxt = int(np.argmax(np.where(np.isin(np.arange(len(xy)), seeds), -1.0, dist)))
        seeds.append(nxt)
        dist = np.minimum(dist, np.hypot(*(xy - xy[nxt]).T))
    return seeds


def grow(
    weights: np.ndarray,
    adjacency: Adjacency,
    xy: np.ndarray,
    k: int,
    *,
    seeds: Sequence[int] | None = None,
) -> np.ndarray:
    """Return a region label (0 .. k-1) per unit; regions are connected where the graph is.

    Parameters
    ----------
    weights
        (n,) non-negative weight of each unit.
    adjacency
        For each unit, the set of units it borders.
    xy
        (n, 2) unit centres in metres, to pick seeds and the nearest neighbour to take.
    k
        Number of regions, 1 <= k <= n.
    seeds
        k distinct units to grow the regions from (default: spread out by farthest-point
        sampling from the unit farthest from the weighted centre).
    """
    n = len(weights)
    if not 1 <= k <= n:
        raise ValueError(f"cannot make {k} regions of {n} units")
    labels = np.full(n, -1)
    if seeds is None:
        seeds = _seeds(xy, weights, k)
    elif len(set(seeds)) != k:
        raise ValueError(f"grow needs {k} distinct seed units, got {list(seeds)}")
    load = np.zeros(k)
    frontier: list[list[tuple[float, int]]] = [[] for _ in range(k)]

    def take(region: int, unit: int) -> None:
        labels[unit] = region
        load[region] += weights[unit]
        for nb in adjacency[unit]:
            if labels[nb] < 0:
                d = float(np.hypot(*(xy[nb] - xy[seeds[region]])))
                heapq.heappush(frontier[region], (d, nb))

    for region, unit in enumerate(seeds):
        take(region, unit)
    open_regions = [(load[r], r) for r in range(k)]
    heapq.heapify(open_regions)
    while open_regions:
        _, region = heapq.heappop(open_regions)
        heap = frontier[region]
        while heap and labels[heap[0][1]] >= 0:
            heapq.heappop(heap)
        if not heap:
            continue  # enclosed: this region is done
        take(region, heapq.heappop(heap)[1])
        heapq.heappush(open_regions, (load[region], region))
    # units no region could reach (a separate piece of the graph): nearest region's seed
    for lost in np.flatnonzero(labels < 0).tolist():
        d = [np.hypot(*(xy[lost] - xy[s])) for s in seeds]
        labels[lost] = int(np.argmin(d))
    return labels


def _reach(start: int, allowed: set[int], adjacency: Adjacency) -> set[int]:
    seen = {start}
    stack = [start]
    while stack:
        for nb in adjacency[stack.pop()]:
            if nb in allowed and nb not in seen:
                seen.add(nb)
                stack.append(nb)
    return seen


def make_connected(labels: np.ndarray, weights: np.ndarray, adjacency: Adjacency) -> np.ndarray:
    """Give every detached piece of a region to the lightest neighbouring region it borders.

    Each region keeps its heaviest connected piece; repeated until no piece moves.
    """
    labels = labels.copy()
    for _ in range(len(labels)):
        moved = False
        for region in np.unique(labels).tolist():
            left = set(np.flatnonzero(labels == region).tolist())
            pieces = []
            while left:
                piece = _reach(next(iter(left)), left, adjacency)
                pieces.append(piece)
                left -= piece
            if len(pieces) < 2:
                continue
            pieces.sort(key=lambda p: (-sum(weights[u] for u in p), min(p)))
            load = np.bincount(labels, weights=weights.astype(float))
            for piece in pieces[1:]:
                around = {int(labels[nb]) for u in piece for nb in adjacency[u]} - {region}
                if around:
                    target = min(around, key=lambda r: (load[r], r))
                    labels[list(piece)] = target
                    moved = True
        if not moved:
            break
    return labels


def _connected_without(members: set[int], unit: int, adjacency: Adjacency) -> bool:
    """Return whether ``members`` minus ``unit`` is still one connected piece (and not empty)."""
    rest = members - {unit}
    return bool(rest) and len(_reach(next(iter(rest)), rest, adjacency)) == len(rest)


def rebalance(
    labels: np.ndarray,
    weights: np.ndarray,
    adjacency: Adjacency,
    *,
    bounds: tuple[float, float] | None = None,
    max_moves: int = 10_000,
    stop: Stop | None = None,
) -> np.ndarray:
    """Move border units between neighbouring regions while that lowers the imbalance and keeps
    every region connected; return the new labels.

    The imbalance is the sum over regions of the squared distance to the mean weight, plus a
    hundredfold penalty on the squared distance outside ``bounds`` (lo, hi) where given.
    ``stop`` is asked before each move; when it answers True the labels so far are returned
    (connected and no worse than the start).
    """
    labels = labels.copy()
    k = int(labels.max()) + 1
    load_a = np.bincount(labels, weights=weights.astype(float), minlength=k)
    mean = float(load_a.sum() / k)
    lo, hi = bounds if bounds else (-np.inf, np.inf)

    def cost(w: float) -> float:
        out = w - hi if w > hi else (lo - w if w < lo else 0.0)
        return (w - mean) ** 2 + 100.0 * out**2

    members = [set(np.flatnonzero(labels == r).tolist()) for r in range(k)]

    def connected(units: set[int]) -> bool:
        return bool(units) and len(_reach(next(iter(units)), units, adjacency)) == len(units)

    # plain lists in the loop: numpy scalars cost ten times more to index and add
    lab, load = labels.tolist(), load_a.tolist()
    wl = np.asarray(weights, dtype=float).tolist()
    ordered = [sorted(adjacency[u]) for u in range(len(lab))]
    for _ in range(max_moves):
        if stop is not None and stop():
            break
        best: tuple[float, int, int, int] | None = None  # gain, unit, to region, swap partner
        region_cost = [cost(h) for h in load]
        for unit in range(len(lab)):
            src = lab[unit]
            w = wl[unit]
            for nb in ordered[unit]:
                dst = lab[nb]
                if dst == src:
                    continue
                before = region_cost[src] + region_cost[dst]
                # move the unit alone
                gain = before - cost(load[src] - w) - cost(load[dst] + w)
                better = w > 0 and gain > 1e-9 and (best is None or gain > best[0])
                if better and _connected_without(members[src], unit, adjacency):
                    best = (gain, unit, dst, -1)
                # swap it with the neighbouring unit across the border
                d = w - wl[nb]
                gain = before - cost(load[src] - d) - cost(load[dst] + d)
                if d != 0 and gain > 1e-9 and (best is None or gain > best[0]):
                    src_after = (members[src] - {unit}) | {nb}
                    dst_after = (members[dst] - {nb}) | {unit}
                    if connected(src_after) and connected(dst_after):
                        best = (gain, unit, dst, nb)
        if best is None:
            break
        _, unit, dst, partner = best
        src = lab[unit]
        for u, a, b in ((unit, src, dst), (partner, dst, src)):
            if u < 0:
                continue
            lab[u] = b
            load[a] -= wl[u]
            load[b] += wl[u]
            members[a].discard(u)
            members[b].add(u)
    return np.asarray(lab, dtype=labels.dtype)


def _split_costs(
    units: list[int],
    weights: np.ndarray,
    adjacency: Adjacency,
    cost: Callable[[float], float],
) -> tuple[float, set[int]] | None:
    """Return the cheapest cut of ``units`` (connected) into two connected parts, by cutting one
    edge of a breadth-first spanning tree from each unit in turn: (cost, one part)."""
    inside = set(units)
    total = float(weights[units].sum())
    best: tuple[float, set[int]] | None = None
    for root in units:
        parent = {root: -1}
        order = [root]
        for u in order:  # breadth-first: order grows as it is walked
            for nb in sorted(adjacency[u]):
                if nb in inside and nb not in parent:
                    parent[nb] = u
                    order.append(nb)
        below = {u: float(weights[u]) for u in order}
        for u in reversed(order[1:]):
            below[parent[u]] += below[u]
        for u in order[1:]:
            c = cost(below[u]) + cost(total - below[u])
            if best is None or c < best[0] - 1e-9:
                part = {u}
                stack = [u]
                while stack:
                    v = stack.pop()
                    for nb in adjacency[v]:
                        if nb in inside and parent.get(nb) == v:
                            part.add(nb)
                            stack.append(nb)
                best = (c, part)
    return best


def merge_split(
    labels: np.ndarray,
    weights: np.ndarray,
    adjacency: Adjacency,
    bounds: tuple[float, float],
    *,
    max_rounds: int = 100,
    stop: Stop | None = None,
) -> np.ndarray:
    """Redraw pairs of neighbouring regions while a region lies outside ``bounds``.

    A region walled in by neighbours that cannot give it a unit without breaking apart is out
    of reach of :func:`rebalance`'s single moves. Here it is merged with a neighbour and the
    pair cut anew into two connected regions (the best cut of a spanning tree); the cut is kept
    when it lowers :func:`rebalance`'s imbalance of the pair. Regions stay connected and as many.
    """
    labels = labels.copy()
    k = int(labels.max()) + 1
    w = weights.astype(float)
    mean = float(w.sum()) / k
    lo, hi = bounds

    def cost(x: float) -> float:
        out = max(0.0, x - hi) + max(0.0, lo - x)
        return (x - mean) ** 2 + 100.0 * out**2

    for _ in range(max_rounds):
        if stop is not None and stop():
            break
        load = np.bincount(labels, weights=w, minlength=k)
        far = np.maximum(load - hi, lo - load)
        moved = False
        for r in np.argsort(-far, kind="stable").tolist():
            if far[r] <= 0:
                break
            mine = np.flatnonzero(labels == r).tolist()
            around = sorted({int(labels[nb]) for u in mine for nb in adjacency[u]} - {r})
            for s in around:
                pair = sorted([*mine, *np.flatnonzero(labels == s).tolist()])
                found = _split_costs(pair, w, adjacency, cost)
                if found and found[0] < cost(load[r]) + cost(load[s]) - 1e-9:
                    part = found[1]
                    for u in pair:
                        labels[u] = r if u in part else s
                    moved = True
                    break
            if moved:
                break
        if not moved:
            break
    return labels


def imbalance(
    labels: np.ndarray, weights: np.ndarray, bounds: tuple[float, float]
) -> tuple[int, float]:
    """Return (regions outside bounds, sum of squared deviations from the mean) of a labelling."""
    load = np.bincount(labels, weights=weights.astype(float))
    outside = int(((load < bounds[0]) | (load > bounds[1])).sum())
    return outside, float(((load - load.mean()) ** 2).sum())


def is_connected(units: Sequence[int], adjacency: Adjacency) -> bool:
    """Return whether the units form one connected piece of the adjacency graph."""
    members = set(units)
    return not members or len(_reach(next(iter(members)), members, adjacency)) == len(members)
