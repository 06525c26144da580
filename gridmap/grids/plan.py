"""The plan being edited: grids as a polygonal coverage, what an edit changes, and cleaning.

:class:`Plan` holds the grids and communities in the storage CRS (EPSG:4326) and measures in the
area's metric CRS; :class:`Edit` is what an operation of :mod:`gridmap.grids.topology` changes;
:func:`clean` makes a set of outlines a valid coverage on the storage grid. Why the operations
run in the storage CRS: see :mod:`gridmap.grids.topology`. Plain data only: no storage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.errors import GeometryError
from gridmap.geo.shapes import explain_invalid

#: Polygon parts smaller than this are left by set operations and dropped, square metres.
SLIVER_M2 = 0.05
#: Ground goes to a neighbour only along a shared border at least this long, metres.
MIN_SHARED_M = 0.5
#: Gaps narrower than this many grid cells (1e-7°: 10 cm) are closed by :func:`clean`.
HAIRLINE_CELLS = 10
#: A split piece or a change smaller than this counts as nothing, square metres.
NOTHING_M2 = 1.0


@dataclass
class Plan:
    """The grids being edited and the communities that hold them.

    Attributes
    ----------
    grids
        Grid code → (Multi)Polygon, in ``crs`` (the storage CRS, EPSG:4326, degrees).
    community_of
        Grid code → its community's code (or None).
    communities
        Community code → (Multi)Polygon, in ``crs``.
    metric_crs
        The area's projected CRS (its UTM zone) in which areas and lengths are measured (m, m²).
    crs
        The CRS of the geometries (default EPSG:4326).
    grid_size
        The precision grid of every set operation, in units of ``crs`` (1e-7° ≈ 1 cm).
    """

    grids: dict[str, BaseGeometry]
    community_of: dict[str, str | None]
    communities: dict[str, BaseGeometry]
    metric_crs: Any
    crs: Any = "EPSG:4326"
    grid_size: float = 1e-7
    _to_metric: pyproj.Transformer | None = field(default=None, init=False, repr=False)
    _tree: tuple[int, list[str], shapely.STRtree] | None = field(
        default=None, init=False, repr=False
    )

    def near(self, geom: BaseGeometry, distance: float) -> list[str]:
        """Return the codes of the grids within ``distance`` (units of :attr:`crs`) of
        ``geom``, in the order of :attr:`grids`.

        One :class:`shapely.STRtree` of the grids is built per plan, on first use (again if
        grids were added or removed since), so that finding a grid's neighbours does not look
        at every grid of the district.
        """
        if self._tree is None or self._tree[0] != len(self.grids):
            codes = list(self.grids)
            geoms = np.asarray([self.grids[c] for c in codes], dtype=object)
            self._tree = (len(codes), codes, shapely.STRtree(geoms))
        _n, codes, tree = self._tree
        hits = tree.query(geom, predicate="dwithin", distance=distance)
        return [codes[i] for i in sorted(hits.tolist())]

    def metric(self, geom: BaseGeometry) -> BaseGeometry:
        """Return ``geom`` in :attr:`metric_crs` (metres)."""
        if self._to_metric is None:
            self._to_metric = pyproj.Transformer.from_crs(self.crs, self.metric_crs, always_xy=True)
        t = self._to_metric
        return shapely.transform(geom, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))

    def area_m2(self, geom: BaseGeometry) -> float:
        """Return the area of ``geom`` in square metres."""
        return 0.0 if geom.is_empty else float(self.metric(geom).area)

    def length_m(self, geom: BaseGeometry) -> float:
        """Return the length of ``geom`` (a line or a boundary) in metres."""
        return 0.0 if geom.is_empty else float(self.metric(geom).length)


@dataclass(frozen=True)
class Edit:
    """What an operation changes in a plan.

    Attributes
    ----------
    changed
        Grid code → its new (Multi)Polygon, for every grid whose outline changes or that is new.
    removed
        Codes of grids that are gone (deleted, merged into another, or left with no ground).
    added
        Codes of new grids (also in ``changed``).
    lineage
        What became what: ``{"op": "split", "from": [old], "to": [old, new]}`` and the like.
    notes
        ``(English, Chinese)`` remarks on what the operation did beyond the obvious.
    """

    changed: dict[str, BaseGeometry]
    removed: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    lineage: tuple[dict[str, Any], ...] = ()
    notes: tuple[tuple[str, str], ...] = ()
    community_of: dict[str, str | None] = field(default_factory=dict)

    def apply(self, plan: Plan) -> Plan:
        """Return the plan after this edit (the input plan is not changed)."""
        grids = {c: g for c, g in plan.grids.items() if c not in self.removed}
        grids.update(self.changed)
        community_of = {c: self.community_of.get(c, plan.community_of.get(c)) for c in grids}
        return Plan(
            grids, community_of, plan.communities, plan.metric_crs, plan.crs, plan.grid_size
        )


def polygons(plan: Plan, geom: BaseGeometry) -> BaseGeometry:
    """Return the polygonal part of ``geom`` without slivers, as a MultiPolygon (maybe empty)."""
    parts = [
        p
        for p in shapely.get_parts(shapely.get_parts(geom))
        if p.geom_type == "Polygon" and not p.is_empty and plan.area_m2(p) >= SLIVER_M2
    ]
    return shapely.MultiPolygon(parts)


#: The Chinese of the outlines :func:`ensure_polygon` names.
_OUTLINES_ZH = {
    "outline": "边界",
    "grid outline": "网格边界",
    "drawn grid": "所画网格",
    "ground to give": "要划出的范围",
}


def ensure_polygon(geom: BaseGeometry | None, what: str) -> BaseGeometry:
    """Refuse an empty, non-polygonal or self-intersecting outline with a planner's message."""
    zh = _OUTLINES_ZH.get(what, "边界")
    if geom is None or geom.is_empty:
        raise GeometryError(f"The {what} is empty: draw an outline. ({zh}为空：请画出边界。)")
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise GeometryError(
            f"The {what} must be a polygon, not a {geom.geom_type}. ({zh}应为多边形。)"
        )
    if not geom.is_valid:
        en, why = explain_invalid(shapely.is_valid_reason(geom))
        raise GeometryError(
            f"The {what} is not a valid outline: {en}. An outline must not cross itself: "
            f"redraw it. ({zh}无效：{why}。边界不能自相交，请重画。)"
        )
    return geom


def clean(geoms: Any, grid_size: float) -> np.ndarray:
    """Return ``geoms`` (a coverage, in degrees) as a valid coverage on the ``grid_size`` grid.

    GEOS's coverage cleaner snaps vertices closer than two grid cells together, gives hair-line
    gaps (narrower than :data:`HAIRLINE_CELLS` cells, about 10 cm) to the neighbour with the
    longest border and makes every shared border the same chain of vertices on both sides;
    the result is then put on the precision grid, which keeps it valid. Each result is a
    MultiPolygon (possibly empty).
    """
    arr = np.asarray(geoms, dtype=object)
    if not len(arr):
        return arr
    cleaned = shapely.coverage_clean(
        arr, gap_width=grid_size * HAIRLINE_CELLS, snapping_distance=grid_size * 2
    )
    cleaned = shapely.set_precision(cleaned, grid_size)
    return np.asarray(
        [
            shapely.MultiPolygon([p for p in shapely.get_parts(g) if p.geom_type == "Polygon"])
            for g in cleaned
        ],
        dtype=object,
    )
