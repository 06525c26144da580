"""The printed map's symbols: the web map's palette (web/static/js/styles.js), sized for paper.

Colours are copied from ``styles.js`` (read, not imported: the library knows no JavaScript) so
that a printed sheet and the screen agree — a grid has the same fill on both, chosen by the
same rule (:func:`grid_colours`). Widths and sizes are in millimetres on paper. The map of a
workspace made of these symbols is :class:`gridmap.print.basemap.WorkspaceMap`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gridmap.print.svg import Style
from gridmap.schema.titles import choice_titles

#: styles.js ACCENT: the selection highlight.
ACCENT = "#e6007e"
#: styles.js BASEMAP.background: the paper colour of the map.
BACKGROUND = "#f4f1ec"
#: styles.js GRID_PALETTE, in its order.
GRID_PALETTE = (
    "#8fb8de",
    "#f2b880",
    "#a8d5a2",
    "#d7a9d6",
    "#f6d186",
    "#9fd3c7",
    "#e8a6a6",
    "#b5b8e6",
    "#c9d99a",
    "#e6c2a0",
)
#: styles.js COMMUNITY.
COMMUNITY = Style(stroke="#1f3354", stroke_width=0.8, stroke_opacity=0.9)
#: styles.js BUILDING (residential, other).
BUILDING = {
    "residential": Style(fill="#f1d3b3", stroke="#b98b5e", stroke_width=0.1, fill_opacity=0.9),
    "other": Style(fill="#d3dbe5", stroke="#8797ab", stroke_width=0.1, fill_opacity=0.9),
}
#: styles.js FACILITY_COLOURS.
FACILITY_COLOURS = {
    "police_post": "#1d3f8f",
    "community_office": "#4c6ef5",
    "government": "#6a5acd",
    "school": "#1c7ed6",
    "kindergarten": "#74c0fc",
    "library": "#0b5ea8",
    "culture": "#4dabf7",
    "hospital": "#3b5bdb",
    "clinic": "#8c9eea",
    "pharmacy": "#b3c0f2",
    "bank": "#34495e",
    "shop": "#5b7290",
    "restaurant": "#7a93c2",
    "market": "#2b4a73",
    "parking": "#2d6a9f",
    "entrance": "#b4bccb",
    "light": "#d0d9e8",
    "toilets": "#5d8cbf",
    "office": "#707b8f",
    "other": "#8f98aa",
}
#: styles.js CAMERA_COLOURS and CAMERA_POINT.
CAMERA_COLOURS = {"fixed": "#2f9e44", "ptz": "#74b816", "dome": "#0ca678"}
CAMERA_POINT = Style(fill="#212529", stroke="#ffffff", stroke_width=0.25, radius=0.75)


@dataclass(frozen=True)
class RoadClass:
    """A road class of styles.js ROAD_CLASSES: OSM highway tags, fill, casing, width on paper."""

    id: str
    match: tuple[str, ...]
    color: str
    casing: str | None
    width_mm: float
    dash: tuple[float, ...] | None = None


#: styles.js ROAD_CLASSES, minor to major (drawn in this order).
ROAD_CLASSES = (
    RoadClass(
        "path",
        ("footway", "path", "pedestrian", "steps", "cycleway", "track", "bridleway", "corridor"),
        "#b7a78c",
        None,
        0.3,
        (0.8, 0.6),
    ),
    RoadClass("service", ("service", "living_street"), "#ffffff", "#d3cdc2", 0.5),
    RoadClass("minor", ("residential", "unclassified", "road"), "#ffffff", "#cdc6b9", 0.75),
    RoadClass("tertiary", ("tertiary", "tertiary_link"), "#fffdf4", "#c4b9a2", 1.0),
    RoadClass("secondary", ("secondary", "secondary_link"), "#fbe3a8", "#d2ac5e", 1.25),
    RoadClass(
        "primary",
        ("primary", "primary_link", "trunk", "trunk_link", "motorway", "motorway_link"),
        "#f8cf7c",
        "#c99636",
        1.5,
    ),
)
_ROAD_BY_TAG = {tag: (rank, c) for rank, c in enumerate(ROAD_CLASSES) for tag in c.match}

#: Words of the legend, (English, Chinese).
WORDS: dict[str, tuple[str, str]] = {
    "community": ("Community boundary", "社区边界"),
    "grids": ("Grid", "网格"),
    "grid_label": ("Grid name and code", "网格名称与编码"),
    "chosen": ("Chosen grid", "所选网格"),
    "residential": ("Residential building", "住宅楼栋"),
    "other": ("Other building", "其他建筑"),
    "building_number": ("Building no.", "楼栋序号（见列表）"),
    "major": ("Main road", "主干道路"),
    "minor": ("Street", "街巷"),
    "path": ("Footpath", "步行道"),
    "camera": ("Camera", "监控探头"),
    "camera_view": ("{kind}: view", "{kind}视域"),
}


def word(key: str, lang: str, **values: str) -> str:
    """Return a legend word in ``lang`` (zh-CN or en)."""
    en, zh = WORDS[key]
    return (zh if lang == "zh-CN" else en).format(**values)


def choice(layer: str, column: str, value: Any, lang: str) -> str:
    """Return the title of a coded value (``police_post`` → 警务站) in ``lang``."""
    titles = choice_titles(layer, column).get(str(value))
    if titles is None:
        return str(value)
    return titles[1] if lang == "zh-CN" else titles[0]


def yes(value: Any) -> bool:
    """Return whether a yes/no value is yes (None and missing values are not)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return False
    return bool(value)


