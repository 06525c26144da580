"""Borders on streets: the off-street cost of a border, the shortest cut of a block, and the
rule that picks a border on a street over an equally balanced one between buildings."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gridmap.grids import cuts, improve, partition

BOUNDS = (300.0, 500.0)
# A 200 m square cut by one east-west street (y = 100) into a south and a north block; a
# building of 200 households in each quarter (centres at 50 and 150 m).
AREA = shapely.box(0, 0, 200, 200)
STREET = [shapely.LineString([(-10, 100), (210, 100)])]
CENTRES = [(50, 50), (150, 50), (50, 150), (150, 150)]  # SW, SE, NW, NE
BUILDINGS = np.array([shapely.Point(x, y).buffer(10, quad_segs=1) for x, y in CENTRES])
HOUSEHOLDS = np.full(4, 200.0)


def test_off_street_length_leaves_out_what_runs_near_a_street():
    zone = cuts.street_zone(AREA, np.asarray(STREET, dtype=object))
    across = shapely.LineString([(100, 0), (100, 200)])  # crosses the street and both edges
    along = shapely.LineString([(0, 100), (200, 100)])  # on the street
    off = cuts.outside_length(np.array([across, along]), zone)
    # 200 m less 5 m at each edge and 5 m either side of the street
    assert off[0] == pytest.approx(180.0, abs=1.0)
    assert off[1] == pytest.approx(0.0)


def test_split_cells_takes_the_shorter_of_two_even_cuts():
    # four cells of 100 households in a 2 x 2 block: a cut between the columns runs 2 x 50 m
    # between buildings, one between the rows 2 x 10 m; both halves hold 200 either way
    xy = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    pairs = np.array([[0, 1], [2, 3], [0, 2], [1, 3]])
    graph = cuts.CellGraph(pairs, np.array([50.0, 50.0, 10.0, 10.0]), xy)
    labels = cuts.split_cells(np.full(4, 100.0), graph, 2)
    assert labels[0] == labels[1] and labels[2] == labels[3] and labels[0] != labels[2]
    # with the lengths the other way round the columns are the cheaper cut
    graph = cuts.CellGraph(pairs, np.array([10.0, 10.0, 50.0, 50.0]), xy)
    labels = cuts.split_cells(np.full(4, 100.0), graph, 2)
    assert labels[0] == labels[2] and labels[1] == labels[3] and labels[0] != labels[1]


@pytest.mark.parametrize("lengths", [(50.0, 10.0), (10.0, 50.0), (30.0, 30.0)])
def test_forced_cut_of_a_block_too_heavy_for_one_grid(lengths):
    # a row of three buildings of 300, 100 and 300 households (700, over 500): pieces of at
    # most 500 cut off one end ({0} | {1, 2} or {0, 1} | {2}); the shorter cut is the least
    graph = cuts.CellGraph(np.array([[0, 1], [1, 2]]), np.array(lengths), np.zeros((3, 2)))
    found = cuts.forced_cut(np.array([300.0, 100.0, 300.0]), graph, 500.0)
    assert found.length == pytest.approx(min(lengths))
    assert found.bound == pytest.approx(min(lengths))
    assert found.pieces == 2
    # a block within the range needs no cut
    assert cuts.forced_cut(np.array([200.0, 100.0, 100.0]), graph, 500.0).length == 0.0


def _units() -> partition.Units:
    # each block (400 households) is cut into a west and an east piece between its buildings
    return partition.street_units(
        AREA, np.asarray(STREET, dtype=object), BUILDINGS, HOUSEHOLDS, max_weight=150, target=200
    )


def test_units_know_which_borders_run_between_buildings():
    units = _units()
    sw, se, nw, ne = units.building_unit.tolist()
    assert len(units.polygons) == 4
    pair = lambda a, b: (min(a, b), max(a, b))  # noqa: E731
    # west-east inside a block: 100 m less 5 m at the edge and 5 m at the street
    assert units.off_street[pair(sw, se)] == pytest.approx(90.0, abs=1.0)
    assert units.off_street[pair(nw, ne)] == pytest.approx(90.0, abs=1.0)
    # south-north across the street: on it
    assert units.off_street[pair(sw, nw)] == pytest.approx(0.0)


@pytest.mark.parametrize("weight", [improve.OFF_STREET, 0.0])
def test_the_border_on_the_street_wins_over_an_equally_balanced_one(monkeypatch, weight):
    # two ways to make two grids of 400: west | east (a border of 200 m through both blocks,
    # between buildings) or south | north (200 m along the street). Both are exactly balanced
    # and as long; from west | east the search moves to the street when a metre between
    # buildings costs more than one on a street, and has no reason to when it does not.
    monkeypatch.setattr(improve, "OFF_STREET", weight)
    units = _units()
    _, se, _, ne = units.building_unit.tolist()
    west_east = np.zeros(4, dtype=int)
    west_east[[se, ne]] = 1
    members = np.arange(4)
    fig = (BUILDINGS, AREA, HOUSEHOLDS, 400.0, BOUNDS)
    start = improve.draw(units, west_east, members, *fig, 10.0)
    found = improve.improve(units, start, members, *fig, 10.0)
    grid = found.building_region
    loads = np.bincount(grid, weights=HOUSEHOLDS)
    assert loads.tolist() == [400.0, 400.0]
    if weight:
        assert grid[0] == grid[1] and grid[2] == grid[3] and grid[0] != grid[2]  # S | N
        border = shapely.intersection(found.polygons[0].boundary, found.polygons[1].boundary)
        assert shapely.length(border) == pytest.approx(200.0, abs=1.0)
        assert shapely.hausdorff_distance(border, STREET[0].intersection(AREA)) < 1.0
    else:
        assert grid[0] == grid[2] and grid[1] == grid[3] and not found.improved  # W | E kept
