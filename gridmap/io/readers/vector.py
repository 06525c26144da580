"""GIS files read through GDAL: GeoJSON, GeoPackage, KML; :func:`read_ogr` for every format.

:func:`read_ogr` wraps ``pyogrio.read_dataframe``: when a geometry cannot be built (a ring not
closed, a ring of two points, a line of one point) it reads the raw WKB again and raises a
:class:`GeometryError` naming the row, the placemark or feature, and the ring at fault, instead
of shapely's bare ``GEOSException``. GDAL's own warnings (printed by its error handler, where
they cannot be caught as errors) become notes. GeoJSON is checked from its JSON first
(:mod:`gridmap.io.readers.geojson_check`), so GDAL never has to guess at a garbled geometry.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import pyogrio.raw
import pyproj
import shapely
import shapely.errors

from gridmap.errors import CoordinateError, GeometryError, InputError, UnsupportedFormatError
from gridmap.geo.shapes import describe_wkb
from gridmap.io.readers.base import ReadInfo, choose_layer
from gridmap.io.readers.geojson_check import (
    GEOJSON_TYPES,
    NAME_FIELDS,
    check_geojson,
    feature_label,
)
from gridmap.io.readers.text import decode_text

__all__ = ["NAME_FIELDS", "read_geojson", "read_gpkg", "read_kml", "read_ogr", "row_label"]

#: Columns LIBKML adds to every placemark; they carry no user data.
_KML_BOILERPLATE = frozenset(
    {"id", "timestamp", "begin", "end", "altitudeMode", "tessellate", "extrude", "visibility",
     "drawOrder", "icon", "snippet"}
)  # fmt: skip

_GDAL_NOISE = ("Could not parse column",)


def row_label(name: object, fmt: str) -> str:
    """Return "placemark '甲': " (KML) or "feature '甲': " for a named row, else ""."""
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return ""
    text = str(name).strip()
    if not text:
        return ""
    return feature_label(text, "placemark" if fmt == "kml" else "feature")


def _name_field(fields: list[str]) -> str | None:
    return next((f for f in NAME_FIELDS if f in fields), None)


def _diagnose(source: object, info: ReadInfo, kw: dict[str, Any], offset: int) -> None:
    """Find and raise the first geometry GEOS refused, reading the raw WKB again."""
    fields = [str(f) for f in pyogrio.read_info(source, **kw)["fields"]]
    name_field = _name_field(fields)
    _, _, wkbs, values = pyogrio.raw.read(source, columns=[name_field] if name_field else [], **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        built = shapely.from_wkb(wkbs, on_invalid="ignore")
    bad = [
        i for i, (w, g) in enumerate(zip(wkbs, built, strict=True)) if w is not None and g is None
    ]
    if not bad:
        raise GeometryError(
            "a geometry in the file cannot be read (GEOS refused it, but no row could be "
            "singled out). Check the file in a GIS and save it again.",
            source=info.path.name,
        )
    first = bad[0]
    problem = describe_wkb(wkbs[first])
    message = problem.message if problem else "its geometry cannot be built"
    label = row_label(values[0][first] if name_field else None, info.format)
    others = [offset + i + 1 for i in bad[1:]]
    also = ""
    if others:
        shown = ", ".join(str(r) for r in others[:5])
        more = f" and {len(others) - 5} more" if len(others) > 5 else ""
        also = f" (also row{'s' if len(others) > 1 else ''} {shown}{more})"
    cls = CoordinateError if problem is not None and problem.coordinates else GeometryError
    raise cls(f"{label}{message}{also}.", row=offset + first + 1, source=info.path.name)


def _gdal_notes(caught: list[warnings.WarningMessage], info: ReadInfo) -> None:
    for w in caught:
        text = str(w.message)
        if issubclass(w.category, RuntimeWarning) and not text.startswith(_GDAL_NOISE):
            note = f"GDAL: {text}"
            if note not in info.notes:
                info.notes.append(note)


def list_layers(source: str | Path | bytes, info: ReadInfo) -> list[str]:
    """Return the names of the file's layers, GDAL's warnings kept as notes."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = [str(n) for n in pyogrio.list_layers(source)[:, 0]]
    _gdal_notes(caught, info)
    return names


