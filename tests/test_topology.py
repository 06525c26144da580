"""The editing operations of gridmap.grids.topology on squares one can check by hand.

A community of 200 m × 200 m near Nanjing (0.002° of longitude is about 189 m there, of
latitude about 222 m), tiled by three grids:

    +---------+
    |    C    |      C: the top half
    +----+----+
    | A  | B  |      A, B: the bottom quarters
    +----+----+

Every operation must leave a valid coverage (no overlap, no gap, shared borders matched
vertex for vertex), except the one that is asked to leave a gap.
"""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from shapely.geometry import LineString, Polygon, box

from gridmap.errors import GeometryError, InputError
from gridmap.grids import topology as T

X, Y, D = 118.78, 32.05, 0.001
GRID = 1e-7


def snap(g):
    return shapely.set_precision(shapely.MultiPolygon(shapely.get_parts(g)), GRID)


def community() -> Polygon:
    return box(X, Y, X + 2 * D, Y + 2 * D)


def plan() -> T.Plan:
    a = box(X, Y, X + D, Y + D)
    b = box(X + D, Y, X + 2 * D, Y + D)
    c = Polygon(
        [(X, Y + D), (X + D, Y + D), (X + 2 * D, Y + D), (X + 2 * D, Y + 2 * D), (X, Y + 2 * D)]
    )
    return T.Plan(
        {"A": snap(a), "B": snap(b), "C": snap(c)},
        {"A": "K", "B": "K", "C": "K"},
        {"K": snap(community())},
        "EPSG:32650",
    )


def overlap_and_gap(p: T.Plan) -> tuple[float, float]:
    """Return the overlap and the gap of the plan's grids in the community, square metres."""
    geoms = list(p.grids.values())
    union = shapely.union_all(geoms)
    overlap = sum(p.area_m2(g) for g in geoms) - p.area_m2(union)
    gap = p.area_m2(shapely.difference(p.communities["K"], union))
    return overlap, gap


def assert_tiles(p: T.Plan) -> None:
    overlap, gap = overlap_and_gap(p)
    assert abs(overlap) < 0.01 and gap < 0.01, (overlap, gap)
    assert shapely.coverage_is_valid(np.asarray(list(p.grids.values()), dtype=object))


def vertices(g) -> set[tuple[float, float]]:
    return {(round(x, 7), round(y, 7)) for x, y in shapely.get_coordinates(g)}


def test_moving_a_shared_vertex_outward_moves_it_for_the_neighbour():
    p = plan()
    new = (X + 1.3 * D, Y)
    outline = Polygon([(X, Y), new, (X + D, Y + D), (X, Y + D)])
    edit = T.reshape(p, "A", outline)
    assert set(edit.changed) == {"A", "B"}
    after = edit.apply(p)
    assert (round(new[0], 7), round(new[1], 7)) in vertices(after.grids["B"])
    # A grew by the triangle (0.3 D × D / 2) that B lost
    grew = after.area_m2(after.grids["A"]) - p.area_m2(p.grids["A"])
    lost = p.area_m2(p.grids["B"]) - after.area_m2(after.grids["B"])
    assert grew == pytest.approx(lost, abs=0.01) and grew > 1500  # 28 m × 111 m / 2
    assert_tiles(after)


def test_moving_it_inward_gives_the_ground_to_the_neighbour():
    p = plan()
    outline = Polygon([(X, Y), (X + 0.7 * D, Y), (X + D, Y + D), (X, Y + D)])
    edit = T.reshape(p, "A", outline)
    after = edit.apply(p)
    assert p.area_m2(after.grids["B"]) > p.area_m2(p.grids["B"]) + 1500
    assert not edit.notes  # nothing left as a gap
    assert_tiles(after)


def test_shrinking_at_the_community_edge_leaves_a_gap_and_says_so():
    p = plan()
    outline = box(X + 0.1 * D, Y, X + D, Y + D)  # away from the community's west edge
    edit = T.reshape(p, "A", outline)
    after = edit.apply(p)
    gap = overlap_and_gap(after)[1]
    assert gap == pytest.approx(p.area_m2(box(X, Y, X + 0.1 * D, Y + D)), rel=1e-3)
    assert any("gap" in en and "空隙" in zh for en, zh in edit.notes)


