"""Where a value comes from: the columns that record the source of another column's value.

A building's ``levels`` are said to come from OSM's ``building:levels``, from its height or
from a default (``levels_source``), its ``households`` from the demo's estimate, the
register, an import or a user (``households_source``). This module names those pairs and
keeps them true when values are written without their source:

- a full row (an import, a new feature) that gives a value but leaves its source empty gets
  the origin of the write (``import`` or ``user``): :func:`fill_sources`;
- an edit that changes a value without naming a new source makes it the user's:
  :func:`sources_after_edit` (for the code that sees the stored row and the change).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

#: By layer: {value column: the column that says where its value comes from}.
SOURCES: dict[str, dict[str, str]] = {
    "buildings": {"levels": "levels_source", "households": "households_source"},
}


def _given(value: Any) -> bool:
    return value is not None and not (not isinstance(value, str) and pd.isna(value))


def fill_sources(frame: pd.DataFrame, layer: str, origin: str) -> pd.DataFrame:
    """Return ``frame`` with empty source cells of given values set to ``origin``.

    Parameters
    ----------
    frame
        Full rows of ``layer`` (any columns); not changed.
    layer
        The layer's name.
    origin
        What wrote the rows: ``"import"`` or ``"user"``.

    Returns
    -------
    DataFrame
        ``frame`` itself when nothing is to fill, else a copy. A source column is added only
        where its value column is there and some value is given.
    """
    out = frame
    for value, source in SOURCES.get(layer, {}).items():
        if value not in frame.columns:
            continue
        given = frame[value].map(_given).astype(bool)
        current = (
            frame[source]
            if source in frame.columns
            else pd.Series(None, index=frame.index, dtype=object)
        )
        empty = ~current.map(_given).astype(bool)
        fill = given & empty
        if fill.any():
            out = out.copy() if out is frame else out
            out[source] = current.astype(object).where(~fill, origin)
    return out


def sources_after_edit(
    layer: str, stored: Mapping[str, Any], values: Mapping[str, Any]
) -> dict[str, Any]:
    """Return the values an edit writes, with ``user`` as the source of the values it changes.

    Parameters
    ----------
    layer
        The layer's name.
    stored
        The row as stored (at least the value columns the edit gives).
    values
        The columns the edit gives.

    Returns
    -------
    dict
        ``values``, plus ``<source> = "user"`` for each value column whose value changes
        while the edit leaves its source out or sends the stored one back unchanged (a form
        that returns every column it showed). A source the edit changes itself is kept.
    """
    out = dict(values)
    for value, source in SOURCES.get(layer, {}).items():
        if value not in values or _same(values[value], stored.get(value)):
            continue
        if source in values and not _same(values[source], stored.get(source)):
            continue
        out[source] = "user"
    return out


def _same(a: Any, b: Any) -> bool:
    if not _given(a) or not _given(b):
        return not _given(a) and not _given(b)
    try:
        return bool(float(a) == float(b))
    except (TypeError, ValueError):
        return bool(a == b)
