"""The checks and figures of a plan, for ``gridmap grids validate`` and ``GET /api/grids/checks``.

:func:`validate` reads the grids, communities and buildings, projects them to the workspace's
metric CRS, runs :func:`gridmap.grids.findings.check_plan` and
:func:`gridmap.grids.street_borders.off_street` and returns the findings with their
geometry in EPSG:4326 (GeoJSON), and the figures of each grid (:func:`plan_figures`). No
personal data: counts of households, buildings, cameras and incidents only.

Everything but the grids comes from :mod:`gridmap.service.check_inputs`, which keeps it in
memory and reads again only the rows a write changed; an edit's re-check of a few grids
(``validate(grids=…)``) reads a window around them (:mod:`gridmap.service.grid_recheck`).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping
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
from gridmap.service.check_inputs import layer_frame
from gridmap.service.metric import metric_crs
from gridmap.store import Workspace

#: Incidents of this many days count as "the last 12 months".
INCIDENT_DAYS = 365
#: The point layers counted per grid, and the column of the figures that counts each.
POINT_LAYERS = {"cameras": "cameras", "facilities": "facilities", "incidents": "incidents_12m"}


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
    points: Mapping[str, gpd.GeoDataFrame] | None = None,
) -> pd.DataFrame:
    """Return per grid (index: code): households, residents, buildings, area_m2,
    street_length_m, cameras, facilities, incidents_12m, deviation and in_range.

    Households, residents and buildings as stored with the grid (kept right by every edit);
    the rest counted by geometry in the metric CRS ``crs`` (streets clipped to the grid, each
    two-way street once; ``lines``: those centre lines already read, metric CRS). Points
    are read in the grids' bounding box only (``points``: those of :data:`POINT_LAYERS` already
    read, by layer, metric CRS). A point on a border counts for the first grid of ``grids``.
    """
    from gridmap.network.graph import unique_edges

    out = grids.set_index("code")[["households", "residents", "buildings", "area_m2"]].copy()
    out = out.apply(pd.to_numeric, errors="coerce").fillna(0)
    geoms = np.asarray(grids.geometry.values, dtype=object)
    codes = grids["code"].to_numpy(dtype=object)
    tree = shapely.STRtree(geoms)
    box = _storage_box(grids) if lines is None or points is None else None
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
        if len(li):  # a street the grid covers counts whole: clip only those across a border
            shapely.prepare(geoms)
            cut = ~shapely.covers(geoms[gi], lines[li])
            parts = shapely.length(lines[li])
            parts[cut] = shapely.length(shapely.intersection(lines[li[cut]], geoms[gi[cut]]))
            np.add.at(lengths, gi, parts)
    out["street_length_m"] = np.round(lengths, 1)
    since = datetime.now(UTC) - timedelta(days=INCIDENT_DAYS)
    for layer, column in POINT_LAYERS.items():
        frame = ws.read(layer, bbox=box) if points is None else points[layer]
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
#: The columns of ``grids`` the checks and figures read.
GRID_COLUMNS = ("code", "community_code", "households", "residents", "buildings", "area_m2")


def validate(
    ws: Workspace,
    *,
    bounds: tuple[float, float] = DEFAULT_RANGE,
    target: float | None = None,
    community: str | None = None,
    grids: list[str] | None = None,
) -> Validation:
    """Check the workspace's grids (or one community's) and figure them; see the module.

    Communities, footprints, streets and points come from memory where they did not change
    since the last check (:mod:`gridmap.service.check_inputs`).

    ``grids``: the codes of the grids to report on (an edit's re-check, in milliseconds at the
    size of a district): only the window around them is read, and only the findings about them
    (:func:`gridmap.grids.findings.about`) and their figures return, the same as the whole
    check gives for them (:mod:`gridmap.service.grid_recheck`).
    """
    lo, hi = _bounds(bounds)
    crs = metric_crs(ws)
    goal = (lo + hi) / 2 if target is None else target
    if grids is not None:
        from gridmap.service.grid_recheck import recheck

        return recheck(
            ws, [str(c) for c in grids], crs=crs, bounds=(lo, hi), target=goal, community=community
        )
    communities = layer_frame(ws, "community", crs, storage=True)
    frame = ws.read("grids", columns=GRID_COLUMNS, system=False)
    if community is not None:
        communities = communities[communities["code"].astype(str) == one_community(ws, community)]
        frame = frame[frame["community_code"].astype(str) == community]
    box = tuple(communities.total_bounds) if len(communities) else None
    grids_m = frame.to_crs(crs)
    communities_m = communities.to_crs(crs)
    buildings = layer_frame(ws, "buildings", crs, box=box)
    if community is not None and len(buildings):
        buildings = in_area(buildings, communities_m)
    lines = _lines(layer_frame(ws, "streets", crs, box=box))
    findings = check_plan(grids_m, communities_m, buildings, bounds=(lo, hi))
    streets = (str(crs), box, ws.content_stamp(["streets"]))
    findings = sorted([*findings, *_off_street(ws, grids_m, lines, streets)], key=order)
    near = _storage_box(frame)
    points = {name: layer_frame(ws, name, crs, box=near) for name in POINT_LAYERS}
    figures = plan_figures(
        ws, grids_m, crs=crs, target=goal, bounds=(lo, hi), lines=lines, points=points
    )
    return Validation(findings, figures, crs)


@dataclass(frozen=True)
class _Borders:
    """The last whole check's borders off their street: the streets they were found with
    (CRS, box, content stamp), each grid's outline (WKB) and community, and the findings."""

    streets: tuple[Any, ...]
    grids: dict[str, tuple[bytes, str]]
    found: list[Finding]


