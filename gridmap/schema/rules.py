"""The rules every write obeys: the same checks as an import, for edits and programs alike.

:func:`check_rows` is what :mod:`gridmap.store` calls before it writes anything: column names,
values converted to the column's type (:func:`gridmap.schema.validate.coerce_column`), required
values, choices, masked values, keys unique among the rows, geometry present and of the layer's
type, valid, and in longitude/latitude degrees (EPSG:4326). What needs the stored rows (a key
already taken, a household that does not exist) the store checks itself.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.errors import CoordinateError, GeometryError, SchemaError
from gridmap.schema import (
    STORAGE_CRS,
    STORAGE_PRECISION_DEG,
    Column,
    Layer,
    choice_titles,
    phones,
    provenance,
)
from gridmap.schema import validate as v

#: Columns the store keeps for itself on every layer; a frame read from the workspace carries
#: them, and a write ignores them.
SYSTEM_COLUMNS: tuple[str, ...] = ("version", "updated_at", "updated_by")


def _fast(values: pd.Series, column: Column) -> pd.Series | None:
    """Return ``values`` in the column's type when they already are clean values of it.

    Frames made by programs (the demo, the grid partition, a service) mostly are; this skips
    the value-by-value conversion that text from files needs. None: take the slow path.
    """
    kind = column.type
    dtype = values.dtype
    types = pd.api.types
    present = values.notna()
    if kind == "int":
        if types.is_integer_dtype(dtype) and not types.is_bool_dtype(dtype):
            try:
                return values.astype("Int64")
            except (TypeError, ValueError, OverflowError):  # beyond 64 bits: the slow path says so
                return None
        if types.is_float_dtype(dtype):
            arr = values.to_numpy(dtype=float, na_value=np.nan)
            ok = np.isnan(arr) | (np.isfinite(arr) & (np.abs(arr) < 1e15) & (arr == np.round(arr)))
            return values.astype("Int64") if bool(ok.all()) else None
        return None
    if kind == "float":
        if types.is_numeric_dtype(dtype) and not types.is_bool_dtype(dtype):
            arr = values.to_numpy(dtype=float, na_value=np.nan)
            if bool((np.isfinite(arr) | np.isnan(arr)).all()):
                return pd.Series(arr, index=values.index, dtype="float64")
        return None
    if kind == "bool":
        if types.is_bool_dtype(dtype):
            return values.astype("boolean")
        if types.is_object_dtype(dtype) and values[present].map(type).isin([bool, np.bool_]).all():
            return values.astype("boolean")
        return None
    if kind == "str":
        if not (types.is_object_dtype(dtype) or types.is_string_dtype(dtype)):
            return None
        text = values[present]
        if types.is_object_dtype(dtype) and not text.map(type).isin([str]).all():
            return None
        if len(text) and ((text.str.strip() != text).any() or (text == "").any()):
            return None
        if column.choices is not None and not text.isin(column.choices).all():
            return None
        return values.astype(object).where(present, None)
    if kind == "datetime":
        if isinstance(dtype, pd.DatetimeTZDtype):
            return values.dt.tz_convert("UTC").astype("datetime64[ms, UTC]")
        return None
    if (
        kind == "date"
        and types.is_datetime64_dtype(dtype)
        and bool((values[present] == values[present].dt.normalize()).all())
    ):
        return values.astype("datetime64[ms]")
    return None


def coerce(values: pd.Series, column: Column, layer: Layer, *, source: str | None) -> pd.Series:
    """Return ``values`` in the column's type, or raise :class:`SchemaError` naming the row."""
    fast = _fast(values, column)
    if fast is not None:
        return fast
    return v.coerce_column(
        values, column, source=source, titles=choice_titles(layer.name, column.name)
    )


