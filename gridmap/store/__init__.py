"""Storage: the :class:`Workspace` contract and its backends. Nothing else opens storage.

:func:`open_workspace` opens an existing workspace by location (a ``.gpkg`` path today, a
``postgresql://`` URL when the PostGIS backend lands); :func:`building` creates a new one that
appears only when complete.
"""

from __future__ import annotations

import os

from gridmap.errors import WorkspaceError
from gridmap.store.base import SYSTEM_COLUMNS, Bbox, LayerInfo, Transaction, Workspace
from gridmap.store.gpkg import DEFAULT_TIMEZONE, GeoPackageWorkspace, building, upgrade


def open_workspace(location: str | os.PathLike[str], *, read_only: bool = False) -> Workspace:
    """Open an existing workspace: a GeoPackage path (PostGIS URLs later).

    ``read_only`` opens it so that any write fails (a shared demo, a served copy).
    """
    text = str(location)
    if text.startswith(("postgresql://", "postgres://")):
        raise WorkspaceError("PostGIS workspaces are not supported yet: use a .gpkg file.")
    return GeoPackageWorkspace(location, read_only=read_only)


__all__ = [
    "DEFAULT_TIMEZONE",
    "SYSTEM_COLUMNS",
    "Bbox",
    "GeoPackageWorkspace",
    "LayerInfo",
    "Transaction",
    "Workspace",
    "building",
    "open_workspace",
    "upgrade",
]
