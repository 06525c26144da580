"""Check imported rows against a layer's schema: columns, values, geometries, coordinates.

Every check raises a :mod:`gridmap.errors` class naming the first offending row (1-based, as the
frame's index from :func:`gridmap.io.readers.read_table`) and how many other rows share the problem,
so a planner can fix the file in one go. Checks return cleaned values rather than modifying their
input.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.errors import CoordinateError, GeometryError, SchemaError
from gridmap.geo import chinacoords
from gridmap.geo.crs import utm_crs
from gridmap.geo.shapes import explain_invalid
from gridmap.schema import STORAGE_EPSG, Column, Layer, choice_titles, provenance, shapefile_names
from gridmap.schema.values import (
    CHINA_TZ,
    CHOICE_ALIASES,
    blank,
    show,
    to_bool,
    to_date,
    to_datetime,
    to_float,
    to_int,
    to_str,
)

__all__ = [
    "AREA_TOLERANCE_M",
    "CHINA_TZ",
    "GEOMETRY_WORDS",
    "check_area",
    "check_coordinates",
    "check_geometry_types",
    "check_not_empty",
    "check_projected_result",
    "check_required_columns",
    "check_validity",
    "coerce_column",
    "coerce_columns",
    "match_columns",
]

#: How far outside the workspace area a feature may lie.
AREA_TOLERANCE_M = 5000.0

GEOMETRY_WORDS = {"POINT": "points", "LINESTRING": "lines", "MULTIPOLYGON": "polygons"}


def _also(rows: Sequence[int]) -> str:
    """Return ' (also rows 4, 7 and 12 more)' for the rows after the first, or ''."""
    rest = [int(r) for r in rows[1:]]
    if not rest:
        return ""
    shown = ", ".join(str(r) for r in rest[:5])
    more = f" and {len(rest) - 5} more" if len(rest) > 5 else ""
    return f" (also row{'s' if len(rest) > 1 else ''} {shown}{more})"


def _also_zh(rows: Sequence[int]) -> str:
    """Return '（另有第 4、7 行等 12 行）' for the rows after the first, or ''."""
    rest = [int(r) for r in rows[1:]]
    if not rest:
        return ""
    shown = "、".join(str(r) for r in rest[:5])
    more = f"等 {len(rest)} 行" if len(rest) > 5 else "行"
    return f"（另有第 {shown} {more}）"


def _label(column: Column) -> str:
    return f"{column.name} ({column.zh})"


# --- columns ----------------------------------------------------------------------------------


def match_columns(columns: Iterable[str], layer: Layer) -> tuple[dict[str, str], list[str]]:
    """Map file columns to layer columns (exact, any case, or Chinese label); list the rest."""
    columns = [str(c) for c in columns]
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    keys: list[Callable[[str], str]] = [lambda s: s, lambda s: s.strip().lower()]
    for key in keys:
        wanted = {key(c.name): c.name for c in layer.columns}
        for col in columns:
            target = wanted.get(key(col))
            if col not in mapping and target is not None and target not in taken:
                mapping[col] = target
                taken.add(target)
    by_label = {c.zh.strip(): c.name for c in layer.columns}
    by_label.update({c.en.strip().lower(): c.name for c in layer.columns})
    # a Shapefile written by gridmap cuts names to 10 characters
    by_label.update({short: long for long, short in shapefile_names(layer.column_names).items()})
    for col in columns:
        for text in (col.strip(), _without_unit(col)):
            target = by_label.get(text) or by_label.get(text.lower())
            if col not in mapping and target is not None and target not in taken:
                mapping[col] = target
                taken.add(target)
    extra = [c for c in columns if c not in mapping]
    return mapping, extra


#: A unit after a column title, as gridmap's exports write it: "安装高度 (m)", "面积（m²）".
_UNIT_SUFFIX = re.compile(r"\s*[(（][^()（）]{1,12}[)）]\s*$")


def _without_unit(title: str) -> str:
    """Return a column title without a trailing unit in brackets."""
    return _UNIT_SUFFIX.sub("", title.strip())


def check_required_columns(present: Iterable[str], layer: Layer, *, source: str | None) -> None:
    """Raise :class:`SchemaError` listing the layer's required columns missing from ``present``."""
    have = set(present)
    missing = [layer.column(n) for n in layer.required_columns if n not in have]
    if missing:
        listed = ", ".join(_label(c) for c in missing)
        raise SchemaError(
            f"The file lacks required column{'s' if len(missing) > 1 else ''} {listed} for "
            f"layer '{layer.name}' ({layer.zh}).",
            source=source,
        )


