"""Grids on plain data: street blocks, regionalisation, the automatic partition, codes.

:class:`GridPartition` is the partition in the one solve shape of :mod:`gridmap.solve`.
Geometry here is in a metric CRS chosen by the caller (the area's UTM zone). This package never
imports :mod:`gridmap.store`, :mod:`gridmap.service`, the web app or the CLI.
"""

from gridmap.grids.problem import GridPartition, GridPartitionResult, GridSolution

__all__ = ["GridPartition", "GridPartitionResult", "GridSolution"]
