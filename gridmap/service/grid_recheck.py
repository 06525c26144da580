"""The re-check of an edit: the checks and figures of a few grids, read from around them only.

:func:`recheck` (``validate(grids=…)``) reads a window around the edited grids — their
bounding box :data:`MARGIN_M` wider, through the layers' spatial index — not their
communities: the buildings there, every grid those buildings or the window reach, the
communities there and the streets (communities and points from
:mod:`gridmap.service.check_inputs`'s memory, small layers that rarely change). Each check gives there what the whole check gives for these
grids:

- an overlap, a cut building, a border off its street or a community share needs the grids
  that meet an edited grid, or a building on its border, and the streets within
  :data:`gridmap.grids.street_borders.NEAR_M` (+ a sample step) of its border: all in the window;
- a gap is cut to the window (:func:`gridmap.grids.findings.gap_findings`); one that reaches
  its edge may go on beyond it, and its community is then checked whole (the rare case);
- findings without a grid (a building in no grid) are reported where their inner point lies
  in the window (the reply's ``scope``).

Geometry in the workspace's metric CRS; the window in EPSG:4326 degrees for the store.
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from gridmap.grids.findings import Finding, about, check_plan, gap_findings, order
from gridmap.grids.street_borders import off_street
from gridmap.schema import STORAGE_CRS
from gridmap.service.check_inputs import layer_frame
from gridmap.service.grid_checks import (
    GRID_COLUMNS,
    POINT_LAYERS,
    Validation,
    _lines,
    _storage_box,
    in_area,
    one_community,
    plan_figures,
)
from gridmap.store import Workspace

#: How much wider than the edited grids' bounding box the window is, metres: more than the
#: farthest street a border's check looks at (12 m + a 3 m sample step).
MARGIN_M = 40.0
#: Metres in a degree of latitude (WGS84, mean).
M_PER_DEG = 111_320.0
#: The window's edges are split this often before projecting it, degrees (about 10 m).
EDGE_STEP_DEG = 1e-4
#: Gaps are looked for this far inside the window, metres, where every grid is surely read.
INSET_M = 1.0

Box = tuple[float, float, float, float]


def _pad(box: Box, metres: float) -> Box:
    """Return ``box`` (degrees) at least ``metres`` wider on every side."""
    minx, miny, maxx, maxy = box
    dlat = metres / M_PER_DEG
    cos = max(math.cos(math.radians(max(abs(miny), abs(maxy)) + dlat)), 1e-6)
    dlon = metres / (M_PER_DEG * cos)
    return (minx - dlon, miny - dlat, maxx + dlon, maxy + dlat)


def _union(a: Box, frame: gpd.GeoDataFrame) -> Box:
    if not len(frame):
        return a
    minx, miny, maxx, maxy = frame.total_bounds
    return (min(a[0], minx), min(a[1], miny), max(a[2], maxx), max(a[3], maxy))


def _metric_window(box: Box, crs: Any) -> Any:
    """Return the window ``box`` (degrees) in ``crs``, :data:`INSET_M` narrower."""
    edge = shapely.segmentize(shapely.box(*box), EDGE_STEP_DEG)
    shape = gpd.GeoSeries([edge], crs=STORAGE_CRS).to_crs(crs).values[0]
    return shapely.buffer(shape, -INSET_M, join_style="mitre")


def _whole_gaps(ws: Workspace, crs: Any, code: str, community: str | None) -> list[Finding]:
    """Return the gaps of community ``code``, checked whole (grids read in its box)."""
    rows = ws.read("community", where={"code": code}, columns=["code"], system=False)
    if not len(rows):
        return []
    box = _pad(tuple(rows.total_bounds), 1.0)
    grids = ws.read("grids", bbox=box, columns=["code", "community_code"], system=False)
    if community is not None:
        grids = grids[grids["community_code"].astype(str) == community]
    found, _ = gap_findings(grids.to_crs(crs), rows.to_crs(crs))
    return found


def recheck(
    ws: Workspace,
    codes: list[str],
    *,
    crs: Any,
    bounds: tuple[float, float],
    target: float,
    community: str | None = None,
) -> Validation:
    """Return the findings about grids ``codes`` and their figures (see the module).

    ``crs``: the workspace's metric CRS; ``bounds``: the household range; ``target``: the
    households a grid should hold; ``community``: only that community's grids count, as in
    :func:`gridmap.service.grid_checks.validate`.
    """
    if community is not None:
        one_community(ws, community)
    mine = ws.read("grids", where={"code": codes}, columns=GRID_COLUMNS, system=False)
    if community is not None:
        mine = mine[mine["community_code"].astype(str) == community]
    if not codes or not len(mine):
        empty = plan_figures(
            ws, mine.to_crs(crs), crs=crs, target=target, bounds=bounds, lines=np.zeros(0)
        )
        return Validation([], empty, crs)
    window = _pad(tuple(mine.total_bounds), MARGIN_M)
    buildings = ws.read("buildings", bbox=window, columns=["households"], system=False)
    wide = _union(window, buildings)  # every grid a building there reaches
    frame = ws.read("grids", bbox=wide, columns=GRID_COLUMNS, system=False)
    communities_m = layer_frame(ws, "community", crs, box=wide)  # (small layers: in memory)
    streets = ws.read("streets", bbox=window, columns=["u", "v", "key"], system=False)
    if community is not None:
        frame = frame[frame["community_code"].astype(str) == community]
        communities_m = communities_m[communities_m["code"].astype(str) == community]
    grids_m = frame.to_crs(crs)
    buildings_m = buildings.to_crs(crs)
    if community is not None and len(buildings_m):
        buildings_m = in_area(buildings_m, communities_m)
    lines = _lines(streets.to_crs(crs))
    wanted = set(codes)
    all_codes = grids_m["code"].astype(str).to_numpy()
    geoms = np.asarray(grids_m.geometry.values, dtype=object)
    near = shapely.union_all(geoms[np.isin(all_codes, list(wanted))])
    # a finding without a grid is the re-check's where it lies in the window (the page
    # replaces those it shows there: the reply's scope, plan_replies.recheck_scope)
    inside = gpd.GeoSeries([shapely.box(*window)], crs=STORAGE_CRS).to_crs(crs).values[0]
    findings = check_plan(
        grids_m, communities_m, buildings_m, bounds=bounds, only=wanted, gaps=False, within=inside
    )
    gaps, unsure = gap_findings(
        grids_m, communities_m, window=_metric_window(window, crs), near=near
    )
    for code in unsure:
        gaps += _whole_gaps(ws, crs, code, community)
    findings += about(gaps, wanted, all_codes, geoms, within=inside)
    findings += off_street(grids_m, lines, only=wanted)
    near_box = _storage_box(frame)
    points = {name: layer_frame(ws, name, crs, box=near_box) for name in POINT_LAYERS}
    figures = plan_figures(
        ws, grids_m, crs=crs, target=target, bounds=bounds, lines=lines, points=points
    )
    figures = figures[figures.index.isin(list(wanted))]
    return Validation(sorted(findings, key=order), figures, crs)


__all__ = ["MARGIN_M", "recheck"]
