"""GridPartition in the one solve shape: tiny cases checked by hand and by enumeration, the
exact MILP against the heuristic, refused results, and the real demo extract."""

from __future__ import annotations

import dataclasses
import importlib.util

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gridmap.errors import InputError
from gridmap.geo.crs import utm_crs
from gridmap.grids import GridPartition, exact, objective, regions
from gridmap.solve import SolveError, Status

#: The exact method solves with HiGHS through scipy, which pyproject.toml does not declare yet.
needs_scipy = pytest.mark.skipif(
    importlib.util.find_spec("scipy") is None, reason="scipy (HiGHS) is not installed"
)

CRS = "EPSG:32650"  # UTM 50N, Nanjing
PREFIX = "320102001"

# Six 100 m street blocks in two rows of three, one building in each:
#     B3 100 | B4 200 | B5 200        (north row)
#     B0 250 | B1 150 | B2 300        (south row)
# 1,200 households make three grids of 400 if the blocks allowed it; they do not: the only
# blocks summing to 400 are B0+B1, B4+B5 and B2+B3, and B2, B3 do not touch. The best grids
# are B0+B3 (350), B1+B2 (450), B4+B5 (400): 50 + 50 + 0 = 100 households off target.
HOUSEHOLDS = [250, 150, 300, 100, 200, 200]
CENTRES = [(50, 50), (150, 50), (250, 50), (50, 150), (150, 150), (250, 150)]
AREA = shapely.box(0, 0, 300, 200)


def six_blocks(households=HOUSEHOLDS):
    streets = gpd.GeoDataFrame(
        {"name": ["一路", "二路", "横街"]},
        geometry=[
            shapely.LineString([(100, -10), (100, 210)]),
            shapely.LineString([(200, -10), (200, 210)]),
            shapely.LineString([(-10, 100), (310, 100)]),
        ],
        crs=CRS,
    )
    buildings = gpd.GeoDataFrame(
        {"households": households},
        geometry=[shapely.box(x - 20, y - 20, x + 20, y + 20) for x, y in CENTRES],
        crs=CRS,
    )
    community = gpd.GeoDataFrame(
        {"code": [f"{PREFIX}001"], "name": ["测试社区"]}, geometry=[AREA], crs=CRS
    )
    return streets, buildings, community


def problem(households=HOUSEHOLDS, **options) -> GridPartition:
    streets, buildings, community = six_blocks(households)
    options = {"unit_max": 10_000, "unit_target": 10_000, **options}
    return GridPartition.from_frames(None, streets, buildings, communities=community, **options)


def brute_force_optimum(weights, neighbours, target=400, bounds=(300, 500)) -> float:
    """The best objective over every partition of the units into connected groups."""
    n = len(weights)

    def partitions(items):
        if not items:
            yield []
            return
        first, rest = items[0], items[1:]
        for smaller in partitions(rest):
            for i in range(len(smaller)):
                yield [*smaller[:i], [first, *smaller[i]], *smaller[i + 1 :]]
            yield [[first], *smaller]

    best = float("inf")
    for groups in partitions(list(range(n))):
        if all(regions.is_connected(g, neighbours) for g in groups):
            loads = np.array([sum(weights[u] for u in g) for g in groups])
            best = min(best, objective.objective(loads, target, bounds))
    return best


GRID_OF_SIX = [{1, 3}, {0, 2, 4}, {1, 5}, {0, 4}, {1, 3, 5}, {2, 4}]  # blocks 0..5 as above


def test_objective_and_bound_by_hand():
    assert objective.objective(np.array([350, 450, 400]), 400, (300, 500)) == 100
    # 250 households below the range of 300: 150 off target + 10 x 50 outside
    assert objective.objective(np.array([250]), 400, (300, 500)) == 150 + 10 * 50
    # 1,200 households in 3 grids can be exactly on target: the bound is 0 at k = 3
    assert objective.lower_bound(np.array(HOUSEHOLDS), 400, (300, 500), 6) == (0.0, 3)
    # a building of 700 households is 300 over the target and 200 over the range in any grid
    bound, _ = objective.lower_bound(np.array([700, 100]), 400, (300, 500), 2)
    assert bound == 300 + 10 * 200


def test_brute_force_agrees_with_the_hand_count():
    assert brute_force_optimum(HOUSEHOLDS, GRID_OF_SIX) == 100


@needs_scipy
def test_exact_method_is_optimal_and_proves_it():
    result = problem().solve(method="exact")
    assert result.status is Status.OPTIMAL and result.gap == 0.0
    assert result.objective == result.bound == 100.0
    grids = result.solution.grids
    assert sorted(grids["households"]) == [350, 400, 450]
    # B0+B3, B1+B2, B4+B5: the grid codes per building say so
    g = list(result.solution.building_grid)
    assert g[0] == g[3] and g[1] == g[2] and g[4] == g[5] and len(set(g)) == 3
    assert result.per_community["bound"].iloc[0] == 100.0


