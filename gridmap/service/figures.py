"""Register figures: what roles without personal access get instead of people rows.

The masked view of ``people`` has no rows (:mod:`gridmap.access.privacy`); these figures answer
what planners and analysts use the rows for. :func:`register_figures` gives, per grid, residents
by age band and gender, migrants, rented homes and the households due a monthly visit (in any
of the six categories; rounded to 10 for readers of the masked view,
:mod:`gridmap.service.visit_figures`); :func:`category_figures` gives, per community, the
households of each of the six visit categories (六必访). Per grid only to readers of that
grid's register (the admin, a grid worker in their own grids): a grid's count of, say,
hardship households counts the very household one asks about, and on the demo that alone
ranks hardship households above others 58 times in 100 (docs/privacy.md); over a
community's ~4,000 households it stays within chance.

Counts from 1 to :data:`SMALL_COUNT` − 1 are suppressed (missing), and where one age-gender
cell of a grid is suppressed the next smallest is too, so that no suppressed count follows from
the grid's total. Zero is shown ("none here" is not about anyone) unless it is that complement.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import numpy as np
import pandas as pd

from gridmap.access.counts import SMALL_COUNT
from gridmap.access.roles import Access, Level, read_level
from gridmap.errors import FeatureNotFoundError, PermissionDeniedError
from gridmap.schema import VISIT_CATEGORIES
from gridmap.service.visit_figures import (
    CATEGORY_COLUMNS as GRID_CATEGORY_COLUMNS,
)
from gridmap.service.visit_figures import (
    VISIT_HOUSEHOLDS,
    VISIT_ROUNDING,
    masked_column,
    tally,
)
from gridmap.store import Workspace

# Counts below SMALL_COUNT (and above zero) are suppressed: gridmap.access.counts's threshold.
#: Age bands in whole years: (name, first age, last age or None).
AGE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("0_14", 0, 14),
    ("15_59", 15, 59),
    ("60_79", 60, 79),
    ("80_plus", 80, None),
)
GENDERS: tuple[tuple[str, str], ...] = (("F", "female"), ("M", "male"))
#: The age-gender columns, which add up to ``residents`` where gender and birth date are known.
AGE_GENDER_COLUMNS: tuple[str, ...] = tuple(
    f"{word}_{band}" for _, word in GENDERS for band, _, _ in AGE_BANDS
)
#: Every column of :func:`register_figures`, in order.
COLUMNS: tuple[str, ...] = (
    "grid_code",
    "households",
    "residents",
    *AGE_GENDER_COLUMNS,
    "migrants",
    "registered_here",
    "rented_homes",
    VISIT_HOUSEHOLDS,
)
#: Every column of :func:`category_figures`, in order.
CATEGORY_COLUMNS: tuple[str, ...] = (
    "community_code",
    "households",
    *(f"{c}_households" for c in VISIT_CATEGORIES),
)


def _ages(birth: pd.Series, today: date) -> np.ndarray:
    """Return whole years of age on ``today`` (NaN where the birth date is missing)."""
    born = pd.to_datetime(birth, errors="coerce")
    years = today.year - born.dt.year
    before_birthday = (born.dt.month > today.month) | (
        (born.dt.month == today.month) & (born.dt.day > today.day)
    )
    return (years - before_birthday.astype(int)).to_numpy(dtype=float, na_value=np.nan)


def _flag(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column].astype("boolean").fillna(False).astype(bool)


def _suppress(table: pd.DataFrame, key: str) -> pd.DataFrame:
    """Return ``table`` with small counts missing, plus complementary cells of age and gender."""
    out = table.copy()
    counts = [c for c in out.columns if c != key]
    if not set(AGE_GENDER_COLUMNS) <= set(out.columns):
        for c in counts:
            out[c] = out[c].astype("Int64").mask(out[c].between(1, SMALL_COUNT - 1))
        return out
    small = pd.DataFrame({c: out[c].between(1, SMALL_COUNT - 1) for c in counts})
    cells = out[list(AGE_GENDER_COLUMNS)].to_numpy(dtype=float)
    for i in np.flatnonzero(small[list(AGE_GENDER_COLUMNS)].sum(axis=1).to_numpy() == 1):
        shown = cells[i].copy()
        shown[small.loc[small.index[i], list(AGE_GENDER_COLUMNS)].to_numpy()] = np.inf
        if np.isfinite(shown).any():
            small.loc[small.index[i], AGE_GENDER_COLUMNS[int(np.argmin(shown))]] = True
    for c in counts:
        out[c] = out[c].astype("Int64").mask(small[c])
    return out


def register_figures(
    ws: Workspace,
    access: Access,
    grids: Iterable[str] | None = None,
    *,
    today: date | None = None,
) -> pd.DataFrame:
    """Return figures of the register per grid, small counts suppressed.

    Parameters
    ----------
    ws
        The workspace.
    access
        Who asks: any role that may read ``people`` at all (a grid worker gets their own grids
        only). Level NONE raises PermissionDeniedError.
    grids
        Grid codes to report (default: every grid of the grids layer, and any grid code the
        households name). A code that does not exist, or is not one of a grid worker's own,
        raises FeatureNotFoundError.
    today
        The day ages are counted on (default: today).

    Returns
    -------
    DataFrame
        One row per grid in code order with the columns of :data:`COLUMNS`: ``households``,
        ``residents`` (persons), residents per gender and age band (``female_0_14`` …
        ``male_80_plus``; age in whole years on ``today``), ``migrants`` and
        ``registered_here`` (persons), ``rented_homes`` (households), ``visit_households``
        (households in any of the six visit categories: exact for a reader of the register,
        the admin or a grid worker; rounded to 10 for the masked view's readers, and
        ``attrs["rounded_to"]`` says so). A reader of the register also gets
        ``<category>_households`` and ``<category>_people`` of each category
        (:data:`gridmap.service.visit_figures.CATEGORY_COLUMNS`). Counts are nullable
        integers: missing where suppressed.
    """
    level = read_level(access, "people")
    if level is Level.NONE:
        raise PermissionDeniedError(f"Your role ({access.role}) may not read register figures.")
    day = today or date.today()
    personal = level in (Level.FULL, Level.OWN)  # reads the rows: who is in which category
    households = ws.read(
        "households",
        columns=["household_id", "grid_code", "rented", *VISIT_CATEGORIES],
        system=False,
    )
    columns = ["household_id", "gender", "birth_date", "migrant", "registered_here"]
    if personal:
        columns = list(dict.fromkeys([*columns, *VISIT_CATEGORIES]))
    people = ws.read("people", columns=columns, system=False)
    known = set(ws.read("grids", columns=["code"], system=False)["code"].dropna())
    known |= set(households["grid_code"].dropna())
    if level is Level.OWN:
        known &= set(access.grids)
    wanted = sorted(known) if grids is None else list(dict.fromkeys(grids))
    for code in wanted:
        if code not in known:
            where = "among your grids" if level is Level.OWN else "in this workspace"
            raise FeatureNotFoundError(f"There is no grid '{code}' {where}.")
    people = people.assign(
        grid_code=people["household_id"].map(
            households.set_index("household_id")["grid_code"].to_dict()
        )
    )
    people = people[people["grid_code"].isin(wanted)]
    households = households[households["grid_code"].isin(wanted)]

    table = pd.DataFrame({"grid_code": wanted}).set_index("grid_code")
    table["households"] = households.groupby("grid_code").size()
    table["residents"] = people.groupby("grid_code").size()
    ages = _ages(people["birth_date"], day)
    for gender, word in GENDERS:
        for band, lo, hi in AGE_BANDS:
            inside = (ages >= lo) & (ages <= (hi if hi is not None else np.inf))
            rows = people[(people["gender"] == gender).to_numpy() & inside]
            table[f"{word}_{band}"] = rows.groupby("grid_code").size()
    table["migrants"] = people[_flag(people, "migrant")].groupby("grid_code").size()
    table["registered_here"] = people[_flag(people, "registered_here")].groupby("grid_code").size()
    table["rented_homes"] = households[_flag(households, "rented")].groupby("grid_code").size()
    visits = tally(households, people if personal else None)
    for column in visits.columns:
        table[column] = visits[column]
    table = table.fillna(0).astype(int).reset_index()
    out = _suppress(table, "grid_code")
    if personal:
        return out[[*COLUMNS, *GRID_CATEGORY_COLUMNS]]
    out = out[list(COLUMNS)].copy()
    out[VISIT_HOUSEHOLDS] = masked_column(out)
    out.attrs["rounded_to"] = {VISIT_HOUSEHOLDS: VISIT_ROUNDING}
    return out


def category_figures(
    ws: Workspace, access: Access, communities: Iterable[str] | None = None
) -> pd.DataFrame:
    """Return the households of each of the six visit categories per community.

    Parameters
    ----------
    ws
        The workspace.
    access
        Who asks: a role that reads the register whole (admin) or masked (planner, patrol
        lead, analyst). A grid worker gets the rows of their own grids instead, which these
        figures, counting other grids too, would go beyond: PermissionDeniedError, as for
        anyone who may not read households at all.
    communities
        Community codes to report (default: every community a grid names). A code no grid
        names raises FeatureNotFoundError.

    Returns
    -------
    DataFrame
        One row per community in code order with the columns of :data:`CATEGORY_COLUMNS`:
        ``households`` and ``<category>_households`` (households whose grid lies in the
        community), nullable integers missing where suppressed.
    """
    level = read_level(access, "households")
    if level not in (Level.FULL, Level.MASKED):
        raise PermissionDeniedError(
            f"Your role ({access.role}) may not read figures of whole communities."
        )
    grids = ws.read("grids", columns=["code", "community_code"], system=False)
    community = grids.dropna(subset=["code", "community_code"]).set_index("code")
    known = sorted(set(community["community_code"]))
    wanted = known if communities is None else list(dict.fromkeys(communities))
    for code in wanted:
        if code not in known:
            raise FeatureNotFoundError(f"No grid belongs to a community '{code}'.")
    households = ws.read("households", columns=["grid_code", *VISIT_CATEGORIES], system=False)
    households = households.assign(
        community_code=households["grid_code"].map(community["community_code"].to_dict())
    )
    households = households[households["community_code"].isin(wanted)]
    table = pd.DataFrame({"community_code": wanted}).set_index("community_code")
    table["households"] = households.groupby("community_code").size()
    for category in VISIT_CATEGORIES:
        mine = households[_flag(households, category)]
        table[f"{category}_households"] = mine.groupby("community_code").size()
    table = table.fillna(0).astype(int).reset_index()
    return _suppress(table, "community_code")[list(CATEGORY_COLUMNS)]
