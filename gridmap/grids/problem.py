"""The automatic grid partition in the one solve shape: :class:`GridPartition`.

Build the problem from plain data in the area's metric CRS (UTM), solve it, read the result::

    problem = GridPartition.from_frames(area, streets, buildings, weight="households",
                                        communities=communities)
    result = problem.solve(time_limit=60)
    result.status, result.objective, result.bound, result.gap
    frames = result.to_frames(storage=True)   # grids, community, buildings' grid_code

The pipeline: street units from street blocks (big blocks cut into pieces of whole buildings,
:func:`gridmap.grids.partition.street_units`); communities, unless given, as balanced regions of
those units; in each community, grids as contiguous balanced regions of units
(:func:`~gridmap.grids.partition.best_regions`, or the exact MILP of
:mod:`gridmap.grids.exact` for small communities), improved by tabu search on units
(:mod:`~gridmap.grids.improve`) then on buildings' cells (:mod:`~gridmap.grids.refine`);
their polygons, which tile the community and hold every building whole; reading order; codes.

What is minimised and the lower bound: :mod:`gridmap.grids.objective`. The heuristic itself
balances by a surrogate (the squared spread of households around the mean, with a penalty
outside the bounds) and is scored by the objective; its status is FEASIBLE unless its objective
meets the bound. Objective and bound are sums over communities, for the communities given or
drawn by the first stage.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.errors import InputError
from gridmap.grids import blocks, codes, exact, improve, inputs, objective, partition, refine
from gridmap.grids.partition_notes import closing_notes
from gridmap.grids.result import GridPartitionResult, GridSolution
from gridmap.solve import (
    ABS_TOLERANCE,
    Deadline,
    Problem,
    Progress,
    Status,
)

#: Street blocks with more households than this are cut into pieces of about
#: :data:`UNIT_TARGET`, so that grids can be balanced from them (a grid is then about 3 units).
UNIT_MAX = 150
UNIT_TARGET = 100
METHODS = ("heuristic", "exact")


@dataclass
class _Community:
    code: str
    name: str
    polygon: BaseGeometry
    units: partition.Units
    members: np.ndarray  # units of ``units`` in the community
    buildings: np.ndarray  # indices into the problem's buildings


class GridPartition(Problem[GridPartitionResult]):
    """Split an area into grids of about ``target`` households, made of whole street blocks.

    Build it with :meth:`from_frames`. Geometry is in the area's metric CRS (metres, m²).

    The feasible solutions are the partitions of the street units (street blocks, heavy
    blocks cut between whole buildings) into connected grids, community by community: the
    objective, the analytic bound and the exact MILP's bound all refer to that set, so an
    OPTIMAL status means optimal among partitions of these units, not among every way of
    drawing lines through the area.
    """

    def __init__(
        self,
        *,
        area: BaseGeometry,
        streets: gpd.GeoDataFrame,
        footprints: np.ndarray,
        weights: np.ndarray,
        building_index: pd.Index,
        crs: Any,
        communities: gpd.GeoDataFrame | None,
        weight_name: str,
        target: float,
        bounds: tuple[float, float],
        community_target: float,
        code_prefix: str | None,
        unit_max: float,
        unit_target: float,
        penalty: float,
        street_borders: bool = True,
    ) -> None:
        self.area = area
        self.streets = streets
        self.footprints = footprints
        self.weights = weights
        self.building_index = building_index
        self.crs = crs
        self.communities = communities
        self.weight_name = weight_name
        self.target = target
        self.bounds = bounds
        self.community_target = community_target
        self.code_prefix = code_prefix
        self.unit_max = unit_max
        self.unit_target = unit_target
        self.penalty = penalty
        self.street_borders = street_borders

    @classmethod
    def from_frames(
        cls,
        area: BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame | None,
        streets: gpd.GeoDataFrame,
        buildings: gpd.GeoDataFrame,
        *,
        weight: str = "households",
        communities: gpd.GeoDataFrame | None = None,
        target: float = 400,
        bounds: tuple[float, float] = (300, 500),
        community_target: float = 4500,
        code_prefix: str | None = None,
        unit_max: float = UNIT_MAX,
        unit_target: float = UNIT_TARGET,
        penalty: float = objective.OUTSIDE_PENALTY,
        street_borders: bool = True,
    ) -> GridPartition:
        """Return the partition problem of ``area`` from its streets and buildings.

        Parameters
        ----------
        area
            The area to tile, in a projected (metric) CRS: a polygon (taken in the buildings'
            CRS) or a GeoSeries/GeoDataFrame whose shapes are joined. With ``communities``
            the area is their union (None is allowed; a given area must match it).
        streets
            Street centre lines (LineStrings), same CRS; grid boundaries follow them.
        buildings
            Building footprints with a ``weight`` column, same CRS. A building whose inner
            point lies outside the area belongs to no grid.
        weight
            The column that grids balance: households (default) or another count.
        communities
            Communities to split into grids (``code``, optional ``name``, polygons, same CRS);
            None draws communities of about ``community_target`` first, coded from
            ``code_prefix`` (district 6 digits + street 3).
        target, bounds
            Households a grid should hold, and the range it may hold without penalty.
        unit_max, unit_target
            Street blocks above ``unit_max`` households are cut into units of about
            ``unit_target``.
        penalty
            Weight of a household outside ``bounds`` in the objective.
        street_borders
            Keep borders on streets: heavy blocks cut at their shortest lines between
            buildings, border off the street weighed in the search, a last search on cells
            (:mod:`~gridmap.grids.refine`). False: as before (the demo's published grids).
        """
        crs = inputs.metric_crs(buildings, "buildings")
        if isinstance(area, gpd.GeoSeries | gpd.GeoDataFrame):
            if area.crs is not None and not area.crs.equals(crs):
                raise InputError("The area and the buildings are in different CRS.")
            area = shapely.union_all(area.geometry.values)
        if communities is not None:
            communities, area = inputs.given_communities(communities, area, crs)
        if area is None or area.is_empty or area.area <= 0:
            raise InputError("The area to split into grids is empty.")
        if streets.crs is not None and len(streets) and not streets.crs.equals(crs):
            raise InputError("The streets and the buildings are in different CRS.")
        if weight not in buildings.columns:
            raise InputError(f"The buildings have no '{weight}' column to balance grids by.")
        values = pd.to_numeric(buildings[weight], errors="coerce").to_numpy()
        bad = ~np.isfinite(values.astype(float)) | (values < 0)
        if bad.any():
            raise InputError(
                f"{int(bad.sum())} of {len(values)} buildings have no valid '{weight}' "
                f"(empty, negative or not a number): fill them in before drawing grids."
            )
        if not len(buildings):
            raise InputError("There are no buildings to draw grids around.")
        lo, hi = (float(b) for b in bounds)
        if not (0 < lo <= target <= hi):
            raise InputError(
                f"Grids need 0 < min <= target <= max households; got min {lo:g}, "
                f"target {target:g}, max {hi:g}."
            )
        if communities is None:
            if code_prefix is None:
                raise InputError("Drawing communities needs a code prefix (district + street).")
            codes.check_prefix(code_prefix)
        return cls(
            area=area,
            streets=streets,
            footprints=np.asarray(buildings.geometry.values, dtype=object),
            weights=values,
            building_index=buildings.index,
            crs=crs,
            communities=communities,
            weight_name=weight,
            target=float(target),
            bounds=(lo, hi),
            community_target=float(community_target),
            code_prefix=code_prefix,
            unit_max=float(unit_max),
            unit_target=float(unit_target),
            penalty=float(penalty),
            street_borders=street_borders,
        )

    # -- solving ------------------------------------------------------------------------------

    def solve(
        self,
        *,
        time_limit: float | None = None,
        seed: int = 0,
        progress: Progress | None = None,
        method: str = "heuristic",
        restarts: int = 0,
        tabu: bool = True,
    ) -> GridPartitionResult:
        """Draw the grids and return the checked result.

        Parameters
        ----------
        time_limit
            Seconds for the search (None: until it finishes). Street units and a first
            partition are always made; the limit stops the polishing, the restarts and the
            exact search, and the result then says TIME_LIMIT.
        seed
            Seed of the restarts' random seeds (the default run draws nothing at random).
        progress
            Called with a line per step.
        method
            ``"heuristic"`` (region growing and bisection, polished by border moves) or
            ``"exact"`` (the MILP of :mod:`gridmap.grids.exact`, for communities of at most
            :data:`gridmap.grids.exact.MAX_UNITS` units; optimal when it finishes).
        restarts
            Extra randomised starts per grid count (heuristic).
        tabu
            Improve the heuristic's grids by tabu search (:mod:`gridmap.grids.improve`),
            kept only where their polygons score better.
        """
        if method not in METHODS:
            raise InputError(f"Unknown method '{method}': use {' or '.join(METHODS)}.")
        if restarts < 0:
            raise InputError("restarts cannot be negative.")
        deadline = Deadline(time_limit)
        say = progress or (lambda _m: None)
        rng = np.random.default_rng(seed)
        stop = deadline.expired
        inside = self._inside()
        comms = self._communities(inside, say, stop)
        building_grid = np.full(len(self.footprints), None, dtype=object)
        rows: list[dict[str, Any]] = []
        geoms: list[BaseGeometry] = []
        per: list[dict[str, Any]] = []
        notes: list[tuple[str, str]] = []  # (English, Chinese)
        improved = 0
        for n, c in enumerate(comms):
            labels, exact_bound = self._regions(c, method, restarts, rng, deadline)
            w = self.weights[c.buildings]
            fig = (self.footprints[c.buildings], c.polygon, w, self.target, self.bounds)
            drawn = improve.draw(c.units, labels, c.members, *fig, self.penalty)
            if tabu and method == "heuristic":
                drawn = improve.improve(c.units, drawn, c.members, *fig, self.penalty, stop)
                if self.street_borders:
                    drawn = refine.refine(c.units, drawn, c.members, *fig, self.penalty, stop)
                improved += drawn.improved
                if drawn.towers:
                    en, zh = improve.tower_note(c.units, drawn.towers, self.weight_name)
                    notes.append((f"{c.name}: {en}", f"{c.name}：{zh}"))
            labels, polys, b_region = drawn.labels, drawn.polygons, drawn.building_region
            whole = [g for g, p in enumerate(polys) if not p.is_empty]  # a vanished one: skip
            order = [whole[i] for i in partition.reading_order([polys[g] for g in whole])]
            loads = []
            for m, g in enumerate(order):
                code = codes.sequence_code(c.code, m + 1)
                mine = b_region == g
                building_grid[c.buildings[mine]] = code
                loads.append(float(w[mine].sum()))
                rows.append(
                    {
                        "code": code,
                        "name": codes.grid_name(c.name, code),
                        "community_code": c.code,
                        self.weight_name: _as_count(w[mine].sum()),
                        "buildings": int(mine.sum()),
                        "area_m2": round(polys[g].area, 1),
                    }
                )
                geoms.append(polys[g])
            value = objective.objective(np.asarray(loads), self.target, self.bounds, self.penalty)
            bound, _ = objective.lower_bound(
                w, self.target, self.bounds, len(c.members), self.penalty
            )
            if exact_bound is not None:  # labels per unit: no refinement with the MILP
                unit_loads = np.bincount(labels, weights=c.units.weights[c.members].astype(float))
                if np.allclose(np.sort(unit_loads), np.sort(loads)):
                    bound = max(bound, exact_bound)  # the MILP's bound holds for unit partitions
            per.append(
                {
                    "code": c.code,
                    "name": c.name,
                    "grids": len(order),
                    self.weight_name: _as_count(w.sum()),
                    "objective": value,
                    "bound": bound,
                }
            )
            say(
                f"community {n + 1}/{len(comms)} {c.name}: {len(order)} grids, "
                f"{int(min(loads))}-{int(max(loads))} {self.weight_name}"
            )
        grids = gpd.GeoDataFrame(rows, geometry=geoms, crs=self.crs)
        community = gpd.GeoDataFrame(
            [{"code": c.code, "name": c.name, "area_m2": round(c.polygon.area, 1)} for c in comms],
            geometry=[c.polygon for c in comms],
            crs=self.crs,
        )
        table = pd.DataFrame(per)
        total, bound = float(table["objective"].sum()), float(table["bound"].sum())
        if total - bound <= ABS_TOLERANCE:
            status = Status.OPTIMAL
        elif deadline.hit:
            status = Status.TIME_LIMIT
        else:
            status = Status.FEASIBLE
        if tabu and method == "heuristic":
            say(f"tabu search improved the grids of {improved} of {len(comms)} communities")
        notes += closing_notes(
            drawn=self.communities is None,
            communities=[(c.code, c.name) for c in comms],
            outside=int((~inside).sum()),
        )
        return GridPartitionResult(
            solution=GridSolution(grids, community, building_grid),
            problem=self,
            per_community=table,
            objective=total,
            bound=bound,
            status=status,
            method=method
            + (f"+{restarts} restarts" if restarts else "")
            + ("+tabu" if tabu and method == "heuristic" else ""),
            seconds=deadline.elapsed(),
            seed=seed,
            notes=tuple(en for en, _ in notes),
            notes_zh=tuple(zh for _, zh in notes),
        )

    def _inside(self) -> np.ndarray:
        """Return which buildings have their inner point in the area."""
        pts = shapely.point_on_surface(self.footprints)
        return shapely.covers(self.area, pts)

    def _communities(
        self, inside: np.ndarray, say: Progress, stop: partition.regions.Stop
    ) -> list[_Community]:
        """Return the communities with their units: given ones, or drawn by the first stage."""
        bidx = np.flatnonzero(inside)
        if self.communities is not None:
            polys = np.asarray(self.communities.geometry.values, dtype=object)
            where = blocks.locate(self.footprints[bidx], polys) if len(bidx) else bidx
            out = []
            names = (
                self.communities["name"].fillna("").astype(str).tolist()
                if "name" in self.communities
                else [""] * len(polys)
            )
            for i, (code, poly) in enumerate(zip(self.communities["code"], polys, strict=True)):
                mine = bidx[where == i]
                if not len(mine):
                    raise InputError(
                        f"Community {code} holds no building: it cannot be split into grids."
                    )
                units = self._units(poly, mine)
                out.append(
                    _Community(
                        str(code),
                        names[i] or str(code),
                        poly,
                        units,
                        np.arange(len(units.polygons)),
                        mine,
                    )
                )
                say(f"community {code}: {len(units.polygons)} street units")
            return out
        units = self._units(self.area, bidx)
        say(f"street units: {len(units.polygons)}")
        every = np.arange(len(units.polygons))
        w = self.weights[bidx]
        kc = partition.grid_count(int(w.sum()), int(self.community_target))
        c_unit = partition.balanced_regions(units, kc, stop=stop)
        c_polys, _ = partition.region_polygons(
            units, c_unit, every, self.footprints[bidx], self.area, w
        )
        # a piece of one community's ground may have gone to a neighbour with its blocks
        # (partition._one_piece): a block belongs to the community that holds it now
        whole = [c for c, q in enumerate(c_polys) if not q.is_empty]
        held = blocks.locate(units.polygons, np.asarray([c_polys[c] for c in whole], dtype=object))
        c_unit = np.asarray(whole)[held]
        c_order = [whole[i] for i in partition.reading_order([c_polys[c] for c in whole])]
        names = codes.community_names([c_polys[c] for c in c_order], self.streets)
        say(f"communities: {len(c_order)}")
        assert self.code_prefix is not None  # from_frames insists
        out = []
        for n, c in enumerate(c_order):
            members = np.flatnonzero(c_unit == c)
            b = bidx[np.isin(units.building_unit, members)]
            out.append(
                _Community(
                    codes.sequence_code(self.code_prefix, n + 1),
                    names[n],
                    c_polys[c],
                    _restrict(units, bidx, b),
                    members,
                    b,
                )
            )
        return out

    def _units(self, area: BaseGeometry, bidx: np.ndarray) -> partition.Units:
        return partition.street_units(
            area,
            self.streets.geometry.values if len(self.streets) else np.asarray([], dtype=object),
            self.footprints[bidx],
            self.weights[bidx],
            max_weight=self.unit_max,
            target=self.unit_target,
            shortest=self.street_borders,
        )

    def _regions(
        self,
        c: _Community,
        method: str,
        restarts: int,
        rng: np.random.Generator,
        deadline: Deadline,
    ) -> tuple[np.ndarray, float | None]:
        """Return the grid label of each unit of the community, and the MILP's bound if any.

        The exact method keeps the heuristic's labels when HiGHS, stopped by the time limit,
        has found nothing better; its bound stands either way.
        """
        labels = partition.best_regions(
            c.units,
            c.members,
            self.target,
            self.bounds,
            restarts=restarts,
            rng=rng,
            # the exact method's start runs whole: cut by the MILP's clock it is no fallback
            stop=deadline.expired if method != "exact" else (lambda: False),
            by_objective=self.street_borders,
        )
        if method != "exact":
            return labels, None
        local = {int(u): i for i, u in enumerate(c.members)}
        nbrs = [{local[v] for v in c.units.neighbours[u] if v in local} for u in c.members]
        w = c.units.weights[c.members]
        found = exact.exact_regions(
            w,
            nbrs,
            self.weights[c.buildings],
            self.target,
            self.bounds,
            penalty=self.penalty,
            deadline=deadline,
        )
        mine = objective.objective(
            np.bincount(labels, weights=w.astype(float)), self.target, self.bounds, self.penalty
        )
        if found.labels is not None and found.objective < mine:
            labels = found.labels
        return labels, found.bound


def _restrict(units: partition.Units, bidx: np.ndarray, b: np.ndarray) -> partition.Units:
    """Return ``units`` with ``building_unit`` for the buildings ``b`` only (a community's)."""
    return replace(units, building_unit=units.building_unit[np.searchsorted(bidx, b)])


def _as_count(value: float) -> int | float:
    """Return a whole count as int (households), other sums as they are."""
    return int(value) if float(value).is_integer() else float(value)


__all__ = ["GridPartition", "GridPartitionResult", "GridSolution"]
