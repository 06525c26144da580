"""Fast GeoJSON (RFC 7946) encoding of workspace frames.

Geometry is encoded by shapely in one vectorised call and coordinates rounded to 7 decimals
(about 1 cm); properties go through :func:`json_value`, which turns pandas' missing values,
timestamps and numpy scalars into plain JSON. Times are written in the workspace's time zone
with their offset (``2026-10-01T09:30:00+08:00``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.schema import STORAGE_PRECISION_DEG

COORD_PRECISION = STORAGE_PRECISION_DEG
DEFAULT_TZ = "Asia/Shanghai"


def json_value(value: Any, tz: str = DEFAULT_TZ) -> Any:
    """Return ``value`` as a JSON-ready Python value (None for every kind of missing)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, pd.Timestamp):
        if value.tzinfo is not None:
            return value.tz_convert(tz).isoformat()
        if value.hour == value.minute == value.second == 0 and value.nanosecond == 0:
            return value.strftime("%Y-%m-%d")
        return value.isoformat()
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def column_values(series: pd.Series, tz: str = DEFAULT_TZ) -> list[Any]:
    """Return one column as JSON-ready Python values, converted a whole column at a time."""
    missing = series.isna().to_numpy()
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        values = [ts.isoformat() for ts in series.dt.tz_convert(tz)]
    elif pd.api.types.is_datetime64_dtype(dtype):
        values = [json_value(ts, tz) for ts in series]
    elif pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
        kind = bool if pd.api.types.is_bool_dtype(dtype) else int
        values = [kind(v) for v in series.to_numpy(dtype=object, na_value=0)]
    elif pd.api.types.is_float_dtype(dtype):
        values = series.to_numpy(dtype=float).tolist()
    else:
        values = [
            v if v is None or isinstance(v, str) else json_value(v, tz) for v in series.tolist()
        ]
    if missing.any():
        for i in np.flatnonzero(missing):
            values[i] = None
    return values


def records(frame: pd.DataFrame, columns: list[str], tz: str = DEFAULT_TZ) -> list[dict[str, Any]]:
    """Return the rows of ``frame`` as JSON-ready dicts of ``columns``."""
    if not columns:
        return [{} for _ in range(len(frame))]
    cols = [column_values(frame[c], tz) for c in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*cols, strict=True)]


def features(
    frame: pd.DataFrame,
    columns: list[str],
    tz: str = DEFAULT_TZ,
    *,
    ids: Sequence[int | str] | None = None,
) -> list[str]:
    """Return one GeoJSON Feature string per row, with ``ids`` (default: the index) as ``id``.

    An id is written as a number, or as a string where ``ids`` are text (the opaque ids of
    :mod:`gridmap.access.ids`).
    """
    props = records(frame, columns, tz)
    names = frame.index.tolist() if ids is None else list(ids)
    if isinstance(frame, gpd.GeoDataFrame):
        geoms = np.asarray(frame.geometry.values, dtype=object)
        geoms = shapely.set_precision(geoms, COORD_PRECISION, mode="pointwise")
        geo = shapely.to_geojson(geoms)
    else:
        geo = [None] * len(frame)
    out = []
    for fid, g, p in zip(names, geo, props, strict=True):
        key = _id_text(fid)
        out.append(
            f'{{"type":"Feature","id":{key},"geometry":{g if g is not None else "null"},'
            f'"properties":{json.dumps(p, ensure_ascii=False, separators=(",", ":"))}}}'
        )
    return out


def _id_text(fid: Any) -> str:
    """Return a feature id as JSON: a number, or a string (plain ones without escaping)."""
    if not isinstance(fid, str):
        return str(int(fid))
    return f'"{fid}"' if fid.isascii() and fid.isalnum() else json.dumps(fid)


def feature_collection(
    frame: pd.DataFrame,
    columns: list[str],
    *,
    extra: dict[str, Any] | None = None,
    tz: str = DEFAULT_TZ,
    ids: Sequence[int | str] | None = None,
) -> str:
    """Return a GeoJSON FeatureCollection; ``extra`` members (links, counts) come first.

    ``ids``: the features' ids, one per row (default: the frame's index).
    """
    head = "".join(
        f"{json.dumps(k)}:{json.dumps(v, ensure_ascii=False)}," for k, v in (extra or {}).items()
    )
    body = ",".join(features(frame, columns, tz, ids=ids))
    return f'{{"type":"FeatureCollection",{head}"features":[{body}]}}'