def test_an_outline_reaching_outside_the_community_is_cut_to_it():
    p = plan()
    edit = T.reshape(p, "A", box(X - D, Y - D, X + D, Y + D))
    # cut to the community it is A as it was: nothing to write
    assert "A" not in edit.changed
    assert any("outside the community" in en for en, _ in edit.notes)


def test_a_drawn_grid_takes_its_ground_from_every_grid_it_covers():
    p = plan()
    edit = T.draw(p, "N", box(X + 0.5 * D, Y + 0.5 * D, X + 1.5 * D, Y + 1.5 * D), "K")
    assert edit.added == ("N",) and set(edit.changed) == {"N", "A", "B", "C"}
    after = edit.apply(p)
    assert after.community_of["N"] == "K"
    assert after.area_m2(after.grids["N"]) == pytest.approx(p.area_m2(p.grids["A"]), rel=1e-3)
    assert_tiles(after)


def test_a_self_intersecting_outline_is_refused():
    bowtie = Polygon([(X, Y), (X + D, Y + D), (X + D, Y), (X, Y + D)])
    with pytest.raises(GeometryError, match="cross itself"):
        T.draw(plan(), "N", bowtie, "K")


def test_a_split_cuts_a_grid_in_two_along_the_line():
    p = plan()
    line = LineString([(X + D, Y + 2.5 * D), (X + D, Y + 0.5 * D)])
    edit = T.split(p, "C", line, "D")
    assert edit.added == ("D",) and edit.lineage == (
        {"op": "split", "from": ["C"], "to": ["C", "D"]},
    )
    after = edit.apply(p)
    halves = [after.area_m2(after.grids[c]) for c in ("C", "D")]
    assert halves[0] == pytest.approx(halves[1], rel=1e-3)
    assert_tiles(after)


def test_a_split_adds_the_cut_vertex_to_the_neighbour_across_the_border():
    p = plan()
    line = LineString([(X - 0.1 * D, Y + 0.5 * D), (X + D, Y + 0.5 * D)])  # ends on B's edge
    edit = T.split(p, "A", line, "S")
    assert "B" in edit.changed
    assert (X + D, Y + 0.5 * D) in vertices(edit.changed["B"])
    assert_tiles(edit.apply(p))


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (LineString([(X + 3 * D, Y), (X + 3 * D, Y + 3 * D)]), "does not cut"),
        (LineString([(X + 0.2 * D, Y + 0.2 * D), (X + 0.8 * D, Y + 0.8 * D)]), "does not cut"),
        # cuts A's south-west corner off (5 m by 5 m), then turns back in and ends inside
        (
            LineString(
                [
                    (X - 0.05 * D, Y + 0.1 * D),
                    (X + 0.1 * D, Y - 0.05 * D),
                    (X + 0.5 * D, Y + 0.5 * D),
                ]
            ),
            "ends inside",
        ),
        # across the corner, edge to edge, but only 13 m² of a 10,500 m² grid
        (LineString([(X - 0.01 * D, Y + 0.06 * D), (X + 0.06 * D, Y - 0.01 * D)]), "cuts only"),
        # edge to edge, 88 m²: under 1 % of the grid (105 m²)
        (LineString([(X - 0.01 * D, Y + 0.14 * D), (X + 0.14 * D, Y - 0.01 * D)]), "cuts only"),
        (
            LineString(
                [
                    (X + 0.3 * D, Y - D),
                    (X + 0.3 * D, Y + 2 * D),
                    (X + 0.6 * D, Y + 2 * D),
                    (X + 0.6 * D, Y - D),
                ]
            ),
            "must cross grid A once, from edge to edge: .* into 3 pieces",
        ),
    ],
)
def test_a_split_line_that_does_not_cut_in_two_is_refused(line, says):
    with pytest.raises(GeometryError, match=says):
        T.split(plan(), "A", line, "S")


