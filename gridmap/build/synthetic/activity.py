"""Synthetic activity for the demo: the home-visit log and twelve months of incidents.

Visits follow 六必访: every household in one of the six categories (migrants: those in rented
homes) is visited monthly by its grid worker (most months; some are missed), plus occasional routine visits. Incidents cluster as
such things do: around a few hot spots (parking for vehicle theft, dense housing for burglary),
with near-repeat burglaries in the following days, at the hours they usually happen.
Times are local (Asia/Shanghai) and returned tz-aware.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.schema import VISIT_CATEGORIES

TZ = ZoneInfo("Asia/Shanghai")
VISIT_COMPLIANCE = 0.92
ROUTINE_VISIT_SHARE = 0.03
OUTCOMES = ("met", "not_home", "issue_found", "refused")
OUTCOME_P = (0.85, 0.10, 0.04, 0.01)
INCIDENTS_PER_YEAR = {"burglary": 60, "vehicle_theft": 45, "dispute": 75, "theft": 25}
#: Hours of the day each kind happens, with weights.
_HOURS = {
    "burglary": ([9, 10, 11, 13, 14, 15, 16, 1, 2, 3], [2, 3, 3, 3, 3, 3, 2, 1, 1, 1]),
    "vehicle_theft": ([22, 23, 0, 1, 2, 3, 4], [1, 2, 3, 3, 3, 2, 1]),
    "dispute": ([8, 10, 12, 17, 18, 19, 20, 21], [1, 1, 1, 2, 3, 3, 2, 1]),
    "theft": ([10, 12, 14, 16, 18, 20], [1, 2, 2, 2, 3, 2]),
}


def _local(day: date, hour: int, rng: np.random.Generator) -> pd.Timestamp:
    return pd.Timestamp(
        datetime(day.year, day.month, day.day, hour, int(rng.integers(0, 60)), tzinfo=TZ)
    )


def _month_starts(today: date, months: int) -> list[date]:
    starts = []
    y, m = today.year, today.month
    for _ in range(months):
        m -= 1
        if m == 0:
            y, m = y - 1, 12
        starts.append(date(y, m, 1))
    return starts[::-1]


def make_visits(
    households: gpd.GeoDataFrame,
    workers: dict[str, str],
    rng: np.random.Generator,
    today: date,
    months: int = 3,
) -> gpd.GeoDataFrame:
    """Return the visit log of the last ``months`` full months plus this month so far.

    ``households`` needs ``household_id``, ``grid_code`` and the category columns;
    ``workers`` maps grid code to worker name.
    """
    rows, geoms = [], []
    starts = [*_month_starts(today, months), date(today.year, today.month, 1)]
    cats = households[list(VISIT_CATEGORIES)].fillna(False).to_numpy(dtype=bool).copy()
    # migrants are visited where they rent: settled migrant families in their own homes are not due
    cats[:, VISIT_CATEGORIES.index("migrant")] &= (
        households["rented"].fillna(False).to_numpy(dtype=bool)
    )
    n = 0
    for start in starts:
        days = [start + timedelta(days=d) for d in range(31)]
        days = [d for d in days if d.month == start.month and d < today and d.weekday() < 5]
        if not days:
            continue
        for i, hh in enumerate(households.itertuples()):
            due = [VISIT_CATEGORIES[j] for j in np.flatnonzero(cats[i])]
            if due:
                if rng.random() > VISIT_COMPLIANCE:
                    continue
                category = due[0]
            elif rng.random() < ROUTINE_VISIT_SHARE:
                category = "routine"
            else:
                continue
            n += 1
            day = days[int(rng.integers(0, len(days)))]
            rows.append(
                {
                    "visit_id": f"V{n:07d}",
                    "household_id": hh.household_id,
                    "grid_code": hh.grid_code,
                    "worker": workers.get(hh.grid_code),
                    "visited_at": _local(day, int(rng.choice([9, 10, 11, 14, 15, 16])), rng),
                    "category": category,
                    "outcome": str(rng.choice(OUTCOMES, p=OUTCOME_P)),
                    "note": None,
                    "source": "synthetic",
                }
            )
            geoms.append(hh.geometry)
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=households.crs)


def make_incidents(
    buildings_m: gpd.GeoDataFrame,
    parking_m: np.ndarray,
    rng: np.random.Generator,
    today: date,
) -> gpd.GeoDataFrame:
    """Return twelve months of incidents as points in the buildings' metric CRS.

    ``buildings_m`` are footprints with ``households`` (metric CRS); ``parking_m`` is an (n, 2)
    array of parking places. Returns a GeoDataFrame in that CRS; the caller projects it back.
    """
    homes = buildings_m[buildings_m["households"] > 0]
    home_xy = shapely.get_coordinates(homes.geometry.representative_point())
    weights = homes["households"].to_numpy(float)
    weights = weights / weights.sum()
    hot_homes = home_xy[rng.choice(len(home_xy), size=4, replace=False, p=weights)]
    hot_parking = (
        parking_m[rng.choice(len(parking_m), size=min(3, len(parking_m)), replace=False)]
        if len(parking_m)
        else hot_homes[:2]
    )
    start = today - timedelta(days=365)
    rows, xy = [], []

    def place(hot: np.ndarray, spread: float, p_hot: float) -> np.ndarray:
        if rng.random() < p_hot:
            return hot[int(rng.integers(0, len(hot)))] + rng.normal(0, spread, 2)
        return home_xy[int(rng.choice(len(home_xy), p=weights))] + rng.normal(0, 10, 2)

    for kind, count in INCIDENTS_PER_YEAR.items():
        hours, hw = _HOURS[kind]
        hw_p = np.asarray(hw, float) / sum(hw)
        for _ in range(count):
            if kind == "vehicle_theft":
                pos = place(hot_parking, 50, 0.6)
            elif kind == "burglary":
                pos = place(hot_homes, 35, 0.7)
            elif kind == "theft":
                pos = place(hot_parking, 120, 0.4)
            else:
                pos = place(hot_homes, 150, 0.2)
            day = start + timedelta(days=int(rng.integers(0, 365)))
            rows.append((kind, day, int(rng.choice(hours, p=hw_p))))
            xy.append(pos)
            if kind == "burglary" and rng.random() < 0.3:  # near repeat
                rows.append(
                    (
                        kind,
                        min(
                            day + timedelta(days=int(rng.integers(1, 15))),
                            today - timedelta(days=1),
                        ),
                        int(rng.choice(hours, p=hw_p)),
                    )
                )
                xy.append(pos + rng.normal(0, 40, 2))
    order = np.argsort(np.array([r[1] for r in rows], dtype=object), kind="stable")
    out = []
    for n, i in enumerate(order, start=1):
        kind, day, hour = rows[i]
        out.append(
            {
                "incident_id": f"E{day:%Y%m}{n:04d}",
                "occurred_at": _local(day, hour, rng),
                "kind": kind,
                "description": None,
                "status": "closed" if (today - day).days > 30 or rng.random() < 0.5 else "open",
                "source": "synthetic",
            }
        )
    pts = shapely.points(np.asarray(xy)[order])
    return gpd.GeoDataFrame(out, geometry=pts, crs=buildings_m.crs)
