"""Writing SVG: styles as presentation attributes, geometries as path data, escaped text.

Everything here works in the figure's paper coordinates: millimetres from the top-left corner
of the map box, y growing downwards. No ``style=`` attributes are written (the map page's
Content-Security-Policy would refuse them in HTML for print): only presentation attributes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from html import escape

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

#: The fonts of printed text, Chinese first (Debian: fonts-noto-cjk).
FONT_FAMILY = (
    "'Noto Sans CJK SC', 'Noto Sans SC', 'Source Han Sans SC', 'WenQuanYi Micro Hei', "
    "'Microsoft YaHei', 'PingFang SC', sans-serif"
)


@dataclass(frozen=True)
class Style:
    """How a feature is drawn on paper. Lengths in millimetres; colours ``#rrggbb``.

    ``fill`` None: not filled; ``stroke`` None: no outline. Lines may have a ``casing``: a
    wider line of that colour drawn underneath all lines of the layer (cased roads), wider by
    ``casing_width`` on each side. Points are circles of ``radius``; ``ring`` adds a halo
    circle of ``ring_radius`` (police posts).
    """

    fill: str | None = None
    fill_opacity: float = 1.0
    stroke: str | None = None
    stroke_width: float = 0.25
    stroke_opacity: float = 1.0
    dash: tuple[float, ...] | None = None
    radius: float = 1.0
    casing: str | None = None
    casing_width: float = 0.0
    ring: str | None = None
    ring_radius: float = 0.0
    linecap: str = "round"

    def attrs(self, *, line: bool = False) -> str:
        """Return the presentation attributes of this style (``line``: never filled)."""
        out = []
        if line or self.fill is None:
            out.append('fill="none"')
        else:
            out.append(f'fill="{self.fill}"')
            if self.fill_opacity < 1:
                out.append(f'fill-opacity="{_num(self.fill_opacity)}"')
        if self.stroke is None:
            out.append('stroke="none"')
        else:
            out.append(f'stroke="{self.stroke}" stroke-width="{_num(self.stroke_width)}"')
            if self.stroke_opacity < 1:
                out.append(f'stroke-opacity="{_num(self.stroke_opacity)}"')
            if self.dash:
                out.append(f'stroke-dasharray="{" ".join(_num(d) for d in self.dash)}"')
            out.append(f'stroke-linejoin="round" stroke-linecap="{self.linecap}"')
        return " ".join(out)


def _num(v: float) -> str:
    """Return a short decimal text of ``v`` (two decimals at most: 0.01 mm on paper)."""
    text = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def num(v: float) -> str:
    """Return ``v`` as SVG writes it: at most two decimals."""
    return _num(v)


def _ring(coords: np.ndarray, closed: bool) -> str:
    """Return the path data of one ring or line (a closed ring's repeated end dropped).

    Coordinates are rounded to 0.01 mm; ``repr`` of a rounded float is its shortest text.
    """
    xy = np.round(coords[:, :2], 2) + 0.0  # + 0.0: no "-0.0"
    if closed and len(xy) > 1 and np.array_equal(xy[0], xy[-1]):
        xy = xy[:-1]
    if len(xy) == 0:
        return ""
    flat = list(map(repr, xy.ravel().tolist()))
    head = f"M{flat[0]} {flat[1]}"
    rest = " ".join(flat[2:])
    return head + (f"L{rest}" if rest else "") + ("Z" if closed else "")


def _parts(geom: BaseGeometry) -> Iterator[BaseGeometry]:
    if hasattr(geom, "geoms"):
        for g in geom.geoms:
            yield from _parts(g)
    else:
        yield geom


def path_data(geom: BaseGeometry) -> str:
    """Return the SVG path data of a (multi)polygon or (multi)line in paper coordinates."""
    out = []
    for part in _parts(geom):
        if part.is_empty:
            continue
        if part.geom_type == "Polygon":
            out.append(_ring(np.asarray(part.exterior.coords), True))
            out.extend(_ring(np.asarray(r.coords), True) for r in part.interiors)
        elif part.geom_type in ("LineString", "LinearRing"):
            out.append(_ring(np.asarray(part.coords), False))
    return "".join(out)


def points_of(geom: BaseGeometry) -> list[tuple[float, float]]:
    """Return the points of a (multi)point geometry."""
    return [(p.x, p.y) for p in _parts(geom) if p.geom_type == "Point" and not p.is_empty]


def text(value: object) -> str:
    """Return ``value`` escaped for SVG/HTML text and attributes."""
    return escape(str(value), quote=True)


def rotated_box(cx: float, cy: float, w: float, h: float, angle_deg: float) -> BaseGeometry:
    """Return the rectangle of ``w`` × ``h`` centred on (cx, cy), turned by ``angle_deg``
    (clockwise on paper: y grows downwards)."""
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    corners = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
    return shapely.Polygon([(cx + x * c - y * s, cy + x * s + y * c) for x, y in corners])


def text_width(line: str, size: float) -> float:
    """Return the approximate width (mm) of ``line`` set in ``size`` mm type.

    CJK characters are one em wide, digits and Latin letters a little over half an em: close
    enough to keep labels from overlapping.
    """
    width = 0.0
    for ch in line:
        o = ord(ch)
        if o >= 0x2E80:
            width += 1.0
        elif ch in " il.,:;'|!()[]":
            width += 0.3
        elif ch.isupper() or ch in "mwMW@%":
            width += 0.72
        else:
            width += 0.56
    return width * size


def join(parts: Iterable[str]) -> str:
    """Return SVG parts joined by newlines."""
    return "\n".join(p for p in parts if p)
