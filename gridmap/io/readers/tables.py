"""Tables: CSV / TXT files, and the geometry of a table from lon/lat or WKT columns.

A table's rows are numbered as a spreadsheet shows them: the header is row 1, the first data row
row 2, and blank rows keep their numbers (they are skipped, not renumbered). Longitude/latitude
columns are recognised by name (:data:`LON_NAMES`, :data:`LAT_NAMES`), a WKT column by
:data:`WKT_NAMES`; coordinates must be finite numbers.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.errors import CoordinateError, GeometryError, InputError
from gridmap.io.readers.base import ReadInfo
from gridmap.io.readers.text import decode_text

__all__ = ["LAT_NAMES", "LON_NAMES", "WKT_NAMES", "read_csv", "table_geometry"]

#: Column names (lower case) recognised as longitude, latitude and WKT geometry, in preference order.
LON_NAMES: tuple[str, ...] = ("longitude", "lon", "lng", "经度", "x")
LAT_NAMES: tuple[str, ...] = ("latitude", "lat", "纬度", "y")
WKT_NAMES: tuple[str, ...] = ("geometry", "wkt", "几何(wkt)", "几何")  # lower case


def _sniff_separator(header: str) -> str:
    counts = {sep: header.count(sep) for sep in (",", "\t", ";", "|")}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


def read_csv(
    p: Path, info: ReadInfo, encoding: str | None, layer_name: str | None, prefer: str | None
) -> gpd.GeoDataFrame | pd.DataFrame:
    """Read a CSV or TXT table (separator sniffed from the header: , tab ; |), all as text."""
    text, info.encoding = decode_text(p.read_bytes(), encoding, source=p.name)
    if not text.strip():
        raise InputError("The file holds no rows: it has no header and no data.", source=p.name)
    sep = _sniff_separator(text.lstrip().split("\n", 1)[0])
    try:
        df = pd.read_csv(
            io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_values=[""]
        )
    except pd.errors.ParserError as exc:
        match = re.search(r"line (\d+)", str(exc))
        row = int(match.group(1)) - 1 if match else None
        raise InputError(
            f"The CSV file could not be read: {exc}".rstrip(), row=row, source=p.name
        ) from None
    df.index = pd.RangeIndex(2, len(df) + 2, name="row")  # spreadsheet rows: the header is row 1
    return table_geometry(df, info)


def _find_column(columns: list[str], names: tuple[str, ...]) -> str | None:
    lowered = {str(c).strip().lower(): c for c in columns}
    for name in names:
        if name in lowered:
            return lowered[name]
    return None


def _cell(v: object) -> object:
    """Return a cell's value with blanks (None, NaN, "", spaces) as None and text stripped."""
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, str):
        return v.strip() or None
    return v


def _numbers(values: pd.Series, column: str, source: str) -> np.ndarray:
    text = pd.Series([_cell(v) for v in values], index=values.index, dtype=object)
    out = pd.to_numeric(text, errors="coerce").astype("float64")
    given = text.notna()
    bad = out.isna() & given
    if bad.any():
        row = int(bad[bad].index[0])
        raise CoordinateError(
            f"'{text[row]}' is not a number of degrees.", row=row, column=column, source=source
        )
    infinite = ~np.isfinite(out) & out.notna()
    if infinite.any():
        rows = [int(r) for r in infinite[infinite].index]
        also = f" (also rows {', '.join(map(str, rows[1:6]))})" if len(rows) > 1 else ""
        raise CoordinateError(
            f"'{text[rows[0]]}' is not a finite number: a coordinate must be an ordinary number, "
            f"such as 118.78{also}.",
            row=rows[0],
            column=column,
            source=source,
        )
    return out.to_numpy()


def _refuse_uncomputed(info: ReadInfo, columns: list[str], source: str) -> None:
    """Refuse formulas without a value in the columns the geometry is built from."""
    for column in columns:
        cells = info.uncomputed.get(column)
        if cells:
            listed = ", ".join(c.cell for c in cells[:6]) + (" ..." if len(cells) > 6 else "")
            first = cells[0]
            cls = GeometryError if column.strip().lower() in WKT_NAMES else CoordinateError
            what = (
                f"holds the error value {first.error}"
                if first.error
                else f"holds the formula {first.formula[:40]} with no calculated value"
            )
            raise cls(
                f"cell {first.cell} {what}, so the coordinates are unknown (cells {listed}). "
                "Open the file in Excel or WPS and save it, so the formulas are calculated, or "
                "enter the coordinates as numbers.",
                row=first.row,
                column=column,
                source=source,
            )


def table_geometry(df: pd.DataFrame, info: ReadInfo) -> gpd.GeoDataFrame | pd.DataFrame:
    """Clean a table indexed by sheet row and build its geometry from lon/lat or WKT columns.

    Coordinates are taken as they are (degrees, or metres of the ``--crs`` given later); no CRS
    is set here. Blank rows and unnamed empty columns are dropped.
    """
    df.columns = [str(c).strip() for c in df.columns]
    df = df.loc[:, ~(df.columns.str.startswith("Unnamed:") & df.isna().all().to_numpy())]
    df = df.dropna(how="all")
    source = info.path.name
    columns = list(df.columns)
    wkt = _find_column(columns, WKT_NAMES)
    lon, lat = _find_column(columns, LON_NAMES), _find_column(columns, LAT_NAMES)
    if wkt is not None:
        _refuse_uncomputed(info, [wkt], source)
        cells = [_cell(v) for v in df[wkt]]
        text = pd.Series(
            [None if v is None else str(v) for v in cells], index=df.index, dtype=object
        )
        with np.errstate(over="ignore", invalid="ignore"):
            geoms = shapely.from_wkt(text.to_numpy(), on_invalid="ignore")
        bad = text.notna().to_numpy() & shapely.is_missing(geoms)
        if bad.any():
            row = int(df.index[np.argmax(bad)])
            raise GeometryError(
                f"'{str(text[row])[:60]}' is not a valid WKT geometry (such as "
                "POINT (118.79 32.04) or POLYGON ((...)))",
                row=row,
                column=wkt,
                source=source,
            )
        info.geometry_columns = [wkt]
        return gpd.GeoDataFrame(df.drop(columns=[wkt]), geometry=geoms, crs=None)
    if lon is not None and lat is not None:
        _refuse_uncomputed(info, [lon, lat], source)
        x, y = _numbers(df[lon], lon, source), _numbers(df[lat], lat, source)
        geoms = shapely.points(x, y)
        geoms[np.isnan(x) | np.isnan(y)] = None
        info.geometry_columns = [lon, lat]
        return gpd.GeoDataFrame(df.drop(columns=[lon, lat]), geometry=geoms, crs=None)
    return df
