"""What a user narrows a layer to: conditions on columns, grids, and a sort order.

One set of rules for the web API (``/api/layers/<name>?where=…&grids=…&sort=…``), the
attribute table, exports and the CLI (``gridmap export … --where COLUMN=VALUE --grids CODES``).
A condition is typed text, checked against the layer's schema *as the reader is served it*:
a reader filters and sorts only by columns they see as stored, so that no filter, count or
order can tell them a value their view leaves out (docs/privacy.md).

The ``where`` syntax, one condition per ``where`` (all must hold)::

    kind=burglary            equal to (a comma list: any of them; nothing after = : missing)
    status!=closed           none of (a comma list: none of them; nothing after != : present)
    households>=300          <, <=, >, >= on numbers, dates and times
    occurred_at>=2026-01-01  dates and times in the workspace's time zone; a bare date is
                             that whole day (<= 2026-01-31 includes the 31st)
    name~江                  contains (letters ignore case)
    rented=是                yes/no as true/false, 1/0, yes/no, 是/否
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pandas as pd
import shapely

from gridmap.access import privacy
from gridmap.access.roles import Access, Level, read_level
from gridmap.errors import InputError
from gridmap.schema import Column, Layer, get_layer
from gridmap.store import Workspace
from gridmap.store.conditions import AllOf, Compare, Contains, Missing, NoneOf, both

_CONDITION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(!=|>=|<=|=|>|<|~)(.*)$", re.DOTALL)
_TRUE = {"true", "1", "yes", "y", "是", "t"}
_FALSE = {"false", "0", "no", "n", "否", "f"}
_SPLIT = re.compile(r"(?<!\\),")
#: The most values one condition may list (a URL's worth).
MAX_VALUES = 1000
#: The most conditions one request may carry.
MAX_CONDITIONS = 20


@dataclass(frozen=True)
class LayerFilter:
    """A checked filter of one layer: store conditions, sort order, and what the user asked.

    ``where`` goes to :meth:`gridmap.store.Workspace.read` (after the reader's own scope is
    added: :func:`gridmap.service.scope.scoped_where`); ``area`` (EPSG:4326), when set, keeps
    only features meeting it (grids chosen for a layer without ``grid_code``: streets).
    """

    layer: str
    where: dict[str, Any] = field(default_factory=dict)
    order: tuple[tuple[str, bool], ...] = ()
    conditions: tuple[str, ...] = ()
    grids: tuple[str, ...] = ()
    ids: tuple[int, ...] = ()
    sort: str | None = None
    area: Any = None  # shapely geometry

    @property
    def empty(self) -> bool:
        """Whether the filter keeps every row."""
        return not (self.where or self.area is not None)

    def keep(self) -> Callable[[pd.DataFrame], pd.Series] | None:
        """Return the row test the store cannot run (``area``), or None."""
        if self.area is None:
            return None
        area = self.area
        shapely.prepare(area)

        def inside(frame: pd.DataFrame) -> pd.Series:
            return pd.Series(shapely.intersects(area, frame.geometry.values), index=frame.index)

        return inside

    def describe(self) -> dict[str, Any]:
        """Return what was asked, for the access log and file notes (empty parts left out).

        Each condition keeps its column and operator; its value is masked on a personal column
        (``id_number=32***************X``, ``hardship=***``) and anywhere it holds an ID or
        phone number (:func:`gridmap.access.privacy.logged_value`), so that the log of
        unmasked reads holds no personal value as typed. Feature ids are counted, not listed.
        """
        out: dict[str, Any] = {}
        if self.conditions:
            logged = []
            for text in self.conditions:
                found = _CONDITION.match(text)
                if found is None:  # never: conditions were checked
                    logged.append(privacy.MASK)
                    continue
                name, op, raw = found.groups()
                parts = _SPLIT.split(raw) if op in ("=", "!=") else [raw]
                value = ",".join(privacy.logged_value(self.layer, name, v) for v in parts)
                logged.append(f"{name}{op}{value}")
            out["where"] = logged
        if self.grids:
            out["grids"] = list(self.grids)
        if self.ids:
            out["ids"] = len(self.ids)
        if self.sort:
            out["sort"] = self.sort
        return out


def filterable(layer: str | Layer, access: Access) -> tuple[Column, ...]:
    """Return the columns ``access`` may filter and sort ``layer`` by.

    Readers who see the layer as stored (FULL, OWN) may use every column. A masked reader may
    use only the columns the masked view serves as stored (not coarsened ones: an address
    served without its room must not be filtered by its room).
    """
    schema = get_layer(layer) if isinstance(layer, str) else layer
    served = privacy.served_layer(schema, access)
    if read_level(access, schema.name) is Level.MASKED:
        return tuple(c for c in served.columns if not (c.personal or c.personal_values))
    return served.columns


def _column(schema: Layer, name: str, access: Access) -> Column:
    allowed = {c.name: c for c in filterable(schema, access)}
    if name in allowed:
        return allowed[name]
    if name in schema.column_names:
        raise InputError(
            f"Layer '{schema.name}' cannot be filtered or sorted by '{name}' for your role "
            f"({access.role}): your view leaves it out. (您的角色无法按“{name}”筛选或排序。)"
        )
    names = ", ".join(allowed) or "none"
    raise InputError(
        f"Layer '{schema.name}' has no column '{name}'. Columns you may use: {names}. "
        f"(图层没有“{name}”这一列。)"
    )


def _bool(column: Column, text: str) -> bool:
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise InputError(
        f"'{text}' is not yes or no for column '{column.name}': use true/false, 1/0 or 是/否. "
        f"(“{column.name}”取值应为是或否。)"
    )


#: The largest whole number SQLite stores (a float rounds 2**63 - 1 up, so one below 2**63).
_LARGEST_INT = 2**63 - 1024


def _number(column: Column, text: str) -> int | float:
    try:
        value = float(text.strip())
    except ValueError:
        raise InputError(
            f"'{text}' is not a number for column '{column.name}'. (“{column.name}”应为数字。)"
        ) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError(
            f"'{text}' is not a finite number for column '{column.name}'. "
            f"(“{column.name}”应为有限的数字。)"
        )
    if column.type == "int":
        if value != int(value):
            raise InputError(
                f"'{text}' is not a whole number for column '{column.name}'. "
                f"(“{column.name}”应为整数。)"
            )
        if abs(value) > _LARGEST_INT:
            raise InputError(
                f"'{text}' is too large for column '{column.name}': at most {_LARGEST_INT:,}. "
                f"(“{column.name}”的数值过大。)"
            )
        return int(value)
    return value


def _date(column: Column, text: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(text.strip().replace("/", "-"))
    except (ValueError, TypeError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise InputError(
            f"'{text}' is not a date for column '{column.name}': write YYYY-MM-DD. "
            f"(“{column.name}”应为日期，格式 YYYY-MM-DD。)"
        )
    return stamp


def _is_bare_date(text: str) -> bool:
    return re.fullmatch(r"\s*\d{4}[-/]\d{1,2}[-/]\d{1,2}\s*", text) is not None


def _utc_text(stamp: pd.Timestamp, tz: str) -> str:
    # a local time that happened twice (daylight saving ended, China 1986-1991) takes its
    # first meaning; one that never happened (the clock jumped) the next that did
    local = (
        stamp
        if stamp.tzinfo
        else stamp.tz_localize(tz, ambiguous=True, nonexistent="shift_forward")
    )
    return local.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _scalar(column: Column, text: str) -> Any:
    """Return one typed value of ``column`` (dates as storage text; not datetimes)."""
    if column.type == "str":
        if column.choices is not None and text not in column.choices:
            raise InputError(
                f"'{text}' is not a value of column '{column.name}': one of "
                f"{', '.join(column.choices)}. (“{column.name}”没有这个取值。)"
            )
        return text
    if column.type == "bool":
        return _bool(column, text)
    if column.type in ("int", "float"):
        return _number(column, text)
    if column.type == "date":
        return _date(column, text).strftime("%Y-%m-%d")
    raise AssertionError(column.type)


def _datetime_condition(column: Column, op: str, text: str, tz: str) -> Any:
    """A condition on a datetime column; a bare date stands for the whole local day."""
    stamp = _date(column, text)
    if not _is_bare_date(text):
        return Compare(op, _utc_text(stamp, tz))  # type: ignore[arg-type]
    day = _utc_text(stamp.normalize(), tz)
    next_day = _utc_text(stamp.normalize() + timedelta(days=1), tz)
    if op == "=":
        return AllOf((Compare(">=", day), Compare("<", next_day)))
    return {
        ">=": Compare(">=", day),
        ">": Compare(">=", next_day),
        "<": Compare("<", day),
        "<=": Compare("<", next_day),
    }[op]


def parse_condition(schema: Layer, text: str, access: Access, *, tz: str) -> tuple[str, Any]:
    """Return ``(column, store condition)`` for one typed condition such as ``kind=burglary``.

    Raises
    ------
    InputError
        Bad syntax, an unknown column, a column the reader may not filter by, or a value
        that is not of the column's type.
    """
    found = _CONDITION.match(text)
    if not found:
        raise InputError(
            f"'{text}' is not a condition: write COLUMN=VALUE (or !=, <, <=, >, >=, ~). "
            "(筛选条件的格式为 列名=值。)"
        )
    name, op, raw = found.group(1), found.group(2), found.group(3)
    column = _column(schema, name, access)
    if op == "~":
        if column.type != "str":
            raise InputError(
                f"'~' (contains) works on text columns; '{name}' is not text. "
                f"(“~”（包含）只用于文字列，“{name}”不是文字列。)"
            )
        if not raw:
            raise InputError(
                f"'{text}': give the text to look for after '~'. (请在“~”后写要查找的文字。)"
            )
        return name, Contains(raw)
    if op in ("=", "!="):
        values = [v.replace("\\,", ",") for v in _SPLIT.split(raw)] if raw else []
        if len(values) > MAX_VALUES:
            raise InputError(
                f"At most {MAX_VALUES} values in one condition. (一个条件最多 {MAX_VALUES} 个取值。)"
            )
        if not values:
            return name, Missing(op == "=")
        if column.type == "datetime":
            if len(values) != 1:
                raise InputError(
                    f"Give one date or time per condition on '{name}'. "
                    f"(“{name}”的每个条件只能写一个日期或时间。)"
                )
            if op == "=":
                return name, _datetime_condition(column, "=", values[0], tz)
            if _is_bare_date(values[0]):
                raise InputError(
                    f"'{text}': to leave a day out, filter the days before and after it "
                    "separately. (排除某一天请分别筛选其前后日期。)"
                )
            return name, Compare("!=", _utc_text(_date(column, values[0]), tz))
        typed = [_scalar(column, v) for v in values]
        if op == "=":
            return name, typed[0] if len(typed) == 1 else typed
        return name, NoneOf(tuple(typed))
    if column.type in ("str", "bool"):
        raise InputError(
            f"'{op}' compares numbers, dates and times; '{name}' is not one. "
            f"(“{op}”只用于数字、日期和时间，“{name}”不是。)"
        )
    if not raw.strip():
        raise InputError(f"'{text}': give a value after '{op}'. (请在“{op}”后写取值。)")
    if column.type == "datetime":
        return name, _datetime_condition(column, op, raw, tz)
    return name, Compare(op, _scalar(column, raw))  # type: ignore[arg-type]


def parse_where(
    layer: str, texts: Iterable[str], access: Access, *, tz: str = "Asia/Shanghai"
) -> dict[str, Any]:
    """Return the store ``where`` of typed conditions (all must hold), checked for ``access``.

    Parameters
    ----------
    layer
        The layer's name.
    texts
        Conditions in the syntax of this module's docstring.
    access
        Who filters: only the columns of :func:`filterable` may be used.
    tz
        The workspace's time zone (IANA name): dates and times without an offset are local.
    """
    schema = get_layer(layer)
    texts = [t for t in texts if t is not None and t != ""]
    if len(texts) > MAX_CONDITIONS:
        raise InputError(
            f"At most {MAX_CONDITIONS} conditions at once. (最多同时 {MAX_CONDITIONS} 个条件。)"
        )
    where: dict[str, Any] = {}
    for text in texts:
        name, cond = parse_condition(schema, text, access, tz=tz)
        where[name] = both(where.get(name), cond)
    return where


def parse_sort(layer: str, text: str | None, access: Access) -> tuple[tuple[str, bool], ...]:
    """Return ``(column, descending)`` pairs of ``name,-households`` (a ``-``: descending)."""
    if not text:
        return ()
    schema = get_layer(layer)
    out: list[tuple[str, bool]] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        descending = part.startswith("-")
        name = part.lstrip("+-")
        _column(schema, name, access)
        out.append((name, descending))
    if len(out) > 5:
        raise InputError("Sort by at most 5 columns.")
    return tuple(out)


def parse_grids(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """Return grid codes of ``A,B`` (or a list), in order, without repeats or blanks."""
    if text is None:
        return ()
    parts = text.split(",") if isinstance(text, str) else list(text)
    codes = [p.strip() for p in parts if p and p.strip()]
    if len(codes) > MAX_VALUES:
        raise InputError(f"At most {MAX_VALUES} grids at once. (最多同时选 {MAX_VALUES} 个网格。)")
    return tuple(dict.fromkeys(codes))


def parse_ids(text: str | Sequence[int] | None) -> tuple[int, ...]:
    """Return feature ids of ``1,2,3`` (or a list), in order, without repeats."""
    if text is None:
        return ()
    parts = text.split(",") if isinstance(text, str) else list(text)
    out: list[int] = []
    for part in parts:
        if isinstance(part, str) and not part.strip():
            continue
        try:
            value = int(part)
        except (TypeError, ValueError):
            raise InputError(f"'{part}' is not a feature id. (“{part}”不是要素编号。)") from None
        if abs(value) > _LARGEST_INT:
            raise InputError(f"'{part}' is not a feature id. (“{part}”不是要素编号。)")
        out.append(value)
    if len(out) > MAX_VALUES * 10:
        raise InputError(
            f"At most {MAX_VALUES * 10} features at once. (最多同时选 {MAX_VALUES * 10} 个要素。)"
        )
    return tuple(dict.fromkeys(out))


def grid_where(ws: Workspace, layer: str, codes: Sequence[str]) -> tuple[dict[str, Any], Any]:
    """Return ``(where, area)`` selecting what of ``layer`` belongs to the grids ``codes``.

    Layers with a ``grid_code`` by it; grids by code; the community by the communities the
    grids lie in; people by their household's grid; streets and street nodes by the grids'
    area (returned as a shapely geometry in EPSG:4326). An unknown code is an error.
    """
    grids = ws.read("grids", where={"code": list(codes)}, columns=("code", "community_code"))
    unknown = sorted(set(codes) - set(grids["code"]))
    if unknown:
        raise InputError(
            f"No grid with code {', '.join(unknown)}. (没有编码为 {', '.join(unknown)} 的网格。)"
        )
    schema = get_layer(layer)
    if layer == "grids":
        return {"code": list(codes)}, None
    if layer == "community":
        return {"code": sorted(set(grids["community_code"].dropna()))}, None
    if "grid_code" in schema.column_names:
        return {"grid_code": list(codes)}, None
    if schema.located_by:
        by, key = schema.located_by
        parents = ws.read(by, where={"grid_code": list(codes)}, columns=(key,), system=False)
        return {key: sorted(set(parents[key].dropna()))}, None
    if schema.geometry:
        return {}, shapely.union_all(grids.geometry.values)
    raise InputError(f"Layer '{layer}' cannot be selected by grid. (图层“{layer}”不能按网格选取。)")


def layer_filter(
    ws: Workspace,
    layer: str,
    access: Access,
    *,
    where: Iterable[str] = (),
    grids: str | Sequence[str] | None = None,
    sort: str | None = None,
    ids: str | Sequence[int] | None = None,
) -> LayerFilter:
    """Check what a user asked for and return it as a :class:`LayerFilter`.

    Parameters
    ----------
    ws
        The workspace (its time zone; the grids named).
    layer
        The layer's name.
    access
        Who asks.
    where
        Conditions (module docstring).
    grids
        Grid codes (``A,B`` or a list): only what belongs to these grids.
    sort
        ``column`` or ``-column`` (descending), comma-separated.
    ids
        Feature ids (``1,2,3`` or a list): only these features (a selection on the map).
    """
    tz = ws.get_meta("timezone", "Asia/Shanghai")
    texts = tuple(t for t in where if t)
    conds = parse_where(layer, texts, access, tz=tz)
    codes = parse_grids(grids)
    area = None
    if codes:
        by_grid, area = grid_where(ws, layer, codes)
        for name, value in by_grid.items():
            conds[name] = both(conds.get(name), value)
    fids = parse_ids(ids)
    if fids:
        conds["fid"] = list(fids)
    order = parse_sort(layer, sort, access)
    return LayerFilter(
        layer=layer,
        where=conds,
        order=order,
        conditions=texts,
        grids=codes,
        ids=fids,
        sort=sort or None,
        area=area,
    )
