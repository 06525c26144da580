"""Join served register layers the way an attacker would: one row of clues per household.

:func:`household_clues` takes the households, people and visits *as a reader was served them*
(any view: the stored rows, the masked view, an older masking) plus the buildings layer that
every role sees, and links them through whatever remains: household ids, the building, the
point on the map, the grid. Its output, discrete features indexed like the served households,
feeds :func:`gridmap.access.disclosure.attack`. It never looks at a column the served frames
lack, so the same code measures any masking.
"""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd

from gridmap.access.privacy import MASK

#: Household columns whose served values are clues as they stand.
_OWN = (
    "members",
    "rented",
    "rental_score",
    "hardship",
    "elderly_alone",
    "disabled",
    "migrant",
    "veteran_party_member",
    "assisted",
)
_ROOM = re.compile(r"(\d+)单元(\d+)室")


def _year(value: object) -> float:
    """Return the year of a served birth date (a date, or masked text such as ``1950-**-**``)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return np.nan
    if isinstance(value, str):
        head = value[:4]
        return float(head) if head.isdigit() else np.nan
    return float(pd.Timestamp(value).year)


def _band(ages: pd.Series, width: int = 10) -> pd.Series:
    return (ages // width * width).astype("Float64").astype(str)


def _floor(address: object) -> str:
    found = _ROOM.search(address) if isinstance(address, str) else None
    return found.group(2)[:-2] if found else ""


def _point_keys(frame: pd.DataFrame) -> pd.Series | None:
    geometry = getattr(frame, "_geometry_column_name", None)
    if geometry not in frame.columns:
        return None
    g = frame[geometry]
    return pd.Series(
        [f"{p.x:.7f},{p.y:.7f}" if p is not None and not p.is_empty else "" for p in g],
        index=frame.index,
    )


def household_clues(
    households: pd.DataFrame,
    people: pd.DataFrame,
    visits: pd.DataFrame,
    buildings: pd.DataFrame,
    *,
    today: date,
    figures: dict[str, pd.DataFrame] | None = None,
    grids: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Return one row of discrete clues per served household (same index as ``households``).

    Parameters
    ----------
    households, people, visits
        The register layers as served to the reader (any subset of columns; households and
        visits with their geometry in EPSG:4326 if they were served one).
    buildings
        The buildings layer (served to every role as it is): ``osm_id``, ``households``,
        ``residents``, ``levels``.
    today
        The date the reader reads on, for ages.
    figures
        Figures the reader gets, by the column that keys them: ``{"grid_code": per grid,
        "community_code": per community}`` (:mod:`gridmap.service.figures`). Each count
        becomes a clue: its share of the households or residents of the household's grid or
        community.
    grids
        The grids layer (``code``, ``community_code``), to find a household's community.

    Returns
    -------
    DataFrame
        Clue columns (text for categories, floats for sizes and shares): the household's own
        served columns; its floor when the address still has one; its building (and its point,
        where that is finer than the building); its building's size and mean household size;
        its grid; and,
        where a household id links them, its people's ages, gender, ID-number region and
        relations and its visits' categories; where only the place or the grid links visits,
        the rate of ``***`` visits at that place or in that grid.
    """
    h = households
    out = pd.DataFrame(index=h.index)
    for name in _OWN:
        if name in h.columns:
            out[name] = h[name].astype(str)
    if "address" in h.columns:
        out["floor"] = [_floor(a) for a in h["address"].tolist()]
    if "grid_code" in h.columns:
        out["grid"] = h["grid_code"].astype(str)
        for name, table in (figures or {}).items():
            key = h["grid_code"]
            if name != "grid_code" and grids is not None and "community_code" in grids.columns:
                key = key.map(grids.set_index("code")["community_code"])
            _figure_clues(out, key, table.set_index(name))
    if "building_osm_id" in h.columns:
        out["building"] = h["building_osm_id"].astype(str)
    place = _point_keys(h)
    if place is not None and place.nunique() > out.get("building", pd.Series([])).nunique():
        out["place"] = place  # households placed finer than their building
    if "building_osm_id" in h.columns and len(buildings):
        b = buildings.set_index("osm_id")
        of = h["building_osm_id"]
        if "households" in b.columns:
            n = of.map(b["households"]).astype(float)
            out["building_households"] = n
            if "residents" in b.columns:
                out["building_mean_size"] = of.map(b["residents"]).astype(float) / n
        if "levels" in b.columns:
            out["building_levels"] = of.map(b["levels"]).astype(float)
    linked = "household_id" in h.columns
    if linked and len(people) and "household_id" in people.columns:
        _people_clues(out, h, people, today)
    star = visits["category"].eq(MASK) if "category" in visits.columns else None
    if linked and "household_id" in visits.columns:
        cats = visits.groupby("household_id")["category"].agg(
            lambda s: ",".join(sorted(set(map(str, s))))
        )
        out["visit_categories"] = h["household_id"].map(cats).fillna("").astype(str)
        if star is not None:
            stars = star.groupby(visits["household_id"]).sum()
            out["star_visits"] = h["household_id"].map(stars).fillna(0).astype(int).astype(str)
    elif star is not None:
        here, there = _point_keys(h), _point_keys(visits)
        if here is not None and there is not None:
            key_h, key_v, kind = here, there, "place"
        elif "grid_code" in h.columns and "grid_code" in visits.columns:
            key_h, key_v, kind = h["grid_code"], visits["grid_code"], "grid"
        else:
            return out
        rate = star.groupby(key_v).sum() / key_h.value_counts()
        out[f"star_visits_per_household_of_{kind}"] = key_h.map(rate).fillna(0).astype(float)
    return out