def test_a_merge_of_neighbours_and_of_grids_that_only_touch_at_a_corner():
    p = plan()
    edit = T.merge(p, ["A", "B"])
    assert edit.removed == ("B",) and edit.lineage[0]["to"] == ["A"]
    after = edit.apply(p)
    assert len(shapely.get_parts(after.grids["A"])) == 1
    assert_tiles(after)
    four = T.split(after, "C", LineString([(X + D, Y + 2.5 * D), (X + D, Y + 0.5 * D)]), "D")
    corner = four.apply(after)
    corner = T.split(corner, "A", LineString([(X + D, Y - D), (X + D, Y + 1.5 * D)]), "E").apply(
        corner
    )
    west_south = next(c for c in ("A", "E") if corner.grids[c].bounds[0] < X + 0.5 * D)
    east_north = next(c for c in ("C", "D") if corner.grids[c].bounds[0] > X + 0.5 * D)
    with pytest.raises(InputError, match="share a border"):
        T.merge(corner, [west_south, east_north])


def test_a_merge_keeps_the_code_of_the_grid_with_the_most_households_whichever_came_first():
    p = plan()
    edit = T.merge(p, ["B", "A"], {"A": 300, "B": 120})
    assert edit.removed == ("B",) and set(edit.changed) >= {"A"} and "B" not in edit.changed
    assert edit.lineage[0] == {"op": "merge", "from": ["B", "A"], "to": ["A"]}
    assert T.merge(p, ["A", "B"], {"A": 100, "B": 120}).lineage[0]["to"] == ["B"]
    # as many households (or none known): the lowest code, the oldest grid
    assert T.merge(p, ["B", "A"], {"A": 200, "B": 200}).lineage[0]["to"] == ["A"]
    assert T.merge(p, ["B", "A"]).removed == ("B",)


def test_delete_leaves_a_gap_or_gives_the_ground_to_the_neighbours():
    p = plan()
    gap = T.delete(p, "B").apply(p)
    assert overlap_and_gap(gap)[1] == pytest.approx(p.area_m2(p.grids["B"]), rel=1e-3)
    given_away = T.delete(p, "B", to_neighbours=True)
    after = given_away.apply(p)
    assert "B" not in after.grids
    assert_tiles(after)


def test_give_hands_an_overlap_or_a_gap_to_the_chosen_grid():
    p = plan()
    piece = box(X, Y, X + 0.5 * D, Y + 0.5 * D)
    after = T.give(p, piece, "B").apply(p)
    assert after.area_m2(shapely.intersection(after.grids["B"], piece)) == pytest.approx(
        p.area_m2(piece), rel=1e-3
    )
    assert_tiles(after)
    # a gap: delete A, then give its ground to C
    holed = T.delete(p, "A").apply(p)
    filled = T.give(holed, p.grids["A"], "C").apply(holed)
    assert_tiles(filled)


def test_an_unknown_grid_is_named():
    with pytest.raises(InputError, match="no grid 'Z'"):
        T.reshape(plan(), "Z", box(X, Y, X + D, Y + D))


# -- a property: whatever the planner does, the plan stays a coverage ---------------------------

_FRACTION = st.floats(min_value=0.05, max_value=0.95)


@st.composite
def operations(draw):
    kind = draw(st.sampled_from(["reshape", "draw", "split", "merge", "give", "delete"]))
    fx, fy, gx, gy = (draw(_FRACTION) for _ in range(4))
    x0, x1 = sorted((X + 2 * D * fx, X + 2 * D * gx))
    y0, y1 = sorted((Y + 2 * D * fy, Y + 2 * D * gy))
    return kind, (x0, y0, max(x1, x0 + D * 0.05), max(y1, y0 + D * 0.05)), draw(st.integers(0, 9))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operations(), min_size=1, max_size=6))
