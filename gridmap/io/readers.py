"""Read a user's file into a (Geo)DataFrame, whatever its format and text encoding.

:func:`read_table` reads GeoJSON, GeoPackage, Shapefile (also zipped), KML, CSV and XLSX. It does
not validate against a layer (that is :mod:`gridmap.validate`); it only turns the file into rows.
The returned frame's index is the 1-based row number in the file (row 1 is the first feature, or
the first row under a CSV/XLSX header), so later checks can name the row a planner must fix.
Text encodings are detected in the order UTF-8 (with or without BOM), GBK, GB18030; an explicit
encoding always wins. Nothing is ever written to disk.
"""

from __future__ import annotations

import codecs
import io
import json
import os
import re
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import pyproj
import shapely

from gridmap.errors import (
    CoordinateError,
    EncodingError,
    GeometryError,
    InputError,
    UnsupportedFormatError,
)

__all__ = [
    "LAT_NAMES",
    "LON_NAMES",
    "SUPPORTED_FORMATS",
    "WKT_NAMES",
    "ReadInfo",
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

#: Column names (lower case) recognised as longitude, latitude and WKT geometry, in preference order.
LON_NAMES: tuple[str, ...] = ("longitude", "lon", "lng", "经度", "x")
LAT_NAMES: tuple[str, ...] = ("latitude", "lat", "纬度", "y")
WKT_NAMES: tuple[str, ...] = ("geometry", "wkt", "几何(wkt)", "几何")  # lower case

#: Columns LIBKML adds to every placemark; they carry no user data.
_KML_BOILERPLATE = frozenset(
    {"id", "timestamp", "begin", "end", "altitudeMode", "tessellate", "extrude", "visibility",
     "drawOrder", "icon", "snippet"}
)  # fmt: skip

_CPG_NAMES = {
    "utf-8": "utf-8", "utf8": "utf-8", "65001": "utf-8",
    "gbk": "gbk", "cp936": "gbk", "936": "gbk", "ansi 936": "gbk", "gb2312": "gbk",
    "gb18030": "gb18030", "54936": "gb18030",
}  # fmt: skip


@dataclass
class ReadInfo:
    """What :func:`read_table` found out about a file.

    ``encoding`` is the text encoding used (None where the format has none to choose, as XLSX);
    ``crs`` the coordinate system the file declares (None if it declares none: CSV, XLSX,
    GeoJSON without a ``crs`` member, Shapefile without .prj); ``geometry_columns`` the CSV/XLSX
    columns the geometry was built from; ``notes`` things worth telling the user.
    """

    path: Path
    format: str
    encoding: str | None = None
    crs: pyproj.CRS | None = None
    layer: str | None = None
    layers: list[str] = field(default_factory=list)
    geometry_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_table(
    path: str | os.PathLike[str],
    *,
    encoding: str | None = None,
    layer_name: str | None = None,
    prefer: str | None = None,
) -> tuple[gpd.GeoDataFrame | pd.DataFrame, ReadInfo]:
    """Read a GIS or table file into a frame indexed by 1-based row number, and what was found."""
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
    info = ReadInfo(path=p, format=fmt)
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
    return frame, info


# --- text encodings -------------------------------------------------------------------------


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def decode_text(
    data: bytes, encoding: str | None = None, *, source: str | None = None
) -> tuple[str, str]:
    """Decode ``data`` with ``encoding``, or detect UTF-8 / GBK / GB18030; return text and name."""
    if encoding:
        try:
            name = codecs.lookup(encoding).name
        except LookupError:
            raise EncodingError(
                f"Unknown text encoding '{encoding}'. Try utf-8, gbk or gb18030.", source=source
            ) from None
        if name == "utf-8" and data.startswith(codecs.BOM_UTF8):
            name = "utf-8-sig"
        try:
            return data.decode(name), name
        except UnicodeDecodeError as exc:
            raise EncodingError(
                f"The file is not valid {encoding}: the bytes at line {_line_of(data, exc.start)} "
                "cannot be decoded. Check the --encoding you gave (or leave it out to detect it).",
                source=source,
            ) from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    first_error = 0
    for name in ("utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8", "gbk", "gb18030"):
        try:
            return data.decode(name), name
        except UnicodeDecodeError as exc:
            first_error = first_error or exc.start
    raise EncodingError(
        "Could not tell the text encoding of the file: it is neither UTF-8 nor GBK/GB18030 "
        f"(undecodable bytes at line {_line_of(data, first_error)}). Name the encoding with "
        "--encoding, for example --encoding big5.",
        source=source,
    )


# --- GeoJSON ----------------------------------------------------------------------------------

_GEOJSON_TYPES = frozenset(
    {"FeatureCollection", "Feature", "Point", "MultiPoint", "LineString", "MultiLineString",
     "Polygon", "MultiPolygon", "GeometryCollection"}
)  # fmt: skip


def _read_geojson(
    p: Path, info: ReadInfo, encoding: str | None, layer_name: str | None, prefer: str | None
) -> gpd.GeoDataFrame:
    data = p.read_bytes()
    text, info.encoding = decode_text(data, encoding, source=p.name)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"The file is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
            source=p.name,
        ) from None
    if not isinstance(obj, dict) or obj.get("type") not in _GEOJSON_TYPES:
        raise UnsupportedFormatError(
            'The JSON file is not GeoJSON: it should be an object with "type": '
            '"FeatureCollection" and a list of "features".',
            source=p.name,
        )
    if obj["type"] == "FeatureCollection" and not obj.get("features"):
        return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    frame = pyogrio.read_dataframe(text.encode("utf-8"))
    if "crs" in obj and frame.crs is not None:
        info.crs = pyproj.CRS(frame.crs)
    return frame