def darken(hex_colour: str, f: float = 0.45) -> str:
    """Return ``hex_colour`` darkened by ``f`` (styles.js ``darken``; halves round up, as
    JavaScript's ``Math.round`` does)."""
    n = int(hex_colour[1:], 16)
    ch = [math.floor(v * (1 - f) + 0.5) for v in ((n >> 16) & 255, (n >> 8) & 255, n & 255)]
    return "#" + "".join(f"{v:02x}" for v in ch)


def grid_colours(grids: gpd.GeoDataFrame) -> dict[str, str]:
    """Return each grid's fill, by code: the colour the web map gives it.

    styles.js ``gridColours``: in code order, each grid takes the palette colour of its
    position unless a grid already coloured whose bounding box meets its own (grown by 2 %
    of its size on each side) has it; then the next colour not taken.
    """
    frame = grids[grids.geometry.notna()].copy()
    frame["_code"] = frame["code"].astype(str)
    frame = frame.sort_values("_code", kind="stable")
    bounds = frame.geometry.bounds.to_numpy()
    codes = frame["_code"].tolist()
    colours: dict[str, str] = {}
    n = len(GRID_PALETTE)
    for i, (minx, miny, maxx, maxy) in enumerate(bounds):
        dx, dy = (maxx - minx) * 0.02, (maxy - miny) * 0.02
        near = (minx - dx, miny - dy, maxx + dx, maxy + dy)
        used = set()
        for j, other in enumerate(bounds):
            if j != i and codes[j] in colours and _meets(near, other):
                used.add(colours[codes[j]])
        pick = GRID_PALETTE[i % n]
        for k in range(n):
            if pick not in used:
                break
            pick = GRID_PALETTE[(i + k + 1) % n]
        colours[codes[i]] = pick
    return colours


def _meets(a: tuple[float, float, float, float], b: np.ndarray) -> bool:
    return bool(a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3])


def grid_style(fill: str, *, faded: bool = False) -> Style:
    """Return the style of a grid of fill ``fill`` (styles.js ``gridStyle``); ``faded``:
    a grid that is not the sheet's, drawn lighter."""
    return Style(
        fill=fill,
        fill_opacity=0.1 if faded else 0.24,
        stroke=darken(fill, 0.25),
        stroke_width=0.3,
        stroke_opacity=0.85,
    )


