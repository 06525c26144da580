"""Map furniture: the scale (a round 1:N), the scale bar and the north arrow.

The map is drawn in the area's UTM zone, whose grid distances differ from distances on the
ground by the point scale factor *k* (0.9996 on the central meridian, up to about 1.001 at a
zone's edge), and whose grid north differs from true north by the meridian convergence (about
1° in Nanjing). Both are measured at the map's centre (:func:`ground_at`), so that the scale
bar measures ground metres and the north arrow points to true north.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.print.svg import num, text

#: Round scale denominators, as mantissas of a power of ten: 1:1,000, 1:1,250, 1:1,500, …
NICE_SCALES = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.5, 8.0)
#: Round scale bar lengths, as mantissas of a power of ten.
NICE_LENGTHS = (1.0, 2.0, 2.5, 5.0)
#: The scale bar is as long as the largest round length that fits this (mm on paper).
SCALEBAR_MAX_MM = 32.0


@dataclass(frozen=True)
class Ground:
    """How the figure's CRS relates to the ground at a point.

    ``k``: grid metres per ground metre (point scale factor). ``north_deg``: the direction of
    true north on the map, in degrees clockwise from the map's up (grid north); negative when
    true north leans west of grid north.
    """

    k: float
    north_deg: float


def ground_at(crs: pyproj.CRS, lon: float, lat: float) -> Ground:
    """Return the scale factor and true north of ``crs`` at ``lon``/``lat`` (EPSG:4326 degrees).

    Measured, not looked up: two points 100 m apart along the meridian (WGS84 ellipsoid) are
    projected, and their grid distance and direction compared.
    """
    geod = pyproj.Geod(ellps="WGS84")
    lon2, lat2, _ = geod.fwd(lon, lat, 0.0, 100.0)
    to = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x1, y1 = to.transform(lon, lat)
    x2, y2 = to.transform(lon2, lat2)
    grid = math.hypot(x2 - x1, y2 - y1)
    return Ground(k=grid / 100.0, north_deg=math.degrees(math.atan2(x2 - x1, y2 - y1)))


def nice_scale(denominator: float) -> int:
    """Return the smallest round scale denominator at least ``denominator`` (1:N)."""
    if denominator <= 0 or not math.isfinite(denominator):
        raise ValueError("a scale denominator is a positive number")
    power = 10 ** math.floor(math.log10(denominator))
    for m in (*NICE_SCALES, 10.0):
        if m * power >= denominator * (1 - 1e-9):
            return round(m * power)
    return round(10 * power)  # pragma: no cover - 10.0 always qualifies


def scalebar_length(metres_per_mm: float, max_mm: float = SCALEBAR_MAX_MM) -> float:
    """Return the longest round length (ground metres) whose bar is at most ``max_mm`` long."""
    most = metres_per_mm * max_mm
    power = 10 ** math.floor(math.log10(most))
    best = power
    for m in NICE_LENGTHS:
        if m * power <= most * (1 + 1e-9):
            best = m * power
    return best


def distance_text(metres: float, lang: str) -> str:
    """Return a ground distance as printed: ``250 m``, ``1.5 km`` (``250 米`` in Chinese)."""
    if metres >= 1000:
        value = f"{metres / 1000:g}"
        return f"{value} 千米" if lang == "zh-CN" else f"{value} km"
    return f"{metres:g} 米" if lang == "zh-CN" else f"{metres:g} m"


@dataclass(frozen=True)
class Furniture:
    """The SVG of the scale bar and north arrow, and the boxes they take (mm, paper)."""

    svg: str
    boxes: tuple[BaseGeometry, ...]
    scalebar_m: float
    scalebar_mm: float


def furniture(
    width_mm: float,
    height_mm: float,
    *,
    scale: int,
    metres_per_mm: float,
    north_deg: float,
    lang: str,
) -> Furniture:
    """Return the scale bar (bottom left) and north arrow (top right) of a map box.

    ``metres_per_mm`` is ground metres per millimetre of paper; the bar's length on paper is
    its ground length divided by it.
    """
    length = scalebar_length(metres_per_mm)
    bar = length / metres_per_mm
    x0, y0 = 4.0, height_mm - 4.0
    h = 1.4
    halves = [
        f'<rect x="{num(x0 + i * bar / 2)}" y="{num(y0 - h)}" width="{num(bar / 2)}" '
        f'height="{num(h)}" fill="{"#212529" if i == 0 else "#ffffff"}" stroke="#212529" '
        'stroke-width="0.25"/>'
        for i in range(2)
    ]
    label_y = y0 - h - 1.0
    ticks = [
        f'<text x="{num(x0)}" y="{num(label_y)}" font-size="2.2" text-anchor="middle">0</text>',
        f'<text x="{num(x0 + bar)}" y="{num(label_y)}" font-size="2.2" text-anchor="middle">'
        f"{text(distance_text(length, lang))}</text>",
    ]
    ratio = f"1:{scale:,}"
    ratio_text = (
        f'<text x="{num(x0 + bar + 9)}" y="{num(y0 - 0.2)}" font-size="2.4" '
        f'font-weight="bold">{text(ratio)}</text>'
    )
    box_w = bar + 14 + len(ratio) * 1.4
    back = shapely.box(x0 - 3, y0 - h - 4.6, x0 - 3 + box_w, y0 + 1.6)
    scalebar = (
        f'<g class="scalebar" data-length-m="{num(length)}" data-length-mm="{num(bar)}" '
        f'data-scale="{scale}">'
        f'<rect x="{num(back.bounds[0])}" y="{num(back.bounds[1])}" width="{num(box_w)}" '
        f'height="{num(back.bounds[3] - back.bounds[1])}" rx="1" fill="#ffffff" '
        'fill-opacity="0.85"/>' + "".join(halves) + "".join(ticks) + ratio_text + "</g>"
    )
    cx, cy, r = width_mm - 8.0, 12.5, 4.6
    letter = "北" if lang == "zh-CN" else "N"
    arrow_box = shapely.box(cx - r - 1.4, cy - r - 5.2, cx + r + 1.4, cy + r + 1.4)
    x_a, y_a, x_b, y_b = arrow_box.bounds
    arrow = (
        f'<g class="north-arrow" data-north-deg="{num(north_deg)}">'
        f'<rect x="{num(x_a)}" y="{num(y_a)}" width="{num(x_b - x_a)}" height="{num(y_b - y_a)}" '
        'rx="1.5" fill="#ffffff" fill-opacity="0.85"/>'
        f'<text x="{num(cx)}" y="{num(cy - r - 1.1)}" font-size="2.8" font-weight="bold" '
        f'text-anchor="middle">{letter}</text>'
        f'<g transform="rotate({num(north_deg)} {num(cx)} {num(cy)})">'
        f'<path d="M{num(cx)} {num(cy - r)}L{num(cx + 2.1)} {num(cy + r)}'
        f'L{num(cx)} {num(cy + r * 0.45)}Z" fill="#212529"/>'
        f'<path d="M{num(cx)} {num(cy - r)}L{num(cx - 2.1)} {num(cy + r)}'
        f'L{num(cx)} {num(cy + r * 0.45)}Z" fill="#ffffff" stroke="#212529" '
        'stroke-width="0.25" stroke-linejoin="round"/>'
        "</g>"
        "</g>"
    )
    return Furniture(scalebar + arrow, (back, arrow_box), length, bar)
