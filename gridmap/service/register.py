"""A building's register (楼栋户室): its households by unit, floor and room, with their people.

:func:`building_register` answers "who lives in this building" for one reader:

- readers who see households whole (admin) or in their own grids (a grid worker in a building
  of their grids) get every household of the building they may read, by unit → floor → room,
  with counts per unit and floor, and each household's people when they may read people;
  the rows as :func:`gridmap.access.privacy.present` gives them, the read recorded in the
  access log (:func:`gridmap.service.scope.record`);
- everyone else (planners, patrol leads, analysts; a grid worker in a building of another
  grid; nobody signed in, where an admin opened the buildings) gets the building's totals
  only, as the buildings layer serves them to that reader (households; residents only where
  served). Not counts per unit or floor: the masked households view leaves the unit and room
  out on purpose. (Its rows carry opaque ids in token order, not the stored ids that number a
  building's households in room order; counts per unit are still left out, since they would
  tell how the building's households divide into units, docs/find.md.)

Unit, floor and room come from the household's ``address`` (:func:`gridmap.io.address.parse_room`),
since a street office's register seldom has them as columns. Households are paged in room
order (``offset``, ``limit``); the counts always cover the whole building.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pandas as pd

from gridmap.access import privacy
from gridmap.access.roles import Access, Level, read_level
from gridmap.errors import FeatureNotFoundError, InputError
from gridmap.io import geojson
from gridmap.io.address import parse_room
from gridmap.service import feature_ids, scope
from gridmap.store import Workspace

#: The largest feature id (SQLite's largest integer).
MAX_FID = 2**63 - 1
#: Households per page unless asked otherwise, and the most one page may hold.
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
#: Why a reader gets only the building's totals.
REASON_MASKED = "masked"  # their role sees the register masked
REASON_OTHER_GRID = "other_grid"  # a grid worker, and the building is not in their grids
REASON_NO_REGISTER = "no_register"  # they may not read households at all (nobody signed in)


def _natural(value: Any) -> tuple[int, int, str]:
    """Sort key of a unit or room as written: numbers by value, then text, missing last."""
    if value is None:
        return (2, 0, "")
    text = str(value)
    digits = "".join(c for c in text if c.isdigit())
    return (0, int(digits), text) if digits else (1, 0, text)


def _floor_key(value: int | None) -> tuple[int, int]:
    return (1, 0) if value is None else (0, int(value))


def _building(ws: Workspace, fid: int | str, access: Access) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Return the stored building row and the building as ``access`` is served it."""
    scope.require(access, "buildings")
    if isinstance(fid, str):  # as served: a stored id, or a masked reader's opaque id
        stored_fid = feature_ids.stored_id(ws, "buildings", access, fid)
    else:
        stored_fid = int(fid) if 0 < int(fid) <= MAX_FID else None
    stored = ws.read("buildings", where={"fid": stored_fid or 0}, system=False)
    if stored.empty:
        raise FeatureNotFoundError(f"There is no building {fid}. (没有编号为 {fid} 的楼栋。)")
    served = privacy.present(stored, "buildings", access)
    columns = [c for c in served.columns if c != served.geometry.name]
    tz = ws.get_meta("timezone", geojson.DEFAULT_TZ)
    doc: dict[str, Any] = geojson.records(served, columns, tz)[0]
    geom = stored.geometry.iloc[0]
    doc["id"] = feature_ids.served_ids(ws, "buildings", access, stored.index)[0]
    if geom is not None and not geom.is_empty:
        point = geom.representative_point()
        doc["bbox"] = [float(v) for v in geom.bounds]
        doc["lon"], doc["lat"] = float(point.x), float(point.y)
    return stored, doc


def _totals_only(building: dict[str, Any], reason: str) -> dict[str, Any]:
    return {
        "building": building,
        "read": "totals",
        "reason": reason,
        "totals": {
            "households": building.get("households"),
            "residents": building.get("residents"),
            "units": None,
            "floors": None,
        },
        "units": [],
        "households": [],
        "columns": {"households": [], "people": []},
        "numberMatched": 0,
        "numberReturned": 0,
        "offset": 0,
        "next": None,
    }


