"""The workspace's metric CRS: where areas, lengths and reading order are measured.

Storage is EPSG:4326; metric work happens in the workspace's setting ``metric_crs`` (written
by ``gridmap init`` and ``gridmap demo``), else in the UTM zone of its centre. Every service
that measures takes it from here.
"""

from __future__ import annotations

from typing import Any

from gridmap.geo.crs import utm_crs
from gridmap.store import Workspace


def metric_crs(ws: Workspace) -> Any:
    """Return the workspace's metric CRS (its setting, else the UTM zone of its centre).

    Parameters
    ----------
    ws
        The workspace.

    Returns
    -------
    Any
        A CRS pyproj understands (``"EPSG:32650"`` …); units metres.
    """
    text = ws.get_meta("metric_crs")
    if text:
        return text
    minx, miny, maxx, maxy = ws.bounds()
    return utm_crs((minx + maxx) / 2, (miny + maxy) / 2)