@needs_scipy
def test_exact_regions_match_enumeration_on_random_weights():
    rng = np.random.default_rng(7)
    for _ in range(5):
        w = rng.integers(20, 300, size=6).astype(float)
        found = exact.exact_regions(w, GRID_OF_SIX, w, 400, (300, 500))
        assert found.proven
        assert found.objective == pytest.approx(brute_force_optimum(w, GRID_OF_SIX))
        assert all(
            regions.is_connected(np.flatnonzero(found.labels == g).tolist(), GRID_OF_SIX)
            for g in range(int(found.labels.max()) + 1)
        )


@needs_scipy
def test_exact_needs_as_many_regions_as_pieces():
    # two units that do not touch cannot be one region, whatever the weights
    found = exact.exact_regions(
        np.array([200.0, 200.0]), [set(), set()], np.array([200, 200]), 400, (300, 500)
    )
    assert found.proven and sorted(np.bincount(found.labels).tolist()) == [1, 1]
    assert found.objective == 2 * (200 + 10 * 100)


@needs_scipy
def test_heuristic_against_the_optimum():
    heuristic = problem().solve()
    optimum = problem().solve(method="exact")
    # the heuristic finds the optimum here, but cannot prove it: its bound (0) comes from
    # counting households only, so it says FEASIBLE, not OPTIMAL
    assert heuristic.objective == optimum.objective == 100.0
    assert heuristic.bound == 0.0 and heuristic.status is Status.FEASIBLE
    assert heuristic.gap == 1.0


def test_a_bound_met_is_a_proof():
    # 400 + 400 + 400 with adjacent pairs: B0+B1, B2+B5 (300+100), B3+B4 (100+300)
    result = problem([250, 150, 300, 100, 300, 100]).solve()
    assert sorted(result.solution.grids["households"]) == [400, 400, 400]
    assert result.objective == result.bound == 0.0 and result.status is Status.OPTIMAL


def test_result_tiles_and_frames():
    result = problem().solve()
    frames = result.to_frames()
    grids = frames["grids"]
    assert list(grids["code"]) == [f"{PREFIX}001{n:03d}" for n in (1, 2, 3)]
    assert grids.crs == CRS and grids.geometry.area.sum() == pytest.approx(60_000)
    assert shapely.union_all(grids.geometry.values).equals(AREA)
    assert list(frames["buildings"]["grid_code"]) == list(result.solution.building_grid)
    stored = result.to_frames(storage=True)["grids"]
    assert stored.crs.to_epsg() == 4326 and (stored.geom_type == "MultiPolygon").all()
    assert result.figures()["grids"] == 3 and result.figures()["outside_bounds"] == 0


def _swap(result, **solution_changes):
    """The same result with some of its solution changed: checked anew on creation."""
    solution = dataclasses.replace(result.solution, **solution_changes)
    return dataclasses.replace(result, solution=solution)


def test_a_partition_that_is_not_what_it_claims_raises():
    result = problem().solve()
    grids = result.solution.grids
    with pytest.raises(SolveError, match=r"gap of 100\.00%"):
        dataclasses.replace(result, status=Status.OPTIMAL)
    # a grid in two pieces
    split = grids.copy()
    first = split.geometry.iloc[0]
    split.loc[split.index[0], "geometry"] = shapely.MultiPolygon(
        [first, shapely.box(1000, 1000, 1010, 1010)]
    )
    with pytest.raises(SolveError, match=r"grid 320102001001001 is in 2 pieces"):
        _swap(result, grids=split)
    # a grid dropped: its buildings point at a grid that does not exist, the area has a gap
    with pytest.raises(SolveError, match="uncovered"):
        _swap(result, grids=grids.iloc[1:])
    # two grids overlapping
    grown = grids.copy()
    grown.loc[grown.index[0], "geometry"] = grown.geometry.iloc[0].buffer(30).intersection(AREA)
    with pytest.raises(SolveError, match="overlap"):
        _swap(result, grids=grown)
    # households that do not add up from the buildings
    wrong = grids.copy()
    wrong.loc[wrong.index[0], "households"] += 1
    with pytest.raises(SolveError, match="do not add up"):
        _swap(result, grids=wrong)
    # a building given to a grid that does not hold it
    moved = result.solution.building_grid.copy()
    assert moved[0] != moved[1]
    moved[[0, 1]] = moved[[1, 0]]
    with pytest.raises(SolveError, match="partly outside their grid"):
        _swap(result, building_grid=moved)
    # an objective that the grids do not give
    with pytest.raises(SolveError, match="the result says 90"):
        dataclasses.replace(result, objective=90.0, bound=0.0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s, b, c: (s, b.to_crs(4326), c), "degrees: project them"),
        (lambda s, b, c: (s, b.drop(columns="households"), c), "no 'households' column"),
        (lambda s, b, c: (s, b.assign(households=[1, None, 3, 4, 5, 6]), c), "1 of 6 buildings"),
        (lambda s, b, c: (s, b.assign(households=[1, -2, 3, 4, 5, 6]), c), "1 of 6 buildings"),
        (lambda s, b, c: (s, b.iloc[:0], c), "no buildings"),
        (lambda s, b, c: (s, b, c.assign(code=[None])), "needs a code"),
        (lambda s, b, c: (s, b, c.to_crs(32651)), "different CRS"),
        (
            lambda s, b, c: (
                s,
                b,
                c.set_geometry([shapely.MultiPolygon([AREA, shapely.box(400, 0, 500, 100)])]),
            ),
            "in 2 pieces",
        ),
        (
            lambda s, b, c: (
                s,
                b,
                gpd.GeoDataFrame(
                    {"code": ["a", "b"]}, geometry=[AREA, shapely.box(250, 0, 350, 100)], crs=CRS
                ),
            ),
            "overlap",
        ),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(change, message):
    streets, buildings, community = change(*six_blocks())
    with pytest.raises(InputError, match=message):
        GridPartition.from_frames(None, streets, buildings, communities=community)