def check_geometries(
    geoms: Any,
    rows: pd.Index,
    layer: Layer,
    *,
    source: str | None,
    area: BaseGeometry | None = None,
) -> np.ndarray:
    """Return the geometries checked, on the storage grid and in the layer's type.

    Polygons become MultiPolygons; coordinates are snapped to the 1e-7 degree grid they are
    stored on before the checks, so that what is checked is what is stored.

    ``geoms`` are in EPSG:4326 (degrees). Coordinates that cannot be degrees (outside ±180/±90)
    are refused with a message that says they look like metres; with ``area``, geometries more
    than 5 km outside it are refused too.
    """
    arr = np.asarray(geoms, dtype=object)
    v.check_not_empty(arr, rows, source=source)
    bounds = shapely.bounds(arr)
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(bounds).all(axis=1)
        big = finite & ((np.abs(bounds[:, [0, 2]]) > 180).any(axis=1))
        big |= finite & (np.abs(bounds[:, [1, 3]]) > 90).any(axis=1)
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        raise CoordinateError(
            "has a coordinate that is not a number (NaN or infinite).", row=rows[i], source=source
        )
    if big.any():
        i = int(np.flatnonzero(big)[0])
        x, y = bounds[i, 0], bounds[i, 1]
        raise CoordinateError(
            f"the coordinates ({x:.0f}, {y:.0f}) look like metres of a projected system, not "
            "longitude/latitude degrees. Geometry is stored as EPSG:4326: convert it first, or "
            "give the frame its coordinate system (GeoDataFrame.crs) so that it is converted.",
            row=rows[i],
            source=source,
        )
    v.check_coordinates(arr, rows, source=source, crs_declared=True)
    v.check_validity(arr, rows, source=source)
    snapped = shapely.set_precision(arr, STORAGE_PRECISION_DEG)  # as stored: check what is kept
    # a geometry on the grid already keeps its vertices in its order (snap-rounding may start
    # a ring at another vertex): what was read and is written back is stored as it was
    kept = ~shapely.is_empty(snapped) & shapely.equals_exact(
        shapely.normalize(snapped), shapely.normalize(arr), 0
    )
    arr = np.where(kept, arr, snapped)
    gone = shapely.is_empty(arr)
    if gone.any():
        i = int(np.flatnonzero(gone)[0])
        raise GeometryError(
            "is smaller than the 1 cm storage grid: it would be stored as nothing. Draw it "
            "larger, or leave it out.",
            row=rows[i],
            source=source,
        )
    arr = v.check_geometry_types(arr, rows, layer, source=source)
    if area is not None and not area.is_empty:
        v.check_area(arr, rows, area, source=source)
    return arr


def check_rows(
    frame: pd.DataFrame,
    layer: Layer,
    *,
    partial: bool = False,
    source: str | None = None,
    area: BaseGeometry | None = None,
    default_source: str = "user",
) -> pd.DataFrame:
    """Return ``frame`` checked against ``layer``'s rules, values in the columns' types.

    Parameters
    ----------
    frame
        Rows to write: schema columns (the system columns ``version``, ``updated_at`` and
        ``updated_by`` are dropped) and, for a layer with geometry, a geometry column in
        EPSG:4326 or in the CRS the GeoDataFrame declares (converted to EPSG:4326).
    layer
        The layer written to.
    partial
        The frame changes some columns of stored rows (an update): only the given columns are
        checked and returned, but a required column given must not be empty. Otherwise every
        schema column is returned (missing ones empty) and required ones must be filled.
    source
        What the rows are, for messages (``"grids feature 12"``); rows are named by the
        frame's index.
    area
        The workspace area (degrees): geometries more than 5 km outside it are refused.
    default_source
        The value of an empty ``source`` column in a full row.

    Returns
    -------
    A new frame (GeoDataFrame in EPSG:4326 when the layer has geometry and the frame gives
    it); ``frame`` itself is never changed.
    """
    source = source or f"layer '{layer.name}'"
    names = [c for c in frame.columns if c not in SYSTEM_COLUMNS]
    geometry_name = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    unknown = [c for c in names if c != geometry_name and c not in layer.column_names]
    if unknown:
        raise SchemaError(
            f"layer '{layer.name}' ({layer.zh}) has no column(s) {', '.join(map(str, unknown))}.",
            source=source,
        )
    if not partial:
        missing = [c for c in layer.required_columns if c not in frame.columns]
        if missing:
            raise SchemaError(
                f"layer '{layer.name}' ({layer.zh}) needs the column(s) {', '.join(missing)}.",
                source=source,
            )
    v.check_not_masked(frame, layer, source=source)
    if not partial:  # a value given without its source is the writer's
        frame = provenance.fill_sources(frame, layer.name, default_source)
    out = pd.DataFrame(index=frame.index)
    for column in layer.columns:
        if column.name in frame.columns:
            values = coerce(frame[column.name], column, layer, source=source)
        elif partial:
            continue
        else:
            values = pd.Series([None] * len(frame), index=frame.index, dtype=object)
            values = v.coerce_column(values, column, source=source)
        if column.format == "phone":
            values = phones.check_phones(values, column, source=source)
        if column.name == "source" and not partial:
            values = values.astype(object).where(values.notna(), default_source)
        if column.required:
            empty = values.isna().to_numpy()
            if empty.any():
                rows = frame.index[empty]
                raise SchemaError(
                    f"{column.zh} ({column.name}) is empty, but every row needs one"
                    f"{v._also(list(rows))}. ({column.zh}不能为空。)",
                    row=rows[0],
                    column=column.name,
                    source=source,
                )
        out[column.name] = values
    v.check_unique_key(out, layer, source=source)
    if layer.geometry is None:
        return out
    if geometry_name is None:
        if partial:
            return out
        raise GeometryError(
            f"layer '{layer.name}' ({layer.zh}) needs geometry ({layer.geometry}).", source=source
        )
    geoms = frame.geometry
    if frame.crs is not None and not frame.crs.equals(STORAGE_CRS):
        geoms = geoms.to_crs(STORAGE_CRS)
    arr = check_geometries(geoms.values, frame.index, layer, source=source, area=area)
    return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(arr, index=frame.index), crs=STORAGE_CRS)
