"""Codes and names of communities and grids, and grid polygons ready for storage.

Grid codes come in two forms, chosen per workspace (setting ``grid_code_form``):

``db11`` (default, 15 digits)
    DB11/T 2157 in spirit: district 6 digits (GB/T 2260) + street 3 + community 3 + grid 3.
``cjt349`` (20 digits)
    CJ/T 349-2010 (数字社区管理与服务 网格划分与编码规则): management/service object 6
    (CJ/T 348; setting ``grid_code_object``, 000000 when unset) + district 6 + street 3 +
    community 3 + grid 2 (00: a community that is not subdivided).

Grids are numbered west to east in rows from north to south
(:func:`gridmap.grids.partition.reading_order`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.errors import InputError
from gridmap.schema import STORAGE_CRS, STORAGE_PRECISION_DEG

#: The most communities of a street, or grids of a community, a 3-digit sequence can number.
MAX_SEQUENCE = 999


def sequence_code(prefix: str, n: int) -> str:
    """Return ``prefix`` followed by the 3-digit sequence number ``n`` (1-based)."""
    if not 1 <= n <= MAX_SEQUENCE:
        raise InputError(
            f"Codes under {prefix} number at most {MAX_SEQUENCE} areas; {n} do not fit. "
            "Use a larger target."
        )
    return f"{prefix}{n:03d}"


def check_prefix(prefix: str) -> str:
    """Return the 9-digit district + street prefix of community codes, or raise InputError."""
    if not (len(prefix) == 9 and prefix.isdigit()):
        raise InputError(
            f"Community codes start with district (6 digits) and street (3 digits), not '{prefix}'."
        )
    return prefix


def community_names(polys: list[BaseGeometry], streets: gpd.GeoDataFrame) -> list[str]:
    """Name each community after the named street with most length inside it (metric CRS).

    A street names one community only; a community with no unused named street is called
    第N社区 after its place in ``polys``.
    """
    names: list[str] = []
    named = streets[streets["name"].notna()] if "name" in streets else streets.iloc[:0]
    for n, poly in enumerate(polys):
        inside = named[named.intersects(poly)]
        lengths = inside.geometry.intersection(poly).length.groupby(inside["name"]).sum()
        pick = next(
            (s for s in lengths.sort_values(ascending=False).index if f"{s}社区" not in names), None
        )
        names.append(f"{pick}社区" if pick else f"第{n + 1}社区")
    return names


def storage_polygon(geom: BaseGeometry) -> shapely.MultiPolygon:
    """Return ``geom`` (lon/lat) valid, snapped to the storage grid, as a MultiPolygon.

    Projecting can pinch thin slivers; snapping to :data:`gridmap.schema.STORAGE_PRECISION_DEG`
    (about 1 cm) drops them.
    """
    snapped = shapely.set_precision(shapely.make_valid(geom), STORAGE_PRECISION_DEG)
    parts = [p for p in shapely.get_parts(snapped) if p.geom_type == "Polygon" and not p.is_empty]
    if not parts:  # a collection: take its polygons
        parts = [
            p for p in shapely.get_parts(shapely.get_parts(snapped)) if p.geom_type == "Polygon"
        ]
    return shapely.MultiPolygon(parts)


def storage_polygons(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return a coverage (grids, communities) projected to EPSG:4326 on the storage grid.

    Each outline is made valid (:func:`storage_polygon`), then the whole layer is cleaned as
    one coverage (:func:`gridmap.grids.topology.clean`), so that a border two areas share is
    the same chain of vertices in both — which snapping each outline on its own does not keep.
    """
    from gridmap.grids.plan import clean

    out = frame.to_crs(STORAGE_CRS)
    valid = [storage_polygon(g) for g in out.geometry.values]
    out.geometry = list(clean(valid, STORAGE_PRECISION_DEG))
    return out


# -- code forms ----------------------------------------------------------------------------------

#: The workspace settings that choose the form of new grid codes and CJ/T 349's object code.
FORM_KEY = "grid_code_form"
OBJECT_KEY = "grid_code_object"
#: ``db11``: DB11/T 2157 style, 15 digits; ``cjt349``: CJ/T 349-2010, 20 digits.
FORMS = ("db11", "cjt349")
DEFAULT_FORM = "db11"
#: CJ/T 349's management/service object code (CJ/T 348) when the workspace sets none.
DEFAULT_OBJECT = "000000"
#: Digits of each form, and of its sequence number.
LENGTHS = {"db11": 15, "cjt349": 20}
SEQUENCE_DIGITS = {"db11": 3, "cjt349": 2}
#: The community part of a grid that belongs to no community.
NO_COMMUNITY = "000000000000"


@dataclass(frozen=True)
class GridCode:
    """A grid code taken apart.

    Attributes
    ----------
    form
        ``db11`` or ``cjt349``.
    community
        The 12-digit community code: district 6 (GB/T 2260) + street 3 + community 3.
    sequence
        The grid's number in its community (0 only in CJ/T 349: a community not subdivided).
    object_code
        CJ/T 349's 6-digit management/service object code (CJ/T 348); ``""`` in db11.
    """

    form: str
    community: str
    sequence: int
    object_code: str = ""


def check_form(form: str) -> str:
    """Return ``form`` if it is a known code form, else raise InputError (bilingual)."""
    if form not in FORMS:
        raise InputError(
            f"Unknown grid code form '{form}': use one of {', '.join(FORMS)}. "
            f"(未知的网格编码格式“{form}”，可选：{'、'.join(FORMS)}。)"
        )
    return form


