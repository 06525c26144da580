"""A map drawn as vector graphics (SVG) from plain frames, at a true scale.

:class:`MapFigure` takes layers — each a GeoDataFrame (EPSG:4326, or any CRS it declares), a
style, an optional label rule and legend — and an extent, and :meth:`MapFigure.render` draws
them into a box of a given size on paper. The drawing happens in a projected metric CRS (the
UTM zone of the extent's centre unless given), so that one millimetre on paper is the same
number of metres everywhere on the map: the scale is a round 1:N (unless asked not to round),
and the scale bar and north arrow are true at the map's centre (:mod:`gridmap.print.furniture`).
No tiles, nothing fetched: what is drawn is what the frames hold.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gridmap.errors import InputError
from gridmap.geo.crs import utm_crs
from gridmap.print import furniture as furn
from gridmap.print import labels as lab
from gridmap.print.svg import FONT_FAMILY, Style, num, path_data, points_of, text

Bbox = tuple[float, float, float, float]
StyleOf = Style | Callable[[Mapping[str, Any]], Style | None] | None

#: The key of a feature's id (its frame's index) among the attributes style and label
#: functions get.
FID = "_fid"
#: Simplification tolerance of drawn shapes (mm on paper): invisible, and keeps files small.
SIMPLIFY_MM = 0.04


@dataclass(frozen=True)
class LegendEntry:
    """One line of a legend: a swatch drawn like the symbol, and its label.

    ``kind`` is ``fill`` (an area), ``outline`` (an area's edge only), ``line``, ``road`` (a
    cased line), ``point``, ``ring`` (a point with a halo), ``sector`` (a camera's view) or
    ``label`` (a text sample, ``sample``).
    """

    kind: str
    style: Style
    label: str
    sample: str = ""

    def swatch(self) -> str:
        """Return the swatch as a small SVG (7 × 4.5 mm)."""
        s = self.style
        body = ""
        if self.kind in ("fill", "outline"):
            fill = s if self.kind == "fill" else Style(stroke=s.stroke, stroke_width=s.stroke_width)
            body = f'<rect x="0.5" y="0.5" width="6" height="3.5" rx="0.4" {fill.attrs()}/>'
        elif self.kind in ("line", "road"):
            line = _capped(s)
            if s.casing:  # a cased road: wider in the swatch, so that a white road shows
                line = replace(line, stroke_width=min(s.stroke_width * 1.6, 1.8))
                w = line.stroke_width + 2 * max(s.casing_width, 0.3)
                body += (
                    f'<line x1="0" y1="2.25" x2="7" y2="2.25" stroke="{s.casing}" '
                    f'stroke-width="{num(min(w, 2.6))}"/>'
                )
            body += f'<line x1="0" y1="2.25" x2="7" y2="2.25" {line.attrs(line=True)}/>'
        elif self.kind in ("point", "ring"):
            if s.ring:
                body += (
                    f'<circle cx="3.5" cy="2.25" r="2" fill="none" stroke="{s.ring}" '
                    'stroke-width="0.35"/>'
                )
            r = min(s.radius, 1.2 if s.ring else 1.8)
            body += f'<circle cx="3.5" cy="2.25" r="{num(r)}" {s.attrs()}/>'
        elif self.kind == "sector":
            body = (
                f'<path d="M1 4L6.5 0.8A5.5 5.5 0 0 1 6.5 4.2Z" {s.attrs()}/>'
                '<circle cx="1" cy="4" r="0.6" fill="#212529"/>'
            )
        elif self.kind == "label":
            body = (
                f'<text x="3.5" y="3.4" font-size="3" font-weight="bold" text-anchor="middle" '
                f'fill="{s.fill or "#212529"}">{text(self.sample or "A")}</text>'
            )
        return (
            '<svg class="swatch" xmlns="http://www.w3.org/2000/svg" width="7mm" height="4.5mm" '
            f'viewBox="0 0 7 4.5" font-family="{text(FONT_FAMILY)}">{body}</svg>'
        )


def _capped(s: Style) -> Style:
    """Return a line style for a swatch: no wider than the swatch holds."""
    return replace(s, stroke_width=min(s.stroke_width, 1.6))


LegendOf = Sequence[LegendEntry] | Callable[[gpd.GeoDataFrame], Sequence[LegendEntry]]


@dataclass(frozen=True)
class MapLayer:
    """One layer of a map: its features, how they are drawn, labelled and listed in the legend.

    Parameters
    ----------
    name
        A name (the SVG group's class).
    frame
        The features: a GeoDataFrame with a CRS (EPSG:4326 as stored, or the figure's own
        projected CRS to save reprojecting the same frame for many maps).
    style
        One :class:`Style` for every feature, a function of a feature's attributes returning
        its style (None: not drawn), or None to draw nothing (a layer of labels only).
    label
        How features are labelled (:class:`~gridmap.print.labels.LabelRule`), or None.
    legend
        Legend entries, or a function of the features inside the map's extent returning them
        (so that a legend lists only what the map shows).
    """

    name: str
    frame: gpd.GeoDataFrame
    style: StyleOf = None
    label: lab.LabelRule | None = None
    legend: LegendOf = field(default_factory=tuple)


@dataclass(frozen=True)
class RenderedMap:
    """A map drawn into a box: its SVG and what the sheet says about it.

    ``scale`` is the denominator of 1:N; ``metres_per_mm`` ground metres per millimetre of
    paper (``scale`` / 1000 when the scale is round); ``extent`` the box's bounds in ``crs``
    (metres); ``north_deg`` the direction of true north, clockwise from up.
    """

    svg: str
    width_mm: float
    height_mm: float
    scale: int
    metres_per_mm: float
    crs: str
    extent: Bbox
    scalebar_m: float
    scalebar_mm: float
    north_deg: float
    legend: tuple[LegendEntry, ...]
    labels: int


class MapFigure:
    """A map of ``layers`` over ``extent``, drawn at a true scale into any box on paper.

    Parameters
    ----------
    layers
        Drawn in order, the first at the bottom; labels of every layer are placed together
        after all shapes, so that no shape hides a label.
    extent
        The bounds the map must show: minlon, minlat, maxlon, maxlat (EPSG:4326 degrees), or
        in ``extent_crs``; default: the bounds of every layer. The box's shape decides how much
        more is shown around them.
    extent_crs
        The CRS of ``extent`` (default EPSG:4326; the figure's own CRS: bounds in metres, as
        tight as the features they come from).
    crs
        The projected CRS to draw in (metres); default: the UTM zone of the extent's centre.
    pad
        Part of the extent's size added on each side before fitting.
    round_scale
        Round the scale to the next round 1:N (1:2,500, 1:5,000, …), showing a little more.
    lang
        ``zh-CN`` or ``en``: the words of the scale bar and north arrow.
    background
        The paper colour of the map (the web map's basemap background by default).
    """

    def __init__(
        self,
        layers: Sequence[MapLayer],
        *,
        extent: Bbox | None = None,
        extent_crs: str | pyproj.CRS = "EPSG:4326",
        crs: str | pyproj.CRS | None = None,
        pad: float = 0.05,
        round_scale: bool = True,
        lang: str = "zh-CN",
        background: str = "#f4f1ec",
    ) -> None:
        self.layers = list(layers)
        if extent is None:
            found = [
                layer.frame.to_crs(4326).total_bounds for layer in self.layers if len(layer.frame)
            ]
            if not found:
                raise InputError("A map needs an extent or some features to show. (地图没有范围。)")
            b = np.vstack(found)
            extent = (b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max())
            extent_crs = "EPSG:4326"
        minx, miny, maxx, maxy = (float(v) for v in extent)
        if not (np.isfinite([minx, miny, maxx, maxy]).all() and minx <= maxx and miny <= maxy):
            raise InputError(f"A map extent must be minx, miny, maxx, maxy: {extent}.")
        self.extent = (minx, miny, maxx, maxy)
        self.extent_crs = pyproj.CRS.from_user_input(extent_crs)
        to_degrees = pyproj.Transformer.from_crs(self.extent_crs, "EPSG:4326", always_xy=True)
        centre = to_degrees.transform((minx + maxx) / 2, (miny + maxy) / 2)
        self.crs = pyproj.CRS.from_user_input(crs) if crs is not None else utm_crs(*centre)
        if not self.crs.is_projected:
            raise InputError("A map is drawn in a projected CRS in metres (the UTM zone).")
        self.centre = (float(centre[0]), float(centre[1]))
        self.pad = pad
        self.round_scale = round_scale
        self.lang = lang
        self.background = background

    def _box_m(self) -> Bbox:
        """Return the extent in the figure's CRS (metres), densified and padded."""
        if self.extent_crs == self.crs:
            x0, y0, x1, y1 = self.extent
        else:
            to = pyproj.Transformer.from_crs(self.extent_crs, self.crs, always_xy=True)
            x0, y0, x1, y1 = to.transform_bounds(*self.extent, densify_pts=21)
        w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
        return (x0 - w * self.pad, y0 - h * self.pad, x1 + w * self.pad, y1 + h * self.pad)

    def fit(self, width_mm: float, height_mm: float) -> tuple[Bbox, int, float, furn.Ground]:
        """Return the box (metres), scale denominator, grid metres per mm, and the ground.

        The extent fits the box in both directions; with ``round_scale`` the scale is the next
        round one, and the box is centred on the extent.
        """
        if width_mm < 20 or height_mm < 20:
            raise InputError("A map box must be at least 20 mm by 20 mm.")
        x0, y0, x1, y1 = self._box_m()
        ground = furn.ground_at(self.crs, *self.centre)
        grid_per_mm = max((x1 - x0) / width_mm, (y1 - y0) / height_mm)
        denominator = grid_per_mm / ground.k * 1000.0
        scale = furn.nice_scale(denominator) if self.round_scale else round(denominator)
        if self.round_scale:
            grid_per_mm = scale / 1000.0 * ground.k
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        w, h = width_mm * grid_per_mm / 2, height_mm * grid_per_mm / 2
        return (cx - w, cy - h, cx + w, cy + h), scale, grid_per_mm, ground

    def render(self, width_mm: float, height_mm: float, *, ident: str = "map") -> RenderedMap:
        """Draw the map into a box of ``width_mm`` × ``height_mm``; return its SVG and scale.

        ``ident`` prefixes the SVG's ids (give each map of one document its own).
        """
        box, scale, per_mm, ground = self.fit(width_mm, height_mm)
        x0, y0, x1, y1 = box
        margin = 3.0 * per_mm

        def to_paper(coords: np.ndarray) -> np.ndarray:
            return np.column_stack(((coords[:, 0] - x0) / per_mm, (y1 - coords[:, 1]) / per_mm))

        parts: list[str] = []
        legend: list[LegendEntry] = []
        found: list[lab.Candidate] = []
        for layer in self.layers:
            ready = _prepared(layer.frame, self.crs)
            hits = ready.hits((x0 - margin, y0 - margin, x1 + margin, y1 + margin))
            if not len(hits):
                continue
            geoms = shapely.clip_by_rect(
                ready.geoms[hits], x0 - margin, y0 - margin, x1 + margin, y1 + margin
            )
            paper = shapely.transform(geoms, to_paper)
            paper = shapely.simplify(paper, SIMPLIFY_MM, preserve_topology=True)
            rows = [ready.rows[i] for i in hits]
            parts.append(_draw(layer, rows, paper))
            if layer.label is not None:
                found.extend(lab.candidates(layer.label, rows, list(paper)))
            if callable(layer.legend):
                shown = ready.frame.iloc[hits[~shapely.is_empty(geoms)]]
                legend.extend(layer.legend(shown))
            else:
                legend.extend(layer.legend)
        metres_per_mm = per_mm / ground.k
        extra = furn.furniture(
            width_mm,
            height_mm,
            scale=scale,
            metres_per_mm=metres_per_mm,
            north_deg=ground.north_deg,
            lang=self.lang,
        )
        placed = lab.place(found, width_mm, height_mm, reserved=extra.boxes)
        clip = f"{ident}-clip"
        svg = "\n".join(
            [
                f'<svg xmlns="http://www.w3.org/2000/svg" class="map-svg" id="{ident}" '
                f'width="{num(width_mm)}mm" height="{num(height_mm)}mm" '
                f'viewBox="0 0 {num(width_mm)} {num(height_mm)}" '
                f'font-family="{text(FONT_FAMILY)}" data-scale="{scale}" '
                f'data-crs="{text(self.crs.to_string())}">',
                f'<defs><clipPath id="{clip}"><rect x="0" y="0" width="{num(width_mm)}" '
                f'height="{num(height_mm)}"/></clipPath></defs>',
                f'<rect x="0" y="0" width="{num(width_mm)}" height="{num(height_mm)}" '
                f'fill="{self.background}"/>',
                f'<g clip-path="url(#{clip})">',
                *parts,
                "</g>",
                lab.svg(placed),
                extra.svg,
                f'<rect x="0" y="0" width="{num(width_mm)}" height="{num(height_mm)}" '
                'fill="none" stroke="#495057" stroke-width="0.35"/>',
                "</svg>",
            ]
        )
        return RenderedMap(
            svg=svg,
            width_mm=width_mm,
            height_mm=height_mm,
            scale=scale,
            metres_per_mm=metres_per_mm,
            crs=self.crs.to_string(),
            extent=box,
            scalebar_m=extra.scalebar_m,
            scalebar_mm=extra.scalebar_mm,
            north_deg=ground.north_deg,
            legend=_unique(legend),
            labels=len(placed),
        )


@dataclass
class _Prepared:
    """A frame made ready for drawing in one CRS: valid shapes, their rows, a spatial index."""

    frame: gpd.GeoDataFrame
    geoms: np.ndarray
    rows: list[dict[str, Any]]
    tree: shapely.STRtree

    def hits(self, box: Bbox) -> np.ndarray:
        """Return the positions of the shapes that meet ``box`` (metres), in frame order."""
        return np.sort(self.tree.query(shapely.box(*box), predicate="intersects"))


#: Frames made ready, by (id of the frame, CRS); an entry goes when its frame does. Many maps
#: of one sheet draw the same frames: each is projected, indexed and read into rows once.
_PREPARED: dict[tuple[int, str], tuple[weakref.ref[gpd.GeoDataFrame], _Prepared]] = {}


def _prepared(frame: gpd.GeoDataFrame, crs: pyproj.CRS) -> _Prepared:
    """Return ``frame`` ready for drawing in ``crs`` (made once per frame and CRS)."""
    key = (id(frame), crs.to_string())
    found = _PREPARED.get(key)
    if found is not None and found[0]() is frame:
        return found[1]
    if frame.crs is None:
        raise InputError("A map layer's frame needs a CRS (EPSG:4326 as stored).")
    projected = frame if pyproj.CRS.from_user_input(frame.crs) == crs else frame.to_crs(crs)
    keep = projected.geometry.notna().to_numpy() & ~projected.geometry.is_empty.to_numpy()
    projected = projected[keep]
    geoms = np.asarray(projected.geometry.values, dtype=object)
    ready = _Prepared(projected, geoms, _rows(projected), shapely.STRtree(geoms))
    _PREPARED[key] = (weakref.ref(frame), ready)
    weakref.finalize(frame, _PREPARED.pop, key, None)
    return ready


def _clean(v: Any) -> Any:
    """Return ``v``, or None for a missing value (None, NaN, NA, NaT)."""
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v):
        return None
    return v


def _rows(frame: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """Return each row's attributes as a plain dict (missing values as None), with its id
    (the frame's index) as :data:`FID`."""
    names = [c for c in frame.columns if c != frame.geometry.name]
    columns = [frame[c].tolist() for c in names]
    rows = []
    for fid, values in zip(frame.index.tolist(), zip(*columns, strict=True), strict=True):
        row = {n: _clean(v) for n, v in zip(names, values, strict=True)}
        row[FID] = fid
        rows.append(row)
    return rows


def _style_of(layer: MapLayer, props: Mapping[str, Any]) -> Style | None:
    s = layer.style
    return s(props) if callable(s) else s


def _draw(layer: MapLayer, rows: list[dict[str, Any]], geoms: np.ndarray) -> str:
    """Return the SVG group of one layer: casings first, then shapes, then points."""
    if layer.style is None:
        return ""
    casings: list[str] = []
    shapes: list[str] = []
    for props, geom in zip(rows, geoms, strict=True):
        style = _style_of(layer, props)
        if style is None or geom is None or geom.is_empty:
            continue
        kind = geom.geom_type
        if kind in ("Point", "MultiPoint"):
            shapes.extend(_circles(style, points_of(geom)))
            continue
        d = path_data(geom)
        if not d:
            continue
        line = "Line" in kind
        if line and style.casing:
            width = style.stroke_width + 2 * style.casing_width
            casings.append(
                f'<path d="{d}" fill="none" stroke="{style.casing}" stroke-width="{num(width)}" '
                f'stroke-linejoin="round" stroke-linecap="{style.linecap}"/>'
            )
        rule = "" if line else ' fill-rule="evenodd"'
        shapes.append(f'<path d="{d}"{rule} {style.attrs(line=line)}/>')
    return "\n".join([f'<g class="layer-{layer.name}">', *casings, *shapes, "</g>"])


def _circles(style: Style, points: list[tuple[float, float]]) -> list[str]:
    out = []
    for x, y in points:
        if style.ring:
            out.append(
                f'<circle cx="{num(x)}" cy="{num(y)}" r="{num(style.ring_radius)}" fill="none" '
                f'stroke="{style.ring}" stroke-width="0.4" stroke-opacity="0.8"/>'
            )
        out.append(f'<circle cx="{num(x)}" cy="{num(y)}" r="{num(style.radius)}" {style.attrs()}/>')
    return out


def _unique(entries: Sequence[LegendEntry]) -> tuple[LegendEntry, ...]:
    seen: set[tuple[str, str]] = set()
    out = []
    for e in entries:
        key = (e.kind, e.label)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return tuple(out)
