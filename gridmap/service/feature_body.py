"""The body of a feature write: a GeoJSON Feature parsed and checked, and its JSON Schema.

What the JSON body alone can tell is checked here, before the workspace is asked: JSON types
per column type, the codes of coded columns, masked values sent back, the GeoJSON structure
and a ``crs`` other than longitude/latitude. Values are then converted and checked by the
write rules (:func:`gridmap.schema.rules.check_rows`), exactly as an import's. The JSON
Schemas of these bodies, for the OpenAPI description, are :mod:`gridmap.service.feature_schema`.

Coordinates are GeoJSON's (RFC 7946): longitude, latitude in degrees, EPSG:4326.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import shapely
import shapely.geometry
from shapely.geometry.base import BaseGeometry

from gridmap.errors import CoordinateError, GeometryError, InputError, SchemaError
from gridmap.geo import chinacoords
from gridmap.schema import Column, Layer, get_layer
from gridmap.schema.rules import SYSTEM_COLUMNS

#: The largest request body of one feature (bytes): a grid outline of ~20,000 vertices.
MAX_FEATURE_BYTES = 1024 * 1024
#: Members a Feature body may have besides ``type``, ``geometry`` and ``properties``: what a
#: client read (``id``, ``bbox``, the version members) may come back and is not written.
READ_ONLY_MEMBERS = frozenset({"id", "bbox", *SYSTEM_COLUMNS})
#: The JSON types each column type takes (JSON numbers for ``float`` include whole numbers).
JSON_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int, float),
    "float": (int, float),
    "bool": (bool,),
    "str": (str,),
    "date": (str,),
    "datetime": (str,),
}
_TYPE_WORDS = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "str": "text",
    "date": 'a date as text, such as "2024-03-01"',
    "datetime": 'a date and time as text, such as "2024-03-01T14:30:00+08:00"',
}
#: GeoJSON geometry types and how deep their coordinate arrays nest.
_DEPTHS = {
    "Point": 1,
    "MultiPoint": 2,
    "LineString": 2,
    "MultiLineString": 3,
    "Polygon": 3,
    "MultiPolygon": 4,
}
#: The GeoJSON geometry types each layer geometry takes.
GEOJSON_TYPES: dict[str, tuple[str, ...]] = {
    "POINT": ("Point",),
    "LINESTRING": ("LineString",),
    "MULTIPOLYGON": ("Polygon", "MultiPolygon"),
}
#: Names of EPSG:4326 longitude/latitude a GeoJSON ``crs`` member may give (RFC 7946 has none).
_LONLAT_CRS = frozenset(
    {
        "urn:ogc:def:crs:ogc:1.3:crs84",
        "http://www.opengis.net/def/crs/ogc/1.3/crs84",
        "epsg:4326",
        "urn:ogc:def:crs:epsg::4326",
        "http://www.opengis.net/def/crs/epsg/0/4326",
    }
)


@dataclass(frozen=True)
class Change:
    """What a Feature body asks to write: column values (JSON values) and the geometry or None."""

    values: dict[str, Any]
    geometry: BaseGeometry | None


def parse_json(data: bytes) -> Any:
    """Return the JSON value of a request body, or raise a clear :class:`InputError`.

    The body must be UTF-8 JSON without NaN or Infinity, nested at most a few hundred levels.
    """
    if not data.strip():
        raise InputError("The request has no body: send the feature as JSON.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"The body is not UTF-8 text (byte {exc.start}): send JSON.") from None

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    try:
        return json.loads(text, parse_constant=refuse)
    except RecursionError:
        raise InputError("The body nests too deeply to be a feature.") from None
    except ValueError as exc:
        raise InputError(f"The body is not valid JSON: {exc}.") from None


def parse_feature(layer: str | Layer, body: Any, *, partial: bool = False) -> Change:
    """Return the change a Feature body asks for, checked as far as the body alone allows.

    Parameters
    ----------
    layer
        The layer written to.
    body
        The parsed JSON: a GeoJSON Feature with ``geometry`` (longitude/latitude degrees,
        EPSG:4326) and ``properties``; for ``people`` only ``properties``.
    partial
        A change of a stored feature (PATCH): only the given properties change and the
        geometry only when given. Otherwise a new feature: its geometry is required.

    Returns
    -------
    Change
        The column values (JSON values, not yet converted) and the shapely geometry or None.
    """
    schema = layer if isinstance(layer, Layer) else get_layer(layer)
    if not isinstance(body, dict):
        raise InputError(f"Send one feature as a JSON object, not {_json_kind(body)}.")
    kind = body.get("type", "Feature")
    if kind != "Feature":
        raise InputError(f"Send one GeoJSON Feature (type 'Feature'), not type '{show(kind)}'.")
    _check_crs(body.get("crs"))
    allowed = {"type", "geometry", "properties", "crs", *READ_ONLY_MEMBERS}
    unknown = sorted(str(k) for k in body if k not in allowed)
    if unknown:
        raise InputError(
            f"The feature has unknown member(s) {', '.join(unknown)}: send 'geometry' and "
            "'properties' (the columns go in 'properties')."
        )
    props = body.get("properties")
    if props is None:
        props = {}
    if not isinstance(props, dict):
        raise InputError(f"'properties' must be a JSON object, not {_json_kind(props)}.")
    values = _values(schema, props)
    geometry: BaseGeometry | None = None
    if schema.geometry is None:
        if body.get("geometry") is not None:
            raise GeometryError(
                f"Layer '{schema.name}' ({schema.zh}) has no geometry: its rows are placed by "
                f"their {schema.located_by[1] if schema.located_by else 'parent'}; send "
                "'geometry': null or leave it out."
            )
    elif "geometry" in body or not partial:
        geometry = parse_geometry(body.get("geometry"), schema)
    if partial and not values and geometry is None:
        raise InputError("Nothing to change: send the properties (and/or geometry) to change.")
    return Change(values, geometry)


def _values(schema: Layer, props: Mapping[str, Any]) -> dict[str, Any]:
    """Return the properties checked for names, JSON types, codes and masks."""
    system = sorted(k for k in props if k in SYSTEM_COLUMNS)
    if system:
        raise SchemaError(
            f"{', '.join(system)} is kept by gridmap, not written: send the version you read "
            'as the If-Match header (If-Match: "3"), and leave it out of the properties.'
        )
    unknown = sorted(str(k) for k in props if k not in schema.column_names)
    if unknown:
        raise SchemaError(
            f"layer '{schema.name}' ({schema.zh}) has no column(s) {', '.join(unknown)}. "
            f"Columns: {', '.join(schema.column_names)}."
        )
    for name, value in props.items():
        column = schema.column(name)
        check_not_masked_value(column, value)
        if value is None:
            continue
        if not _fits(value, column):
            raise SchemaError(
                f"'{show(value)}' is {_json_kind(value)}; {column.zh} ({name}) takes "
                f"{_TYPE_WORDS[column.type]}.",
                column=name,
            )
        if column.choices is not None and value not in column.choices:
            raise SchemaError(
                f"'{show(value)}' is not one of the codes of {column.zh} ({name}): "
                f"{', '.join(column.choices)}.",
                column=name,
            )
    return dict(props)


def _fits(value: Any, column: Column) -> bool:
    """Return whether a JSON value has the JSON type of the column (an integral number is an
    integer, as in JSON Schema; true/false is never a number)."""
    if isinstance(value, bool):
        return column.type == "bool"
    if not isinstance(value, JSON_TYPES[column.type]):
        return False
    if isinstance(value, float):
        return math.isfinite(value) and (column.type == "float" or value.is_integer())
    return True


def check_not_masked_value(column: Column, value: Any) -> None:
    """Refuse a personal value in a masked form (``***``, ``张**``, ``1950-**-**``, …).

    A client that read a feature masked and sends it back would overwrite the real value.
    """
    if not (column.personal or column.personal_values):
        return
    if isinstance(value, str) and "*" in value:
        raise SchemaError(
            f"'{show(value)}' is a masked value, as gridmap shows {column.zh} ({column.name}) to "
            "roles without personal access: writing it would overwrite the real value. Leave "
            "the column out of the change, or send the real value.",
            column=column.name,
        )


def parse_geometry(value: Any, layer: Layer) -> BaseGeometry:
    """Return a GeoJSON geometry object as a shapely geometry (2D, longitude/latitude).

    Its structure and type are checked here (:data:`GEOJSON_TYPES` of the layer); its
    validity and coordinates (degrees, in range, not swapped, near the workspace) by the
    write rules. Heights (a third coordinate) are dropped: the workspace stores 2D geometry.
    """
    allowed = GEOJSON_TYPES[layer.geometry or "POINT"]
    hint = " or ".join(allowed)
    if value is None:
        raise GeometryError(f"Layer '{layer.name}' ({layer.zh}) needs a geometry: a {hint}.")
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise GeometryError(
            f"'geometry' must be a GeoJSON geometry object such as "
            f'{{"type": "{allowed[0]}", "coordinates": […]}}, not {_json_kind(value)}.'
        )
    _check_crs(value.get("crs"))
    kind = value["type"]
    if kind not in allowed:
        raise GeometryError(
            f"The geometry is a {show(kind)}, but layer '{layer.name}' ({layer.zh}) holds "
            f"{hint} geometries only."
        )
    coordinates = _positions(value.get("coordinates"), _DEPTHS[kind], kind)
    try:
        geom = shapely.geometry.shape({"type": kind, "coordinates": coordinates})
    except (ValueError, TypeError, IndexError, shapely.errors.ShapelyError) as exc:
        raise GeometryError(f"The {kind} cannot be built from its coordinates: {exc}.") from None
    _check_degrees(geom)
    return geom


def _check_degrees(geom: BaseGeometry) -> None:
    """Refuse longitude and latitude given the other way round, or degrees out of range.

    Numbers too large for degrees (metres of a projected system) are left to the write rules,
    which say so.
    """
    minx, miny, maxx, maxy = geom.bounds
    if -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90:
        return
    if chinacoords.in_china(miny, minx) and chinacoords.in_china(maxy, maxx):
        raise CoordinateError(
            f"longitude and latitude look swapped: ({minx:.6f}, {miny:.6f}) lies in China the "
            "other way round. GeoJSON gives longitude (经度, 73–135 in China) first, latitude "
            "(纬度, 18–54) second."
        )
    if max(abs(minx), abs(miny), abs(maxx), abs(maxy)) < 1000:
        raise CoordinateError(
            f"coordinates out of range ({minx:.6f}, {miny:.6f} to {maxx:.6f}, {maxy:.6f}): "
            "longitude must lie within ±180 and latitude within ±90 degrees."
        )


def _positions(coords: Any, depth: int, kind: str) -> Any:
    """Return coordinates nested ``depth`` deep around [lon, lat] pairs (heights dropped), or
    refuse them."""
    if depth == 1:
        if (
            not isinstance(coords, list)
            or not 2 <= len(coords) <= 3
            or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in coords)
        ):
            raise GeometryError(
                f"A position of the {kind} must be [longitude, latitude] (numbers, degrees), "
                f"not {show(coords)}."
            )
        if not all(math.isfinite(c) for c in coords):
            raise CoordinateError(f"A position of the {kind} is not a finite number.")
        return coords[:2]
    if not isinstance(coords, list) or not coords:
        raise GeometryError(
            f"The coordinates of a {kind} must be {'an array of ' * (depth - 1)}positions "
            "[longitude, latitude], and not empty."
        )
    return [_positions(c, depth - 1, kind) for c in coords]


def _check_crs(crs: Any) -> None:
    """Refuse a (pre-RFC 7946) ``crs`` member naming anything but longitude/latitude WGS 84."""
    if crs is None:
        return
    props = crs.get("properties") if isinstance(crs, dict) else None
    name = props.get("name") if isinstance(props, dict) else None
    if not isinstance(name, str) or name.strip().lower() not in _LONLAT_CRS:
        raise CoordinateError(
            f"The feature gives its coordinates in {show(name or crs)}. GeoJSON (RFC 7946) is "
            "longitude/latitude in WGS 84 (EPSG:4326): convert the coordinates first and leave "
            "'crs' out."
        )


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "an array"
    return "an object"


def show(value: Any) -> str:
    """Return a JSON value as text for a message, shortened."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."
