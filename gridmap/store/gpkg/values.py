"""Values between pandas and SQLite: the storage form of each column type.

Dates are stored as ``YYYY-MM-DD`` text, times as UTC ISO 8601 text with milliseconds and a
``Z`` (as GDAL writes them), booleans as 0/1. Identifiers in SQL are quoted by :func:`ident`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd


def ident(name: str) -> str:
    """Return ``name`` quoted as an SQL identifier (table or column)."""
    return '"' + name.replace('"', '""') + '"'


def _timestamps(series: pd.Series, tz: str) -> pd.Series:
    """Return ``series`` as UTC timestamps; naive values are taken as local time in ``tz``."""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC")
    try:
        parsed = pd.to_datetime(series, format="mixed")
    except (ValueError, TypeError):  # a column mixing offsets: parse value by value
        return pd.Series(
            [_one_utc(v, tz) for v in series], index=series.index, dtype="datetime64[ns, UTC]"
        )
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        return parsed.dt.tz_convert("UTC")
    return parsed.dt.tz_localize(tz).dt.tz_convert("UTC")


def _one_utc(value: Any, tz: str) -> pd.Timestamp:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return pd.NaT
    ts = pd.Timestamp(value)
    return (ts if ts.tzinfo else ts.tz_localize(tz)).tz_convert("UTC")


def column_to_sql(series: pd.Series, kind: str, tz: str) -> list[Any]:
    if kind == "date":
        text = pd.to_datetime(series, format="mixed").dt.strftime("%Y-%m-%d")
        return text.astype(object).where(series.notna(), None).tolist()
    if kind == "datetime":
        text = _timestamps(series, tz).dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z"
        return text.astype(object).where(series.notna(), None).tolist()
    values = series.astype(object).where(series.notna(), None).tolist()
    if kind == "int":
        return [None if v is None else int(v) for v in values]
    if kind == "float":
        return [None if v is None else float(v) for v in values]
    if kind == "bool":
        return [None if v is None else int(bool(v)) for v in values]
    if kind == "str":
        return [None if v is None else str(v) for v in values]
    raise ValueError(kind)


def column_from_sql(values: list[Any], kind: str) -> pd.Series:
    if kind == "int":
        return pd.array(values, dtype="Int64")
    if kind == "float":
        return pd.array([np.nan if v is None else v for v in values], dtype="float64")
    if kind == "bool":
        return pd.array([None if v is None else bool(v) for v in values], dtype="boolean")
    if kind == "date":
        return pd.to_datetime(
            pd.Series(values, dtype=object), format="%Y-%m-%d", errors="coerce"
        ).array
    if kind == "datetime":
        return pd.to_datetime(
            pd.Series(values, dtype=object), utc=True, format="ISO8601", errors="coerce"
        ).array
    return pd.array(values, dtype=object)


def now_text() -> str:
    """Return the current UTC time as stored (ISO 8601, milliseconds, ``Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