def _figure_clues(out: pd.DataFrame, key: pd.Series, table: pd.DataFrame) -> None:
    """Add every count of a figures table as a share of its households (or residents)."""
    for name in table.columns:
        if name in ("households", "residents") or not pd.api.types.is_numeric_dtype(table[name]):
            continue
        whole = (
            "households" if name.endswith("_households") or name == "rented_homes" else "residents"
        )
        if whole not in table.columns:
            continue
        share = table[name].astype(float) / table[whole].astype(float)
        out[f"{table.index.name}:{name}"] = key.map(share).astype(float)


def _people_clues(out: pd.DataFrame, h: pd.DataFrame, people: pd.DataFrame, today: date) -> None:
    """Add clues from the people a household id links to a household."""
    p = people
    groups = p.groupby("household_id")
    out["people"] = h["household_id"].map(groups.size()).fillna(0).astype(int).astype(str)
    if "birth_date" in p.columns:
        age = today.year - pd.Series([_year(v) for v in p["birth_date"].tolist()], index=p.index)
        if "relation" in p.columns:
            head_age = age[p["relation"].eq("户主")].groupby(p["household_id"]).first()
            out["head_age"] = _band(h["household_id"].map(head_age))
        out["oldest"] = _band(h["household_id"].map(age.groupby(p["household_id"]).max()))
        out["youngest"] = _band(h["household_id"].map(age.groupby(p["household_id"]).min()))
    if "gender" in p.columns:
        genders = groups["gender"].agg(lambda s: "".join(sorted(map(str, s))))
        out["genders"] = h["household_id"].map(genders).fillna("").astype(str)
    if "id_number" in p.columns:
        head = p["id_number"].astype(str).str[:6]
        region = head.where(~head.str.contains("*", regex=False), "")
        regions = region.groupby(p["household_id"]).agg(lambda s: ",".join(sorted(set(s))))
        out["id_regions"] = h["household_id"].map(regions).fillna("").astype(str)
    if "relation" in p.columns:
        relations = groups["relation"].agg(lambda s: ",".join(sorted(set(map(str, s)))))
        out["relations"] = h["household_id"].map(relations).fillna("").astype(str)


#: What each clue of :func:`household_clues` is made of: the served columns to look at.
_SOURCES: dict[str, str] = {
    "floor": "households.address: the floor of the room it still names",
    "grid": "households.grid_code: the household's grid",
    "building": "households.building_osm_id: the household's building",
    "place": "the household's point on the map (finer than its building)",
    "building_households": "buildings.households: households in the household's building",
    "building_mean_size": "buildings.residents / buildings.households: mean household size",
    "building_levels": "buildings.levels: storeys of the household's building",
    "people": "people.household_id: how many people a household id links",
    "head_age": "people.birth_date and relation, linked by household_id: the head's age",
    "oldest": "people.birth_date, linked by household_id: the oldest member's age",
    "youngest": "people.birth_date, linked by household_id: the youngest member's age",
    "genders": "people.gender, linked by household_id",
    "id_regions": "people.id_number (region digits), linked by household_id",
    "relations": "people.relation, linked by household_id",
    "visit_categories": "visits.category, linked by household_id",
    "star_visits": "visits.category (*** visits), linked by household_id",
    "star_visits_per_household_of_place": "visits.category and the visit's point: "
    "*** visits at the household's point",
    "star_visits_per_household_of_grid": "visits.category and grid_code: *** visits per "
    "household of the grid",
}


def clue_source(name: str) -> str:
    """Return which served columns a clue of :func:`household_clues` comes from, in words.

    ``grid_code:migrants`` (a figure's share) names the figures table and its column;
    a household column served as it is names itself.
    """
    if name in _SOURCES:
        return _SOURCES[name]
    if name in _OWN:
        return f"households.{name}, served as it is"
    key, _, column = name.partition(":")
    if column:
        where = {"grid_code": "per grid", "community_code": "per community"}.get(key, f"per {key}")
        return f"figures {where}: {column} (as a share of the households or residents)"
    return name
