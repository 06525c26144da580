"""Point layers gathered into cells of the map's pixel grid: the map's bubbles with counts.

When more points would be drawn than a browser draws quickly (the households of a whole
district), the map asks for these instead: how many features lie in each cell, where their
centroid is, the box they span, and the places within the cell where several features stand
on one coordinate (a building's households: *stacks*, with the building's OSM id).

Cells are squares of :data:`CELL_PX` pixels of the Web Mercator tile grid (EPSG:3857, 256-pixel
tiles, the grid Leaflet draws) at a whole zoom level, counted from the grid's origin: a cell is
the same wherever the map is panned, so replies for overlapping boxes agree and cache well.
Only the cell arithmetic happens in Web Mercator pixels; every coordinate read and answered is
lon/lat in degrees (EPSG:4326), as stored.

Flask-free: :mod:`web.clusters` parses the request and renders :meth:`Clusters.document`. Roles
are those of ``/api/layers/<name>`` (:mod:`gridmap.service.scope`): a layer the role may not
read is refused, a grid worker's register is narrowed to their grids, filters name only columns
the reader is served as stored. A reply holds counts and places, no column values, so it shows
no personal data and is not recorded in the access log; a layer served without its place (visits
to a masked reader) has no clusters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gridmap.access import privacy
from gridmap.access.roles import Access
from gridmap.errors import InputError, PermissionDeniedError
from gridmap.schema import Layer, get_layer
from gridmap.service import feature_ids, filters, scope
from gridmap.store import Bbox, Workspace

#: Side of a cell in screen pixels at the zoom asked for.
CELL_PX = 64
#: The zoom levels a client may ask for (Leaflet's range; 24 is a few centimetres a pixel).
MIN_ZOOM, MAX_ZOOM = 0, 24
#: The most stacks a cell lists (the largest first); ``places`` still counts them all.
MAX_STACKS = 50
#: The column that names what a stack is, where a layer has one: a household's building.
STACK_KEYS: dict[str, str] = {"households": "building_osm_id"}
#: Decimal places of the degrees answered (the storage grid is 1e-7 degrees).
DIGITS = 7
_TILE_PX = 256
_MAX_LAT = 85.05112878  # Web Mercator's edge (degrees)


@dataclass(frozen=True)
class Stack:
    """Several features on one coordinate: ``lon``/``lat`` in degrees (EPSG:4326), ``count``
    features, ``key`` the value of the layer's stack column they share (None: none or mixed)."""

    lon: float
    lat: float
    count: int
    key: Any = None


@dataclass(frozen=True)
class Cell:
    """One cell of the pixel grid and the features in it.

    ``col``/``row`` number the cell in the Web Mercator pixel grid of the zoom (x to the east,
    y to the south); ``lon``/``lat`` is the centroid of its features and ``bbox`` (minlon,
    minlat, maxlon, maxlat) the box they span, in degrees (EPSG:4326); ``places`` counts their
    distinct coordinates and ``stacks`` lists the places of two features or more, the largest
    first (at most :data:`MAX_STACKS`).
    """

    col: int
    row: int
    count: int
    lon: float
    lat: float
    bbox: tuple[float, float, float, float]
    places: int
    stacks: tuple[Stack, ...]


@dataclass(frozen=True)
class Clusters:
    """The cells of one layer meeting a box at one zoom level, as the map asks for them."""

    layer: str
    zoom: int
    bbox: Bbox | None
    matched: int
    cells: tuple[Cell, ...]
    stack_key: str | None = None
    cell_px: int = CELL_PX

    def document(self) -> dict[str, Any]:
        """Return the JSON reply of ``/api/layers/<name>/clusters`` (degrees, EPSG:4326)."""
        key = self.stack_key

        def stack(s: Stack) -> dict[str, Any]:
            out: dict[str, Any] = {"lon": s.lon, "lat": s.lat, "count": s.count}
            if key:
                out[key] = s.key
            return out

        return {
            "layer": self.layer,
            "zoom": self.zoom,
            "cell_px": self.cell_px,
            "bbox": list(self.bbox) if self.bbox else None,
            "numberMatched": self.matched,
            "stack_key": key,
            "clusters": [
                {
                    "count": c.count,
                    "lon": c.lon,
                    "lat": c.lat,
                    "bbox": list(c.bbox),
                    "places": c.places,
                    "stacks": [stack(s) for s in c.stacks],
                }
                for c in self.cells
            ],
        }


def check_zoom(zoom: int) -> int:
    """Return ``zoom`` if it is a whole zoom level from :data:`MIN_ZOOM` to :data:`MAX_ZOOM`."""
    if isinstance(zoom, bool) or not isinstance(zoom, int | np.integer):
        raise InputError(
            f"zoom must be a whole number from {MIN_ZOOM} to {MAX_ZOOM}. "
            f"(zoom 应为 {MIN_ZOOM} 到 {MAX_ZOOM} 的整数。)"
        )
    if not MIN_ZOOM <= zoom <= MAX_ZOOM:
        raise InputError(
            f"zoom must be a whole number from {MIN_ZOOM} to {MAX_ZOOM}, not {zoom}. "
            f"(zoom 应为 {MIN_ZOOM} 到 {MAX_ZOOM} 的整数。)"
        )
    return int(zoom)


