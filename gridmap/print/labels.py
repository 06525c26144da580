"""Placing labels on a printed map so that they do not overlap.

Candidates come from the layers' :class:`LabelRule` s, in paper coordinates (mm, y down).
They are placed greedily, most important first (a layer's ``priority``, then the area of a
polygon or the length of a line): a label is tried at its position, then smaller, then with
its first line only; one that still meets a placed label, a reserved box (scale bar, north
arrow) or the map's edge is left out. Each placed label is drawn with a white halo.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.print.svg import num, rotated_box, text, text_width

#: Gap kept around every label (mm).
LABEL_GAP_MM = 0.6
#: How much smaller a label may be set when it does not fit at its size.
SHRINK = 0.82


@dataclass(frozen=True)
class LabelRule:
    """How the features of a layer are labelled.

    Parameters
    ----------
    text
        The label of a feature (its attributes as a mapping): one or more lines, or None for
        no label. The first line is set in bold.
    size_mm
        Type size of the first line (later lines are 0.8 of it).
    placement
        ``inside`` a polygon (its pole of inaccessibility), ``line`` along a line (turned to
        its direction, kept upright), ``point`` just right of a point.
    priority
        Added to the size of the feature when ordering labels: a layer's labels with a higher
        priority are placed before another's.
    fit
        ``inside`` only: leave the label out when it is wider than the polygon's widest
        inscribed circle allows (small buildings take a number, not a name).
    """

    text: Callable[[Mapping[str, Any]], Sequence[str] | None]
    size_mm: float = 2.6
    placement: Literal["inside", "line", "point"] = "inside"
    priority: float = 0.0
    color: str = "#212529"
    fit: bool = False


@dataclass
class Candidate:
    """One label to place: its lines, where, how big, how important."""

    lines: list[str]
    x: float
    y: float
    size: float
    priority: float
    color: str
    angle: float = 0.0
    room: float | None = None  # the width it may take (fit), mm


@dataclass(frozen=True)
class Placed:
    """A label as placed: what the SVG draws and the box it takes."""

    lines: tuple[str, ...]
    x: float
    y: float
    size: float
    angle: float
    color: str
    box: BaseGeometry


def candidates(
    rule: LabelRule, rows: list[Mapping[str, Any]], geoms: Sequence[BaseGeometry]
) -> list[Candidate]:
    """Return the label candidates of one layer's clipped features (paper coordinates)."""
    out = []
    for props, geom in zip(rows, geoms, strict=True):
        if geom is None or geom.is_empty:
            continue
        lines = rule.text(props)
        lines = [str(s) for s in (lines or ()) if s not in (None, "")]
        if not lines:
            continue
        if rule.placement == "inside":
            polys = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type == "Polygon"]
            if not polys:
                continue
            part = max(polys, key=lambda g: g.area)
            circle = shapely.maximum_inscribed_circle(part, 0.2)
            centre = shapely.get_point(circle, 0)
            room = 2 * shapely.length(circle) if rule.fit else None
            out.append(
                Candidate(
                    lines,
                    centre.x,
                    centre.y,
                    rule.size_mm,
                    rule.priority + math.sqrt(geom.area),
                    rule.color,
                    room=room,
                )
            )
        elif rule.placement == "line":
            out.extend(_along(rule, lines, geom))
        else:
            p = geom if geom.geom_type == "Point" else geom.representative_point()
            width = max(text_width(s, rule.size_mm) for s in lines)
            out.append(
                Candidate(
                    lines,
                    p.x + 1.2 + width / 2,
                    p.y,
                    rule.size_mm,
                    rule.priority,
                    rule.color,
                )
            )
    return out


def _along(rule: LabelRule, lines: list[str], geom: BaseGeometry) -> list[Candidate]:
    """Return a label on the longest pieces of a line (two at most), turned to follow it."""
    merged = shapely.line_merge(geom) if geom.geom_type == "MultiLineString" else geom
    pieces = [g for g in getattr(merged, "geoms", [merged]) if g.geom_type == "LineString"]
    pieces.sort(key=lambda g: g.length, reverse=True)
    width = text_width(lines[0], rule.size_mm)
    out = []
    for piece in pieces[:2]:
        if piece.length < width * 1.3:
            break
        half = piece.length / 2
        a = piece.interpolate(half - width / 2)
        b = piece.interpolate(half + width / 2)
        mid = piece.interpolate(half)
        angle = math.degrees(math.atan2(b.y - a.y, b.x - a.x))
        if angle > 90:
            angle -= 180
        elif angle <= -90:
            angle += 180
        out.append(
            Candidate(
                lines[:1],
                mid.x,
                mid.y,
                rule.size_mm,
                rule.priority + piece.length,
                rule.color,
                angle,
            )
        )
    return out


def _box(c: Candidate, lines: list[str], size: float) -> BaseGeometry:
    sizes = [size] + [size * 0.8] * (len(lines) - 1)
    w = max(text_width(s, z) for s, z in zip(lines, sizes, strict=True)) + LABEL_GAP_MM
    h = sum(z * 1.15 for z in sizes) + LABEL_GAP_MM
    return rotated_box(c.x, c.y, w, h, c.angle)


def place(
    found: list[Candidate],
    width_mm: float,
    height_mm: float,
    reserved: Sequence[BaseGeometry] = (),
) -> list[Placed]:
    """Place the labels of ``found`` that fit; return them (see the module)."""
    frame = shapely.box(0.5, 0.5, width_mm - 0.5, height_mm - 0.5)
    taken: list[BaseGeometry] = list(reserved)
    placed: list[Placed] = []
    for c in sorted(found, key=lambda c: c.priority, reverse=True):
        tries = [(c.lines, c.size), (c.lines, c.size * SHRINK)]
        if len(c.lines) > 1:
            tries += [(c.lines[:1], c.size), (c.lines[:1], c.size * SHRINK)]
        for lines, size in tries:
            box = _box(c, lines, size)
            if c.room is not None and max(text_width(s, size) for s in lines) > c.room:
                continue
            if not frame.contains(box) or any(box.intersects(t) for t in taken):
                continue
            taken.append(box)
            placed.append(Placed(tuple(lines), c.x, c.y, size, c.angle, c.color, box))
            break
    return placed


def svg(labels: Sequence[Placed]) -> str:
    """Return the SVG of placed labels: each line twice, a white halo under the text."""
    out = ['<g class="labels" text-anchor="middle">']
    for lab in labels:
        sizes = [lab.size] + [lab.size * 0.8] * (len(lab.lines) - 1)
        total = sum(z * 1.15 for z in sizes)
        y = lab.y - total / 2
        turn = (
            f' transform="rotate({num(lab.angle)} {num(lab.x)} {num(lab.y)})"' if lab.angle else ""
        )
        out.append(f"<g{turn}>")
        for i, (line, size) in enumerate(zip(lab.lines, sizes, strict=True)):
            base = y + size * 1.15 * 0.5 + size * 0.36
            y += size * 1.15
            weight = ' font-weight="bold"' if i == 0 else ""
            common = f'x="{num(lab.x)}" y="{num(base)}" font-size="{num(size)}"{weight}'
            halo = max(0.35, size * 0.22)
            out.append(
                f'<text {common} fill="#ffffff" stroke="#ffffff" stroke-width="{num(halo)}" '
                f'stroke-linejoin="round" stroke-opacity="0.9">{text(line)}</text>'
            )
            out.append(f'<text {common} fill="{lab.color}">{text(line)}</text>')
        out.append("</g>")
    out.append("</g>")
    return "\n".join(out)
