"""Visit figures per grid: who is in which visit category, and the visits due.

Every month a grid worker visits each household of the six visit categories (六必访: hardship,
elderly living alone, disabled, migrant, veteran party member, under assistance). Per grid:

- ``<category>_households`` and ``<category>_people``, for each of the six: households with
  the category's flag, and people with it (their household in the grid). Only for a reader
  who may read that grid's register (:func:`gridmap.access.counts.reads_register`: the
  admin; a grid worker in their own grids), who can count them off the rows anyway. A grid's
  count of hardship households counts the very household one asks about: served to planners
  it ranks hardship households above others 58 times in 100 on the demo (docs/privacy.md).
- ``visit_households``: the households in any of the six categories, the visits due each
  month: the workload a planner balances. Exact for the readers above; for everyone else
  rounded to :data:`VISIT_ROUNDING`, and 1 to 4 shown as ``"<5"`` (the small-count rule of
  :mod:`gridmap.access.counts`). Exact, it does not rank any flag's households (AUC at most
  0.525 for the four personal flags, within chance); but a planner edits grids, and two
  exact figures around a one-building paint give that building's count, which over every
  building does (hardship 0.555 against a bound of 0.550). Rounded, a paint moves it only
  across a step of 10. The measurements: ``scripts/privacy_visit_figures.py``.

Counts are of the register's rows (households, people), computed on demand and kept while
those layers' content stays the same (:func:`gridmap.service.stamps.content`).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from gridmap.access.counts import SMALL_TEXT, is_small, reads_register
from gridmap.access.roles import Access
from gridmap.schema import VISIT_CATEGORIES
from gridmap.service import stamps
from gridmap.store import Workspace

#: Households in any visit category, for a reader who may not read the grid's register, are
#: rounded to this many (half up): a one-building paint moves the figure only across a step.
VISIT_ROUNDING = 10
#: The column of the households in any of the six categories.
VISIT_HOUSEHOLDS = "visit_households"
#: The per-category columns: households and people of each category, in category order.
CATEGORY_COLUMNS: tuple[str, ...] = tuple(
    f"{c}_{what}" for c in VISIT_CATEGORIES for what in ("households", "people")
)
_HOUSEHOLD_COLUMNS = tuple(c for c in CATEGORY_COLUMNS if c.endswith("_households"))
#: The register layers the counts come from.
REGISTER = ("households", "people")

_LOCK = threading.Lock()
_MEMO: weakref.WeakKeyDictionary[Workspace, dict[bool, tuple[str, pd.DataFrame]]] = (
    weakref.WeakKeyDictionary()
)


def _flags(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    for c in VISIT_CATEGORIES:
        column = frame[c] if c in frame.columns else pd.Series(False, index=frame.index)
        out[c] = column.astype("boolean").fillna(False).astype(bool)
    return out


def tally(households: pd.DataFrame, people: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return the exact visit counts per grid of stored register rows.

    Parameters
    ----------
    households
        Rows with ``grid_code``, the six category flags and (with ``people``)
        ``household_id``.
    people
        Rows with ``household_id`` and the six flags, or None: no ``<category>_people``.

    Returns
    -------
    DataFrame
        Index ``grid_code`` (every grid a household names); ``visit_households`` and
        ``<category>_households`` (and ``<category>_people``), integers.
    """
    grid = households["grid_code"]
    flags = _flags(households)
    out = pd.DataFrame(index=pd.Index(sorted(set(grid.dropna())), name="grid_code"))
    out[VISIT_HOUSEHOLDS] = flags.any(axis=1).groupby(grid).sum()
    for c in VISIT_CATEGORIES:
        out[f"{c}_households"] = flags[c].groupby(grid).sum()
    if people is not None:
        of = people["household_id"].map(households.set_index("household_id")["grid_code"])
        person = _flags(people)
        for c in VISIT_CATEGORIES:
            out[f"{c}_people"] = person[c].groupby(of).sum()
    columns = [VISIT_HOUSEHOLDS, *(c for c in CATEGORY_COLUMNS if c in out.columns)]
    return out[columns].fillna(0).astype(int)


