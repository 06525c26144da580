"""JSON Schemas of the write API's bodies and of a served feature, for the OpenAPI description.

:func:`body_schema` states what :mod:`gridmap.service.feature_body` takes (required columns,
JSON types, codes, no masked personal text, GeoJSON geometry of the layer's type);
:func:`served_schema` what a feature looks like as served, in any reader's view. Coordinates
are longitude/latitude degrees (EPSG:4326).
"""

from __future__ import annotations

from typing import Any

from gridmap.access import privacy
from gridmap.schema import Column, Layer, get_layer
from gridmap.service.feature_body import GEOJSON_TYPES, READ_ONLY_MEMBERS

_POSITION: dict[str, Any] = {
    "type": "array",
    "description": "[longitude, latitude] in degrees (EPSG:4326); a height is dropped",
    "minItems": 2,
    "maxItems": 3,
    "items": {"type": "number"},
}
_NESTED = {"Point": 0, "LineString": 1, "Polygon": 2, "MultiPolygon": 3}
_MIN_ITEMS = {"LineString": [2], "Polygon": [1, 4], "MultiPolygon": [1, 1, 4]}


def geometry_schema(kind: str) -> dict[str, Any]:
    """Return the JSON Schema of a GeoJSON geometry of type ``kind`` (longitude/latitude)."""
    coords: dict[str, Any] = _POSITION
    mins = _MIN_ITEMS.get(kind, [])
    for level in range(_NESTED[kind]):
        coords = {"type": "array", "minItems": mins[-1 - level], "items": coords}
    return {
        "type": "object",
        "title": f"GeoJSON {kind}",
        "required": ["type", "coordinates"],
        "properties": {"type": {"const": kind}, "coordinates": coords},
    }


def value_schema(column: Column, *, nullable: bool = True, written: bool = True) -> dict[str, Any]:
    """Return the JSON Schema of one column's value in a body (``written``) or a reply.

    Columns that are not required may be null (null clears a value in a change). In a body,
    personal text is never a masked value (no ``*``), and required text is not blank.
    """
    kinds: dict[str, dict[str, Any]] = {
        "int": {
            "type": "integer",
            "format": "int64",
            "minimum": -(2**63),
            "maximum": 2**63 - 1,
        },
        "float": {"type": "number"},
        "bool": {"type": "boolean"},
        "str": {"type": "string"},
        "date": {"type": "string", "format": "date"},
        "datetime": {"type": "string", "format": "date-time"},
    }
    base = kinds[column.type]
    doc: dict[str, Any] = {"title": column.en, "description": column.zh, **base}
    if column.unit:
        doc["description"] += f" ({column.unit})"
    if column.doc:
        doc["description"] += f". {column.doc}"
    if column.choices:
        doc["enum"] = list(column.choices)
    if written and column.type == "str":
        if column.required:
            doc["pattern"] = r"\S"
        if column.personal or column.personal_values:
            doc["pattern"] = r"^[^*]*$" if not column.required else r"^[^*]*\S[^*]*$"
    if nullable and not column.required:
        doc["type"] = [base["type"], "null"]
        if "enum" in doc:
            doc["enum"] = [*doc["enum"], None]
    return doc


def _geometry_member(layer: Layer) -> dict[str, Any]:
    kinds = GEOJSON_TYPES[layer.geometry or "POINT"]
    shapes = [geometry_schema(k) for k in kinds]
    return shapes[0] if len(shapes) == 1 else {"oneOf": shapes}