def _choice(value: str, column: Column, titles: dict[str, tuple[str, str]] | None = None) -> str:
    """Return the code ``value`` stands for: the code itself, an alias, or its en/zh title."""
    assert column.choices is not None
    if value in column.choices:
        return value
    alias = CHOICE_ALIASES.get(value.lower(), CHOICE_ALIASES.get(value))
    if alias in column.choices:
        return alias
    for c in column.choices:
        if c.lower() == value.lower():
            return c
    for code, (en, zh) in (titles or {}).items():
        if value.strip() in (zh, en) or value.strip().lower() == en.lower():
            return code
    raise ValueError(f"is not one of: {_choice_list(column, titles)}")


def _choice_list(column: Column, titles: dict[str, tuple[str, str]] | None) -> str:
    assert column.choices is not None
    if not titles:
        return ", ".join(column.choices)
    return ", ".join(f"{c} ({titles[c][1]})" if c in titles else c for c in column.choices)


def coerce_column(
    values: pd.Series,
    column: Column,
    *,
    source: str | None,
    warnings: list[str] | None = None,
    titles: dict[str, tuple[str, str]] | None = None,
) -> pd.Series:
    """Return ``values`` converted to the column's type; raise SchemaError at the first misfit.

    Coded columns also take a code's English or Chinese title from ``titles``.
    """
    convert: Callable[[Any], Any] = {
        "str": to_str,
        "int": to_int,
        "float": to_float,
        "bool": to_bool,
        "date": to_date,
        "datetime": to_datetime,
    }[column.type]
    out: list[Any] = []
    bad: list[int] = []
    first_reason = ""
    misfit_choice = False
    naive = False
    for row, v in values.items():
        if blank(v):
            out.append(None)
            continue
        try:
            x = convert(v)
            if column.type == "datetime":
                x, was_naive = x
                naive = naive or was_naive
            if column.choices is not None:
                x = _choice(x, column, titles)
        except ValueError as exc:
            if not bad:
                first_reason = f"'{show(v)}' {exc}"
                misfit_choice = str(exc).startswith("is not one of")
            bad.append(int(row))
            out.append(None)
            continue
        out.append(x)
    if bad:
        holds = "" if misfit_choice else f"; {_label(column)} holds {_TYPE_WORDS[column.type]}"
        raise SchemaError(
            f"{first_reason}{holds}{_also(bad)}.",
            row=bad[0],
            column=column.name,
            source=source,
        )
    if naive and warnings is not None:
        warnings.append(
            f"Times in column '{column.name}' have no time zone; they were read as China "
            "Standard Time (UTC+8)."
        )
    return _typed(out, column, values.index)


_TYPE_WORDS = {
    "str": "text",
    "int": "whole numbers",
    "float": "numbers",
    "bool": "yes/no values (是/否, true/false, 1/0)",
    "date": "dates such as 2024-03-01",
    "datetime": "dates and times such as 2024-03-01 14:30",
}


def _typed(values: list[Any], column: Column, index: pd.Index) -> pd.Series:
    if column.type == "int":
        return pd.Series(values, index=index, dtype="Int64")
    if column.type == "float":
        return pd.Series([np.nan if v is None else v for v in values], index=index, dtype="float64")
    if column.type == "bool":
        return pd.Series(values, index=index, dtype="boolean")
    if column.type == "datetime":
        return pd.Series(
            [pd.NaT if v is None else v for v in values], index=index, dtype="datetime64[ms, UTC]"
        )
    if column.type == "date":  # midnight, no zone: as the workspace reads dates back
        return pd.Series(
            [pd.NaT if v is None else pd.Timestamp(v) for v in values],
            index=index,
            dtype="datetime64[ms]",
        )
    return pd.Series(values, index=index, dtype=object)


#: How an export writes a masked cell (gridmap.io.export_notes.HIDDEN).
MASKED_WORDS = ("已隐藏", "hidden")


def check_not_masked(frame: pd.DataFrame, layer: Layer, *, source: str | None) -> None:
    """Refuse personal values that were masked by an export (张**, 139****5678, 1950-**-**).

    Importing them would overwrite the register's real data with the masks.
    """
    for column in layer.columns:
        if not (column.personal or column.personal_values) or column.name not in frame.columns:
            continue
        text = frame[column.name].astype(object).map(lambda v: v if isinstance(v, str) else "")
        # "张**", "139****5678", or a masked cell as a Chinese or English export writes it
        masked = (text.str.contains("*", regex=False) | text.isin(MASKED_WORDS)).to_numpy()
        if masked.any():
            rows = frame.index[masked]
            raise SchemaError(
                f"'{show(text[rows[0]])}' is a masked value from an export made without "
                f"--personal; importing it would overwrite the real {_label(column)}. Import a file "
                f"exported with --personal, or leave the column out{_also(rows)}.",
                row=int(rows[0]),
                column=column.name,
                source=source,
            )