def building_register(
    ws: Workspace,
    fid: int | str,
    *,
    access: Access,
    offset: int = 0,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, Any]:
    """Return the register of building ``fid`` as ``access`` may see it, as JSON-ready data.

    Parameters
    ----------
    ws
        The workspace.
    fid
        The building's stored feature id, or text naming it as ``access`` is served it (a
        URL's: every role but the admin gets the buildings' opaque ids,
        :mod:`gridmap.service.feature_ids`). FeatureNotFoundError if it names none.
    access
        Who asks. Refused (401/403) when they may not read buildings at all.
    offset, limit
        The page of households, in unit → floor → room order (``limit`` 1 to
        :data:`MAX_LIMIT`).

    Returns
    -------
    dict
        ``building`` (the building as served, with ``id``, ``bbox`` and ``lon``/``lat`` in
        degrees, EPSG:4326); ``read``: ``full`` | ``own`` | ``totals`` (then ``reason``);
        ``totals`` (households, residents, units, floors; None where not given); ``units``:
        ``[{unit, households, residents, floors: [{floor, households, residents}]}]``;
        ``households``: the page, each with ``id``, ``unit``, ``floor``, ``room``, its served
        columns and ``people`` (their served columns and ``id``; absent when people are not
        readable); ``columns``: the served columns of each; ``numberMatched``,
        ``numberReturned``, ``offset`` and ``next`` (the next page's offset, or None).
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"limit must be 1 to {MAX_LIMIT}. (limit 须在 1 到 {MAX_LIMIT} 之间。)")
    if offset < 0:
        raise InputError("offset must not be negative. (offset 不能为负数。)")
    stored, building = _building(ws, fid, access)
    level = read_level(access, "households")
    if level is Level.NONE:
        return _totals_only(building, REASON_NO_REGISTER)
    if level is Level.MASKED:
        return _totals_only(building, REASON_MASKED)
    osm_id = stored["osm_id"].iloc[0]
    where = scope.scoped_where(
        ws, access, "households", {"building_osm_id": None if pd.isna(osm_id) else int(osm_id)}
    )
    households = ws.read("households", where=where, system=False) if not pd.isna(osm_id) else None
    own_grid = stored["grid_code"].iloc[0] in access.grids
    if level is Level.OWN and (households is None or households.empty) and not own_grid:
        return _totals_only(building, REASON_OTHER_GRID)
    if households is None:
        households = ws.read("households", where={"fid": -1}, system=False)
    building_fid = int(stored.index[0])
    return _listing(
        ws, access, building, households, level, offset=offset, limit=limit, fid=building_fid
    )


def _listing(
    ws: Workspace,
    access: Access,
    building: dict[str, Any],
    households: pd.DataFrame,
    level: Level,
    *,
    offset: int,
    limit: int,
    fid: int,
) -> dict[str, Any]:
    """Return the register of the households read: tree, counts, one page with people.

    ``fid`` is the building's stored id, for the access log (the reader may have named it by
    its opaque id)."""
    tz = ws.get_meta("timezone", geojson.DEFAULT_TZ)
    parts = [parse_room(a) for a in households["address"].tolist()]
    order = sorted(
        range(len(households)),
        key=lambda i: (
            _natural(parts[i].unit),
            _floor_key(parts[i].floor),
            _natural(parts[i].room),
            str(households["household_id"].iloc[i]),
        ),
    )
    households = households.iloc[order]
    parts = [parts[i] for i in order]
    people_level = read_level(access, "people")
    with_people = people_level in (Level.FULL, Level.OWN) and scope.serves(access, "people")
    people = None
    if with_people and len(households):
        ids = [h for h in households["household_id"].tolist() if h is not None]
        where = scope.scoped_where(ws, access, "people", {"household_id": ids})
        people = ws.read("people", where=where, system=False)
    residents: Counter[str] = Counter(people["household_id"]) if people is not None else Counter()

    units: dict[Any, dict[Any, list[int]]] = {}
    for hid, part in zip(households["household_id"], parts, strict=True):
        cell = units.setdefault(part.unit, {}).setdefault(part.floor, [0, 0])
        cell[0] += 1
        cell[1] += residents.get(hid, 0)
    tree = [
        {
            "unit": unit,
            "households": sum(c[0] for c in floors.values()),
            "residents": sum(c[1] for c in floors.values()) if with_people else None,
            "floors": [
                {"floor": f, "households": c[0], "residents": c[1] if with_people else None}
                for f, c in floors.items()
            ],
        }
        for unit, floors in units.items()
    ]

    page = households.iloc[offset : offset + limit]
    served = privacy.present(page, "households", access)
    hh_columns = [c for c in served.columns if c != getattr(served, "_geometry_column_name", "")]
    rows = geojson.records(served, hh_columns, tz)
    person_columns: list[str] = []
    shown_people = 0
    by_household: dict[str, list[dict[str, Any]]] = {}
    if people is not None:
        mine = people[people["household_id"].isin(page["household_id"])]
        mine = privacy.present(mine, "people", access)
        person_columns = list(mine.columns)
        for fid, record in zip(mine.index, geojson.records(mine, person_columns, tz), strict=True):
            by_household.setdefault(record["household_id"], []).append({"id": int(fid), **record})
        shown_people = len(mine)
    listed = []
    for fid, part, record in zip(page.index, parts[offset : offset + limit], rows, strict=True):
        item = {"id": int(fid), "unit": part.unit, "floor": part.floor, "room": part.room, **record}
        if with_people:
            item["people"] = by_household.get(str(record.get("household_id")), [])
        listed.append(item)

    shown = {"building": fid, "offset": offset or None, "limit": limit}
    shown = {k: v for k, v in shown.items() if v is not None}
    scope.record(ws, access, "households", len(listed), action="read", filter=shown)
    if with_people:
        scope.record(ws, access, "people", shown_people, action="read", filter=shown)
    floors = {(u, f) for u, fl in units.items() for f in fl if f is not None}
    end = offset + len(listed)
    return {
        "building": building,
        "read": "full" if level is Level.FULL else "own",
        "totals": {
            "households": len(households),
            "residents": sum(residents.values()) if with_people else None,
            "units": len([u for u in units if u is not None]),
            "floors": len({f for _, f in floors}),
        },
        "units": tree,
        "households": listed,
        "columns": {"households": hh_columns, "people": person_columns},
        "numberMatched": len(households),
        "numberReturned": len(listed),
        "offset": offset,
        "next": end if end < len(households) else None,
    }
