"""What an OSM building's tags say: homes or not, how many storeys, and where that came from.

The storey rule, in order (``levels_source`` says which step gave the number):

1. ``osm``: the building's ``building:levels`` tag (storeys above ground);
2. ``height``: else its height — ``height``, else ``building:height``, else ``est_height`` —
   divided by :data:`STOREY_HEIGHT_M` (about 3 m a storey);
3. ``default``: else a default for its building type (:func:`default_levels`).

Tag values are read the way mappers write them: ``"45"``, ``"45 m"``, ``"45m"``, ``"45 米"``,
``"147 ft"``, ``"45,5"`` (decimal comma); several values (``"45;50"``, or a range ``"6-8"``)
give the largest, the building's tallest part. Values no building can have (no number, a
height under 2 m or over 1,000 m, more than 200 storeys, negative) are ignored, so the next
step of the rule answers instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

RESIDENTIAL_BUILDINGS = frozenset(
    {"residential", "apartments", "house", "detached", "semidetached_house", "terrace", "dormitory"}
)
NON_RESIDENTIAL_BUILDINGS = frozenset(
    {
        "commercial",
        "retail",
        "office",
        "industrial",
        "warehouse",
        "school",
        "university",
        "college",
        "kindergarten",
        "hospital",
        "public",
        "government",
        "civic",
        "church",
        "temple",
        "train_station",
        "transportation",
        "garage",
        "garages",
        "roof",
        "service",
        "hotel",
        "sports_hall",
        "stadium",
        "construction",
        "kiosk",
        "shed",
        "parking",
    }
)

#: Metres per storey when storeys come from a height (GB 50096 puts a home's storey at 2.8 m,
#: offices and shops run 3.5–4.5 m; 3 m is the usual rule of thumb).
STOREY_HEIGHT_M = 3.0
#: OSM keys that give a building's height, in the order they are trusted.
HEIGHT_KEYS = ("height", "building:height", "est_height")
#: Heights and storey counts outside these bounds are mistakes, not buildings (m, storeys).
MIN_HEIGHT_M = 2.0
MAX_HEIGHT_M = 1000.0
MAX_LEVELS = 200

#: Storeys of a home whose tags give none: six, the walk-up (多层住宅) that most buildings of
#: central Nanjing carrying ``building:levels`` have (41 of the demo extract's 93).
DEFAULT_HOME_LEVELS = 6
#: Storeys of any other building whose tags and type give none.
DEFAULT_OTHER_LEVELS = 3
#: Storeys by building type, where the type says more than "home" or "not a home".
DEFAULT_LEVELS: dict[str, int] = {
    "house": 2,
    "detached": 2,
    "semidetached_house": 2,
    "terrace": 2,
    "bungalow": 1,
    "kindergarten": 3,  # JGJ 39: a kindergarten has at most three storeys
    "school": 4,  # GB 50099: a primary school's teaching building at most four
    "retail": 2,
    "industrial": 2,
    "warehouse": 1,
    "train_station": 2,
    "transportation": 2,
    "church": 1,
    "temple": 1,
    "garage": 1,
    "garages": 1,
    "carport": 1,
    "roof": 1,
    "service": 1,
    "kiosk": 1,
    "shed": 1,
    "hut": 1,
    "toilets": 1,
    "construction": 1,
}

_SPLIT = re.compile(r";|(?<=\d)\s*[-–~]\s*(?=\d)")
_LEVELS = re.compile(
    r"(\d+(?:[.,]\d+)?)\s*(?:层|楼|f|fl|floors?|levels?|storeys?|stories)?", re.IGNORECASE
)
_HEIGHT = re.compile(r"(\d+(?:[.,]\d+)?)\s*(m|meters?|metres?|米|ft|feet|foot|')?", re.IGNORECASE)
_FEET_INCHES = re.compile(r"(\d+)\s*'\s*(\d+(?:\.\d+)?)\s*\"")
_FOOT_M = 0.3048


def _parts(value: object) -> list[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, list | tuple):
        return [p for v in value for p in _parts(v)]
    return [p.strip() for p in _SPLIT.split(str(value)) if p.strip()]


def _decimal(text: str) -> float:
    return float(text.replace(",", "."))


def parse_levels(value: object) -> float | None:
    """Return the storeys an OSM ``building:levels`` value gives, or None.

    Parameters
    ----------
    value
        The tag's text (``"6"``, ``"6.5"``, ``"6;8"``, ``"6-8"``, ``"12层"``), a number, or a
        list of them; several values give the largest.

    Returns
    -------
    float or None
        Storeys above ground (not rounded), or None when no part is a count from 0 to
        :data:`MAX_LEVELS`.
    """
    found = []
    for part in _parts(value):
        match = _LEVELS.fullmatch(part)
        if match and 0 <= (n := _decimal(match.group(1))) <= MAX_LEVELS:
            found.append(n)
    return max(found) if found else None


def parse_height_m(value: object) -> float | None:
    """Return the height in metres an OSM ``height`` value gives, or None.

    Parameters
    ----------
    value
        The tag's text: metres by default (``"45"``, ``"45 m"``, ``"45m"``, ``"45 米"``,
        ``"45,5"``), or feet (``"147 ft"``, ``"147'"``, ``"147'6\\""``); several values
        (``"45;50"``) give the largest.

    Returns
    -------
    float or None
        Metres, or None when no part is a height from :data:`MIN_HEIGHT_M` to
        :data:`MAX_HEIGHT_M`.
    """
    found = []
    for part in _parts(value):
        feet_inches = _FEET_INCHES.fullmatch(part)
        if feet_inches:
            metres = (float(feet_inches.group(1)) + float(feet_inches.group(2)) / 12) * _FOOT_M
        else:
            match = _HEIGHT.fullmatch(part)
            if not match:
                continue
            unit = (match.group(2) or "m").lower()
            metres = _decimal(match.group(1)) * (
                _FOOT_M if unit in ("ft", "feet", "foot", "'") else 1
            )
        if MIN_HEIGHT_M <= metres <= MAX_HEIGHT_M:
            found.append(round(metres, 2))
    return max(found) if found else None


def residential_flag(building: object) -> bool | None:
    """Return whether an OSM ``building`` value means homes (None: the tag does not say)."""
    if building in RESIDENTIAL_BUILDINGS:
        return True
    if building in NON_RESIDENTIAL_BUILDINGS:
        return False
    return None


def default_levels(building: object, residential: bool | None = None) -> int:
    """Return the storeys assumed for a building whose tags give neither storeys nor height.

    Parameters
    ----------
    building
        The OSM ``building`` value (``"house"``, ``"school"``, ``"yes"``, ...).
    residential
        Whether it holds homes, when that is known beyond its tag (the demo decides it for
        ``building=yes`` from footprint and land use); None: from the tag alone.

    Returns
    -------
    int
        :data:`DEFAULT_LEVELS` of the type if it has one, else :data:`DEFAULT_HOME_LEVELS`
        for homes and for buildings not known to be anything else, else
        :data:`DEFAULT_OTHER_LEVELS`.
    """
    if isinstance(building, str) and building in DEFAULT_LEVELS:
        return DEFAULT_LEVELS[building]
    home = residential_flag(building) if residential is None else residential
    return DEFAULT_OTHER_LEVELS if home is False else DEFAULT_HOME_LEVELS


def _tag(tags: pd.DataFrame, key: str) -> list[object]:
    if key in tags:
        return tags[key].tolist()
    return [None] * len(tags)


def storeys(
    tags: pd.DataFrame, residential: Sequence[bool | None] | np.ndarray | None = None
) -> pd.DataFrame:
    """Return storeys, their source and the height of buildings from their OSM tags.

    Parameters
    ----------
    tags
        One row per building with any of the OSM keys ``building``, ``building:levels`` and
        :data:`HEIGHT_KEYS` as columns (text as OSM has it; missing columns count as empty).
    residential
        Whether each building holds homes where that is known beyond its tag (see
        :func:`default_levels`); None: from the tags alone.

    Returns
    -------
    DataFrame
        Same index as ``tags``: ``levels`` (int, storeys above ground, at least 1),
        ``levels_source`` (``osm``, ``height`` or ``default``) and ``height_m`` (float,
        metres; NaN when no height tag holds a height: it is never made up from storeys).
    """
    homes = [None] * len(tags) if residential is None else list(residential)
    levels_tag = _tag(tags, "building:levels")
    height_tags = [_tag(tags, key) for key in HEIGHT_KEYS]
    building = _tag(tags, "building")
    levels, source, height = [], [], []
    for i in range(len(tags)):
        n = parse_levels(levels_tag[i])
        h = next((m for t in height_tags if (m := parse_height_m(t[i])) is not None), None)
        height.append(np.nan if h is None else h)
        if n is not None:
            levels.append(max(1, round(n)))
            source.append("osm")
        elif h is not None:
            levels.append(max(1, round(h / STOREY_HEIGHT_M)))
            source.append("height")
        else:
            home = homes[i]
            levels.append(default_levels(building[i], None if pd.isna(home) else bool(home)))
            source.append("default")
    return pd.DataFrame(
        {
            "levels": pd.Series(levels, index=tags.index, dtype="int64"),
            "levels_source": pd.Series(source, index=tags.index, dtype=object),
            "height_m": pd.Series(height, index=tags.index, dtype="float64"),
        }
    )
