"""Query parameters of OGC API - Features, parsed and checked without Flask.

Every function takes the raw text of a parameter and returns plain values, or raises
:class:`gridmap.errors.InputError` (HTTP 400) with a message a planner understands. Boxes come
back in CRS84 (longitude, latitude, degrees) whatever ``bbox-crs`` they were given in; instants
come back as UTC timestamps.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from gridmap.access import privacy
from gridmap.access.roles import Access, Level, read_level
from gridmap.errors import InputError
from gridmap.schema import Column, Layer
from gridmap.store import Bbox

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
#: The coordinate reference systems served (OGC API - Features Part 2). CRS84 is
#: longitude/latitude, EPSG:4326 the same datum with the authority's latitude/longitude order.
SUPPORTED_CRS = (CRS84, EPSG4326)
_CRS_ALIASES = {
    CRS84: CRS84,
    "OGC:CRS84": CRS84,
    "[OGC:CRS84]": CRS84,
    "urn:ogc:def:crs:OGC:1.3:CRS84": CRS84,
    EPSG4326: EPSG4326,
    "EPSG:4326": EPSG4326,
    "[EPSG:4326]": EPSG4326,
    "urn:ogc:def:crs:EPSG::4326": EPSG4326,
}

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
MAX_OFFSET = 10**9
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

#: Query parameters of every items request; the property filters come on top.
ITEMS_PARAMS = ("limit", "offset", "bbox", "bbox-crs", "crs")
#: Column types a property filter (``?building=yes``) may name: equality on these is exact.
FILTER_TYPES = ("int", "float", "bool", "str")
_INT = re.compile(r"[+-]?\d+")
_DATE = r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
_TIME = r"([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?"
_INSTANT = rf"{_DATE}(T{_TIME})?"
#: What ``datetime`` looks like (the API definition declares it): an instant, or an interval
#: of two instants, one end of which may be open (``..`` or empty). Calendar checks come on
#: top (no 13th month).
DATETIME_PATTERN = rf"^({_INSTANT}|{_INSTANT}/({_INSTANT}|\.\.)?|(\.\.)?/{_INSTANT})$"


def check_known(args: Sequence[tuple[str, str]], allowed: Iterable[str]) -> dict[str, str]:
    """Return the query parameters as a dict; refuse unknown and repeated ones.

    OGC API - Features Core asks for a 400 on a parameter the API definition does not declare.
    """
    known = set(allowed)
    out: dict[str, str] = {}
    for name, value in args:
        if name not in known:
            names = ", ".join(sorted(known)) or "none"
            raise InputError(f"Unknown query parameter '{name}'. Parameters here: {names}.")
        if name in out:
            raise InputError(f"The query parameter '{name}' is given twice.")
        out[name] = value
    return out


def parse_crs(text: str | None) -> str:
    """Return the URI of a served CRS named by ``text`` (CRS84 when empty)."""
    if text is None or text == "":
        return CRS84
    crs = _CRS_ALIASES.get(text.strip().replace("https://", "http://"))
    if crs is None:
        raise InputError(
            f"The coordinate reference system '{text}' is not served. Use {CRS84} "
            f"(longitude, latitude) or {EPSG4326} (latitude, longitude)."
        )
    return crs


def parse_int(name: str, text: str | None, default: int, maximum: int) -> int:
    """Return a whole-number parameter between 0 and ``maximum``."""
    if text is None:
        return default
    if not _INT.fullmatch(text.strip()):
        raise InputError(f"{name} must be a whole number, not '{text}'.")
    value = int(text)
    if value < 0 or value > maximum:
        raise InputError(
            f"{name} must be between 0 and {maximum:,}. ({name} 应在 0 到 {maximum:,} 之间。)"
        )
    return value


def parse_limit(text: str | None) -> int:
    """Return the page size: ``DEFAULT_LIMIT`` when absent, at most ``MAX_LIMIT``.

    A limit above the maximum is served as the maximum (as OGC API - Features Core allows),
    never as an error, so that a client asking for everything still pages.
    """
    if text is None:
        return DEFAULT_LIMIT
    if not _INT.fullmatch(text.strip()):
        raise InputError(f"limit must be a whole number, not '{text}'.")
    value = int(text)
    if value < 0:
        raise InputError("limit must not be negative.")
    return min(value, MAX_LIMIT)


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{what} must be numbers, not '{text}'.") from None
    if not math.isfinite(value):
        raise InputError(f"{what} must be finite numbers, not '{text}'.")
    return value


def parse_bbox(text: str | None, crs: str = CRS84) -> list[Bbox] | None:
    """Return the boxes (CRS84) a ``bbox`` value names, or None when absent.

    Parameters
    ----------
    text
        ``minlon,minlat,maxlon,maxlat`` in degrees (CRS84), or ``minlat,minlon,maxlat,maxlon``
        when ``crs`` is EPSG:4326; six numbers put a height (metres, ignored: the layers are
        2-D) after each corner's coordinates.
    crs
        The CRS of ``text``: :data:`CRS84` or :data:`EPSG4326`.

    Returns
    -------
    list of (minlon, minlat, maxlon, maxlat) or None
        One box in CRS84 degrees; two when the west edge lies east of the east edge, which
        means the box crosses the antimeridian.

    Raises
    ------
    InputError
        Not 4 or 6 finite numbers, out of range, or south above north.
    """
    if text is None:
        return None
    parts = text.split(",")
    if len(parts) not in (4, 6):
        raise InputError(
            "bbox must be four numbers (minlon,minlat,maxlon,maxlat) or six with heights."
        )
    values = [_number(p, "bbox") for p in parts]
    if len(values) == 6:
        if values[2] > values[5]:
            raise InputError("bbox: the lower height must not be above the upper height.")
        values = [values[0], values[1], values[3], values[4]]
    if crs == EPSG4326:
        values = [values[1], values[0], values[3], values[2]]
    minx, miny, maxx, maxy = values
    if not all(-180 <= x <= 180 for x in (minx, maxx)):
        raise InputError("bbox: longitudes must be between -180 and 180 degrees.")
    if not all(-90 <= y <= 90 for y in (miny, maxy)):
        raise InputError("bbox: latitudes must be between -90 and 90 degrees.")
    if miny > maxy:
        raise InputError("bbox: the southern latitude must not be north of the northern one.")
    if minx > maxx:  # across the antimeridian: east of minx, and west of maxx
        return [(minx, miny, 180.0, maxy), (-180.0, miny, maxx, maxy)]
    return [(minx, miny, maxx, maxy)]


@dataclass(frozen=True)
class Period:
    """A closed time interval in UTC; None at an end means open (``..``)."""

    start: pd.Timestamp | None
    end: pd.Timestamp | None

    def mask(self, values: pd.Series) -> pd.Series:
        """Return which of the UTC timestamps ``values`` lie in the interval (nulls do not)."""
        keep = values.notna()
        if self.start is not None:
            keep &= values >= self.start
        if self.end is not None:
            keep &= values <= self.end
        return keep


#: Years that stand for "no bound": QGIS sends 0000-01-01 and 9999-12-31 for open ends.
_OPEN_BEFORE, _OPEN_AFTER = 1678, 2261


def _instant(text: str, tz: str, *, end: bool) -> pd.Timestamp | None:
    """Return one RFC 3339 date-time (or full-date) as UTC; a date is its whole local day.

    A year before 1678 or after 2261 (beyond what the time columns can hold) is an open end:
    None.
    """
    text = text.strip()
    year = int(text[:4]) if text[:4].isdigit() else None
    if year is not None and not _OPEN_BEFORE <= year <= _OPEN_AFTER:
        return None
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise InputError(
            f"datetime: '{text}' is not a date or time (use RFC 3339, e.g. "
            "2026-10-01T09:30:00+08:00 or 2026-10-01)."
        ) from None
    if ts is pd.NaT:
        raise InputError(f"datetime: '{text}' is not a date or time.")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) and end:
        ts = ts + pd.Timedelta(days=1) - pd.Timedelta(milliseconds=1)
    if ts.tzinfo is None:  # a date, or a time without offset: the workspace's local time
        ts = ts.tz_localize(tz)
    return ts.tz_convert("UTC")


def parse_datetime(text: str | None, tz: str) -> Period | None:
    """Return the interval a ``datetime`` value names, or None when absent.

    An instant (``2026-10-01T09:30:00Z``) matches that moment; a date (``2026-10-01``) the
    whole day in the workspace's time zone ``tz``; an interval ``start/end`` is closed and either
    end may be open (``..`` or empty). Times without an offset are local times in ``tz``.
    """
    if text is None:
        return None
    if not re.fullmatch(DATETIME_PATTERN, text):
        raise InputError(
            f"datetime: '{text}' is not an instant or interval (RFC 3339, e.g. "
            "2026-10-01T09:30:00+08:00, 2026-10-01, or 2026-10-01/2026-10-31, '..' for an open end)."
        )
    if "/" not in text:
        start, end = _instant(text, tz, end=False), _instant(text, tz, end=True)
        if start is None or end is None:  # an instant no time column can hold: nothing matches
            never = pd.Timestamp.max.tz_localize("UTC")
            return Period(never, never)
        return Period(start, end)
    if text.count("/") != 1:
        raise InputError("datetime: an interval is start/end, with one '/'.")
    a, b = text.split("/")
    start = None if a.strip() in ("", "..") else _instant(a, tz, end=False)
    end = None if b.strip() in ("", "..") else _instant(b, tz, end=True)
    if start is not None and end is not None and start > end:
        raise InputError("datetime: the interval ends before it starts.")
    return Period(start, end)


def time_column(layer: Layer) -> Column | None:
    """Return the column ``datetime`` filters on: the layer's first datetime column that is not
    personal (people have none: a birth date is no feature's time)."""
    for column in layer.columns:
        if column.type == "datetime" and not column.personal:
            return column
    return None


def queryables(layer: Layer, access: Access) -> list[Column]:
    """Return the columns ``access`` may filter ``layer`` on with ``?column=value`` (as served).

    Personal columns, and coded columns whose values reveal a personal status, are queryable
    only for roles that see them unmasked: a filter on them would tell what the mask hides.
    """
    personal = read_level(access, layer.name) in (Level.FULL, Level.OWN)
    return [
        c
        for c in privacy.served_layer(layer, access).columns
        if c.type in FILTER_TYPES and (personal or not (c.personal or c.personal_values))
    ]


def _filter_value(column: Column, text: str) -> Any:
    what = f"The filter {column.name}"
    if text == "":
        raise InputError(f"{what} needs a value.")
    if column.type == "int":
        if not _INT.fullmatch(text.strip()):
            raise InputError(f"{what} must be a whole number, not '{text}'.")
        value = int(text)
        if not INT64_MIN <= value <= INT64_MAX:
            raise InputError(f"{what} is out of the range of 64-bit integers.")
        return value
    if column.type == "float":
        return _number(text, what)
    if column.type == "bool":
        lowered = text.strip().lower()
        if lowered not in ("true", "false", "1", "0"):
            raise InputError(f"{what} must be true or false, not '{text}'.")
        return lowered in ("true", "1")
    if column.choices and text not in column.choices:
        raise InputError(f"{what} must be one of {', '.join(column.choices)}, not '{text}'.")
    return text


def parse_filters(params: dict[str, str], layer: Layer, access: Access) -> dict[str, Any]:
    """Return ``{column: value}`` for the property filters among ``params``, typed and checked."""
    columns = {c.name: c for c in queryables(layer, access)}
    return {name: _filter_value(columns[name], text) for name, text in params.items()}


def filter_names(layer: Layer, access: Access) -> list[str]:
    """Return the names of the property filters of ``layer`` for ``access``."""
    return [c.name for c in queryables(layer, access)]


def items_params(layer: Layer, access: Access) -> list[str]:
    """Return every query parameter an items request of ``layer`` accepts for ``access``."""
    extra = ["datetime"] if time_column(layer) else []
    return [*ITEMS_PARAMS, *extra, *filter_names(layer, access)]
