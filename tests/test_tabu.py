"""Tabu search and the rebalance on small block graphs whose answer one can reason about."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings

from gridmap.grids import improve, objective, partition, rebalance, regions, tabu

BOUNDS = (320.0, 480.0)


def path(n: int) -> list[set[int]]:
    """Adjacency of n units in a row."""
    return [{j for j in (i - 1, i + 1) if 0 <= j < n} for i in range(n)]


def lattice(rows: int, cols: int) -> list[set[int]]:
    """Adjacency of a rows x cols grid of units (rook moves), numbered row by row."""
    adj: list[set[int]] = [set() for _ in range(rows * cols)]
    for i in range(rows):
        for j in range(cols):
            u = i * cols + j
            if i + 1 < rows:
                adj[u].add(u + cols)
                adj[u + cols].add(u)
            if j + 1 < cols:
                adj[u].add(u + 1)
                adj[u + 1].add(u)
    return adj


def connected(labels: np.ndarray, adj: list[set[int]]) -> bool:
    return all(
        tabu.is_connected(set(np.flatnonzero(labels == r).tolist()), adj) for r in set(labels)
    )


def test_articulation_points_of_a_row_and_a_ring():
    assert tabu.articulation_points({0, 1, 2, 3}, path(4)) == {1, 2}
    ring = [{(i - 1) % 5, (i + 1) % 5} for i in range(5)]
    assert tabu.articulation_points(set(range(5)), ring) == set()
    # a star: only the centre holds it together
    star = [{1, 2, 3}, {0}, {0}, {0}]
    assert tabu.articulation_points({0, 1, 2, 3}, star) == {0}
    # members only: in {0, 1, 3} of a row, 0-1 and 3 are apart already; none is a cut vertex
    assert tabu.articulation_points({0, 1, 2}, path(4)) == {1}


def test_a_row_of_four_200s_becomes_two_grids_of_400():
    w = np.full(4, 200.0)
    found = tabu.tabu_regions(w, path(4), np.array([0, 0, 0, 1]), 400, BOUNDS)
    assert sorted(np.bincount(found.labels, weights=w).tolist()) == [400.0, 400.0]
    assert found.objective == 0.0
    assert connected(found.labels, path(4))


def test_never_worse_than_the_start():
    w = np.full(4, 200.0)
    start = np.array([0, 0, 1, 1])  # already optimal: kept
    found = tabu.tabu_regions(w, path(4), start, 400, BOUNDS)
    assert found.labels.tolist() == start.tolist()
    assert found.objective == 0.0


def test_a_tower_is_alone_and_reported():
    w = np.array([200.0, 200.0, 900.0, 200.0, 200.0])
    found = tabu.tabu_regions(w, path(5), np.array([0, 0, 0, 1, 1]), 400, BOUNDS)
    assert found.towers == (2,)
    tower = found.labels[2]
    assert (found.labels == tower).sum() == 1
    assert sorted(np.bincount(found.labels, weights=w).tolist()) == [400.0, 400.0, 900.0]


def test_compactness_prefers_the_shorter_border():
    # an empty block between two grids of 400 joins the one it shares the longer border with
    w = np.array([400.0, 0.0, 400.0])
    lengths = {(0, 1): 10.0, (1, 2): 1.0}
    found = tabu.tabu_regions(w, path(3), np.array([0, 1, 1]), 400, BOUNDS, lengths=lengths)
    assert found.labels.tolist() == [0, 0, 1]
    assert found.objective == 0.0
    assert found.score == pytest.approx(tabu.COMPACTNESS * 1.0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.integers(2, 6),
    cols=st.integers(2, 6),
    seed=st.integers(0, 10_000),
    drop=st.floats(0.0, 0.3),
)
def test_tabu_never_breaks_contiguity(rows, cols, seed, drop):
    rng = np.random.default_rng(seed)
    adj = lattice(rows, cols)
    for u in range(len(adj)):  # drop some streets' crossings, symmetrically
        for v in sorted(adj[u]):
            if u < v and rng.random() < drop:
                adj[u].discard(v)
                adj[v].discard(u)
                if not tabu.is_connected(set(range(len(adj))), adj):  # keep one district
                    adj[u].add(v)
                    adj[v].add(u)
    w = rng.integers(0, 300, rows * cols).astype(float)
    xy = np.array([(j, -i) for i in range(rows) for j in range(cols)], dtype=float)
    k = max(1, round(w.sum() / 400))
    start = regions.make_connected(partition.bisect(xy, w, min(k, len(w))), w, adj)
    assert connected(start, adj)
    found = tabu.tabu_regions(w, adj, start, 400, BOUNDS, max_iterations=60)
    assert connected(found.labels, adj)
    assert set(found.labels.tolist()) == set(range(int(found.labels.max()) + 1))
    start_value = objective.objective(np.bincount(start, weights=w), 400, BOUNDS)
    assert found.objective <= start_value + tabu.COMPACTNESS * 4 * len(w)  # score never up


def test_rebalance_finds_the_single_move():
    # grids of 600 and 200 in a row of 200, 200, 200 | 100, 100: giving block 2 over fixes both
    w = np.array([200.0, 200.0, 200.0, 100.0, 100.0])
    found = rebalance.fewest_moves(w, path(5), np.array([0, 0, 0, 1, 1]), 400, (300, 500))
    assert found.method == "exhaustive"
    assert [(m.unit, m.source, m.target, m.weight) for m in found.moves] == [(2, 0, 1, 200.0)]
    assert found.after.tolist() == [400.0, 400.0]


def test_rebalance_needs_a_chain_of_two():
    # A 600 | B 400 | C 200 in a row of 200s: one move cannot fix A and C at once, two can
    w = np.full(6, 200.0)
    labels = np.array([0, 0, 0, 1, 1, 2])
    found = rebalance.fewest_moves(w, path(6), labels, 400, (300, 500))
    assert found.method == "exhaustive"
    assert len(found.moves) == 2
    assert found.outside((300, 500)) == 0
    lab = labels.copy()
    for m in found.moves:  # each move keeps the grid it leaves connected
        lab[m.unit] = m.target
        assert connected(lab, path(6))


def test_rebalance_leaves_a_plan_in_range_alone_and_reports_towers():
    w = np.array([400.0, 900.0, 400.0])
    found = rebalance.fewest_moves(w, path(3), np.array([0, 1, 2]), 400, (300, 500))
    assert found.moves == () and found.method == "none" and found.towers == (1,)


def test_rebalance_by_tabu_when_many_grids_are_off():
    rng = np.random.default_rng(1)
    adj = lattice(12, 12)
    w = rng.integers(4, 28, 144).astype(float)
    labels = np.array([(i // 3) * 4 + (j // 3) for i in range(12) for j in range(12)])
    bounds = (140.0, 160.0)
    found = rebalance.fewest_moves(w, adj, labels, 150, bounds, budget=2_000)
    assert found.outside(bounds) < found.outside(bounds, found.before)
    lab = labels.copy()
    for m in found.moves:
        assert lab[m.unit] == m.source
        lab[m.unit] = m.target
    assert connected(lab, adj)
    assert np.bincount(lab, weights=w).tolist() == found.after.tolist()


def test_improve_keeps_the_start_when_tabu_draws_worse(monkeypatch):
    # two squares side by side, one building each: tabu "finds" a worse labelling; the guard
    # keeps the heuristic's polygons
    squares = np.array([shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)], dtype=object)
    units = partition.Units(
        squares, np.array([400.0, 400.0]), np.array([0, 1]), [{1}, {0}], np.zeros((2, 2))
    )
    buildings = np.array([shapely.box(2, 2, 4, 4), shapely.box(12, 2, 14, 4)], dtype=object)
    area = shapely.box(0, 0, 20, 10)
    hh = np.array([400.0, 400.0])
    start = improve.draw(
        units, np.array([0, 1]), np.arange(2), buildings, area, hh, 400, BOUNDS, 10
    )
    worse = tabu.TabuResult(np.array([0, 0]), 400.0, 400.0, 1, (), (1,))
    monkeypatch.setattr(tabu, "tabu_regions", lambda *a, **k: worse)
    kept = improve.improve(units, start, np.arange(2), buildings, area, hh, 400, BOUNDS, 10)
    assert kept.labels.tolist() == [0, 1] and not kept.improved
    assert start.score < 1.0  # both grids exactly 400: only the 10 m inner border counts
