"""Storage: the :class:`Workspace` contract and its backends. Nothing else opens storage."""

from gridmap.store.gpkg.workspace import (
    AUDIT_TABLE,
    BULK_ROWS,
    DEFAULT_TIMEZONE,
    META_TABLE,
    Bbox,
    GeoPackageWorkspace,
    LayerInfo,
    Transaction,
    Workspace,
    building,
    open_workspace,
)

__all__ = [
    "AUDIT_TABLE",
    "BULK_ROWS",
    "DEFAULT_TIMEZONE",
    "META_TABLE",
    "Bbox",
    "GeoPackageWorkspace",
    "LayerInfo",
    "Transaction",
    "Workspace",
    "building",
    "open_workspace",
]