def body_schema(layer: str | Layer, *, partial: bool = False) -> dict[str, Any]:
    """Return the JSON Schema of the body that creates (or, ``partial``, changes) a feature.

    Members a client read and sends back (``id``, ``bbox``, ``version``, ``updated_at``,
    ``updated_by``) are allowed and not written.
    """
    schema = layer if isinstance(layer, Layer) else get_layer(layer)
    columns = {c.name: value_schema(c, nullable=partial or not c.required) for c in schema.columns}
    props: dict[str, Any] = {
        "type": "object",
        "properties": columns,
        "additionalProperties": False,
    }
    if partial:
        props["minProperties"] = 1 if schema.geometry is None else 0
    else:
        props["required"] = schema.required_columns
    members: dict[str, Any] = {
        "type": {"const": "Feature"},
        "properties": props,
        "crs": {
            "type": "object",
            "description": "Old GeoJSON's crs member: only CRS84 / EPSG:4326 is taken",
            "required": ["properties"],
            "properties": {
                "type": {"type": "string"},
                "properties": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"enum": ["urn:ogc:def:crs:OGC:1.3:CRS84"]}},
                },
            },
        },
        **{name: {"description": "read-only: ignored in a body"} for name in READ_ONLY_MEMBERS},
    }
    if schema.geometry is None:
        members["geometry"] = {"type": "null", "description": "people have no geometry"}
    else:
        members["geometry"] = _geometry_member(schema)
    required = ["properties"] if schema.geometry is None or partial else ["geometry", "properties"]
    out: dict[str, Any] = {
        "type": "object",
        "title": f"{'A change of' if partial else 'A new'} {schema.en} feature ({schema.zh})",
        "properties": members,
        "additionalProperties": False,
    }
    if partial:
        out["anyOf"] = (
            [{"required": ["properties"]}]
            if schema.geometry is None
            else [{"required": ["geometry"]}, {"required": ["properties"]}]
        )
    else:
        out["required"] = required
    return out


def served_schema(layer: str | Layer, views: list[Layer]) -> dict[str, Any]:
    """Return the JSON Schema of a feature of ``layer`` as served, in any of ``views``.

    ``views`` are the layer as served to different readers
    (:func:`gridmap.access.privacy.served_layer`): a column they serve differently (a masked
    date is text) takes any of its forms; one that some do not serve is optional.
    """
    schema = layer if isinstance(layer, Layer) else get_layer(layer)
    props: dict[str, Any] = {}
    for view in views:
        for column in view.columns:
            one = value_schema(column, written=False)
            one["type"] = sorted({*_types(one), "null"})
            if "enum" in one and None not in one["enum"]:
                one["enum"] = [*one["enum"], None]
            if column.name not in props:
                props[column.name] = one
            elif props[column.name] != one and one not in props[column.name].get("anyOf", []):
                first = props[column.name]
                props[column.name] = {"anyOf": [*first.get("anyOf", [first]), one]}
    geometry: dict[str, Any] = (
        {"type": "null"} if schema.geometry is None else _served_geometry(schema)
    )
    if schema.geometry is not None and any(v.geometry is None for v in views):
        geometry = {"anyOf": [geometry, {"type": "null"}]}  # a view without a place (visits)
    return {
        "type": "object",
        "title": f"{schema.en} feature ({schema.zh})",
        # version: absent for a reader of the masked view who may not write the layer
        "required": ["type", "id", "geometry", "properties"],
        "properties": {
            "type": {"const": "Feature"},
            "id": _id_schema(schema),
            "geometry": geometry,
            "properties": {"type": "object", "properties": props},
            "version": {"type": "integer", "minimum": 1, "description": "the ETag, for If-Match"},
            "updated_at": {"type": ["string", "null"], "format": "date-time"},
            "updated_by": {"type": ["string", "null"]},
        },
    }


def _types(doc: dict[str, Any]) -> list[str]:
    kind = doc["type"]
    return list(kind) if isinstance(kind, list) else [kind]


def _served_geometry(layer: Layer) -> dict[str, Any]:
    kind = {"POINT": "Point", "LINESTRING": "LineString", "MULTIPOLYGON": "MultiPolygon"}
    return geometry_schema(kind[layer.geometry or "POINT"])


def _id_schema(schema: Layer) -> dict[str, Any]:
    """The schema of a served feature id: a number, or a masked reader's token where some get one."""
    if not privacy.has_opaque_ids(schema):
        return {"type": "integer", "description": "feature id, stable for the feature's life"}
    return {
        "type": ["integer", "string"],
        "description": "feature id, stable for the feature's life: the stored id, or for a "
        "reader of the masked view its opaque id (16 letters and digits)",
    }
