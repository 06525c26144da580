"""The result of a grid partition: the grids, checked when the result is made.

:class:`GridPartitionResult` is a :class:`gridmap.solve.Result`: it refuses grids that are not
one piece each, do not tile the area or their community, split a building, or whose households
do not add up, and recomputes the objective from the buildings' grids. Geometry in the
problem's metric CRS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.grids import checks, codes, objective
from gridmap.solve import Result, SolveError

if TYPE_CHECKING:
    from gridmap.grids.problem import GridPartition


@dataclass(frozen=True)
class GridSolution:
    """The grids a partition drew, in the problem's metric CRS.

    Attributes
    ----------
    grids
        One row per grid: ``code``, ``name``, ``community_code``, the weight column (households),
        ``buildings`` (count) and ``area_m2``, in code order.
    communities
        One row per community: ``code``, ``name``, ``area_m2``.
    building_grid
        The grid code of each input building, in input order (None outside the area).
    """

    grids: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    building_grid: np.ndarray


@dataclass(frozen=True, kw_only=True)
class GridPartitionResult(Result):
    """A checked grid partition: tiles the area, grids in one piece, buildings whole.

    ``per_community`` holds, per community, its grids, households, objective and bound.
    """

    solution: GridSolution | None
    problem: GridPartition
    per_community: pd.DataFrame = field(default_factory=pd.DataFrame)

    def verify(self) -> float:
        """Check the grids; return the objective recomputed from the buildings' grids."""
        sol, prob = self.solution, self.problem
        assert sol is not None  # Result.check returns before verify for INFEASIBLE
        grids, comm = sol.grids, sol.communities
        codes_ = grids["code"].astype(str).tolist()
        if len(set(codes_)) != len(codes_):
            raise SolveError("Two grids share a code.")
        geoms = grids.geometry.values
        hosts_by_code = dict(zip(comm["code"], comm.geometry.values, strict=True))
        if not set(grids["community_code"]) <= set(hosts_by_code):
            raise SolveError("A grid names a community the partition does not have.")
        hosts = np.asarray([hosts_by_code[c] for c in grids["community_code"]], dtype=object)
        inside = np.asarray([c is not None for c in sol.building_grid])
        findings = checks.contiguity(geoms, codes_)
        findings += checks.tiling(geoms, prob.area)
        findings += checks.tiling(comm.geometry.values, prob.area)
        findings += checks.within(geoms, codes_, hosts, "community")
        by_code = dict(zip(codes_, geoms, strict=True))
        host_of = dict(zip(codes_, hosts, strict=True))
        clipped = shapely.intersection(
            prob.footprints[inside],
            np.asarray([host_of.get(c, geoms[0]) for c in sol.building_grid[inside]]),
        )
        findings += checks.buildings_whole(clipped, sol.building_grid[inside], by_code)
        if findings:
            raise SolveError("The partition is not valid: " + "; ".join(findings) + ".")
        load = (
            pd.Series(prob.weights[inside], dtype=float)
            .groupby(sol.building_grid[inside])
            .sum()
            .reindex(codes_, fill_value=0.0)
        )
        stated = grids[prob.weight_name].to_numpy(dtype=float)
        if not np.allclose(load.to_numpy(), stated):
            raise SolveError(f"The grids' {prob.weight_name} do not add up from their buildings.")
        return objective.objective(load.to_numpy(), prob.target, prob.bounds, prob.penalty)

    def figures(self) -> dict[str, Any]:
        """Return the headline figures: grids, households min/max, outside bounds, objective."""
        out = super().figures()
        if self.solution is not None:
            h = self.solution.grids[self.problem.weight_name].to_numpy(dtype=float)
            lo, hi = self.problem.bounds
            out.update(
                communities=len(self.solution.communities),
                grids=len(h),
                min=int(h.min()) if len(h) else 0,
                max=int(h.max()) if len(h) else 0,
                outside_bounds=int(((h < lo) | (h > hi)).sum()),
                max_deviation=float(np.abs(h - self.problem.target).max()) if len(h) else 0.0,
                weight=self.problem.weight_name,
            )
        return out

    def to_frames(self, *, storage: bool = False) -> dict[str, pd.DataFrame]:
        """Return ``grids``, ``community`` and ``buildings`` (its ``grid_code``, input index).

        In the problem's metric CRS, or with ``storage`` in EPSG:4326 with polygons snapped
        to the storage grid (:func:`gridmap.grids.codes.storage_polygons`).
        """
        if self.solution is None:
            raise SolveError("An infeasible partition has no grids to write.")
        grids, comm = self.solution.grids.copy(), self.solution.communities.copy()
        if storage:
            grids, comm = codes.storage_polygons(grids), codes.storage_polygons(comm)
        buildings = pd.DataFrame(
            {"grid_code": self.solution.building_grid}, index=self.problem.building_index
        )
        return {"grids": grids, "community": comm, "buildings": buildings}
