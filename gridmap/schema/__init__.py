"""The layer schema and the one set of rules that imports and edits are checked against.

:mod:`gridmap.schema.layers` declares every layer, column, unit and key;
:mod:`gridmap.schema.validate` checks frames against it (imports and edits alike);
:mod:`gridmap.schema.doc` renders ``docs/layers.md`` from it.
"""

from gridmap.schema.layers import (
    LAYER_ORDER,
    LAYERS,
    SOURCE,
    STORAGE_CRS,
    STORAGE_EPSG,
    STORAGE_PRECISION_DEG,
    VISIT_CATEGORIES,
    get_layer,
    referring,
    shapefile_names,
)
from gridmap.schema.model import Column, ColumnType, GeometryType, Layer
from gridmap.schema.titles import CHOICE_TITLES, choice_titles

__all__ = [
    "CHOICE_TITLES",
    "LAYERS",
    "LAYER_ORDER",
    "SOURCE",
    "STORAGE_CRS",
    "STORAGE_EPSG",
    "STORAGE_PRECISION_DEG",
    "VISIT_CATEGORIES",
    "Column",
    "ColumnType",
    "GeometryType",
    "Layer",
    "choice_titles",
    "get_layer",
    "referring",
    "shapefile_names",
]
