"""Turn a user's file into a validated frame for one layer, ready for the workspace to store.

:func:`load_file` reads the file (:mod:`gridmap.readers`), checks it against the layer's schema
(:mod:`gridmap.validate`), works out its coordinate system — given, declared by the file, or
detected against streets and buildings already in the workspace (:mod:`gridmap.crs`) — and
returns the rows in EPSG:4326 with exactly the layer's columns. It never writes anything: the
workspace stores the result in one transaction.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.errors import CoordinateError, InputError, SchemaError
from gridmap.geo import chinacoords
from gridmap.geo.crs import SourceCRS, detect_china_datum, resolve_crs, to_wgs84
from gridmap.io.readers import LAT_NAMES, LON_NAMES, ArchiveLimits, ReadInfo, read_table
from gridmap.schema import STORAGE_CRS, STORAGE_EPSG, Layer, get_layer, validate

__all__ = ["ImportResult", "load_file"]

_DATUM_WORDS = {
    "gcj02": "GCJ-02 (Amap/Tencent, 火星坐标)",
    "bd09": "BD-09 (Baidu, 百度坐标)",
}


@dataclass
class ImportResult:
    """A file read and validated for one layer.

    ``frame`` holds exactly the layer's columns in schema order (plus ``geometry`` in EPSG:4326,
    except for the attribute-only layer ``people``, which is a plain DataFrame); ``crs_used`` is
    how the coordinates were read ("EPSG:4326", "gcj02", "bd09", ...; None without geometry);
    ``encoding_used`` the text encoding (None where the format has none, as XLSX).
    """

    frame: gpd.GeoDataFrame | pd.DataFrame
    crs_used: str | None
    encoding_used: str | None
    warnings: list[str] = field(default_factory=list)
    rows: int = 0
    layer: str = ""
    format: str = ""


def load_file(
    path: str | os.PathLike[str],
    layer: str,
    *,
    crs: str | int | pyproj.CRS | None = None,
    encoding: str | None = None,
    area: BaseGeometry | None = None,
    reference: gpd.GeoSeries | None = None,
    file_layer: str | None = None,
    limits: ArchiveLimits | None = None,
) -> ImportResult:
    """Read ``path`` and validate it for ``layer``; raise a gridmap InputError naming the row.

    Parameters
    ----------
    path
        The file (any format :func:`gridmap.io.readers.read_table` reads).
    layer
        The workspace layer to import into.
    crs
        The coordinate system of the file's coordinates ("EPSG:4549", "gcj02", ...), if the
        file does not say or says wrong; otherwise the file's own, or detected.
    encoding
        The text encoding, if detection would guess wrong.
    area
        The workspace area (EPSG:4326); features more than 5 km outside it are refused.
    reference
        Streets or buildings of the workspace (EPSG:4326), to tell WGS84 from GCJ-02/BD-09.
    file_layer
        The layer, sheet, folder or zipped shapefile of the file to read.
    limits
        Caps on what an archive may unpack to (:class:`gridmap.io.readers.ArchiveLimits`).

    Returns
    -------
    ImportResult
        The rows in EPSG:4326 with exactly the layer's columns; nothing is written.
    """
    schema = get_layer(layer)
    frame, info = read_table(
        path, encoding=encoding, layer_name=file_layer, prefer=layer, limits=limits
    )
    source = info.path.name
    warnings = list(info.notes)
    if len(frame) == 0:
        raise InputError("The file holds no rows: there is nothing to import.", source=source)

    has_geometry = _has_geometry(frame)
    attrs = pd.DataFrame(frame.drop(columns=frame.geometry.name)) if has_geometry else frame
    if schema.geometry is None and has_geometry:
        warnings.append(
            f"Layer '{schema.name}' ({schema.zh}) has no geometry; the file's was ignored."
        )
    if schema.geometry is not None and not has_geometry:
        raise SchemaError(_no_geometry_message(schema, list(attrs.columns)), source=source)

    mapping, extra = validate.match_columns(attrs.columns, schema)
    validate.check_required_columns(mapping.values(), schema, source=source)
    renamed = [f"'{k}' as '{v}'" for k, v in mapping.items() if k != v]
    if renamed:
        warnings.append(f"Read column{'s' if len(renamed) > 1 else ''} {', '.join(renamed)}.")
    if extra:
        warnings.append(
            f"Dropped column{'s' if len(extra) > 1 else ''} that layer '{schema.name}' does not "
            f"have: {', '.join(extra)}."
        )
    _uncomputed_cells(info, mapping, schema, warnings)
    attrs = attrs[list(mapping)].rename(columns=mapping)

    crs_used: str | None = None
    geoms: np.ndarray | None = None
    if schema.geometry is not None:
        assert isinstance(frame, gpd.GeoDataFrame)
        geoms, crs_used = _geometries(
            frame, info, schema, crs=crs, area=area, reference=reference, warnings=warnings
        )

    values = validate.coerce_columns(attrs, schema, source=source, warnings=warnings)
    values = values.reset_index(drop=True)
    out: gpd.GeoDataFrame | pd.DataFrame = values
    if geoms is not None:
        out = gpd.GeoDataFrame(values, geometry=gpd.GeoSeries(geoms, crs=STORAGE_CRS))
    return ImportResult(
        frame=out,
        crs_used=crs_used,
        encoding_used=info.encoding,
        warnings=warnings,
        rows=len(out),
        layer=schema.name,
        format=info.format,
    )


def _uncomputed_cells(
    info: ReadInfo, mapping: dict[str, str], schema: Layer, warnings: list[str]
) -> None:
    """Refuse formulas without a value (and error values) in required columns; warn of the rest."""
    source = info.path.name
    required = set(schema.required_columns)
    for column, cells in info.uncomputed.items():
        target = mapping.get(column)
        if target is None:
            continue  # a column the layer does not have: dropped anyway
        listed = ", ".join(c.cell for c in cells[:8]) + (
            f" and {len(cells) - 8} more" if len(cells) > 8 else ""
        )
        formulas = [c for c in cells if not c.error]
        errors = [c for c in cells if c.error]
        what = []
        if formulas:
            what.append(
                f"formula{'s' if len(formulas) > 1 else ''} with no calculated value "
                f"(such as {formulas[0].formula[:40]} in {formulas[0].cell}): the file was "
                "probably written by a program and never opened in Excel"
            )
        if errors:
            what.append(f"the error value {errors[0].error} (in {errors[0].cell})")
        holds = " and ".join(what)
        label = f"'{column}'" + (f" (layer column '{target}')" if target != column else "")
        if target in required:
            first = cells[0]
            raise SchemaError(
                f"cell {first.cell} of the required column {label} holds {holds}, so it is "
                f"empty (cells {listed}). Open the file in Excel or WPS and save it, so the "
                "formulas are calculated, or enter the values themselves.",
                row=first.row,
                column=column,
                source=source,
            )
        warnings.append(
            f"Column {label}: cell{'s' if len(cells) > 1 else ''} {listed} hold{'' if len(cells) > 1 else 's'} "
            f"{holds}; they were read as empty. Open the file in Excel or WPS and save it to "
            "calculate them."
        )


def _has_geometry(frame: pd.DataFrame) -> bool:
    if not isinstance(frame, gpd.GeoDataFrame):
        return False
    try:
        frame.geometry  # noqa: B018 - raises when there is no active geometry column
    except AttributeError:
        return False
    return True


def _no_geometry_message(schema: Layer, columns: list[str]) -> str:
    assert schema.geometry is not None
    has = ", ".join(str(c) for c in columns) or "none"
    return (
        f"The file has no geometry, but layer '{schema.name}' ({schema.zh}) holds "
        f"{validate.GEOMETRY_WORDS[schema.geometry]}. Give a GIS file, or a table with longitude and "
        f"latitude columns ({'/'.join(LON_NAMES)} and {'/'.join(LAT_NAMES)}) or a WKT column "
        f"named 'geometry'. The file's columns: {has}."
    )


def _source_crs(crs: object, info: ReadInfo) -> tuple[SourceCRS, bool]:
    """Return how to read the coordinates, and whether that is known (not a default)."""
    if crs is not None:
        return resolve_crs(crs), True  # type: ignore[arg-type]
    if info.crs is not None:
        return resolve_crs(info.crs), True
    return resolve_crs(STORAGE_EPSG), False


def _geometries(
    frame: gpd.GeoDataFrame,
    info: ReadInfo,
    schema: Layer,
    *,
    crs: object,
    area: BaseGeometry | None,
    reference: gpd.GeoSeries | None,
    warnings: list[str],
) -> tuple[np.ndarray, str]:
    """Check the geometries and return them in WGS84, with the name of the CRS they were in."""
    source = info.path.name
    rows = frame.index
    geoms = np.asarray(frame.geometry.array, dtype=object)
    validate.check_not_empty(geoms, rows, source=source, from_columns=info.geometry_columns)
    if shapely.has_z(geoms).any():
        geoms = shapely.force_2d(geoms)
        warnings.append("Heights (Z coordinates) were dropped: layers are two-dimensional.")
    geoms = validate.check_geometry_types(geoms, rows, schema, source=source)
    src, known = _source_crs(crs, info)
    if ".prj" in info.missing_parts and crs is None:
        _without_prj(geoms, rows, source, warnings)
    if src.is_geographic:
        validate.check_coordinates(geoms, rows, source=source, crs_declared=known)
    validate.check_validity(geoms, rows, source=source)

    wgs = to_wgs84(gpd.GeoDataFrame(geometry=geoms, index=rows), src)
    geoms = np.asarray(wgs.geometry.array, dtype=object)
    if not src.is_wgs84_like and src.china_datum is None:
        validate.check_projected_result(geoms, rows, crs_name=src.name, source=source)
    crs_used = src.name

    if crs is None and reference is not None and len(reference) > 0:
        reps = shapely.point_on_surface(geoms)
        if np.mean(chinacoords.in_china(shapely.get_x(reps), shapely.get_y(reps))) >= 0.5:
            datum = detect_china_datum(gpd.GeoSeries(geoms, crs=STORAGE_CRS), reference)
            if datum in _DATUM_WORDS:
                geoms = np.asarray(to_wgs84(wgs, datum).geometry.array, dtype=object)
                crs_used = datum
                warnings.append(
                    f"The coordinates look like {_DATUM_WORDS[datum]}: converted from it, they "
                    "match the streets and buildings in the workspace far better. They were "
                    "converted to WGS84. If this is wrong, import again with --crs wgs84."
                )
            elif datum is None and not known:
                warnings.append(
                    "The file does not say which coordinate system it uses, and comparing it with "
                    "the workspace could not tell WGS84, GCJ-02 (Amap/Tencent) and BD-09 (Baidu) "
                    "apart. The coordinates were kept as WGS84; if they appear shifted by a few "
                    "hundred metres on the map, import again with --crs gcj02 or --crs bd09."
                )
    if area is not None:
        validate.check_area(geoms, rows, area, source=source)
    return geoms, crs_used


def _without_prj(geoms: np.ndarray, rows: pd.Index, source: str, warnings: list[str]) -> None:
    """A shapefile without .prj: refuse coordinates that are not degrees, else say so."""
    xmin, ymin, xmax, ymax = shapely.bounds(geoms).T
    with np.errstate(invalid="ignore"):
        out = (
            (np.abs(xmin) > 180) | (np.abs(xmax) > 180) | (np.abs(ymin) > 90) | (np.abs(ymax) > 90)
        )
    if out.mean() > 0.5:
        i = int(np.argmax(out))
        raise CoordinateError(
            f"the shapefile has no .prj file, which says its coordinate system, and its "
            f"coordinates ({xmin[i]:.0f}, {ymin[i]:.0f}) are not longitude/latitude degrees. Put "
            "the .prj made with the shapefile beside the .shp (or in the zip), or give the "
            "system with --crs, for example --crs EPSG:4549 (CGCS2000 3-degree Gauss-Kruger, "
            "central meridian 120°E).",
            row=int(rows[i]),
            source=source,
        )
    warnings.append(
        "The shapefile has no .prj file, so it does not say its coordinate system; its "
        "coordinates look like longitude/latitude degrees and were read as such."
    )


def erased_personal_columns(current: pd.DataFrame, new: pd.DataFrame, layer: str) -> list[str]:
    """Return the personal columns that hold data now but would be empty after a replace."""
    schema = get_layer(layer)
    return [
        name
        for name in schema.personal_columns
        if name in current.columns
        and current[name].notna().any()
        and (name not in new.columns or not new[name].notna().any())
    ]
