"""Grid partition on tiny cases one can check by hand: blocks, regions, polygons."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gridmap.grids import blocks, partition, regions

# A 200 m square cut by a north-south and an east-west street into four 100 m blocks.
AREA = shapely.box(0, 0, 200, 200)
CROSS = [shapely.LineString([(100, -10), (100, 210)]), shapely.LineString([(-10, 100), (210, 100)])]


def path(n: int) -> list[set[int]]:
    """Adjacency of n units in a row."""
    return [{j for j in (i - 1, i + 1) if 0 <= j < n} for i in range(n)]


def test_street_blocks_tile_the_area():
    faces = blocks.street_blocks(AREA, CROSS)
    assert len(faces) == 4
    assert sorted(f.area for f in faces) == pytest.approx([10_000] * 4)
    assert shapely.union_all(faces).equals(AREA)


def test_adjacency_needs_a_shared_side_not_a_corner():
    faces = blocks.street_blocks(AREA, CROSS)
    nbrs = blocks.adjacency(faces)
    assert all(len(n) == 2 for n in nbrs)  # diagonal blocks only meet at the centre point


def test_grow_and_rebalance_on_a_row():
    w = np.ones(6)
    xy = np.column_stack([np.arange(6) * 10.0, np.zeros(6)])
    labels = regions.grow(w, path(6), xy, 2)
    assert sorted(np.bincount(labels).tolist()) == [3, 3]
    assert regions.is_connected(np.flatnonzero(labels == 0).tolist(), path(6))
    skewed = np.array([0, 0, 0, 0, 0, 1])
    assert np.bincount(regions.rebalance(skewed, w, path(6))).tolist() == [3, 3]


def test_rebalance_swaps_across_a_border():
    # 0-1-2-3 in a row, weights 1, 5, 5, 1: regions {0,1} and {2,3} are 6 and 6 already;
    # from {0,1,2} / {3} (11 vs 1) a move of unit 2 gives 6 / 6
    w = np.array([1.0, 5.0, 5.0, 1.0])
    labels = regions.rebalance(np.array([0, 0, 0, 1]), w, path(4))
    assert labels.tolist() == [0, 0, 1, 1]


def test_make_connected_gives_detached_pieces_away():
    # unit 2 belongs to region 0 but only touches region 1's unit 1
    labels = regions.make_connected(np.array([0, 1, 0]), np.array([5.0, 1.0, 1.0]), path(3))
    assert labels.tolist() == [0, 1, 1]


def test_imbalance_counts_regions_outside_bounds():
    outside, spread = regions.imbalance(
        np.array([0, 0, 1]), np.array([200.0, 200.0, 100.0]), (300, 500)
    )
    assert outside == 1 and spread == pytest.approx(2 * 150.0**2)


def _buildings() -> np.ndarray:
    """One small building in the middle of each block, plus a second in the north-east block."""
    return np.array(
        [
            shapely.box(40, 40, 60, 60),
            shapely.box(140, 40, 160, 60),
            shapely.box(40, 140, 60, 160),
            shapely.box(130, 130, 145, 145),
            shapely.box(160, 160, 175, 175),
        ],
        dtype=object,
    )


def test_street_units_cut_heavy_blocks_and_absorb_empty_ones():
    w = np.array([100.0, 100.0, 0.0, 150.0, 150.0])  # north-west block empty, north-east heavy
    units = partition.street_units(AREA, CROSS, _buildings(), w, max_weight=200, target=150)
    # the north-east block (300) is cut in two; the empty north-west block joins a neighbour
    assert len(units.polygons) == 4
    assert sorted(units.weights.tolist()) == [100.0, 100.0, 150.0, 150.0]
    assert sum(p.area for p in units.polygons) == pytest.approx(40_000)
    assert shapely.union_all(units.polygons).area == pytest.approx(40_000)
    assert units.building_unit[3] != units.building_unit[4]


def test_region_polygons_tile_and_keep_buildings_whole():
    w = np.array([100.0, 100.0, 100.0, 100.0, 100.0])
    bldg = _buildings()
    units = partition.street_units(AREA, CROSS, bldg, w, max_weight=500, target=400)
    members = np.arange(len(units.polygons))
    labels = partition.balanced_regions(units, 2, members, (150, 350))
    polys, building_region = partition.region_polygons(units, labels, members, bldg, AREA)
    assert len(polys) == 2
    assert sum(p.area for p in polys) == pytest.approx(40_000)
    assert shapely.intersection(polys[0], polys[1]).area == pytest.approx(0, abs=1e-6)
    for i, b in enumerate(bldg):
        assert polys[building_region[i]].contains(b)
    loads = np.bincount(building_region, weights=w)
    assert sorted(loads.tolist()) == [200.0, 300.0]


def test_reading_order_is_rows_north_to_south():
    cells = [shapely.box(x, y, x + 10, y + 10) for y in (0, 10) for x in (0, 10)]  # SW, SE, NW, NE
    assert partition.reading_order(cells) == [2, 3, 0, 1]


def test_street_units_drop_empty_slivers_that_border_nothing():
    # three lanes meeting in a 20 cm triangle inside the south-west block: a face of 0.02 m²
    # whose sides (68 cm in all) are too short to make it anyone's neighbour. A region would
    # take it as a detached piece, so it is dropped (a stored community's outline left such
    # slivers, and grids came out in two pieces).
    tri = [(50, 50), (50.2, 50), (50, 50.2)]
    lanes = [shapely.LineString([tri[i], tri[(i + 1) % 3]]) for i in range(3)]
    w = np.array([100.0, 100.0, 100.0, 100.0, 100.0])
    bldg = _buildings()
    bldg[0] = shapely.box(20, 20, 40, 40)  # the building beside the triangle, not on it
    units = partition.street_units(AREA, [*CROSS, *lanes], bldg, w, max_weight=500, target=400)
    assert len(units.polygons) == 4 and all(units.neighbours)
    assert sum(p.area for p in units.polygons) == pytest.approx(40_000 - 0.02, abs=1e-3)
