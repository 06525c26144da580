"""The GeoPackage backend: one file that QGIS and GDAL open as it is."""
