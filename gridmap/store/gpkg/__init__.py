"""The GeoPackage backend: one file that QGIS and GDAL open as it is."""

from gridmap.store.gpkg.files import building, upgrade
from gridmap.store.gpkg.workspace import DEFAULT_TIMEZONE, GeoPackageWorkspace

__all__ = ["DEFAULT_TIMEZONE", "GeoPackageWorkspace", "building", "upgrade"]
