"""Read a user's file into a (Geo)DataFrame, whatever its format and text encoding.

:func:`read_table` reads GeoJSON, GeoPackage, Shapefile (also zipped), KML, CSV and XLSX. It does
not validate against a layer (that is :mod:`gridmap.schema.validate`); it only turns the file
into rows, and refuses what is not a usable file: malformed geometries (rings not closed or too
short, garbled GeoJSON), NaN or infinite coordinates, archives over their caps
(:class:`ArchiveLimits`), shapefiles missing a part. The returned frame's index is the 1-based row
number in the file (row 1 is the first feature, or the first row under a CSV/XLSX header), so
later checks can name the row a planner must fix. Text encodings are detected in the order UTF-8
(with or without BOM), GBK, GB18030; an explicit encoding always wins. Nothing is ever written to
disk.

The readers live by concern: :mod:`.text` (encodings), :mod:`.archive` (zip caps),
:mod:`.tables` (CSV, columns to geometry), :mod:`.spreadsheet` (XLSX), :mod:`.vector` (GeoJSON,
GeoPackage, KML through GDAL), :mod:`.shapefile`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio.errors

from gridmap.errors import CoordinateError, GeometryError, InputError, UnsupportedFormatError
from gridmap.geo.shapes import describe_geometry, nonfinite_mask, short_ring_mask
from gridmap.io.readers.archive import ArchiveLimits
from gridmap.io.readers.base import Reader, ReadInfo, UncomputedCell
from gridmap.io.readers.shapefile import read_shapefile
from gridmap.io.readers.spreadsheet import read_xlsx
from gridmap.io.readers.tables import LAT_NAMES, LON_NAMES, WKT_NAMES, read_csv
from gridmap.io.readers.text import decode_text
from gridmap.io.readers.vector import NAME_FIELDS, read_geojson, read_gpkg, read_kml, row_label

__all__ = [
    "LAT_NAMES",
    "LON_NAMES",
    "SUPPORTED_FORMATS",
    "WKT_NAMES",
    "ArchiveLimits",
    "ReadInfo",
    "UncomputedCell",
    "decode_text",
    "read_table",
]

#: File name endings gridmap reads, and the format each means.
SUPPORTED_FORMATS: dict[str, str] = {
    ".geojson": "geojson",
    ".json": "geojson",
    ".gpkg": "gpkg",
    ".shp": "shapefile",
    ".zip": "shapefile",
    ".kml": "kml",
    ".csv": "csv",
    ".txt": "csv",
    ".xlsx": "xlsx",
}
_SUPPORTED_TEXT = (
    "GeoJSON (.geojson, .json), GeoPackage (.gpkg), Shapefile (.shp, or a .zip holding one), "
    "KML (.kml), CSV (.csv, .txt) and Excel (.xlsx)"
)
_HINTS = {
    ".xls": " Save it from Excel as .xlsx (Excel Workbook) first.",
    ".kmz": " A .kmz is a zipped .kml: unzip it and import the .kml inside.",
    ".dbf": " Import the .shp next to it (or zip the .shp, .shx, .dbf, .prj and .cpg together).",
    ".shx": " Import the .shp next to it (or zip the .shp, .shx, .dbf, .prj and .cpg together).",
}
_READERS: dict[str, Reader] = {
    "geojson": read_geojson,
    "gpkg": read_gpkg,
    "shapefile": read_shapefile,
    "kml": read_kml,
    "csv": read_csv,
    "xlsx": read_xlsx,
}


def read_table(
    path: str | os.PathLike[str],
    *,
    encoding: str | None = None,
    layer_name: str | None = None,
    prefer: str | None = None,
    limits: ArchiveLimits | None = None,
) -> tuple[gpd.GeoDataFrame | pd.DataFrame, ReadInfo]:
    """Read a GIS or table file into a frame indexed by 1-based row number, and what was found.

    Parameters
    ----------
    path
        The file: .geojson/.json, .gpkg, .shp (with its .shx, .dbf beside it) or .zip holding
        one, .kml, .csv/.txt, .xlsx.
    encoding
        The text encoding, if the user knows it better than detection (not for GPKG, XLSX).
    layer_name
        The GeoPackage layer, shapefile in a zip, KML folder or Excel sheet to read.
    prefer
        The layer/sheet to take when the file holds several and none is named (the target
        layer's name).
    limits
        Caps on what an archive (.zip, .xlsx) may hold and unpack to; defaults to
        :class:`ArchiveLimits`'s.

    Returns
    -------
    frame, info
        A GeoDataFrame (CRS as the file declares it, or None; coordinates untouched) or, for a
        table without geometry columns, a DataFrame; and the :class:`ReadInfo`.

    Raises
    ------
    InputError
        Or a subclass (UnsupportedFormatError, EncodingError, GeometryError, CoordinateError):
        the message names the file, the row (where there is one) and the problem.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    fmt = SUPPORTED_FORMATS.get(suffix)
    if fmt is None:
        raise UnsupportedFormatError(
            f"Cannot read '{p.name}': files ending in '{suffix or '(no ending)'}' are not "
            f"supported. gridmap reads {_SUPPORTED_TEXT}.{_HINTS.get(suffix, '')}"
        )
    if not p.is_file():
        raise InputError(f"The file '{p}' does not exist.")
    if p.stat().st_size == 0:
        raise InputError("The file is empty (0 bytes): it holds no rows.", source=p.name)
    info = ReadInfo(path=p, format=fmt, limits=limits or ArchiveLimits())
    reader = _READERS[fmt]
    with warnings.catch_warnings():
        # pyogrio leaves mixed-type GeoJSON properties as text, which validation coerces anyway
        warnings.filterwarnings("ignore", message="Could not parse column", category=UserWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
        try:
            frame = reader(p, info, encoding, layer_name, prefer)
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
            raise InputError(f"The file could not be read as {fmt}: {exc}", source=p.name) from None
    if frame.index.name != "row":  # CSV/XLSX readers number rows themselves (blank rows skipped)
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="row")
    _check_shapes(frame, info)
    return frame, info


def _check_shapes(frame: pd.DataFrame, info: ReadInfo) -> None:
    """Refuse NaN/infinite coordinates and rings of fewer than 4 points, naming the row."""
    if not isinstance(frame, gpd.GeoDataFrame):
        return
    try:
        geoms = np.asarray(frame.geometry.array, dtype=object)
    except AttributeError:  # a GeoDataFrame without an active geometry column
        return
    name_field = next((f for f in NAME_FIELDS if f in frame.columns), None)
    for find, cls in ((nonfinite_mask, CoordinateError), (short_ring_mask, GeometryError)):
        mask = find(geoms)
        if not mask.any():
            continue
        rows = [int(r) for r in frame.index[mask]]
        i = int(np.argmax(mask))
        problem = describe_geometry(geoms[i])
        message = (
            problem.message
            if problem is not None
            else "its coordinates are not finite numbers (NaN or infinite)"
        )
        label = row_label(frame[name_field].iloc[i], info.format) if name_field else ""
        also = ""
        if len(rows) > 1:
            shown = ", ".join(str(r) for r in rows[1:6])
            more = f" and {len(rows) - 6} more" if len(rows) > 6 else ""
            also = f" (also row{'s' if len(rows) > 2 else ''} {shown}{more})"
        raise cls(f"{label}{message}{also}.", row=rows[0], source=info.path.name)