def check_unique_key(frame: pd.DataFrame, layer: Layer, *, source: str | None) -> None:
    """Refuse a file in which two rows carry the same key (camera code, household id, ...)."""
    if not layer.key or layer.key not in frame.columns:
        return
    values = frame[layer.key]
    dup = (values.notna() & values.duplicated(keep="first")).to_numpy()
    if dup.any():
        rows = frame.index[dup]
        first = values[rows[0]]
        earlier = int(frame.index[(values == first).to_numpy()][0])
        column = layer.column(layer.key)
        zh = column.zh_name
        raise SchemaError(
            f"{_label(column)} '{show(first)}' is already used in row {earlier}: each row needs "
            f"its own{_also(rows)}. (第 {earlier} 行已使用{zh} “{show(first)}”，"
            f"每行的{zh}不能重复{_also_zh(rows)}。)",
            row=int(rows[0]),
            column=layer.key,
            source=source,
        )


def coerce_columns(
    frame: pd.DataFrame, layer: Layer, *, source: str | None, warnings: list[str]
) -> pd.DataFrame:
    """Return a frame with exactly the layer's columns, in order, each coerced to its type."""
    check_not_masked(frame, layer, source=source)
    out = pd.DataFrame(index=frame.index)
    for column in layer.columns:
        values = frame[column.name] if column.name in frame.columns else None
        if values is None:
            values = pd.Series([None] * len(frame), index=frame.index, dtype=object)
        out[column.name] = coerce_column(
            values,
            column,
            source=source,
            warnings=warnings,
            titles=choice_titles(layer.name, column.name),
        )
        if column.required:
            empty = out[column.name].isna().to_numpy()
            if empty.any():
                rows = frame.index[empty]
                raise SchemaError(
                    f"{_label(column)} is empty, but every row needs one{_also(rows)}.",
                    row=int(rows[0]),
                    column=column.name,
                    source=source,
                )
    check_unique_key(out, layer, source=source)
    if "source" in out.columns:
        out["source"] = out["source"].fillna("import")
    return provenance.fill_sources(out, layer.name, "import")


# --- geometries -------------------------------------------------------------------------------


def _first(mask: np.ndarray, rows: pd.Index) -> tuple[int, list[int]]:
    hits = [int(r) for r in rows[mask]]
    return hits[0], hits


def check_not_empty(
    geoms: np.ndarray, rows: pd.Index, *, source: str | None, from_columns: Sequence[str] = ()
) -> None:
    """Raise :class:`GeometryError` at the first row whose geometry is missing or empty."""
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if empty.any():
        row, hits = _first(empty, rows)
        what = (
            f"no coordinates: the {' / '.join(from_columns)} cells are empty"
            if from_columns
            else "an empty geometry"
        )
        raise GeometryError(f"has {what}{_also(hits)}.", row=row, source=source)


def check_geometry_types(
    geoms: np.ndarray, rows: pd.Index, layer: Layer, *, source: str | None
) -> np.ndarray:
    """Return the geometries in the layer's type (Polygon → MultiPolygon), or raise."""
    assert layer.geometry is not None
    geoms = np.asarray(geoms, dtype=object).copy()
    tid = shapely.get_type_id(geoms)
    parts = shapely.get_num_geometries(geoms)
    single_multi = {"POINT": 4, "LINESTRING": 5}.get(layer.geometry)
    if single_multi is not None:
        unwrap = (tid == single_multi) & (parts == 1)
        geoms[unwrap] = shapely.get_geometry(geoms[unwrap], 0)
        ok = shapely.get_type_id(geoms) == (0 if layer.geometry == "POINT" else 1)
    else:
        poly = tid == 3
        if poly.any():
            geoms[poly] = shapely.multipolygons(geoms[poly], indices=np.arange(int(poly.sum())))
        ok = (tid == 3) | (tid == 6)
    if not ok.all():
        row, hits = _first(~ok, rows)
        g = geoms[~ok][0]
        kind = g.geom_type + (f" of {len(g.geoms)} parts" if hasattr(g, "geoms") else "")
        raise GeometryError(
            f"is a {kind}, but layer '{layer.name}' ({layer.zh}) holds "
            f"{GEOMETRY_WORDS[layer.geometry]} only ({layer.geometry}){_also(hits)}.",
            row=row,
            source=source,
        )
    return geoms