def road_class(highway: Any) -> tuple[int, RoadClass]:
    """Return the rank and road class of an OSM highway tag (a list: its first; else minor)."""
    tag = highway
    if isinstance(tag, list | tuple):
        tag = tag[0] if tag else None
    if isinstance(tag, str) and tag.startswith("["):
        tag = tag.strip("[]").split(",")[0].strip(" '\"")
    return _ROAD_BY_TAG.get(str(tag), (2, ROAD_CLASSES[2]))


def road_style(c: RoadClass) -> Style:
    """Return the paper style of a road class: its fill over its casing."""
    return Style(
        stroke=c.color,
        stroke_width=c.width_mm,
        dash=c.dash,
        casing=c.casing,
        casing_width=0.18 if c.casing else 0.0,
        linecap="butt" if c.dash else "round",
    )


def short_grid_name(name: Any, community: Any) -> str:
    """Return a grid's name without its community's (中山东路社区第1网格 → 第1网格)."""
    text = "" if name is None else str(name)
    prefix = "" if community is None else str(community)
    if prefix and text.startswith(prefix) and len(text) > len(prefix):
        return text[len(prefix) :]
    return text


def camera_views(cameras: gpd.GeoDataFrame, crs: str | pyproj.CRS) -> gpd.GeoDataFrame:
    """Return each camera's view as a polygon in ``crs`` (metres): a sector of ``fov_deg``
    around ``bearing_deg`` (clockwise from true north) out to ``range_m``, or a disc when the
    camera turns (fov ≥ 360°). Cameras without a range or field of view have none."""
    if cameras.empty:
        return gpd.GeoDataFrame({"kind": []}, geometry=[], crs=crs)
    metric = cameras.to_crs(crs)
    lonlat = cameras.to_crs(4326)
    to = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    geod = pyproj.Geod(ellps="WGS84")
    shapes, kinds = [], []
    for (_, row), point in zip(metric.iterrows(), lonlat.geometry, strict=True):
        fov, reach = _number(row.get("fov_deg")), _number(row.get("range_m"))
        bearing = _number(row.get("bearing_deg"))
        if point is None or point.is_empty or not (fov and reach and fov > 0 and reach > 0):
            continue
        if fov < 360 and bearing is None:
            continue
        start = 0.0 if fov >= 360 else bearing - fov / 2  # type: ignore[operator]
        span = 360.0 if fov >= 360 else fov
        steps = max(6, math.ceil(span / 4))
        azimuths = [start + span * i / steps for i in range(steps + 1)]
        lons, lats, _ = geod.fwd(
            [point.x] * len(azimuths), [point.y] * len(azimuths), azimuths, [reach] * len(azimuths)
        )
        xs, ys = to.transform(lons, lats)
        ring = list(zip(xs, ys, strict=True))
        if fov < 360:
            ring = [(row.geometry.x, row.geometry.y), *ring]
        shapes.append(shapely.Polygon(ring))
        kinds.append(row.get("kind"))
    return gpd.GeoDataFrame({"kind": kinds}, geometry=shapes, crs=crs)


def _number(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def street_names(streets: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return one (multi)line per street name: the streets' edges merged (both directions of a
    two-way street are one line)."""
    named = streets[streets["name"].notna() & (streets["name"].astype(str) != "")]
    if named.empty:
        return gpd.GeoDataFrame({"name": []}, geometry=[], crs=streets.crs)
    merged = named.dissolve(by="name", as_index=False)[["name", "geometry"]]
    merged["geometry"] = shapely.line_merge(np.asarray(merged.geometry.values, dtype=object))
    return merged


def facility_style(kind: Any) -> Style:
    """Return the style of a facility (styles.js ``facilityStyle``): police posts larger, ringed."""
    if kind == "police_post":
        colour = FACILITY_COLOURS["police_post"]
        return Style(
            fill=colour,
            stroke="#ffffff",
            stroke_width=0.45,
            radius=1.3,
            ring=colour,
            ring_radius=2.2,
        )
    colour = FACILITY_COLOURS.get(str(kind), FACILITY_COLOURS["other"])
    return Style(fill=colour, stroke="#ffffff", stroke_width=0.25, radius=0.85, fill_opacity=0.95)
