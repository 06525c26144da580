"""Build a workspace from an OpenStreetMap extract: ``gridmap init``.

The workspace is written to a temporary file and moved into place only when every layer is in,
so an error or an interrupted build leaves nothing behind (or the old workspace untouched).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from gridmap import store
from gridmap.access import ids
from gridmap.geo.crs import utm_crs
from gridmap.io.osm import Bbox, OsmExtract, read_osm

Progress = Callable[[str], None]

OSM_ATTRIBUTION = "© OpenStreetMap contributors"
OSM_LICENCE = "ODbL 1.0 (https://www.openstreetmap.org/copyright)"


def metric_crs(extract: OsmExtract):
    """Return the UTM CRS of the extract's area (all metric work happens in it)."""
    minx, miny, maxx, maxy = extract.bbox
    return utm_crs((minx + maxx) / 2, (miny + maxy) / 2)


def sjoin_code(
    points: gpd.GeoSeries, polygons: gpd.GeoDataFrame, column: str = "code"
) -> np.ndarray:
    """Return the ``column`` of the polygon each point falls in (None outside all).

    A point on a border (a camera on the street two grids meet at) goes to the first polygon
    that holds it, as :func:`gridmap.service.relocate.codes_at` keeps it later.
    """
    tree = shapely.STRtree(polygons.geometry.values)
    pi, gi = tree.query(points.values, predicate="intersects")
    out = np.full(len(points), None, dtype=object)
    out[pi[::-1]] = polygons[column].to_numpy()[gi[::-1]]
    return out


def osm_meta(osm_path: Path, extract: OsmExtract) -> dict[str, object]:
    """Return the workspace settings that record where the OSM layers came from."""
    return {
        "osm_file": osm_path.name,
        "area_bbox": list(extract.bbox),
        "attribution": OSM_ATTRIBUTION,
        "licence": OSM_LICENCE,
        "metric_crs": metric_crs(extract).to_string(),
    }


def init_workspace(
    path: str | os.PathLike[str],
    osm_path: str | os.PathLike[str],
    *,
    bbox: Bbox | None = None,
    title: str | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Create a workspace at ``path`` with the streets, buildings and facilities of an extract.

    Returns the path of the new workspace. The other layers start empty.
    """
    say = progress or (lambda _m: None)
    src = Path(osm_path)
    extract = read_osm(src, bbox=bbox, progress=say)
    say("writing workspace")
    with (
        store.building(path, overwrite=overwrite) as ws,
        ws.transaction(action=f"init from {src.name}") as tx,
    ):
        for layer in ("streets", "street_nodes", "buildings", "facilities", "cameras"):
            tx.replace(layer, getattr(extract, layer))
        for key, value in osm_meta(src, extract).items():
            tx.set_meta(key, value)
        tx.set_meta("title", title or src.name.split(".")[0])
        tx.set_meta("synthetic", False)
        ws.secret(ids.SECRET)  # the key of masked readers' opaque feature ids
    return Path(path)