def test_random_edits_never_open_an_overlap_or_a_gap(ops):
    p = plan()
    made = 0
    for kind, (x0, y0, x1, y1), pick in ops:
        codes = sorted(p.grids)
        code = codes[pick % len(codes)]
        try:
            if kind == "reshape":
                edit = T.reshape(p, code, shapely.union(p.grids[code], box(x0, y0, x1, y1)))
            elif kind == "draw":
                made += 1
                edit = T.draw(p, f"N{made}", box(x0, y0, x1, y1), "K")
            elif kind == "split":
                made += 1
                edit = T.split(p, code, LineString([(x0, Y - D), (x1, Y + 3 * D)]), f"S{made}")
            elif kind == "merge":
                other = codes[(pick + 1) % len(codes)]
                edit = T.merge(p, [code, other])
            elif kind == "give":
                edit = T.give(p, box(x0, y0, x1, y1), code)
            else:
                if len(codes) == 1:
                    continue
                edit = T.delete(p, code, to_neighbours=True)
        except (GeometryError, InputError):
            continue  # refused: the plan stays as it was
        p = edit.apply(p)
        overlap, gap = overlap_and_gap(p)
        assert abs(overlap) < 0.05, (kind, overlap)
        assert gap < 0.05, (kind, gap)
        assert shapely.coverage_is_valid(np.asarray(list(p.grids.values()), dtype=object)), kind


def two_communities() -> T.Plan:
    """Community K (x 0..2D) tiled by A | B, community L (x 2D..3D) by E; B touches E."""
    a = box(X, Y, X + D, Y + D)
    b = box(X + D, Y, X + 2 * D, Y + D)
    e = box(X + 2 * D, Y, X + 3 * D, Y + D)
    return T.Plan(
        {"A": snap(a), "B": snap(b), "E": snap(e)},
        {"A": "K", "B": "K", "E": "L"},
        {"K": snap(box(X, Y, X + 2 * D, Y + D)), "L": snap(e)},
        "EPSG:32650",
    )


def test_released_ground_goes_only_to_a_grid_of_the_same_community():
    p = two_communities()
    # B borders E (another community) and A equally: its ground may only go to A
    edit = T.delete(p, "B", to_neighbours=True)
    assert "E" not in edit.changed
    after = edit.apply(p)
    assert shapely.equals_exact(
        shapely.normalize(after.grids["E"]), shapely.normalize(p.grids["E"]), 0
    )
    assert after.area_m2(after.grids["A"]) == pytest.approx(p.area_m2(p.communities["K"]), rel=1e-6)


def test_a_grid_shrunk_from_a_community_border_leaves_a_gap_of_its_own_community():
    p = two_communities()
    # B shrinks away from E: only E borders the freed strip, so it stays a gap of K
    edit = T.reshape(p, "B", box(X + D, Y, X + 1.5 * D, Y + D))
    assert "E" not in edit.changed
    after = edit.apply(p)
    assert after.area_m2(shapely.difference(after.grids["E"], p.grids["E"])) < 0.01
    assert any("gap" in en for en, _ in edit.notes)


def corner_plan(b_south: list[tuple[float, float]] | None = None) -> T.Plan:
    """A (K) with B and C (K) north of it and E (community L) east of both: the corner
    (X+D, Y+D) is A's, B's and E's. ``b_south``: B's south edge between its two corners."""
    a = Polygon([(X, Y), (X + D, Y), (X + D, Y + D), (X + 0.7 * D, Y + D), (X, Y + D)])
    b = Polygon(
        [
            (X + 0.7 * D, Y + D),
            *(b_south or []),
            (X + D, Y + D),
            (X + D, Y + 2 * D),
            (X + 0.7 * D, Y + 2 * D),
        ]
    )
    c = box(X, Y + D, X + 0.7 * D, Y + 2 * D)
    e = Polygon([(X + D, Y), (X + 2 * D, Y), (X + 2 * D, Y + 2 * D), (X + D, Y + 2 * D)])
    e = Polygon([*e.exterior.coords[:-1], (X + D, Y + D)])
    return T.Plan(
        {"A": snap(a), "B": snap(b), "C": snap(c), "E": snap(e)},
        {"A": "K", "B": "K", "C": "K", "E": "L"},
        {"K": snap(box(X, Y, X + D, Y + 2 * D)), "L": snap(e)},
        "EPSG:32650",
    )


#: A's corner shared with B and E dragged into A: the ground freed borders E (another
#: community) for 111 m and B for 33 m.
CORNER_DRAGGED = Polygon(
    [(X, Y), (X + D, Y), (X + 0.8 * D, Y + 0.6 * D), (X + 0.7 * D, Y + D), (X, Y + D)]
)


