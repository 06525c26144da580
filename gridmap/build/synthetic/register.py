"""Synthetic register for the demo: households per building and the people in them.

OSM has buildings but no one living in them. This module estimates households from footprint and
storeys (:func:`estimate_households`; storeys by the rule of :mod:`gridmap.io.osm_buildings`),
then draws people with the six visit categories of 六必访 at plausible rates and a floating
population near one third of residents (domain.md: 36.8 % in one community). Every row has
``source = "synthetic"``; buildings say so in ``households_source``. All randomness comes from
the ``rng`` passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gridmap.build.synthetic import identity
from gridmap.io.osm_buildings import default_levels

#: Gross floor area of one home, m² (建筑面积, walls, stairs and shared parts included). Neither
#: domain.md nor its seed essays give a flat size; 90 m² is the line of China's 2006 "90/70"
#: housing rule (homes under 90 m² are to be 70 % of new floor area) and about what the 2020
#: census gives per urban household (some 36 m² a person, 2.6 persons a household).
FLOOR_AREA_PER_HOUSEHOLD_M2 = 90.0
#: Share of a footprint that is homes on each floor (the rest: lobbies, shops, plant rooms).
FLOOR_PLATE_SHARE = 0.8
#: Homes per unit (单元) and floor: walk-ups have two on a landing (一梯两户), buildings over
#: :data:`WALK_UP_MAX_LEVELS` storeys (with lifts) about four.
FLATS_PER_LANDING_WALK_UP = 2
FLATS_PER_LANDING_TOWER = 4
WALK_UP_MAX_LEVELS = 11
#: Household size distribution, 1..6 persons.
HOUSEHOLD_SIZES = (1, 2, 3, 4, 5, 6)
HOUSEHOLD_SIZE_P = (0.20, 0.30, 0.26, 0.14, 0.07, 0.03)


@dataclass(frozen=True)
class Rates:
    """Rates of the register's categories (shares of households unless named otherwise)."""

    migrant_households: float = 0.30
    migrant_lodgers: float = 0.08  # local households with one migrant member (nanny, tenant)
    hardship: float = 0.025
    disabled: float = 0.045
    assisted: float = 0.006
    party_member_old: float = 0.10  # share of people aged 70+ who are veteran party members
    rented_migrant: float = 0.85
    rented_local: float = 0.06