def test_bad_options_are_refused():
    streets, buildings, community = six_blocks()
    with pytest.raises(InputError, match="min <= target <= max"):
        GridPartition.from_frames(
            None, streets, buildings, communities=community, bounds=(500, 300)
        )
    with pytest.raises(InputError, match="code prefix"):
        GridPartition.from_frames(AREA, streets, buildings)
    with pytest.raises(InputError, match="not '3201'"):
        GridPartition.from_frames(AREA, streets, buildings, code_prefix="3201")
    with pytest.raises(InputError, match="do not cover the area"):
        GridPartition.from_frames(
            shapely.box(0, 0, 400, 200), streets, buildings, communities=community
        )
    with pytest.raises(InputError, match="Unknown method"):
        problem().solve(method="magic")
    with pytest.raises(InputError, match="positive number of seconds"):
        problem().solve(time_limit=0)


def test_communities_drawn_when_none_are_given():
    streets, buildings, _ = six_blocks()
    result = GridPartition.from_frames(
        AREA, streets, buildings, code_prefix=PREFIX, community_target=600
    ).solve()
    comm = result.solution.communities
    assert list(comm["code"]) == [f"{PREFIX}001", f"{PREFIX}002"]
    assert comm["name"].str.endswith("社区").all()
    assert result.solution.grids["community_code"].isin(comm["code"]).all()
    assert "communities drawn first" in result.notes[0]


# -- the real extract --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_frames(demo_workspace):
    crs = utm_crs(118.79, 32.04)
    return tuple(demo_workspace.read(n).to_crs(crs) for n in ("streets", "buildings", "community"))


def test_demo_communities_split_into_valid_grids(demo_frames):
    streets, buildings, community = demo_frames
    result = GridPartition.from_frames(None, streets, buildings, communities=community).solve()
    assert result.status is Status.FEASIBLE and 0 < result.bound < result.objective
    grids = result.solution.grids
    assert grids["households"].sum() == buildings["households"].sum()
    assert set(grids["community_code"]) == set(community["code"])
    assert (result.solution.building_grid != None).all()  # noqa: E711 - every building placed
    per = result.per_community.set_index("code")
    assert per["objective"].sum() == result.objective and per["bound"].sum() == result.bound
    # the bound is the households' own: 11 grids of 400 leave a community of 4,322 78 short
    assert per.loc["320102001001", "households"] == 4322
    assert per.loc["320102001001", "bound"] == 78.0


def test_demo_time_limit_says_so(demo_frames):
    streets, buildings, community = demo_frames
    p = GridPartition.from_frames(None, streets, buildings, communities=community.iloc[:1])
    result = p.solve(time_limit=1e-3, restarts=5)
    assert result.status is Status.TIME_LIMIT  # the grids are still whole and checked
    assert result.solution.grids["households"].sum() == result.per_community["households"].sum()


def test_demo_restarts_are_seeded(demo_frames):
    streets, buildings, community = demo_frames
    p = GridPartition.from_frames(None, streets, buildings, communities=community.iloc[1:2])
    a, b = p.solve(seed=3, restarts=3), p.solve(seed=3, restarts=3)
    assert list(a.solution.building_grid) == list(b.solution.building_grid)
    assert a.method == "heuristic+3 restarts+tabu"


def test_exact_refuses_large_communities(demo_frames):
    streets, buildings, community = demo_frames
    p = GridPartition.from_frames(None, streets, buildings, communities=community.iloc[:1])
    with pytest.raises(InputError, match="up to 40 street units"):
        p.solve(method="exact")


@needs_scipy
def test_exact_stopped_early_keeps_the_better_heuristic(demo_frames, monkeypatch):
    # a real community of 46 street units: HiGHS finds nothing better in half a second, so the
    # heuristic's grids stay, with the bound HiGHS proved; the result says it was stopped
    monkeypatch.setattr(exact, "MAX_UNITS", 100)
    streets, buildings, community = demo_frames
    p = GridPartition.from_frames(None, streets, buildings, communities=community.iloc[1:2])
    heuristic = p.solve(tabu=False)  # the exact method starts from the heuristic alone
    stopped = p.solve(method="exact", time_limit=0.5)
    assert stopped.status is Status.TIME_LIMIT
    assert stopped.objective == heuristic.objective
    assert heuristic.bound <= stopped.bound <= stopped.objective