def read_ogr(
    source: str | Path | bytes, info: ReadInfo, *, offset: int = 0, **kw: Any
) -> gpd.GeoDataFrame:
    """Read one layer through GDAL; name the row of a geometry GEOS cannot build.

    ``offset`` is the number of rows read before this layer (KML folders are read one by one),
    so rows are numbered across the file. GDAL warnings are added to ``info.notes``.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            frame = pyogrio.read_dataframe(source, **kw)
        except shapely.errors.GEOSException:
            _diagnose(source, info, kw, offset)
            raise
        except UnicodeDecodeError:
            raise InputError(
                f"The file could not be read as {info.format}: GDAL found text in it that is not "
                "in the expected encoding (UTF-8 unless the file says otherwise). Give the "
                "encoding with --encoding, or save the file again as UTF-8.",
                source=info.path.name,
            ) from None
        except IndexError:  # pyogrio, when GDAL opens the file but finds no layer in it
            raise InputError(
                f"The file could not be read as {info.format}: GDAL finds no layer of features "
                "in it. It may be damaged; save it again from the program that made it.",
                source=info.path.name,
            ) from None
    _gdal_notes(caught, info)
    return frame


# --- GeoJSON ------------------------------------------------------------------------------------


def read_geojson(
    p: Path, info: ReadInfo, encoding: str | None, layer_name: str | None, prefer: str | None
) -> gpd.GeoDataFrame:
    """Read a GeoJSON file: checked from its JSON, then read by GDAL (which knows ``crs``)."""
    data = p.read_bytes()
    text, info.encoding = decode_text(data, encoding, source=p.name)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"The file is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
            source=p.name,
        ) from None
    except RecursionError:
        raise InputError(
            "The file is not usable JSON: its lists or objects are nested thousands deep.",
            source=p.name,
        ) from None
    kind = obj.get("type") if isinstance(obj, dict) else None
    if not isinstance(kind, str) or kind not in GEOJSON_TYPES:
        raise UnsupportedFormatError(
            'The JSON file is not GeoJSON: it should be an object with "type": '
            '"FeatureCollection" and a list of "features".',
            source=p.name,
        )
    if obj["type"] == "FeatureCollection" and not obj.get("features"):
        check_geojson(obj, source=p.name)
        return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    check_geojson(obj, source=p.name)
    frame = read_ogr(text.encode("utf-8"), info)
    if "crs" in obj and frame.crs is not None:
        info.crs = pyproj.CRS(frame.crs)
    return frame


# --- GeoPackage ---------------------------------------------------------------------------------


def read_gpkg(
    p: Path, info: ReadInfo, encoding: str | None, layer_name: str | None, prefer: str | None
) -> gpd.GeoDataFrame | pd.DataFrame:
    """Read one layer of a GeoPackage (named, the only one, or the one named like ``prefer``)."""
    info.layers = list_layers(p, info)
    info.layer = choose_layer(info.layers, layer_name, prefer, p.name, "layer")
    info.encoding = "utf-8"  # GeoPackage text is UTF-8 by definition
    if encoding:
        info.notes.append(
            f"GeoPackage text is always UTF-8; the encoding '{encoding}' was ignored."
        )
    frame = read_ogr(p, info, layer=info.layer)
    if isinstance(frame, gpd.GeoDataFrame) and frame.crs is not None:
        info.crs = pyproj.CRS(frame.crs)
    return frame


# --- KML ----------------------------------------------------------------------------------------

_XML_DECL = re.compile(r"""^(\s*<\?xml[^>]*?encoding\s*=\s*)(["'])[^"']*\2""")


def read_kml(
    p: Path, info: ReadInfo, encoding: str | None, layer_name: str | None, prefer: str | None
) -> gpd.GeoDataFrame:
    """Read every folder of a KML (or the named one) into one frame, in WGS84."""
    text, info.encoding = decode_text(p.read_bytes(), encoding, source=p.name)
    data = _XML_DECL.sub(r'\1"UTF-8"', text, count=1).encode("utf-8")
    info.layers = list_layers(data, info)
    info.crs = pyproj.CRS.from_epsg(4326)  # KML is WGS84 by definition
    chosen = list(range(len(info.layers)))  # by index: the in-memory copy's name changes
    if layer_name is not None:
        chosen = [info.layers.index(choose_layer(info.layers, layer_name, None, p.name, "folder"))]
        info.layer = layer_name
    frames = []
    offset = 0
    for i in chosen:
        frame = read_ogr(data, info, offset=offset, layer=i)
        offset += len(frame)
        frames.append(frame.drop(columns=[c for c in frame.columns if c in _KML_BOILERPLATE]))
    frames = [f for f in frames if len(f)]
    if not frames:
        return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")
