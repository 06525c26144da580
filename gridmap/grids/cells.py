"""The ground that goes with a building when a planner paints it into another grid.

A grid's border runs along streets and between buildings, never through one. When a building
is moved to another grid, what moves with it is its *cell*: the part of its street block that
is nearer to it than to any other building of the block (a Voronoi diagram of the footprints'
outlines, clipped to the block). A building alone in its block takes the whole block. Cells of
one block tile it, so painting cells keeps a grid's outline a union of whole blocks and cells.

Geometry in a metric CRS (the area's UTM zone); plain data only.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

#: Footprint outlines are sampled every this many metres for the Voronoi diagram.
SAMPLE_M = 2.0


def building_cells(block: BaseGeometry, footprints: np.ndarray) -> np.ndarray:
    """Return the cell of each footprint in ``block`` (same order; metric CRS).

    Parameters
    ----------
    block
        The street block (a polygon) the buildings stand in.
    footprints
        The buildings' footprints (polygons) whose inner points lie in ``block``.

    Returns
    -------
    numpy.ndarray
        One (Multi)Polygon per footprint: the block's ground nearer to it than to the others,
        together with the footprint itself inside the block. They tile the block.
    """
    footprints = np.asarray(footprints, dtype=object)
    if len(footprints) == 0:
        return footprints
    if len(footprints) == 1:
        return np.asarray([block], dtype=object)
    rings = shapely.segmentize(shapely.boundary(footprints), SAMPLE_M)
    points, owner = [], []
    for i, ring in enumerate(rings):
        xy = np.unique(shapely.get_coordinates(ring), axis=0)
        points.append(xy)
        owner.append(np.full(len(xy), i))
    # adjoining buildings share outline points: each point once (the first building's)
    xy, first = np.unique(np.concatenate(points), axis=0, return_index=True)
    who = np.concatenate(owner)[first]
    sites = shapely.points(xy)
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=block, ordered=True)
    )
    # ordered=True keeps the cells in the order of the sites (GEOS 3.12+)
    assert len(cells) == len(sites)
    whole = [shapely.intersection(f, block) for f in footprints]
    out = np.empty(len(footprints), dtype=object)
    for i in range(len(footprints)):
        nearest = shapely.intersection(shapely.union_all(cells[who == i]), block)
        # a footprint is its own building's ground, wherever the Voronoi cells of the
        # sampled outlines cut it
        others = shapely.union_all([w for j, w in enumerate(whole) if j != i])
        out[i] = shapely.union(shapely.difference(nearest, others), whole[i])
    return out
