"""The improvement stage of a community's grids: tabu search on its units, kept only if the
polygons it makes score better than the heuristic's.

The tabu search (:mod:`gridmap.grids.tabu`) works on unit weights; the polygons then hold
whole buildings, and a building spanning two units goes with one of them, so the households
of the final grids can differ from the units' sums. Both partitions are therefore turned into
polygons (:func:`gridmap.grids.partition.region_polygons`) and scored on what the polygons
hold: :func:`gridmap.grids.objective.objective` of their households plus
:data:`gridmap.grids.tabu.COMPACTNESS` per metre of border between grids and
:data:`OFF_STREET` more per metre of it that runs off the streets, between buildings
(``Units.off_street``). The tabu search scores the same. Geometry is in the community's
metric CRS (metres).

Why :data:`OFF_STREET` is 0.3: a grid a household outside the range costs 11 in the score, so
the search gives a grid's range up only to save some 37 m of border per household; within
the range, 0.3 is the weight at which the objective stays below what the search without it
reached, on the three extracts of ``scripts/bench_partition_methods.py`` (docs/benchmarks.md,
issue 8), while the share of border on a street rises most.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.grids import objective, partition, tabu

#: Households a metre of border between buildings (off the streets) is worth in the score, on
#: top of :data:`gridmap.grids.tabu.COMPACTNESS` (see the module).
OFF_STREET = 0.3


@dataclass(frozen=True)
class Drawn:
    """A community's grids: unit labels, polygons, each building's grid, and the score."""

    labels: np.ndarray
    polygons: list[BaseGeometry]
    building_region: np.ndarray
    score: float
    towers: tuple[int, ...] = ()
    improved: bool = False


def draw(
    units: partition.Units,
    labels: np.ndarray,
    members: np.ndarray,
    buildings: np.ndarray,
    area: BaseGeometry,
    weights: np.ndarray,
    target: float,
    bounds: tuple[float, float],
    penalty: float,
) -> Drawn:
    """Return the polygons of ``labels`` (one per unit of ``members``) and their score."""
    polys, b_region = partition.region_polygons(units, labels, members, buildings, area, weights)
    loads = np.asarray(
        [float(weights[b_region == g].sum()) for g, p in enumerate(polys) if not p.is_empty],
        dtype=float,
    )
    value = objective.objective(loads, target, bounds, penalty)
    perimeter = float(sum(p.length for p in polys))
    inner = max(0.0, (perimeter - area.boundary.length) / 2.0)
    off = off_street_cut(units, labels, members)
    return Drawn(labels, polys, b_region, value + tabu.COMPACTNESS * inner + OFF_STREET * off)


def off_street_cut(units: partition.Units, labels: np.ndarray, members: np.ndarray) -> float:
    """Return the metres of border between regions of ``labels`` (one per unit of
    ``members``) that run off the streets, between buildings (``units.off_street``)."""
    region = dict(zip(members.tolist(), np.asarray(labels).tolist(), strict=True))
    return float(
        sum(
            length
            for (u, v), length in units.off_street.items()
            if u in region and v in region and region[u] != region[v]
        )
    )


def improve(
    units: partition.Units,
    start: Drawn,
    members: np.ndarray,
    buildings: np.ndarray,
    area: BaseGeometry,
    weights: np.ndarray,
    target: float,
    bounds: tuple[float, float],
    penalty: float,
    stop: tabu.Stop | None = None,
) -> Drawn:
    """Return the tabu search's grids from ``start`` if their polygons score better, else
    ``start`` (its towers noted either way).

    Parameters
    ----------
    units, members
        The street units and the community's ones (``start.labels`` is per member).
    buildings, weights
        Footprints (metric CRS) and households of the community's buildings.
    area
        The community's outline (metric CRS).
    target, bounds, penalty
        As for :func:`gridmap.grids.objective.objective`.
    stop
        Ends the search early (the best so far is used).
    """
    local = {int(u): i for i, u in enumerate(members)}
    nbrs = [{local[v] for v in units.neighbours[u] if v in local} for u in members.tolist()]
    lengths = tabu.shared_lengths(units.polygons[members], nbrs)
    # a metre between buildings costs OFF_STREET on top of COMPACTNESS: the tabu scores
    # ``compactness * length``, so the off-street part is weighed in as extra length
    extra = OFF_STREET / tabu.COMPACTNESS
    for (a, b), length in units.off_street.items():
        if a in local and b in local:
            pair = (min(local[a], local[b]), max(local[a], local[b]))
            lengths[pair] = lengths.get(pair, 0.0) + extra * length
    found = tabu.tabu_regions(
        units.weights[members],
        nbrs,
        start.labels,
        target,
        bounds,
        penalty=penalty,
        lengths=lengths,
        stop=stop,
    )
    towers = tuple(int(members[t]) for t in found.towers)
    if np.array_equal(found.labels, start.labels):
        return Drawn(start.labels, start.polygons, start.building_region, start.score, towers)
    drawn = draw(units, found.labels, members, buildings, area, weights, target, bounds, penalty)
    if drawn.score < start.score - 1e-9:
        return Drawn(drawn.labels, drawn.polygons, drawn.building_region, drawn.score, towers, True)
    return Drawn(start.labels, start.polygons, start.building_region, start.score, towers)


def tower_note(units: partition.Units, towers: tuple[int, ...], weight: str) -> tuple[str, str]:
    """Return the note that says which units are towers: alone in a grid, over the range, as
    ``(English, Chinese)``; positions in the units' metric CRS (metres)."""
    loads = ", ".join(f"{units.weights[t]:g}" for t in towers[:5])
    more = "" if len(towers) <= 5 else f" (+{len(towers) - 5} more)"
    more_zh = "" if len(towers) <= 5 else f"（另有 {len(towers) - 5} 个）"
    where = shapely.get_coordinates(shapely.point_on_surface(units.polygons[list(towers[:1])]))
    at = f" the first at ({where[0][0]:.0f}, {where[0][1]:.0f})" if len(where) else ""
    at_zh = f"第一个位于 ({where[0][0]:.0f}, {where[0][1]:.0f})" if len(where) else ""
    zh_weight = {"households": "户数"}.get(weight, weight)
    return (
        f"{len(towers)} street unit(s) hold more {weight} than a grid may ({loads}{more}):"
        f" each is a grid of its own;{at}",
        f"{len(towers)} 个街区单元的{zh_weight}超过一个网格的上限（{loads}{more_zh}），"
        f"各自单独成为一个网格；{at_zh}",
    )


__all__ = ["Drawn", "draw", "improve", "tower_note"]
