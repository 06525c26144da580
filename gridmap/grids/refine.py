"""The last stage of a community's grids: the same tabu search on finer units, where grids
cut blocks between buildings.

The units of the partition are whole street blocks and pieces of heavy ones (about
:data:`gridmap.grids.problem.UNIT_TARGET` households each). Where a grid border runs between
the pieces of a block, it runs between buildings, off the street, along the line that cut
the pieces; and a grid's households can only change by a piece at a time. Here every piece
on such a border (a unit that shares off-street border with a unit of another grid), and
every unit of a grid outside the range and of its neighbours, is split into the cells of its
buildings (the ground nearer to a building than to the others); whole blocks elsewhere stay
as they are. The tabu search of :func:`gridmap.grids.improve.improve` runs again on these
*atoms* from the grids found: it can now move one building's cell across a border, which
evens the households out and moves the border onto the shortest line between buildings
(every metre off the street costs :data:`gridmap.grids.improve.OFF_STREET`). The result is
kept only if its polygons score better and pass the checks the solve's result runs. Geometry
in the community's metric CRS (metres).
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.grids import blocks, checks, cuts, partition, tabu
from gridmap.grids.improve import Drawn, improve

#: A unit sharing at least this much border off the street (m) with a unit of another grid is
#: split into its buildings' cells.
MIN_OFF_M = 1.0


def atoms(
    units: partition.Units,
    members: np.ndarray,
    labels: np.ndarray,
    buildings: np.ndarray,
    weights: np.ndarray,
    bounds: tuple[float, float] | None = None,
) -> tuple[partition.Units, np.ndarray]:
    """Return the community's atoms as units and the region of each atom.

    Parameters
    ----------
    units, members
        The street units and the community's ones (``units.building_unit`` is per building
        of ``buildings``).
    labels
        Region of each unit of ``members``.
    buildings, weights
        Footprints (metric CRS) and households of the community's buildings.
    bounds
        The range of households: the units of a grid outside it, and their neighbours, are
        split into cells too (a grid a few households short may take one building).
    """
    region = dict(zip(members.tolist(), np.asarray(labels).tolist(), strict=True))
    split = {
        u
        for (a, b), length in units.off_street.items()
        if length >= MIN_OFF_M and a in region and b in region and region[a] != region[b]
        for u in (a, b)
    }
    if bounds is not None:  # a grid out of range may take or give a building of any block
        load = np.bincount(labels, weights=units.weights[members].astype(float))
        out = {g for g, h in enumerate(load.tolist()) if not bounds[0] <= h <= bounds[1]}
        for u, g in region.items():
            if g in out:
                split.add(u)
                split.update(v for v in units.neighbours[u] if v in region)
    polys: list[BaseGeometry] = []
    atom_region: list[int] = []
    building_atom = np.full(len(buildings), -1)
    for i, u in enumerate(members.tolist()):
        mine = np.flatnonzero(units.building_unit == u)
        if u not in split or len(mine) < 2:
            building_atom[mine] = len(polys)
            polys.append(units.polygons[u])
            atom_region.append(int(labels[i]))
            continue
        groups = partition.overlap_groups(buildings[mine])
        cells = partition.grid_polygons(
            buildings[mine], groups, units.polygons[u], cuts.CELL_SAMPLE_M
        )
        building_atom[mine] = len(polys) + groups
        polys.extend(cells)
        atom_region.extend([int(labels[i])] * len(cells))
    arr = cuts.clean(np.asarray(polys, dtype=object))
    w = np.bincount(building_atom, weights=np.asarray(weights, dtype=float), minlength=len(arr))
    nbrs = blocks.adjacency(arr)
    zone = units.zone
    off = cuts.off_street_lengths(arr, nbrs, zone) if zone is not None else {}
    centres = shapely.get_coordinates(shapely.point_on_surface(arr))
    fine = partition.Units(arr, w, building_atom, nbrs, centres, off, zone)
    return fine, np.asarray(atom_region, dtype=int)


def refine(
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
    """Return the grids of ``start`` improved on atoms (see the module), or ``start``.

    Arguments as for :func:`gridmap.grids.improve.improve` (metric CRS, households);
    ``start.labels`` is per unit of ``members``. When the refinement is kept, the labels
    returned are per atom and ``towers`` are those of ``start`` (units).
    """
    if units.zone is None or not units.off_street:
        return start
    fine, labels = atoms(units, members, start.labels, buildings, weights, bounds)
    if len(fine.polygons) == len(members):
        return start
    begin = Drawn(labels, start.polygons, start.building_region, start.score)
    every = np.arange(len(fine.polygons))
    found = improve(fine, begin, every, buildings, area, weights, target, bounds, penalty, stop)
    if not found.improved or not _valid(found, buildings, area):
        return start
    return Drawn(
        found.labels, found.polygons, found.building_region, found.score, start.towers, True
    )


def _valid(drawn: Drawn, buildings: np.ndarray, area: BaseGeometry) -> bool:
    """Return whether the grids are one piece each and hold their buildings whole (the checks
    the solve's result runs; a refinement that fails them is not kept)."""
    polys = [p for p in drawn.polygons if not p.is_empty]
    names = [str(g) for g, p in enumerate(drawn.polygons) if not p.is_empty]
    by_name = {str(g): p for g, p in enumerate(drawn.polygons)}
    held = drawn.building_region >= 0
    whole = shapely.intersection(buildings[held], area)
    return not (
        checks.contiguity(np.asarray(polys, dtype=object), names)
        or checks.buildings_whole(whole, drawn.building_region[held].astype(str), by_name)
    )


__all__ = ["MIN_OFF_M", "atoms", "refine"]
