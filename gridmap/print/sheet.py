"""What a printed sheet holds: pages, each with a title, a map and tables. Plain data.

A :class:`Sheet` is built by whoever prints (the grid sheets of :mod:`gridmap.print.grids`;
patrol and visit sheets later) and rendered by :mod:`gridmap.print.render` on any paper:
the map of each page is drawn for the space the paper leaves it. Text in a sheet is already
in its language; numbers in tables are already formatted (:func:`number`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from gridmap.print.mapfigure import MapFigure


@dataclass(frozen=True)
class Column:
    """A table column: its key, its title as printed, and which side its values keep to."""

    key: str
    title: str
    align: Literal["left", "right", "center"] = "left"


@dataclass(frozen=True)
class Table:
    """A table of text: ``rows`` of values in the order of ``columns``.

    ``kind`` ``list`` prints a header row and one line per row (a long list continues on the
    next pages with its header repeated); ``fields`` prints (title, value) rows — one
    feature's details — ``across`` of them side by side on each line. ``total`` is a last
    row set apart (sums).
    """

    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""
    kind: Literal["list", "fields"] = "list"
    total: tuple[str, ...] | None = None
    note: str = ""
    across: int = 1

    @property
    def lines(self) -> int:
        """Return how many printed lines the table takes (header, rows, total, caption)."""
        head = 1 if self.kind == "list" else 0
        body = len(self.rows) if self.kind == "list" else math.ceil(len(self.rows) / self.across)
        return head + body + (1 if self.total else 0) + (1 if self.caption else 0)

    @property
    def field_lines(self) -> list[list[tuple[str, ...]]]:
        """Return the rows of a ``fields`` table grouped ``across`` to a printed line."""
        n = max(1, self.across)
        return [list(self.rows[i : i + n]) for i in range(0, len(self.rows), n)]


@dataclass(frozen=True)
class Page:
    """One page of a sheet: a title, an optional map, tables beside or below it.

    ``figure`` is drawn for the space the paper leaves (see :func:`gridmap.print.paper.layout`);
    tables that do not fit beside or below it follow on the next page(s).
    """

    title: str
    subtitle: str = ""
    figure: MapFigure | None = None
    tables: tuple[Table, ...] = ()
    notes: tuple[str, ...] = ()
    #: Share of the page body the column of legend and tables takes (None: the paper's own).
    column_share: float | None = None
    #: Put every table after the map, on pages of their own (a long overview list).
    tables_after: bool = False


@dataclass(frozen=True)
class Sheet:
    """A document to print: pages, its language, date and the notices every page carries.

    ``lang`` is ``zh-CN`` or ``en``; ``notices`` go in every page's footer (attribution of
    OpenStreetMap, the note that demo data is synthetic).
    """

    title: str
    pages: tuple[Page, ...]
    lang: str = "zh-CN"
    printed: date = field(default_factory=date.today)
    notices: tuple[str, ...] = ()
    subject: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


def number(value: Any, digits: int = 0) -> str:
    """Return a number as printed in a table: thousands separated, ``—`` when missing."""
    if value is None:
        return "—"
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(f):
        return "—"
    return f"{f:,.{digits}f}"


def words(lang: str, en: str, zh: str) -> str:
    """Return ``zh`` for a Chinese sheet, else ``en``."""
    return zh if lang == "zh-CN" else en