def _digits(value: str, n: int, what: str, what_zh: str) -> str:
    if not (isinstance(value, str) and len(value) == n and value.isdigit()):
        raise InputError(
            f"The {what} must be {n} digits, not '{value}'. ({what_zh}应为{n}位数字，而不是“{value}”。)"
        )
    return value


def code_form(meta: Mapping[str, Any], present: Iterable[str] = ()) -> tuple[str, str]:
    """Return the workspace's ``(form, object_code)`` (defaults: db11, 000000).

    When the ``present`` grid codes are all of one form, that form wins over the setting:
    settings are not versioned, so an undone renumbering leaves the setting behind while
    the grids' codes go back.
    """
    form = check_form(str(meta.get(FORM_KEY) or DEFAULT_FORM))
    present = [str(c) for c in present]
    lengths = {len(c) for c in present}
    found = [f for f, n in LENGTHS.items() if lengths == {n}]
    obj = _digits(str(meta.get(OBJECT_KEY) or DEFAULT_OBJECT), 6, "object code", "对象代码")
    if found and found[0] == "cjt349":
        obj = present[0][:6] if OBJECT_KEY not in meta else obj
    return (found[0] if found else form), obj


def code_prefix(community: str | None, form: str = DEFAULT_FORM, object_code: str = "") -> str:
    """Return what every grid code of ``community`` starts with in ``form``.

    ``community`` is the 12-digit community code (None: a grid in no community, 12 zeros).
    """
    community = _digits(community or NO_COMMUNITY, 12, "community code", "社区编码")
    if check_form(form) == "cjt349":
        return _digits(object_code or DEFAULT_OBJECT, 6, "object code", "对象代码") + community
    return community


def make_code(
    community: str | None, sequence: int, form: str = DEFAULT_FORM, object_code: str = ""
) -> str:
    """Return the code of grid number ``sequence`` (1-based) of ``community`` in ``form``.

    db11: community 12 + sequence 3 (at most 999 grids); cjt349: object 6 + community 12 +
    sequence 2 (at most 99 grids; 0 is allowed there and means "community not subdivided").
    """
    prefix = code_prefix(community, form, object_code)
    digits = SEQUENCE_DIGITS[form]
    lowest = 0 if form == "cjt349" else 1
    if not lowest <= sequence <= 10**digits - 1:
        raise InputError(
            f"A {form} grid code numbers at most {10**digits - 1} grids in a community; "
            f"grid number {sequence} does not fit. Use the db11 form or fewer grids. "
            f"({form} 格式每个社区最多 {10**digits - 1} 个网格，第 {sequence} 个无法编码。)"
        )
    return f"{prefix}{sequence:0{digits}d}"


def parse_code(code: str, form: str | None = None) -> GridCode:
    """Take a grid code apart; ``form`` None: told by its length (15 db11, 20 cjt349).

    Raises InputError (bilingual) for anything else.
    """
    text = str(code).strip()
    if form is None:
        form = next((f for f, n in LENGTHS.items() if n == len(text)), None)
        if form is None:
            raise InputError(
                f"'{code}' is not a grid code: 15 digits (db11) or 20 digits (cjt349) expected. "
                f"(“{code}”不是网格编码：应为15位（db11）或20位（cjt349）数字。)"
            )
    n = LENGTHS[check_form(form)]
    _digits(text, n, f"{form} grid code", f"{form} 网格编码")
    if form == "cjt349":
        return GridCode(form, text[6:18], int(text[18:]), text[:6])
    sequence = int(text[12:])
    if sequence == 0:
        raise InputError(
            f"'{code}': db11 grid numbers start at 001. (“{code}”：db11 网格顺序码从001开始。)"
        )
    return GridCode(form, text[:12], sequence)


def convert_code(code: str, to: str, object_code: str = "") -> str:
    """Return ``code`` (either form) written in form ``to``.

    db11 → cjt349 puts ``object_code`` in front and keeps the sequence (refused above 99);
    cjt349 → db11 drops the object code; sequence 00 (community not subdivided) becomes 001.
    """
    parts = parse_code(code)
    if parts.form == check_form(to):
        return str(code).strip()
    sequence = max(parts.sequence, 1) if to == "db11" else parts.sequence
    return make_code(parts.community, sequence, to, object_code or parts.object_code)


def next_code(prefix_codes: Iterable[str], prefix: str, form: str = DEFAULT_FORM) -> str:
    """Return ``prefix`` + the sequence after the highest one among ``prefix_codes``.

    ``prefix_codes`` are the codes counted as used (a code is never reused); those not
    starting with ``prefix`` or not of ``form``'s length are ignored.
    """
    n = LENGTHS[check_form(form)]
    seqs = [
        int(c[len(prefix) :])
        for c in prefix_codes
        if c.startswith(prefix) and len(c) == n and c[len(prefix) :].isdigit()
    ]
    digits = SEQUENCE_DIGITS[form]
    following = max(seqs, default=0) + 1
    if following > 10**digits - 1:
        raise InputError(
            f"Codes under {prefix} number at most {10**digits - 1} grids; "
            f"{following} do not fit. (编码 {prefix} 下最多 {10**digits - 1} 个网格。)"
        )
    return f"{prefix}{following:0{digits}d}"


def grid_name(community_name: str | None, code: str) -> str:
    """Return the default name of grid ``code``: its community's name and the sequence number
    of its code (``长江路社区第12网格`` for …012), so that a name, like a code, is never
    given to another grid. A code that is not one of the forms is named after its last three
    digits where they are digits.
    """
    try:
        n = parse_code(code).sequence
    except InputError:
        tail = str(code)[-3:]
        n = int(tail) if tail.isdigit() else 0
    return f"{community_name or ''}第{max(n, 1)}网格"