def visit_counts(ws: Workspace, *, people: bool = True) -> pd.DataFrame:
    """Return :func:`tally` of the register of ``ws`` (exact; ``people``: with the people
    columns), memoised while the households and people stay the same."""
    key = stamps.content(ws, REGISTER)
    with _LOCK:
        kept = _MEMO.get(ws, {})
        memo = kept.get(people)
        if not people and (memo is None or memo[0] != key):
            memo = kept.get(True)  # the counts with people hold those without
    if memo is not None and memo[0] == key:
        return memo[1] if people else memo[1][[VISIT_HOUSEHOLDS, *_HOUSEHOLD_COLUMNS]]
    columns = ["household_id", "grid_code", *VISIT_CATEGORIES]
    households = ws.read("households", columns=columns, system=False)
    rows = (
        ws.read("people", columns=["household_id", *VISIT_CATEGORIES], system=False)
        if people
        else None
    )
    found = tally(households, rows)
    with _LOCK:
        _MEMO.setdefault(ws, {})[people] = (key, found)
    return found


def rounded(count: int) -> int:
    """Return ``count`` rounded half up to :data:`VISIT_ROUNDING` (0 stays 0)."""
    step = VISIT_ROUNDING
    return int((int(count) + step // 2) // step * step)


def shown_visits(count: int, access: Access | None, grid: str | None) -> int | str:
    """Return the households in any category of ``grid`` as ``access`` is shown them: exact
    for a reader of that grid's register, else ``"<5"`` from 1 to 4 and rounded above."""
    if reads_register(access, grid):
        return int(count)
    if is_small(count):
        return SMALL_TEXT
    return rounded(count)


def served_rows(
    ws: Workspace, access: Access | None, codes: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """Return, per grid of ``codes``, its visit figures as ``access`` is served them.

    Each: ``visit_households`` (:func:`shown_visits`), ``visit_households_exact`` (whether it
    is exact) and every column of :data:`CATEGORY_COLUMNS`, None where the reader may not read
    that grid's register. A grid without households has zeros.
    """
    wanted = [str(c) for c in codes]
    personal = [c for c in wanted if reads_register(access, c)]
    counts = visit_counts(ws, people=bool(personal))
    out: dict[str, dict[str, Any]] = {}
    for code in wanted:
        row = counts.loc[code] if code in counts.index else None
        total = int(row[VISIT_HOUSEHOLDS]) if row is not None else 0
        exact = reads_register(access, code)
        doc: dict[str, Any] = {
            VISIT_HOUSEHOLDS: shown_visits(total, access, code),
            "visit_households_exact": exact,
        }
        for column in CATEGORY_COLUMNS:
            doc[column] = (int(row[column]) if row is not None else 0) if exact else None
        out[code] = doc
    return out


def with_visit_figures(
    ws: Workspace, access: Access | None, figures: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Return figure rows (each with its grid's ``code``) with :func:`served_rows` added."""
    rows = served_rows(ws, access, [str(r["code"]) for r in figures])
    return [{**r, **rows[str(r["code"])]} for r in figures]


def masked_column(table: pd.DataFrame) -> pd.Series:
    """Return a figures table's ``visit_households`` as a reader of none of its grids'
    registers is served it in an export: rounded (missing, suppressed, stays missing)."""
    column = table[VISIT_HOUSEHOLDS].astype("Int64")
    return column.map(lambda n: n if pd.isna(n) else rounded(int(n))).astype("Int64")


__all__ = [
    "CATEGORY_COLUMNS",
    "VISIT_HOUSEHOLDS",
    "VISIT_ROUNDING",
    "masked_column",
    "rounded",
    "served_rows",
    "shown_visits",
    "tally",
    "visit_counts",
    "with_visit_figures",
]