def check_bbox(bbox: Bbox | None) -> Bbox | None:
    """Return ``bbox`` (minlon, minlat, maxlon, maxlat in degrees) if it is a real box on Earth.

    Raises :class:`~gridmap.errors.InputError` for numbers that are not finite, outside
    -180..180 / -90..90, or a minimum above its maximum.
    """
    if bbox is None:
        return None
    minx, miny, maxx, maxy = bbox
    if not all(math.isfinite(v) for v in bbox):
        raise InputError(
            "bbox must be four finite numbers: minlon,minlat,maxlon,maxlat. (bbox 应为四个有限的数。)"
        )
    if not (
        -180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90
    ):
        raise InputError(
            "bbox must lie within -180..180 (longitude) and -90..90 (latitude). "
            "(bbox 的经度应在 -180 到 180、纬度在 -90 到 90 之间。)"
        )
    if minx > maxx or miny > maxy:
        raise InputError(
            "bbox must be minlon,minlat,maxlon,maxlat: a minimum is above its maximum. "
            "(bbox 的最小值大于最大值。)"
        )
    return bbox


def pixel_xy(lon: np.ndarray, lat: np.ndarray, zoom: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the Web Mercator pixel coordinates of points at ``zoom``.

    Parameters
    ----------
    lon, lat
        Degrees (EPSG:4326); latitudes beyond ±85.0511° (Web Mercator's edge) are held there.
    zoom
        Zoom level: the world is ``256 * 2**zoom`` pixels wide.

    Returns
    -------
    x, y
        Pixels from the grid's north-west corner (x to the east, y to the south), as floats.
    """
    size = _TILE_PX * 2.0**zoom
    lat_r = np.radians(np.clip(np.asarray(lat, dtype=float), -_MAX_LAT, _MAX_LAT))
    x = (np.asarray(lon, dtype=float) + 180.0) / 360.0 * size
    y = (1.0 - np.log(np.tan(lat_r) + 1.0 / np.cos(lat_r)) / math.pi) / 2.0 * size
    return x, y


def cluster_points(
    lon: np.ndarray,
    lat: np.ndarray,
    *,
    zoom: int,
    keys: Sequence[Any] | np.ndarray | None = None,
    cell_px: int = CELL_PX,
    max_stacks: int = MAX_STACKS,
) -> tuple[Cell, ...]:
    """Gather points into the cells of the pixel grid at ``zoom``.

    Parameters
    ----------
    lon, lat
        Coordinates of the points in degrees (EPSG:4326), on the 1e-7° storage grid (points
        that agree to 7 decimals are one place).
    zoom
        Whole zoom level (the world is ``256 * 2**zoom`` pixels wide).
    keys
        Optional value per point naming what it stands on (a household's building): a stack
        whose points share one value reports it.
    cell_px
        Side of a cell in pixels.
    max_stacks
        The most stacks listed per cell (the largest first).

    Returns
    -------
    tuple of Cell
        The cells holding points, north to south, then west to east.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    n = lon.size
    if n == 0:
        return ()
    x, y = pixel_xy(lon, lat, zoom)
    col = np.floor(x / cell_px).astype(np.int64)
    row = np.floor(y / cell_px).astype(np.int64)
    # one whole number per cell (rows, then columns: the order of the answer) and per place
    cell_ids, cell_of, counts = np.unique(
        (row << 32) | col, return_inverse=True, return_counts=True
    )
    qx = np.round(lon * 10**DIGITS).astype(np.int64) + 2**31
    qy = np.round(lat * 10**DIGITS).astype(np.int64) + 2**31
    _, place_of, place_counts = np.unique(
        (qx.astype(np.uint64) << np.uint64(32)) | qy.astype(np.uint64),
        return_inverse=True,
        return_counts=True,
    )
    first = np.empty(place_counts.size, dtype=np.int64)
    first[place_of[::-1]] = np.arange(n - 1, -1, -1)  # the first point of each place
    place_cell = cell_of[first]
    places = np.bincount(place_cell, minlength=cell_ids.size)
    shared = np.ones(place_counts.size, dtype=bool)  # do a place's points share one key?
    if keys is not None:
        codes, _ = pd.factorize(np.asarray(keys, dtype=object), use_na_sentinel=True)
        low = np.full(place_counts.size, np.iinfo(np.int64).max)
        high = np.full(place_counts.size, np.iinfo(np.int64).min)
        np.minimum.at(low, place_of, codes)
        np.maximum.at(high, place_of, codes)
        shared = (low == high) & (low >= 0)
    key_values = np.asarray(keys, dtype=object) if keys is not None else None
    minx, miny = np.full(cell_ids.size, np.inf), np.full(cell_ids.size, np.inf)
    maxx, maxy = np.full(cell_ids.size, -np.inf), np.full(cell_ids.size, -np.inf)
    np.minimum.at(minx, cell_of, lon)
    np.minimum.at(miny, cell_of, lat)
    np.maximum.at(maxx, cell_of, lon)
    np.maximum.at(maxy, cell_of, lat)
    mean_x = np.bincount(cell_of, weights=lon) / counts
    mean_y = np.bincount(cell_of, weights=lat) / counts
    stacks: list[list[Stack]] = [[] for _ in range(cell_ids.size)]
    stacked = np.nonzero(place_counts > 1)[0]
    # within a cell: the largest first, then north to south, then west to east
    for p in stacked[
        np.lexsort((lon[first[stacked]], -lat[first[stacked]], -place_counts[stacked]))
    ]:
        bucket = stacks[place_cell[p]]
        if len(bucket) < max_stacks:
            i = first[p]
            key = _plain(key_values[i]) if key_values is not None and shared[p] else None
            bucket.append(Stack(_deg(lon[i]), _deg(lat[i]), int(place_counts[p]), key))
    return tuple(
        Cell(
            col=int(cell_ids[c] & 0xFFFFFFFF),
            row=int(cell_ids[c] >> 32),
            count=int(counts[c]),
            lon=_deg(mean_x[c]),
            lat=_deg(mean_y[c]),
            bbox=(_deg(minx[c]), _deg(miny[c]), _deg(maxx[c]), _deg(maxy[c])),
            places=int(places[c]),
            stacks=tuple(stacks[c]),
        )
        for c in range(cell_ids.size)
    )


def _deg(value: float) -> float:
    """Degrees rounded to the storage grid (1e-7°)."""
    return round(float(value), DIGITS)


def _plain(value: Any) -> Any:
    """A value as JSON takes it (numpy numbers become Python numbers; missing becomes None)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def require_points(layer: str, access: Access) -> Layer:
    """Return point layer ``layer`` as served to ``access``, or refuse it.

    An unknown layer is 404, one the role may not read 401/403 (:func:`scope.require`), one
    served without its place (visits to masked roles) 403, one without point geometry 400.
    """
    schema = get_layer(layer)
    scope.require(access, layer)
    served = privacy.served_layer(schema, access)
    if schema.geometry != "POINT":
        kind = f"is a {schema.geometry.lower()} layer" if schema.geometry else "has no geometry"
        raise InputError(
            f"Clusters are made of point layers; '{layer}' {kind}. (只有点图层可以聚合。)"
        )
    if served.geometry is None:
        raise PermissionDeniedError(
            f"Your role ({access.role}) gets '{layer}' without their place on the map, so they "
            "are not drawn or clustered: list them by grid in the table instead."
        )
    return served


def layer_clusters(
    ws: Workspace,
    layer: str,
    *,
    access: Access,
    zoom: int,
    bbox: Bbox | None = None,
    where: Sequence[str] = (),
    grids: str | None = None,
    ids: str | None = None,
) -> Clusters:
    """Return the cells of point layer ``layer`` meeting ``bbox`` at ``zoom``, as ``access`` may see.

    Parameters
    ----------
    ws
        The workspace.
    layer
        A point layer's name (an unknown one: 404; one the role may not read: 401/403).
    access
        Who asks: a grid worker's register is narrowed to their grids; a layer served without
        its place (masked visits) is refused (403).
    zoom
        Whole zoom level of the map, :data:`MIN_ZOOM` to :data:`MAX_ZOOM`.
    bbox
        minlon, minlat, maxlon, maxlat in degrees (EPSG:4326); None: the whole layer.
    where, grids, ids
        As ``/api/layers/<name>`` takes them (:func:`gridmap.service.filters.layer_filter`).

    Returns
    -------
    Clusters
        The cells, how many features matched in all, and the stack column if the reader is
        served it (households: ``building_osm_id``).
    """
    served = require_points(layer, access)
    zoom = check_zoom(zoom)
    bbox = check_bbox(bbox)
    asked = feature_ids.stored_ids(ws, layer, access, ids)  # a masked reader's tokens
    flt = filters.layer_filter(ws, layer, access, where=where, grids=grids, ids=asked)
    scoped = scope.scoped_where(ws, access, layer, flt.where)
    key = STACK_KEYS.get(layer)
    if key not in served.column_names:
        key = None
    keep = flt.keep()
    box = bbox if bbox is not None or keep is None else tuple(flt.area.bounds)
    frame = ws.read(layer, bbox=box, where=scoped, columns=(key,) if key else (), system=False)
    if keep is not None:
        frame = frame[keep(frame).to_numpy(dtype=bool)]
    points = frame.geometry[~(frame.geometry.isna() | frame.geometry.is_empty)]
    cells = cluster_points(
        points.x.to_numpy(),
        points.y.to_numpy(),
        zoom=zoom,
        keys=frame.loc[points.index, key].to_numpy() if key else None,
    )
    return Clusters(layer, zoom, bbox, len(points), cells, stack_key=key)