@pytest.mark.parametrize(
    "b_south",
    [None, [(X + 0.85 * D, Y + D + 3e-7)]],
    ids=["matched", "three-cells-apart"],
)
def test_ground_freed_at_a_community_border_goes_to_the_same_community_neighbour(b_south):
    p = corner_plan(b_south)
    freed = shapely.difference(p.grids["A"], snap(CORNER_DRAGGED))
    edit = T.reshape(p, "A", CORNER_DRAGGED)
    assert not edit.notes  # no gap: the ground went to B, the only grid of K it borders
    assert set(edit.changed) == {"A", "B"}  # E (and C) unchanged: not rewritten at all
    after = edit.apply(p)
    gained = p.area_m2(after.grids["B"]) - p.area_m2(p.grids["B"])
    assert gained == pytest.approx(p.area_m2(freed), rel=1e-3) and gained > 1500
    assert (
        after.area_m2(
            shapely.difference(
                p.communities["K"], shapely.union_all([after.grids[c] for c in "ABC"])
            )
        )
        < 0.01
    )
    assert shapely.coverage_is_valid(np.asarray(list(after.grids.values()), dtype=object))


def test_a_grid_that_comes_out_as_it_was_is_not_in_the_edit():
    p = plan()
    edit = T.reshape(p, "A", p.grids["A"])
    assert edit.changed == {} and not edit.notes


# -- replace: a community drawn anew -------------------------------------------------------------


def test_a_replace_fills_the_gap_its_old_grids_left():
    p = T.delete(plan(), "C").apply(plan())  # the top half is a gap now
    left, right = box(X, Y, X + D, Y + 2 * D), box(X + D, Y, X + 2 * D, Y + 2 * D)
    edit = T.replace(p, "K", {"P": left, "Q": right})
    assert set(edit.added) == {"P", "Q"} and set(edit.removed) == {"A", "B"}
    after = edit.apply(p)
    assert set(after.grids) == {"P", "Q"}
    assert_tiles(after)
    assert abs(after.area_m2(after.grids["P"]) - p.area_m2(snap(left))) < 0.01


def neighbour_plan() -> T.Plan:
    """K as in :func:`plan` with one grid A, and community L east of it whose grid N reaches
    D/5 into K (a grid outside its community: the checks report it, a replace respects it)."""
    k = community()
    el = box(X + 2 * D, Y, X + 3 * D, Y + 2 * D)
    n = box(X + 1.8 * D, Y, X + 3 * D, Y + 2 * D)
    a = box(X, Y, X + D, Y + D)
    return T.Plan(
        {"A": snap(a), "N": snap(n)},
        {"A": "K", "N": "L"},
        {"K": snap(k), "L": snap(el)},
        "EPSG:32650",
    )


def test_a_replace_leaves_what_other_communities_grids_hold():
    p = neighbour_plan()
    edit = T.replace(p, "K", {"P": community()})
    after = edit.apply(p)
    assert (
        "N" not in edit.changed
        or after.area_m2(shapely.symmetric_difference(after.grids["N"], p.grids["N"])) < 0.01
    )
    assert shapely.coverage_is_valid(np.asarray(list(after.grids.values()), dtype=object))
    expected = shapely.difference(p.communities["K"], p.grids["N"])
    assert after.area_m2(shapely.symmetric_difference(after.grids["P"], expected)) < 0.01


def test_a_replace_refuses_a_new_grid_with_no_ground():
    p = neighbour_plan()
    strip = box(X + 1.85 * D, Y, X + 2 * D, Y + 2 * D)  # all of it held by N
    with pytest.raises(GeometryError) as err:
        T.replace(p, "K", {"P": box(X, Y, X + 1.8 * D, Y + 2 * D), "S": strip})
    assert "S" in err.value.message and "社区" in err.value.message


def test_a_new_grid_that_comes_out_empty_is_not_added():
    from gridmap.grids.ground import result

    edit = result(plan(), {"Z": shapely.MultiPolygon()}, added=("Z",))
    assert edit.added == () and "Z" not in edit.changed
    assert any("Z" in en for en, _zh in edit.notes)
