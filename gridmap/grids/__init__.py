"""Grids on plain data: street blocks, regionalisation, the automatic partition, codes.

Geometry here is in a metric CRS chosen by the caller (the area's UTM zone). This package never
imports :mod:`gridmap.store`, :mod:`gridmap.service`, the web app or the CLI.
"""