# --- GeoPackage -------------------------------------------------------------------------------


def _choose_layer(
    names: list[str], layer_name: str | None, prefer: str | None, source: str, what: str
) -> str:
    listed = ", ".join(names)
    if layer_name is not None:
        if layer_name not in names:
            raise InputError(
                f"The file has no {what} '{layer_name}'. Its {what}s: {listed}.", source=source
            )
        return layer_name
    if len(names) == 1:
        return names[0]
    if prefer is not None and prefer in names:
        return prefer
    if not names:
        raise InputError(f"The file holds no {what}s.", source=source)
    raise InputError(
        f"The file holds several {what}s: {listed}. Say which one to import.", source=source
    )


def _read_gpkg(
    p: Path, info: ReadInfo, encoding: str | None, layer_name: str | None, prefer: str | None
) -> gpd.GeoDataFrame | pd.DataFrame:
    info.layers = [str(n) for n in pyogrio.list_layers(p)[:, 0]]
    info.layer = _choose_layer(info.layers, layer_name, prefer, p.name, "layer")
    info.encoding = "utf-8"  # GeoPackage text is UTF-8 by definition
    if encoding:
        info.notes.append(
            f"GeoPackage text is always UTF-8; the encoding '{encoding}' was ignored."
        )
    frame = pyogrio.read_dataframe(p, layer=info.layer)
    if isinstance(frame, gpd.GeoDataFrame) and frame.crs is not None:
        info.crs = pyproj.CRS(frame.crs)
    return frame


# --- Shapefile --------------------------------------------------------------------------------


def _dbf_text(dbf: bytes) -> bytes:
    """Return the bytes of a .dbf that hold text: field names and records."""
    if len(dbf) < 32:
        return b""
    header_len = int.from_bytes(dbf[8:10], "little")
    names = []
    for start in range(32, min(header_len, len(dbf)) - 31, 32):
        if dbf[start] == 0x0D:
            break
        names.append(dbf[start : start + 11].split(b"\0", 1)[0])
    return b" ".join(names) + b"\n" + dbf[header_len:].rstrip(b"\x1a")


def _detect_dbf_encoding(dbf: bytes, source: str) -> str:
    text = _dbf_text(dbf)
    for name in ("utf-8", "gbk", "gb18030"):
        try:
            text.decode(name)
        except UnicodeDecodeError:
            continue
        return name
    raise EncodingError(
        "Could not tell the text encoding of the shapefile's .dbf (it is neither UTF-8 nor "
        "GBK/GB18030, and there is no .cpg file). Name it with --encoding, for example "
        "--encoding big5.",
        source=source,
    )