def check_coordinates(
    geoms: np.ndarray, rows: pd.Index, *, source: str | None, crs_declared: bool = True
) -> None:
    """Raise :class:`CoordinateError` for swapped or out-of-range longitude/latitude degrees."""
    bounds = shapely.bounds(geoms)
    xmin, ymin, xmax, ymax = bounds.T
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(bounds).all(axis=1)
        out = ~finite | (xmin < -180) | (xmax > 180) | (ymin < -90) | (ymax > 90)
        swapped = finite & chinacoords.in_china(ymin, xmin) & chinacoords.in_china(ymax, xmax)
    if not crs_declared and out.mean() > 0.5 and not swapped.any():
        row, hits = _first(out, rows)
        raise CoordinateError(
            f"the coordinates ({xmin[rows.get_loc(row)]:.0f}, {ymin[rows.get_loc(row)]:.0f}) look "
            "like metres of a projected system, not longitude/latitude degrees, and the file "
            "does not say which system it uses. Give it with --crs, for example --crs EPSG:4549 "
            "(CGCS2000 3-degree Gauss-Kruger, central meridian 120°E).",
            row=row,
            source=source,
        )
    bad = out | swapped
    if bad.any():
        row, hits = _first(bad, rows)
        i = rows.get_loc(row)
        if swapped[i]:
            raise CoordinateError(
                f"longitude and latitude look swapped: longitude {xmin[i]:.6f}, latitude "
                f"{ymin[i]:.6f} lies outside China, the other way round inside. Longitude "
                f"(经度, 73–135 in China) comes first, latitude (纬度, 18–54) second{_also(hits)}.",
                row=row,
                source=source,
            )
        where = (
            f"longitude {xmin[i]:.6f}, latitude {ymin[i]:.6f}"
            if (xmin[i], ymin[i]) == (xmax[i], ymax[i])
            else f"longitude {xmin[i]:.6f} to {xmax[i]:.6f}, latitude {ymin[i]:.6f} to {ymax[i]:.6f}"
        )
        raise CoordinateError(
            f"coordinates out of range at {where}: longitude must lie within ±180 and latitude "
            f"within ±90{_also(hits)}.",
            row=row,
            source=source,
        )


def check_projected_result(
    geoms: np.ndarray, rows: pd.Index, *, crs_name: str, source: str | None
) -> None:
    """Raise :class:`CoordinateError` where conversion from ``crs_name`` gave no usable degrees."""
    bounds = shapely.bounds(geoms)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(bounds).all(axis=1) | (np.abs(bounds[:, [0, 2]]) > 180).any(axis=1)
        bad |= (np.abs(bounds[:, [1, 3]]) > 90).any(axis=1)
    if bad.any():
        row, hits = _first(bad, rows)
        raise CoordinateError(
            f"the coordinates could not be converted from {crs_name} to longitude/latitude: "
            f"they are outside that system's area. Check the file's coordinate system "
            f"(--crs){_also(hits)}.",
            row=row,
            source=source,
        )


def check_validity(geoms: np.ndarray, rows: pd.Index, *, source: str | None) -> None:
    """Raise :class:`GeometryError` at the first invalid geometry, saying what and where."""
    valid = shapely.is_valid(geoms)
    if not valid.all():
        row, hits = _first(~valid, rows)
        en, zh = explain_invalid(shapely.is_valid_reason(geoms[~valid][0]))
        raise GeometryError(
            f"invalid geometry: {en}. Redraw it so that its edges do not cross or touch"
            f"{_also(hits)}. (几何图形无效：{zh}。请重画，使边线不交叉、不相接。)",
            row=row,
            source=source,
        )


def check_area(
    geoms: np.ndarray,
    rows: pd.Index,
    area: BaseGeometry,
    *,
    source: str | None,
    tolerance_m: float = AREA_TOLERANCE_M,
) -> None:
    """Raise :class:`CoordinateError` at the first geometry more than 5 km outside ``area``."""
    centre = area.centroid
    to_utm = pyproj.Transformer.from_crs(STORAGE_EPSG, utm_crs(centre.x, centre.y), always_xy=True)
    g = shapely.transform(geoms, to_utm.transform, interleaved=False)
    a = shapely.transform(area, to_utm.transform, interleaved=False)
    dist = shapely.distance(g, a)
    far = dist > tolerance_m
    if far.any():
        row, hits = _first(far, rows)
        km = dist[rows.get_loc(row)] / 1000.0
        raise CoordinateError(
            f"lies {km:.1f} km outside the workspace area (more than {tolerance_m / 1000:g} km). "
            "Check its coordinates and coordinate system, or whether the file belongs to this "
            f"workspace{_also(hits)}.",
            row=row,
            source=source,
        )
