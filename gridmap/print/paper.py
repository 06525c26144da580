"""Paper: ISO sizes, orientation, and how a printed page is divided (all lengths in mm).

A page has a margin, a header (title, subtitle, date), a footer (attribution, page number) and
between them the *body*. A sheet page with a map lays the body out in one of two ways:
``side`` (landscape: the map on the left, legend and table in a column on the right) or
``stack`` (portrait: the map on top, legend and table below it). :func:`layout` returns the
size of the map box and of the column, so that the map can be drawn at a true scale for the
space it gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gridmap.errors import InputError

PaperName = Literal["A4", "A3"]
Orientation = Literal["portrait", "landscape"]

#: ISO 216 sizes, portrait (width, height) in millimetres.
PAPERS: dict[str, tuple[float, float]] = {"A4": (210.0, 297.0), "A3": (297.0, 420.0)}
ORIENTATIONS: tuple[str, ...] = ("landscape", "portrait")

#: Margin on every side of the page.
MARGIN_MM = 10.0
#: Height kept for the header (title, subtitle and date) and for the footer.
HEADER_MM = 15.0
FOOTER_MM = 7.0
#: Gap between the map and the column beside or below it.
GAP_MM = 5.0
#: Kept free at the foot of the body, so that rounding never pushes a page's map over its edge.
SLACK_MM = 1.5


@dataclass(frozen=True)
class Paper:
    """A sheet of paper: its ISO name, orientation and size in millimetres."""

    name: str
    orientation: str
    width_mm: float
    height_mm: float

    @property
    def css_size(self) -> str:
        """Return the CSS ``@page`` size (``A4 landscape``)."""
        return f"{self.name} {self.orientation}"

    @property
    def body_mm(self) -> tuple[float, float]:
        """Return the width and height of the page body: inside the margins, header and footer."""
        return (
            self.width_mm - 2 * MARGIN_MM,
            self.height_mm - 2 * MARGIN_MM - HEADER_MM - FOOTER_MM - SLACK_MM,
        )


def paper(name: str = "A4", orientation: str = "landscape") -> Paper:
    """Return the :class:`Paper` of an ISO name (A4, A3) and orientation.

    Raises :class:`~gridmap.errors.InputError` for anything else, in English and Chinese.
    """
    key = str(name).upper()
    if key not in PAPERS:
        raise InputError(
            f"paper must be one of {', '.join(PAPERS)}, not '{name}'. (纸张须为 A4 或 A3。)"
        )
    if orientation not in ORIENTATIONS:
        raise InputError(
            f"orientation must be landscape or portrait, not '{orientation}'. "
            "(方向须为横向 landscape 或纵向 portrait。)"
        )
    w, h = PAPERS[key]
    if orientation == "landscape":
        w, h = h, w
    return Paper(key, orientation, w, h)


@dataclass(frozen=True)
class Layout:
    """How one page body is divided: the map box and the column beside or below it (mm)."""

    kind: Literal["side", "stack"]
    map_mm: tuple[float, float]
    column_mm: tuple[float, float]


def layout(page: Paper, *, column_share: float | None = None) -> Layout:
    """Return the division of ``page``'s body between a map and its column.

    Landscape pages put the column (legend, table) beside the map, portrait ones below it.
    ``column_share`` is the part of the body's width (side) or height (stack) the column
    takes; default 0.36 beside, 0.4 below.
    """
    bw, bh = page.body_mm
    if page.orientation == "landscape":
        share = 0.36 if column_share is None else column_share
        col = round(bw * share, 1)
        return Layout("side", (round(bw - col - GAP_MM, 1), round(bh, 1)), (col, round(bh, 1)))
    share = 0.4 if column_share is None else column_share
    col = round(bh * share, 1)
    return Layout("stack", (round(bw, 1), round(bh - col - GAP_MM, 1)), (round(bw, 1), col))