def estimate_households(buildings: gpd.GeoDataFrame, footprint_m2: np.ndarray) -> pd.DataFrame:
    """Return storeys, homes or not, and households of each building (in order).

    Parameters
    ----------
    buildings
        Buildings as :func:`gridmap.io.osm.read_osm` gives them: ``building``, ``levels``,
        ``levels_source`` and ``residential`` (None where the tag does not say).
    footprint_m2
        Footprint of each building, m² (measured in the area's UTM CRS).

    Returns
    -------
    DataFrame
        ``levels``, ``levels_source``, ``residential``, ``households`` and
        ``households_source`` (``synthetic``), one row per building. A building whose tag does
        not say (``building=yes``) holds homes when its footprint is 80 to 2,000 m² and it
        stands in no commercial land use (the caller passes that as ``residential`` = False
        already); a default storey count is then the one of a home or of another building
        (:func:`gridmap.io.osm_buildings.default_levels`). Households are the home floor area
        (footprint × :data:`FLOOR_PLATE_SHARE` × storeys) over
        :data:`FLOOR_AREA_PER_HOUSEHOLD_M2`, at least one; buildings without homes have none.
    """
    residential = buildings["residential"].astype(object).to_numpy()
    unknown = pd.isna(buildings["residential"]).to_numpy()
    guess = (footprint_m2 >= 80) & (footprint_m2 <= 2000)
    residential = np.where(unknown, guess, residential).astype(bool)
    levels = buildings["levels"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    source = buildings["levels_source"].astype(object).to_numpy()
    default = (source == "default") | np.isnan(levels)
    typed = [
        default_levels(tag, bool(home))
        for tag, home in zip(buildings["building"].tolist(), residential, strict=True)
    ]
    levels = np.where(default, typed, levels).astype(int)
    gross = footprint_m2 * FLOOR_PLATE_SHARE * levels
    households = np.where(
        residential, np.maximum(1, np.round(gross / FLOOR_AREA_PER_HOUSEHOLD_M2)), 0
    )
    return pd.DataFrame(
        {
            "levels": levels,
            "levels_source": np.where(default, "default", source).astype(object),
            "residential": residential,
            "households": households.astype(int),
            "households_source": "synthetic",
        }
    )


def _birth(rng: np.random.Generator, today: date, lo: int, hi: int) -> date:
    age_days = int(rng.integers(lo * 365, hi * 365 + 1))
    return today - timedelta(days=age_days)


def make_register(
    buildings: gpd.GeoDataFrame,
    rng: np.random.Generator,
    today: date,
    rates: Rates | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Return (households, people) for buildings with ``households``, ``osm_id``, ``name``.

    Households are points at a spot inside their building; people have no geometry.
    """
    rates = rates or Rates()
    hh_rows: list[dict] = []
    hh_geoms = []
    people: list[dict] = []
    person_no = 0
    res = buildings[buildings["households"] > 0]
    points = res.geometry.representative_point()
    for b_index, b in res.iterrows():
        n = int(b["households"])
        levels = max(1, int(b["levels"]))
        landing = (
            FLATS_PER_LANDING_WALK_UP if levels <= WALK_UP_MAX_LEVELS else FLATS_PER_LANDING_TOWER
        )
        units = max(1, round(n / (levels * landing)))
        per_floor = max(1, -(-n // (units * levels)))
        label = next(
            (v for v in (b["name"], b.get("address")) if isinstance(v, str) and v),
            f"{b['osm_id']}号楼",
        )
        for h in range(n):
            unit, rest = divmod(h, levels * per_floor)
            floor, room = divmod(rest, per_floor)
            hid = f"H{int(b['osm_id']):010d}-{h + 1:03d}"
            migrant_hh = rng.random() < rates.migrant_households
            size = int(rng.choice(HOUSEHOLD_SIZES, p=HOUSEHOLD_SIZE_P))
            region = identity.MIGRANT_REGIONS[int(rng.integers(0, len(identity.MIGRANT_REGIONS)))]
            # head of household and members
            if migrant_hh:
                head_age = (22, 55)
            elif size == 1:
                head_age = (25, 92)
            else:
                head_age = (28, 85)
            members: list[dict[str, Any]] = []
            surname = None
            for m in range(size):
                female = bool(rng.random() < 0.5)
                if m == 0:
                    birth, relation = _birth(rng, today, *head_age), "户主"
                elif m == 1:
                    birth, relation = _birth(rng, today, head_age[0], head_age[1]), "配偶"
                elif m in (2, 3):
                    birth, relation = _birth(rng, today, 0, 30), "子女"
                else:
                    birth, relation = _birth(rng, today, 60, 90), "父母"
                name = identity.person_name(rng, female, surname if relation == "子女" else None)
                if m == 0:
                    surname = name[0]
                age = (today - birth).days / 365.25
                migrant = migrant_hh
                members.append(
                    {
                        "female": female,
                        "birth": birth,
                        "age": age,
                        "relation": relation,
                        "name": name,
                        "migrant": migrant,
                    }
                )
            if not migrant_hh and rng.random() < rates.migrant_lodgers:
                female = bool(rng.random() < 0.7)
                members.append(
                    {
                        "female": female,
                        "birth": _birth(rng, today, 20, 55),
                        "age": 30.0,
                        "relation": "其他",
                        "name": identity.person_name(rng, female),
                        "migrant": True,
                    }
                )
            elderly_alone = len(members) == 1 and members[0]["age"] >= 65
            hardship = rng.random() < rates.hardship * (2.0 if elderly_alone else 1.0)
            disabled_member = (
                int(rng.integers(0, len(members))) if rng.random() < rates.disabled else -1
            )
            assisted = rng.random() < rates.assisted
            veteran = False
            rented = rng.random() < (rates.rented_migrant if migrant_hh else rates.rented_local)
            for m, p in enumerate(members):
                person_no += 1
                is_veteran = p["age"] >= 70 and rng.random() < rates.party_member_old
                veteran = veteran or is_veteran
                p_region = region if p["migrant"] else identity.LOCAL_REGION
                people.append(
                    {
                        "person_id": f"P{person_no:07d}",
                        "household_id": hid,
                        "name": p["name"],
                        "id_number": identity.id_number(rng, p_region, p["birth"], p["female"]),
                        "gender": "F" if p["female"] else "M",
                        "birth_date": pd.Timestamp(p["birth"]),
                        "phone": identity.phone(rng) if p["age"] >= 14 else None,
                        "relation": p["relation"],
                        "registered_here": not p["migrant"] and rng.random() > 0.07,
                        "arrived": pd.Timestamp(today - timedelta(days=int(rng.integers(10, 2500))))
                        if p["migrant"]
                        else None,
                        "hardship": hardship and m == 0,
                        "elderly_alone": elderly_alone,
                        "disabled": m == disabled_member,
                        "migrant": p["migrant"],
                        "veteran_party_member": is_veteran,
                        "assisted": assisted and m == 0,
                        "source": "synthetic",
                    }
                )
            hh_rows.append(
                {
                    "household_id": hid,
                    "building_osm_id": int(b["osm_id"]),
                    "address": f"{label}{unit + 1}单元{floor + 1}{room + 1:02d}室",
                    "head_name": members[0]["name"],
                    "phone": identity.phone(rng),
                    "members": len(members),
                    "rented": rented,
                    "rental_score": int(rng.integers(4, 11)) if rented else None,
                    "hardship": hardship,
                    "elderly_alone": elderly_alone,
                    "disabled": disabled_member >= 0,
                    "migrant": any(p["migrant"] for p in members),
                    "veteran_party_member": veteran,
                    "assisted": assisted,
                    "source": "synthetic",
                }
            )
            hh_geoms.append(points.loc[b_index])
    households = gpd.GeoDataFrame(hh_rows, geometry=hh_geoms, crs=buildings.crs)
    return households, pd.DataFrame(people)
