"""The checks and figures of a plan, for ``gridmap grids validate`` and ``GET /api/grids/checks``.

:func:`validate` reads the grids, communities and buildings, projects them to the workspace's
metric CRS, runs :func:`gridmap.grids.findings.check_plan` and
:func:`gridmap.grids.street_borders.off_street` and returns the findings with their
geometry in EPSG:4326 (GeoJSON), and the figures of each grid (:func:`plan_figures`). No
personal data: counts of households, buildings, cameras and incidents only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from gridmap.access.counts import SMALL_COUNT, SMALL_TEXT, exact_counts, shown_count
from gridmap.access.roles import Access
from gridmap.errors import FeatureNotFoundError, InputError
from gridmap.grids.findings import Finding, check_plan, order
from gridmap.grids.street_borders import off_street
from gridmap.schema import STORAGE_CRS
from gridmap.service.metric import metric_crs
from gridmap.store import Workspace

#: Incidents of this many days count as "the last 12 months".
INCIDENT_DAYS = 365


@dataclass(frozen=True)
class Validation:
    """The findings (geometry in the metric CRS) and the figures of a plan."""

    findings: list[Finding]
    figures: pd.DataFrame
    crs: Any

    def findings_json(self, access: Access | None = None) -> list[dict[str, Any]]:
        """Return the findings as JSON values, geometry as GeoJSON (EPSG:4326 degrees).

        ``access``: who asks; a household count under 5 (a grid outside the household range)
        is ``"<5"`` for a reader who may not count that grid's register
        (:mod:`gridmap.access.counts`). None: exact (the CLI).
        """
        if not self.findings:
            return []
        shapes = gpd.GeoSeries([f.geometry for f in self.findings], crs=self.crs).to_crs(
            STORAGE_CRS
        )
        out = []
        for f, geom in zip(self.findings, shapes.values, strict=True):
            point = shapely.point_on_surface(geom) if not geom.is_empty else None
            value: Any = round(float(f.value), 3)
            en, zh = f.message_en, f.message_zh
            if f.kind == "households_range" and shown_count(value, access, f.grids) != value:
                value = SMALL_TEXT
                few = f.value < f.detail.get("min", 0)
                word, zh_word = ("fewer", "少于") if few else ("more", "多于")
                limit = f.detail.get("min" if word == "fewer" else "max")
                en = f"Grid {f.grids[0]} holds {SMALL_TEXT} households, {word} than {limit:g}."
                zh = f"网格 {f.grids[0]} 不足 {SMALL_COUNT} 户，{zh_word} {limit:g} 户。"
            out.append(
                {
                    "kind": f.kind,
                    "grids": list(f.grids),
                    "value": value,
                    "message_en": en,
                    "message_zh": zh,
                    "detail": f.detail,
                    "fixes": list(f.fixes),
                    "at": None if point is None else [round(point.x, 7), round(point.y, 7)],
                    "geometry": _stored_shape(geom),
                }
            )
        return out

    def figures_json(self, access: Access | None = None) -> list[dict[str, Any]]:
        """Return the figures as JSON rows, one per grid.

        ``access``: who asks; households and residents under 5 are ``"<5"`` for a reader who
        may not count that grid's register (:mod:`gridmap.access.counts`); the deviation
        from the target then says nothing either (None), and its incidents are None.
        None: exact (the CLI).
        """
        rows = self.figures.reset_index().to_dict("records")
        out = [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in rows]
        for row in out:
            # incidents are the register's: none for a reader who may not count this grid's
            if not exact_counts(access, row["code"]):
                row["incidents_12m"] = None
            for column in ("households", "residents"):
                shown = shown_count(row[column], access, [row["code"]])
                if shown != row[column]:
                    row[column] = shown
                    if column == "households":
                        row["deviation"] = None
        return out


def _stored_shape(geom: BaseGeometry) -> dict[str, Any] | None:
    """Return a finding's shape, reprojected to EPSG:4326, as GeoJSON on the 1e-7° storage
    grid (None if empty).

    A gap found in the metric CRS can carry a hair-thin tail along the community's edge (an
    edge straight in degrees bows by a fraction of a millimetre in UTM, the grids' vertices
    on it do not); back in degrees the tail folds onto a line, which GEOS refuses to snap to
    the grid ("unable to assign free hole to a shell"): it is dropped first.
    """
    if geom.is_empty:
        return None
    fixed = shapely.make_valid(geom, method="structure", keep_collapsed=False)
    snapped = shapely.set_precision(fixed, 1e-7)
    return None if snapped.is_empty else mapping(snapped)


def _bounds(bounds: tuple[float, float]) -> tuple[float, float]:
    lo, hi = bounds
    if not 0 <= lo <= hi:
        raise InputError(
            f"The household range must be 0 ≤ min ≤ max, not {lo:g}–{hi:g}. "
            "(户数范围应满足 0 ≤ 最小 ≤ 最大。)"
        )
    return lo, hi


def plan_figures(
    ws: Workspace,
    grids: gpd.GeoDataFrame,
    *,
    crs: Any,
    target: float,
    bounds: tuple[float, float],
    lines: np.ndarray | None = None,
) -> pd.DataFrame:
    """Return per grid (index: code): households, residents, buildings, area_m2,
    street_length_m, cameras, facilities, incidents_12m, deviation and in_range.

    Households, residents and buildings as stored with the grid (kept right by every edit);
    the rest counted by geometry in the metric CRS ``crs`` (streets clipped to the grid, each
    two-way street once; ``lines``: those centre lines already read, metric CRS). Points
    are read in the grids' bounding box only.
    """
    from gridmap.network.graph import unique_edges

    out = grids.set_index("code")[["households", "residents", "buildings", "area_m2"]].copy()
    out = out.apply(pd.to_numeric, errors="coerce").fillna(0)
    geoms = np.asarray(grids.geometry.values, dtype=object)
    codes = grids["code"].to_numpy(dtype=object)
    tree = shapely.STRtree(geoms)
    box = _storage_box(grids)
    if lines is None:
        streets = ws.read("streets", bbox=box)
        lines = (
            np.asarray(unique_edges(streets).to_crs(crs).geometry.values, dtype=object)
            if len(streets)
            else np.zeros(0, dtype=object)
        )
    lengths = np.zeros(len(geoms))
    if len(lines):
        li, gi = tree.query(lines, predicate="intersects")
        if len(li):
            parts = shapely.length(shapely.intersection(lines[li], geoms[gi]))
            np.add.at(lengths, gi, parts)
    out["street_length_m"] = np.round(lengths, 1)
    since = datetime.now(UTC) - timedelta(days=INCIDENT_DAYS)
    for layer, column in (
        ("cameras", "cameras"),
        ("facilities", "facilities"),
        ("incidents", "incidents_12m"),
    ):
        frame = ws.read(layer, bbox=box)
        if layer == "incidents" and len(frame) and "occurred_at" in frame:
            when = pd.to_datetime(frame["occurred_at"], utc=True, errors="coerce")
            frame = frame[when >= since]
        counts = np.zeros(len(geoms), dtype=int)
        if len(frame):
            pts = np.asarray(frame.to_crs(crs).geometry.values, dtype=object)
            pi, gi = tree.query(pts, predicate="intersects")
            first = pd.Series(gi).groupby(pi).min()  # a point on a border counts once
            np.add.at(counts, first.to_numpy(), 1)
        out[column] = counts
    out["deviation"] = out["households"] - target
    lo, hi = bounds
    out["in_range"] = (out["households"] >= lo) & (out["households"] <= hi)
    out.index = pd.Index([str(c) for c in codes], name="code")
    for column in ("households", "residents", "buildings"):
        out[column] = out[column].astype(int)
    return out


def _storage_box(frame: gpd.GeoDataFrame) -> tuple[float, float, float, float] | None:
    """Return the bounding box of ``frame`` in EPSG:4326, a metre wider, or None if empty."""
    if not len(frame):
        return None
    minx, miny, maxx, maxy = frame.to_crs(STORAGE_CRS).total_bounds
    pad = 1e-5
    return (minx - pad, miny - pad, maxx + pad, maxy + pad)


def _street_lines(ws: Workspace, crs: Any, box: Any) -> np.ndarray:
    """Return the street centre lines in ``box`` (each two-way street once), metric CRS."""
    from gridmap.network.graph import unique_edges

    streets = ws.read("streets", bbox=box)
    if not len(streets):
        return np.zeros(0, dtype=object)
    return np.asarray(unique_edges(streets).to_crs(crs).geometry.values, dtype=object)


#: The household range a grid should hold unless the planner sets another (domain.md: 300–500).
DEFAULT_RANGE: tuple[float, float] = (300, 500)


def validate(
    ws: Workspace,
    *,
    bounds: tuple[float, float] = DEFAULT_RANGE,
    target: float | None = None,
    community: str | None = None,
    grids: list[str] | None = None,
) -> Validation:
    """Check the workspace's grids (or one community's) and figure them; see the module.

    ``grids``: the codes of the grids to report on (an edit's re-check, in milliseconds at the
    size of a district): only their communities, the grids around them and the buildings
    there are read, and only findings naming one of them (or none, found there) and their
    figures return.
    """
    lo, hi = _bounds(bounds)
    crs = metric_crs(ws)
    communities = ws.read("community")
    if grids is not None:
        wanted = [str(c) for c in grids]
        mine = ws.read("grids", where={"code": wanted}) if wanted else ws.read("grids", limit=0)
        held = sorted({str(c) for c in mine["community_code"].dropna()})
        communities = communities[communities["code"].astype(str).isin(held)]
        box = _storage_box(
            pd.concat([mine[["geometry"]], communities[["geometry"]]]).pipe(
                gpd.GeoDataFrame, crs=STORAGE_CRS
            )
        )
        # every grid there (a coverage of the box), so that each building there has its grid
        frame = ws.read("grids", bbox=box) if box is not None else mine
    else:
        frame = ws.read("grids")
    if community is not None:
        if community not in set(communities["code"].astype(str)):
            raise FeatureNotFoundError(
                f"There is no community '{community}'. (没有编码为“{community}”的社区。)"
            )
        communities = communities[communities["code"].astype(str) == community]
        frame = frame[frame["community_code"].astype(str) == community]
    grids_m = frame.to_crs(crs)
    communities_m = communities.to_crs(crs)
    if grids is None:
        box = tuple(communities.total_bounds) if len(communities) else None
    buildings = ws.read("buildings", bbox=box).to_crs(crs)
    if community is not None and len(buildings):
        inner = shapely.point_on_surface(np.asarray(buildings.geometry.values, dtype=object))
        area = shapely.union_all(np.asarray(communities_m.geometry.values, dtype=object))
        buildings = buildings[shapely.intersects(inner, area)]
    only = None if grids is None else set(wanted)
    lines = _street_lines(ws, crs, box)
    findings = check_plan(grids_m, communities_m, buildings, bounds=(lo, hi), only=only)
    findings = sorted([*findings, *off_street(grids_m, lines, only=only)], key=order)
    figures = plan_figures(
        ws,
        grids_m if only is None else grids_m[grids_m["code"].isin(only)],
        crs=crs,
        target=(lo + hi) / 2 if target is None else target,
        bounds=(lo, hi),
        lines=lines,
    )
    return Validation(findings, figures, crs)
