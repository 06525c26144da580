"""Check a GeoJSON document's geometries from its JSON, before GDAL reads it.

GDAL turns a garbled geometry (coordinates that are a string, a position of one number, an
unknown type) into a NULL geometry with a warning on the console, and a ring that is not closed
into a shape GEOS refuses. Here every feature's geometry is walked as JSON: its type, the nesting
of its coordinates, each position (two or three finite numbers), each ring (at least 4 points,
closed) and line (at least 2 points). The first problem raises a :class:`GeometryError` (or a
:class:`CoordinateError` for NaN / infinite numbers) naming the 1-based feature row and, where the
feature has a name, the name.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gridmap.errors import CoordinateError, GeometryError, InputError
from gridmap.geo.shapes import Problem, line_problem, position_problem, ring_problem

__all__ = ["GEOJSON_TYPES", "NAME_FIELDS", "check_geojson", "feature_label"]

_DEPTH = {
    "Point": 0,
    "MultiPoint": 1,
    "LineString": 1,
    "MultiLineString": 2,
    "Polygon": 2,
    "MultiPolygon": 3,
}
GEOJSON_TYPES = frozenset({"FeatureCollection", "Feature", "GeometryCollection", *_DEPTH})
#: Property names that name a feature, tried in order (KML's is 'Name').
NAME_FIELDS: tuple[str, ...] = ("Name", "name", "名称", "NAME")
_MAX_NESTING = 32
_EXAMPLE = '{"type": "Point", "coordinates": [118.78, 32.04]}'


def feature_label(name: str, kind: str = "feature") -> str:
    """Return "feature '新街口': " (shortened) to put before a message."""
    return f"{kind} '{name[:40]}{'...' if len(name) > 40 else ''}': "


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    try:
        return float(v)
    except OverflowError:  # an integer of hundreds of digits
        return math.inf if v > 0 else -math.inf


def _positions(items: Any, label: str) -> np.ndarray | Problem:
    """Return a list of positions as an n x 2+ float array, or the problem with it."""
    if not isinstance(items, list):
        return Problem(
            f"{label} should be a list of positions such as [[118.78, 32.04], ...], not {_show(items)}"
        )
    if not items:
        return np.empty((0, 2))
    try:
        arr = np.array(items)
    except (ValueError, OverflowError):
        arr = np.array([], dtype=object)
    if arr.ndim == 2 and arr.shape[1] >= 2 and arr.dtype.kind in "if":
        return arr.astype(float)
    out: list[list[float]] = []
    for j, pos in enumerate(items, start=1):
        point = _position(pos, f"{label}, position {j}")
        if isinstance(point, Problem):
            return point
        out.append(point[:2])
    return np.array(out, dtype=float)


def _position(pos: Any, label: str) -> list[float] | Problem:
    if not isinstance(pos, list):
        return Problem(f"{label} is {_show(pos)}, not a position such as [118.78, 32.04]")
    numbers = [_number(v) for v in pos]
    for v, n in zip(pos, numbers, strict=True):
        if n is None:
            return Problem(f"{label} holds {_show(v)}, not a number")
    if len(numbers) < 2:
        return Problem(
            f"{label} has {len(numbers)} number{'s' if len(numbers) != 1 else ''}: a position "
            "needs at least two numbers (longitude/x, then latitude/y)"
        )
    return [n for n in numbers if n is not None]


def _coordinates_problem(coords: Any, kind: str, prefix: str) -> Problem | None:
    if kind == "Point":
        point = _position(coords, f"{prefix}its point")
        return (
            point if isinstance(point, Problem) else position_problem(point, f"{prefix}its point")
        )
    if kind in ("MultiPoint", "LineString"):
        label = f"{prefix}its {'points' if kind == 'MultiPoint' else 'line'}"
        points = _positions(coords, label)
        if isinstance(points, Problem) or kind == "MultiPoint":
            if isinstance(points, np.ndarray) and len(points):
                finite = np.isfinite(points).all(axis=1)
                return None if finite.all() else position_problem(points[np.argmin(finite)], label)
            return points if isinstance(points, Problem) else None
        return line_problem(points, label)
    if not isinstance(coords, list):
        return Problem(f"{prefix}its coordinates should be a list, not {_show(coords)}")
    if kind == "Polygon":
        for k, ring in enumerate(coords):
            label = f"{prefix}its outline" if k == 0 else f"{prefix}hole {k}"
            points = _positions(ring, label)
            found = points if isinstance(points, Problem) else ring_problem(points, label)
            if found is not None:
                return found
        return None
    sub = {"MultiLineString": "LineString", "MultiPolygon": "Polygon"}[kind]
    for k, part in enumerate(coords, start=1):
        found = _coordinates_problem(part, sub, f"{prefix}part {k}: ")
        if found is not None:
            return found
    return None


def geometry_problem(geom: Any, prefix: str = "", depth: int = 0) -> Problem | None:
    """Return the first problem of a GeoJSON geometry object (parsed JSON), or None."""
    if depth > _MAX_NESTING:
        return Problem(f"{prefix}its geometry collections are nested too deeply")
    if not isinstance(geom, dict):
        return Problem(
            f'{prefix}its "geometry" is not a GeoJSON geometry object (such as {_EXAMPLE}) but '
            f"{_show(geom)}"
        )
    kind = geom.get("type")
    if kind is not None and not isinstance(kind, str):
        return Problem(
            f'{prefix}its geometry\'s "type" is {_show(kind)}, not a name such as "Point"'
        )
    if kind is None:
        return Problem(f'{prefix}its geometry has no "type" (such as {_EXAMPLE})')
    if kind == "GeometryCollection":
        parts = geom.get("geometries")
        if not isinstance(parts, list):
            return Problem(f'{prefix}its GeometryCollection has no list of "geometries"')
        for k, part in enumerate(parts, start=1):
            found = geometry_problem(part, f"{prefix}part {k}: ", depth + 1)
            if found is not None:
                return found
        return None
    if kind not in _DEPTH:
        return Problem(
            f"{prefix}its geometry type {_show(kind)} is not one GeoJSON knows (Point, LineString, "
            "Polygon, MultiPoint, MultiLineString, MultiPolygon, GeometryCollection)"
        )
    if "coordinates" not in geom or geom["coordinates"] is None:
        return Problem(f'{prefix}its {kind} has no "coordinates"')
    return _coordinates_problem(geom["coordinates"], kind, prefix)


def _label(feature: dict[str, Any]) -> str:
    props = feature.get("properties")
    if isinstance(props, dict):
        for key in NAME_FIELDS:
            value = props.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
                return feature_label(str(value).strip())
    return ""


def check_geojson(obj: dict[str, Any], *, source: str) -> None:
    """Raise at the first feature whose geometry (or shape of feature) is not usable GeoJSON.

    Rows are 1-based feature numbers. A null geometry passes (the layer's rules decide whether
    a feature may lack one); an empty ``coordinates`` list passes as an empty geometry.
    """
    if obj["type"] == "FeatureCollection":
        features = obj.get("features")
        if features is None:
            return
        if not isinstance(features, list):
            raise InputError(
                'The "features" of the FeatureCollection must be a list of features, not '
                f"{_show(features)}.",
                source=source,
            )
    elif obj["type"] == "Feature":
        features = [obj]
    else:
        features = [{"geometry": obj}]
    for row, feature in enumerate(features, start=1):
        if not isinstance(feature, dict):
            raise InputError(
                'is not a GeoJSON feature (an object with "type": "Feature", "geometry" and '
                f'"properties") but {_show(feature)}.',
                row=row,
                source=source,
            )
        props = feature.get("properties")
        if props is not None and not isinstance(props, dict):
            raise InputError(
                f'its "properties" should be an object of names and values, not {_show(props)}.',
                row=row,
                source=source,
            )
        geom = feature.get("geometry")
        if geom is None:
            continue
        problem = geometry_problem(geom)
        if problem is not None:
            cls = CoordinateError if problem.coordinates else GeometryError
            raise cls(f"{_label(feature)}{problem.message}.", row=row, source=source)