def _shapefile_encoding(
    sidecar: Callable[[str], bytes | None], info: ReadInfo, source: str
) -> str | None:
    """Return the encoding to read the .dbf with: the .cpg's if it fits, else detected.

    None means GDAL should interpret an unusual .cpg itself (``info.encoding`` then names it).
    """
    cpg = sidecar(".cpg")
    cpg_text = cpg.decode("ascii", "replace").strip() if cpg else ""
    dbf = sidecar(".dbf")
    if cpg_text.lower() in _CPG_NAMES:
        named = _CPG_NAMES[cpg_text.lower()]
        if dbf is None:
            return named
        try:
            _dbf_text(dbf).decode(named)
        except UnicodeDecodeError:
            detected = _detect_dbf_encoding(dbf, source)
            info.notes.append(
                f"The .cpg file says the text is {cpg_text}, but it is not; read it as {detected}."
            )
            return detected
        return named
    if cpg_text:  # an unusual code page: GDAL knows more of them
        info.encoding = cpg_text
        return None
    return _detect_dbf_encoding(dbf, source) if dbf else None


def _shapefile_parts(p: Path, layer_name: str | None) -> tuple[str, Callable[[str], bytes | None]]:
    """Return the GDAL path of the .shp and a reader of its sidecar files (by ending)."""
    if p.suffix.lower() != ".zip":

        def sidecar(ext: str) -> bytes | None:
            for cand in (p.with_suffix(ext), p.with_suffix(ext.upper())):
                if cand.is_file():
                    return cand.read_bytes()
            return None

        return str(p), sidecar
    try:
        with zipfile.ZipFile(p) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile:
        raise InputError("The file is not a valid zip archive.", source=p.name) from None
    shps = [n for n in names if n.lower().endswith(".shp") and not n.startswith("__MACOSX")]
    if not shps:
        raise UnsupportedFormatError(
            "The zip file holds no shapefile (.shp). Zip the .shp together with its .shx, .dbf, "
            ".prj and .cpg files.",
            source=p.name,
        )
    stems = [n[:-4] for n in shps]
    by_base = {Path(s).name: s for s in stems}
    if layer_name in by_base:
        stem = by_base[layer_name]
    else:
        stem = by_base[_choose_layer(list(by_base), layer_name, None, p.name, "shapefile")]
    lower = {n.lower(): n for n in names}

    def zipped(ext: str) -> bytes | None:
        member = lower.get((stem + ext).lower())
        if member is None:
            return None
        with zipfile.ZipFile(p) as zf:
            return zf.read(member)

    return f"/vsizip/{p.resolve()}/{stem}.shp", zipped


def _read_shapefile(
    p: Path, info: ReadInfo, encoding: str | None, layer_name: str | None, prefer: str | None
) -> gpd.GeoDataFrame:
    gdal_path, sidecar = _shapefile_parts(p, layer_name)
    info.layer = Path(gdal_path).stem
    if encoding:
        try:
            use = codecs.lookup(encoding).name
        except LookupError:
            raise EncodingError(
                f"Unknown text encoding '{encoding}'. Try utf-8, gbk or gb18030.", source=p.name
            ) from None
        info.encoding = use
    else:
        use = _shapefile_encoding(sidecar, info, p.name)
        info.encoding = use or info.encoding
    frame = pyogrio.read_dataframe(gdal_path, encoding=use)
    if frame.crs is not None:
        info.crs = pyproj.CRS(frame.crs)
    return frame


# --- KML --------------------------------------------------------------------------------------

_XML_DECL = re.compile(r"""^(\s*<\?xml[^>]*?encoding\s*=\s*)(["'])[^"']*\2""")


def _read_kml(
    p: Path, info: ReadInfo, encoding: str | None, layer_name: str | None, prefer: str | None
) -> gpd.GeoDataFrame:
    text, info.encoding = decode_text(p.read_bytes(), encoding, source=p.name)
    data = _XML_DECL.sub(r'\1"UTF-8"', text, count=1).encode("utf-8")
    info.layers = [str(n) for n in pyogrio.list_layers(data)[:, 0]]
    info.crs = pyproj.CRS.from_epsg(4326)  # KML is WGS84 by definition
    chosen = list(range(len(info.layers)))  # by index: the in-memory copy's name changes
    if layer_name is not None:
        chosen = [info.layers.index(_choose_layer(info.layers, layer_name, None, p.name, "folder"))]
        info.layer = layer_name
    frames = [pyogrio.read_dataframe(data, layer=i) for i in chosen]
    frames = [f.drop(columns=[c for c in f.columns if c in _KML_BOILERPLATE]) for f in frames]
    frames = [f for f in frames if len(f)]
    if not frames:
        return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")


