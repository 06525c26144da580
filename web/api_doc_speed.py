"""OpenAPI description of the map's clusters route (:mod:`web.clusters`).

``/api/layers/<name>/clusters``: a point layer gathered into cells of the map's pixel grid (the
bubbles the map draws when more points would be drawn than it draws quickly). Coordinates and
boxes are in degrees (EPSG:4326), minlon, minlat, maxlon, maxlat.
"""

from __future__ import annotations

from typing import Any

from gridmap.schema import LAYER_ORDER, get_layer
from gridmap.service.clusters import CELL_PX, MAX_STACKS, MAX_ZOOM, MIN_ZOOM
from web.api_doc import FILTERS
from web.openapi import add_schemas, errors, json_reply, ref

_BOX = {
    "type": "array",
    "description": "minlon, minlat, maxlon, maxlat in degrees (EPSG:4326)",
    "items": {"type": "number"},
    "minItems": 4,
    "maxItems": 4,
}

add_schemas(
    {
        "ClusterStack": {
            "type": "object",
            "title": "Several features on one coordinate (a building's households)",
            "required": ["lon", "lat", "count"],
            "properties": {
                "lon": {"type": "number", "description": "Degrees (EPSG:4326)"},
                "lat": {"type": "number", "description": "Degrees (EPSG:4326)"},
                "count": {"type": "integer", "minimum": 2},
                "building_osm_id": {
                    "type": ["integer", "null"],
                    "description": "Households: the building they stand on (null: mixed)",
                },
            },
        },
        "Cluster": {
            "type": "object",
            "title": "One cell of the pixel grid and the features in it",
            "required": ["count", "lon", "lat", "bbox", "places", "stacks"],
            "properties": {
                "count": {"type": "integer", "minimum": 1},
                "lon": {"type": "number", "description": "The features' centroid (degrees)"},
                "lat": {"type": "number", "description": "The features' centroid (degrees)"},
                "bbox": {**_BOX, "description": "The box the cell's features span (degrees)"},
                "places": {"type": "integer", "minimum": 1, "description": "Distinct coordinates"},
                "stacks": {
                    "type": "array",
                    "items": ref("ClusterStack"),
                    "maxItems": MAX_STACKS,
                    "description": "The places of two features or more, the largest first",
                },
            },
        },
        "Clusters": {
            "type": "object",
            "title": "A point layer gathered into cells, as the caller may see it",
            "required": [
                "layer",
                "zoom",
                "cell_px",
                "bbox",
                "numberMatched",
                "stack_key",
                "clusters",
            ],
            "properties": {
                "layer": {"type": "string"},
                "zoom": {"type": "integer", "minimum": MIN_ZOOM, "maximum": MAX_ZOOM},
                "cell_px": {"type": "integer", "description": "Side of a cell in screen pixels"},
                "bbox": {"oneOf": [_BOX, {"type": "null"}]},
                "numberMatched": {"type": "integer", "minimum": 0},
                "stack_key": {
                    "type": ["string", "null"],
                    "description": "The column a stack names (households: building_osm_id)",
                },
                "clusters": {"type": "array", "items": ref("Cluster")},
            },
        },
    }
)

#: Layers with point geometry: the only ones clusters are made of.
POINT_LAYERS = [n for n in LAYER_ORDER if get_layer(n).geometry == "POINT"]

CLUSTERS_DOC: dict[str, Any] = {
    "summary": "A point layer gathered into cells of the map's pixel grid (bubbles with counts)",
    "description": f"Cells are {CELL_PX}-pixel squares of the Web Mercator tile grid (256-pixel "
    "tiles) at the zoom level given, the same wherever the map is panned. Each gives its count, "
    "the centroid and box of its features, and the places where several stand on one "
    "coordinate (households: per building). Roles as /api/layers/{name}: a grid worker gets "
    "the register of their own grids, a layer the role may not read is 401/403, and a layer "
    "served without its place (visits to masked roles) is 403. Holds no column values.",
    "tags": ["layers"],
    "parameters": [
        {
            "name": "name",
            "in": "path",
            "required": True,
            "description": "A point layer's name",
            "schema": {"type": "string", "enum": POINT_LAYERS},
        },
        {
            "name": "zoom",
            "in": "query",
            "required": True,
            "description": "The map's zoom level, a whole number",
            "schema": {"type": "integer", "minimum": MIN_ZOOM, "maximum": MAX_ZOOM},
            "example": 15,
        },
        {
            "name": "bbox",
            "in": "query",
            "required": False,
            "description": "minlon,minlat,maxlon,maxlat in degrees (EPSG:4326): only the "
            "features in it (default: the whole layer)",
            "schema": {"type": "string"},
            "example": "118.78,32.04,118.79,32.05",
        },
        *[p for p in FILTERS if p["name"] != "sort"],
    ],
    "responses": {
        "200": json_reply(
            "The cells", "Clusters", headers={"ETag": {"schema": {"type": "string"}}}
        ),
        "304": {"description": "Not modified since the ETag sent as If-None-Match"},
        **errors(400, 403, 404, 503),
    },
}