_BORDERS: weakref.WeakKeyDictionary[Workspace, _Borders] = weakref.WeakKeyDictionary()
_BORDERS_LOCK = threading.Lock()


def _off_street(
    ws: Workspace, grids: gpd.GeoDataFrame, lines: np.ndarray, streets: tuple[Any, ...]
) -> list[Finding]:
    """Return :func:`gridmap.grids.street_borders.off_street` of ``grids``, looking again
    only at the borders of grids whose outline or community changed since the last whole
    check of ``ws`` with the same ``streets`` (a border's finding depends on its two grids
    and the streets alone): after an edit, those of the few grids it changed."""
    codes = grids["code"].astype(str).tolist()
    now = dict(
        zip(
            codes,
            zip(
                shapely.to_wkb(np.asarray(grids.geometry.values, dtype=object)).tolist(),
                grids["community_code"].astype(str).tolist(),
                strict=True,
            ),
            strict=True,
        )
    )
    with _BORDERS_LOCK:
        last = _BORDERS.get(ws)
    if last is None or last.streets != streets or len(now) != len(codes):
        found = off_street(grids, lines)
    else:
        changed = {c for c, v in now.items() if last.grids.get(c) != v}
        changed |= set(last.grids) - set(now)
        kept = [f for f in last.found if not changed & set(f.grids)]
        found = kept + (off_street(grids, lines, only=changed & set(now)) if changed else [])
    if len(now) == len(codes):  # (codes unique: a grid's findings can be told by its code)
        with _BORDERS_LOCK:
            _BORDERS[ws] = _Borders(streets, now, found)
    return found


def one_community(ws: Workspace, code: str) -> str:
    """Return ``code`` when the workspace has that community, else raise FeatureNotFoundError."""
    if not ws.count("community", where={"code": code}):
        raise FeatureNotFoundError(f"There is no community '{code}'. (没有编码为“{code}”的社区。)")
    return code


def in_area(frame: gpd.GeoDataFrame, communities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the rows of ``frame`` (footprints) whose inner point lies in ``communities``."""
    inner = shapely.point_on_surface(np.asarray(frame.geometry.values, dtype=object))
    area = shapely.union_all(np.asarray(communities.geometry.values, dtype=object))
    return frame[shapely.intersects(inner, area)]


def _lines(streets: gpd.GeoDataFrame) -> np.ndarray:
    """Return the centre lines of ``streets`` (metric CRS), each two-way street once."""
    from gridmap.network.graph import unique_edges

    if not len(streets):
        return np.zeros(0, dtype=object)
    return np.asarray(unique_edges(streets).geometry.values, dtype=object)