# --- CSV and XLSX -----------------------------------------------------------------------------


def _sniff_separator(header: str) -> str:
    counts = {sep: header.count(sep) for sep in (",", "\t", ";", "|")}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


def _read_csv(
    p: Path, info: ReadInfo, encoding: str | None, layer_name: str | None, prefer: str | None
) -> gpd.GeoDataFrame | pd.DataFrame:
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
    return _table_geometry(df, info)


_EXACT_LIMIT = 10**15


def _read_xlsx(
    p: Path, info: ReadInfo, encoding: str | None, layer_name: str | None, prefer: str | None
) -> gpd.GeoDataFrame | pd.DataFrame:
    try:
        book = pd.ExcelFile(p, engine="openpyxl")
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        raise InputError(f"The Excel file could not be read: {exc}", source=p.name) from None
    with book:
        info.layers = [str(s) for s in book.sheet_names]
        if layer_name is not None:
            info.layer = _choose_layer(info.layers, layer_name, None, p.name, "sheet")
        elif prefer in info.layers:
            info.layer = prefer
        else:
            info.layer = info.layers[0]
        df = pd.read_excel(book, sheet_name=info.layer, dtype=object)
    # Excel keeps numbers as doubles: pandas turns whole ones into int, hiding that digits beyond
    # the 15th are lost (ID numbers typed as numbers). Keep them float so validation can tell.
    df = df.map(lambda v: float(v) if type(v) is int and abs(v) >= _EXACT_LIMIT else v)
    if len(info.layers) > 1:
        info.notes.append(
            f"Read sheet '{info.layer}' of {len(info.layers)} ({', '.join(info.layers)})."
        )
    return _table_geometry(df, info)


def _find_column(columns: list[str], names: tuple[str, ...]) -> str | None:
    lowered = {str(c).strip().lower(): c for c in columns}
    for name in names:
        if name in lowered:
            return lowered[name]
    return None


def _numbers(values: pd.Series, column: str, source: str) -> np.ndarray:
    text = values.astype(object).where(values.notna(), None)
    out = pd.to_numeric(
        text.map(lambda v: v.strip() if isinstance(v, str) else v), errors="coerce"
    ).astype("float64")
    bad = out.isna() & text.map(lambda v: v is not None and str(v).strip() != "")
    if bad.any():
        row = int(bad[bad].index[0])
        raise CoordinateError(
            f"'{text[row]}' is not a number of degrees.", row=row, column=column, source=source
        )
    return out.to_numpy()


def _table_geometry(df: pd.DataFrame, info: ReadInfo) -> gpd.GeoDataFrame | pd.DataFrame:
    """Clean a CSV/XLSX table and build its geometry from lon/lat or WKT columns, if any."""
    df.columns = [str(c).strip() for c in df.columns]
    df = df.loc[:, ~(df.columns.str.startswith("Unnamed:") & df.isna().all().to_numpy())]
    df.index = pd.RangeIndex(2, len(df) + 2, name="row")  # spreadsheet rows: the header is row 1
    df = df.dropna(how="all")
    source = info.path.name
    columns = list(df.columns)
    wkt = _find_column(columns, WKT_NAMES)
    lon, lat = _find_column(columns, LON_NAMES), _find_column(columns, LAT_NAMES)
    if wkt is not None:
        text = df[wkt].astype(object).where(df[wkt].notna(), None)
        text = text.map(lambda v: str(v).strip() or None if v is not None else None)
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
        x, y = _numbers(df[lon], lon, source), _numbers(df[lat], lat, source)
        geoms = shapely.points(x, y)
        geoms[np.isnan(x) | np.isnan(y)] = None
        info.geometry_columns = [lon, lat]
        return gpd.GeoDataFrame(df.drop(columns=[lon, lat]), geometry=geoms, crs=None)
    return df


_READERS = {
    "geojson": _read_geojson,
    "gpkg": _read_gpkg,
    "shapefile": _read_shapefile,
    "kml": _read_kml,
    "csv": _read_csv,
    "xlsx": _read_xlsx,
}
