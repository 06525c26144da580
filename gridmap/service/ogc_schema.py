"""Feature schemas of the OGC API collections: JSON Schema (Part 5), queryables (Part 3), XSD.

Clients that guess column types from the first page of features lose data: street node ids
above 2^31 looked like 32-bit integers and arrived clamped. Each collection therefore publishes
its schema, built from :mod:`gridmap.schema`, with every integer declared 64-bit:

- ``/collections/{id}/schema``: JSON Schema in the style of OGC API - Features Part 5
  (``x-ogc-role`` for the id, the geometry and the instant ``datetime`` filters on);
- ``/collections/{id}/queryables``: the properties ``?name=value`` may filter on (Part 3);
- ``/collections/{id}/schema.xsd``: the same feature type as a GML application schema, which is
  what GDAL's OAPIF driver (and so QGIS through GDAL) reads to type its fields (``xs:long``).

The schemas depend on the role: for roles that see personal data masked, masked dates are text
and personal columns are not queryable.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import quoteattr

from gridmap.access import ids, privacy
from gridmap.access.roles import Access
from gridmap.schema import Column, Layer
from gridmap.service.ogc_params import queryables, time_column

JSON_SCHEMA = "https://json-schema.org/draft/2020-12/schema"
_GEOMETRY_FORMATS = {
    "POINT": "geometry-point",
    "LINESTRING": "geometry-linestring",
    "MULTIPOLYGON": "geometry-multipolygon",
}
_GML_TYPES = {
    "POINT": "gml:PointPropertyType",
    "LINESTRING": "gml:CurvePropertyType",
    "MULTIPOLYGON": "gml:MultiSurfacePropertyType",
}
_XSD_TYPES = {
    "int": "xs:long",
    "float": "xs:double",
    "bool": "xs:boolean",
    "str": "xs:string",
    "date": "xs:date",
    "datetime": "xs:dateTime",
}


def _choices(column: Column) -> list[str] | None:
    return list(column.choices) if column.choices else None


def property_schema(column: Column, *, nullable: bool = True) -> dict[str, Any]:
    """Return the JSON Schema of one served column (of :func:`gridmap.access.privacy.served_layer`)."""
    kind = column.type
    base: dict[str, Any] = {
        "int": {"type": "integer", "format": "int64"},
        "float": {"type": "number", "format": "double"},
        "bool": {"type": "boolean"},
        "str": {"type": "string"},
        "date": {"type": "string", "format": "date"},
        "datetime": {"type": "string", "format": "date-time"},
    }[kind]
    doc: dict[str, Any] = {"title": column.en, "description": column.zh, **base}
    if column.doc:
        doc["description"] = f"{column.zh}. {column.doc}"
    if nullable and not column.required:
        doc["type"] = [base["type"], "null"]
    choices = _choices(column)
    if choices and kind == "str":
        doc["enum"] = choices + ([None] if nullable and not column.required else [])
    if column.unit:
        doc["x-ogc-unit"] = column.unit
    return doc


def feature_schema(layer: Layer, url: str, access: Access) -> dict[str, Any]:
    """Return the JSON Schema (Part 5 style) of the features of ``layer`` at ``url``."""
    opaque = privacy.opaque_ids(layer, access)
    layer = privacy.served_layer(layer, access)
    ident: dict[str, Any] = (
        {"type": "string", "pattern": f"^[a-z2-7]{{{ids.TOKEN_LENGTH}}}$"}
        if opaque  # a masked reader's opaque id (gridmap.access.ids)
        else {"type": "integer", "format": "int64"}
    )
    props: dict[str, Any] = {
        "id": {
            "title": "Feature id",
            "description": "要素编号: stable for the life of the feature",
            **ident,
            "x-ogc-role": "id",
            "readOnly": True,
        },
        "geometry": {
            "title": "Geometry (CRS84 longitude/latitude unless crs= asks otherwise)"
            + ("" if layer.geometry else "; the point of the row's household"),
            "format": _GEOMETRY_FORMATS[layer.geometry or "POINT"],
            "x-ogc-role": "primary-geometry",
        },
    }
    instant = time_column(layer)
    for column in layer.columns:
        props[column.name] = property_schema(column)
        if instant is not None and column.name == instant.name:
            props[column.name]["x-ogc-role"] = "primary-instant"
    return {
        "$schema": JSON_SCHEMA,
        "$id": url,
        "type": "object",
        "title": f"{layer.en} ({layer.zh})",
        "description": layer.description,
        "properties": props,
        "required": [c.name for c in layer.columns if c.required],
    }


def queryables_schema(layer: Layer, url: str, access: Access) -> dict[str, Any]:
    """Return the queryables of ``layer`` for ``access`` (Part 3): each may be ``?name=value``."""
    props: dict[str, Any] = {
        c.name: property_schema(c, nullable=False) for c in queryables(layer, access)
    }
    return {
        "$schema": JSON_SCHEMA,
        "$id": url,
        "type": "object",
        "title": f"Queryables of {layer.en}",
        "description": "Filter with ?name=value (equality; several filters all apply). "
        + ("Spatial filter: bbox. " if layer.geometry else "")
        + (f"Time filter: datetime on {tc.name}." if (tc := time_column(layer)) else ""),
        "properties": props,
        "additionalProperties": False,
    }


def feature_xsd(layer: Layer, access: Access, namespace: str) -> str:
    """Return the feature type of ``layer`` as a GML 3.2 application schema (XML Schema)."""
    layer = privacy.served_layer(layer, access)
    ns = quoteattr(namespace)
    rows = [
        f'      <xs:element name="geometry" type="{_GML_TYPES[layer.geometry or "POINT"]}" '
        'minOccurs="0"/>'
    ]
    for column in layer.columns:
        kind = _XSD_TYPES[column.type]
        occurs = "1" if column.required else "0"
        rows.append(
            f"      <xs:element name={quoteattr(column.name)} type={quoteattr(kind)} "
            f'minOccurs="{occurs}" nillable="true"/>'
        )
    body = "\n".join(rows)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:gml="http://www.opengis.net/gml/3.2"
    xmlns:gm={ns} targetNamespace={ns} elementFormDefault="qualified" version="1.0">
  <xs:import namespace="http://www.opengis.net/gml/3.2"/>
  <xs:element name={quoteattr(layer.name)} type={quoteattr("gm:" + layer.name + "Type")}
      substitutionGroup="gml:AbstractFeature"/>
  <xs:complexType name={quoteattr(layer.name + "Type")}>
    <xs:complexContent>
      <xs:extension base="gml:AbstractFeatureType">
        <xs:sequence>
{body}
        </xs:sequence>
      </xs:extension>
    </xs:complexContent>
  </xs:complexType>
</xs:schema>
"""
