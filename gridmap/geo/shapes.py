"""Say what is wrong with a malformed geometry, in a planner's words.

GEOS refuses to build some shapes that files do hold: rings that are not closed, rings of two
points, lines of one point. GDAL passes them on as WKB, and shapely then fails with a bare
``GEOSException``. :func:`describe_wkb` reads such WKB itself and says which ring or part is
wrong and where; :func:`nonfinite_mask` and :func:`short_ring_mask` find, among geometries that
GEOS did build, those with NaN or infinite coordinates and those with rings of fewer than four
points. The ``ring_problem`` / ``line_problem`` / ``position_problem`` helpers word the problems
the same way for every format (GeoJSON is checked from its JSON, before GDAL sees it).

Coordinates are reported as they are in the file (degrees or metres; no CRS is assumed) with six
decimals.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely

__all__ = [
    "Problem",
    "describe_geometry",
    "describe_wkb",
    "explain_invalid",
    "line_problem",
    "nonfinite_mask",
    "position_problem",
    "ring_problem",
    "short_ring_mask",
]

_TYPE_NAMES = {
    1: "Point",
    2: "LineString",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
}
_MAX_DEPTH = 32  # nested collections deeper than this are not geometry but an attack


@dataclass(frozen=True)
class Problem:
    """What is wrong with one geometry; ``coordinates`` when a number is the problem (NaN, inf)."""

    message: str
    coordinates: bool = False


def _xy(x: float, y: float) -> str:
    def num(v: float) -> str:
        return (
            "NaN"
            if math.isnan(v)
            else ("-inf" if v < 0 else "inf")
            if math.isinf(v)
            else f"{v:.6f}"
        )

    return f"({num(x)}, {num(y)})"


#: GEOS's reasons for an invalid geometry (:func:`shapely.is_valid_reason`, up to the "[x y]"
#: of where), in a planner's words: (English, Chinese).
INVALID_REASONS: dict[str, tuple[str, str]] = {
    "Self-intersection": ("the outline crosses itself (self-intersection)", "边线自相交"),
    "Ring Self-intersection": ("a ring touches itself (ring self-intersection)", "边线自身相接"),
    "Too few points": ("it has too few points", "顶点太少"),
    "Hole lies outside shell": ("a hole lies outside the polygon", "内洞位于多边形之外"),
    "Nested holes": ("a hole lies inside another hole", "内洞套在另一个内洞中"),
    "Interior is disconnected": ("its holes cut the polygon in pieces", "内洞把多边形分成了几块"),
    "Nested shells": ("one part lies inside another part", "一个部分位于另一个部分之内"),
    "Duplicate Rings": ("it repeats a ring", "有重复的环"),
    "Invalid Coordinate": ("it has an invalid (empty or infinite) coordinate", "有无效的坐标"),
}


def explain_invalid(reason: str) -> tuple[str, str]:
    """Return GEOS's ``reason`` for an invalid geometry in words, ``(English, Chinese)``.

    ``"Self-intersection[118.785 32.049]"`` becomes ``("the outline crosses itself
    (self-intersection) at 118.785000, 32.049000", "边线自相交，位于 118.785000, 32.049000")``
    (the place in the geometry's own coordinates, six decimals). A reason of GEOS not known
    here keeps its words in English; the Chinese then says the geometry is invalid.
    """
    m = re.fullmatch(r"(.*?)\[\s*([-+0-9.eE]+)\s+([-+0-9.eE]+)(?:\s+[-+0-9.eEna]+)?\s*\]", reason)
    what = (m.group(1) if m else reason).strip()
    en, zh = next(
        (words for key, words in INVALID_REASONS.items() if what.startswith(key)),
        (what, "几何图形无效"),
    )
    if m is None:
        return en, zh
    x, y = float(m.group(2)), float(m.group(3))
    return f"{en} at {x:.6f}, {y:.6f}", f"{zh}，位于 {x:.6f}, {y:.6f}"


def position_problem(point: Sequence[float] | np.ndarray, label: str) -> Problem | None:
    """Return the problem of one position (x, y[, z]) if x or y is NaN or infinite, else None."""
    x, y = float(point[0]), float(point[1])
    if math.isfinite(x) and math.isfinite(y):
        return None
    return Problem(
        f"{label} has the coordinate {_xy(x, y)}, which is not a finite number: every point needs "
        "a longitude/x and a latitude/y that are numbers",
        coordinates=True,
    )


def _points_problem(points: np.ndarray, label: str) -> Problem | None:
    if points.size == 0:
        return None
    finite = np.isfinite(points[:, :2]).all(axis=1)
    if not finite.all():
        return position_problem(points[int(np.argmin(finite))], label)
    return None


def ring_problem(points: np.ndarray, label: str) -> Problem | None:
    """Return what is wrong with a polygon ring (n x 2+ array), or None if it is well formed.

    ``label`` names the ring for the planner: "its outline", "hole 2", "part 3: its outline".
    """
    bad = _points_problem(points, label)
    if bad is not None or len(points) == 0:
        return bad
    n = len(points)
    closed = bool(np.array_equal(points[0, :2], points[-1, :2]))
    if n < 4:
        also = "" if closed or n == 1 else " and is not closed"
        return Problem(
            f"{label} has only {n} point{'s' if n > 1 else ''}{also}: a ring needs at least 4 "
            "(three corners, then the first point again to close it). Redraw the outline"
        )
    if not closed:
        return Problem(
            f"{label} is not closed: it starts at {_xy(*points[0, :2])} but ends at "
            f"{_xy(*points[-1, :2])}. Its last point must repeat its first; close the ring and "
            "import again"
        )
    return None


def line_problem(points: np.ndarray, label: str) -> Problem | None:
    """Return what is wrong with a line (n x 2+ array), or None if it is well formed."""
    bad = _points_problem(points, label)
    if bad is not None:
        return bad
    if len(points) == 1:
        return Problem(f"{label} has only 1 point: a line needs at least 2")
    return None


# --- WKB ----------------------------------------------------------------------------------------


class _Damaged(Exception):
    """The WKB cannot be read: cut short, or of an unknown type."""


class _WkbReader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise _Damaged("it is cut short")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def header(self) -> tuple[str, int, int]:
        order = self.take(1)[0]
        if order not in (0, 1):
            raise _Damaged(f"its byte order mark is {order}")
        end = "<" if order == 1 else ">"
        (code,) = struct.unpack(end + "I", self.take(4))
        dims = 2 + bool(code & 0x80000000) + bool(code & 0x40000000)  # EWKB Z and M flags
        if code & 0x20000000:  # EWKB with an SRID
            self.take(4)
        base = code & 0x0FFFFFFF
        if base >= 1000:  # ISO WKB: 1000 Z, 2000 M, 3000 ZM
            dims += {1: 1, 2: 1, 3: 2}.get(base // 1000, 0)
            base %= 1000
        if base not in _TYPE_NAMES:
            raise _Damaged(f"it has the unknown geometry type {code}")
        return end, base, dims

    def count(self, end: str) -> int:
        (n,) = struct.unpack(end + "I", self.take(4))
        return int(n)

    def points(self, end: str, dims: int) -> np.ndarray:
        n = self.count(end)
        raw = self.take(8 * dims * n)
        return np.frombuffer(raw, dtype=end + "f8").reshape(n, dims)


def _walk(r: _WkbReader, part: str, depth: int) -> Problem | None:
    """Return the first problem of the geometry at the reader's position; ``part`` is "2.1"."""
    if depth > _MAX_DEPTH:
        raise _Damaged("its parts are nested too deeply")
    end, kind, dims = r.header()
    prefix = f"part {part}: " if part else ""
    if kind == 1:
        point = np.frombuffer(r.take(8 * dims), dtype=end + "f8")
        if np.isnan(point[:2]).all():  # how WKB writes POINT EMPTY
            return None
        return position_problem(point, f"{prefix}its point")
    if kind == 2:
        return line_problem(r.points(end, dims), f"{prefix}its line")
    first: Problem | None = None
    if kind == 3:
        for k in range(r.count(end)):
            ring = r.points(end, dims)  # read every ring: the reader must reach the next part
            label = f"{prefix}its outline" if k == 0 else f"{prefix}hole {k}"
            first = first or ring_problem(ring, label)
        return first
    for i in range(r.count(end)):
        found = _walk(r, f"{part}.{i + 1}" if part else str(i + 1), depth + 1)
        first = first or found
    return first


def describe_wkb(data: bytes | None) -> Problem | None:
    """Return the first problem of a WKB geometry (ISO or extended WKB), or None if none is seen.

    Rings must have at least 4 points and be closed, lines at least 2 points, and coordinates
    must be finite. A geometry that cannot be read at all is described as damaged.
    """
    if data is None:
        return None
    try:
        return _walk(_WkbReader(bytes(data)), "", 0)
    except (_Damaged, struct.error, ValueError) as exc:
        return Problem(f"its geometry data is damaged ({exc}) and cannot be read")


def describe_geometry(geom: shapely.Geometry) -> Problem | None:
    """Return the first problem of a built geometry (NaN coordinates, short rings), or None."""
    return describe_wkb(shapely.to_wkb(geom, output_dimension=2, flavor="iso"))


# --- vectorised checks ----------------------------------------------------------------------------


def nonfinite_mask(geoms: np.ndarray) -> np.ndarray:
    """Return, per geometry, whether any x or y coordinate is NaN or infinite (None: False).

    ``POINT EMPTY`` (which WKB writes as NaN, NaN) is empty, not NaN: it is not flagged here.
    """
    geoms = np.asarray(geoms, dtype=object)
    with np.errstate(invalid="ignore"):
        coords, index = shapely.get_coordinates(geoms, return_index=True)
    mask = np.zeros(len(geoms), dtype=bool)
    bad = ~np.isfinite(coords).all(axis=1)
    mask[index[bad]] = True
    return mask


def short_ring_mask(geoms: np.ndarray) -> np.ndarray:
    """Return, per geometry, whether a polygon ring in it has fewer than 4 points."""
    geoms = np.asarray(geoms, dtype=object)
    mask = np.zeros(len(geoms), dtype=bool)
    owner = np.arange(len(geoms))
    parts = geoms
    for _ in range(_MAX_DEPTH):  # unpack multi-part geometries and collections, level by level
        tid = shapely.get_type_id(parts)
        multi = tid >= 4
        if not multi.any():
            break
        sub, idx = shapely.get_parts(parts[multi], return_index=True)
        parts = np.concatenate([parts[~multi], sub])
        owner = np.concatenate([owner[~multi], owner[multi][idx]])
    polys = shapely.get_type_id(parts) == 3
    polygons, owners = parts[polys], owner[polys]
    # a polygon without holes has one ring: its coordinate count is the ring's (no ring objects)
    simple = shapely.get_num_interior_rings(polygons) == 0
    n = shapely.get_num_coordinates(polygons)
    mask[owners[simple & (n > 0) & (n < 4)]] = True
    if not simple.all():
        rings, idx = shapely.get_rings(polygons[~simple], return_index=True)
        k = shapely.get_num_coordinates(rings)
        mask[owners[~simple][idx[(k > 0) & (k < 4)]]] = True
    return mask
