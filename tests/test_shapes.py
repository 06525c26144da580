"""gridmap.geo.shapes on tiny geometries one can check by hand (unit squares, 3-point rings)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import shapely

from gridmap.geo.shapes import describe_wkb, nonfinite_mask, short_ring_mask

SQUARE = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0)]


def wkb_polygon(*rings: list[tuple[float, float]], big_endian: bool = False) -> bytes:
    """Return WKB of a polygon with these rings exactly (GEOS would refuse some)."""
    e = ">" if big_endian else "<"
    out = struct.pack(f"{e}BII", 0 if big_endian else 1, 3, len(rings))
    for ring in rings:
        out += struct.pack(f"{e}I", len(ring)) + b"".join(struct.pack(f"{e}dd", *p) for p in ring)
    return out


def test_short_rings_found_in_every_kind_of_polygon() -> None:
    geoms = np.array(
        [
            shapely.from_wkt("POLYGON ((0 0, 1 0, 0 0))"),  # outline of 3 points
            shapely.from_wkt("POLYGON ((0 0, 9 0, 9 9, 0 9, 0 0), (1 1, 2 1, 1 1))"),  # hole
            shapely.from_wkt("MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 5, 5 5)))"),
            shapely.from_wkt("GEOMETRYCOLLECTION (POINT (1 1), POLYGON ((0 0, 1 0, 0 0)))"),
            shapely.box(0, 0, 1, 1),
            shapely.from_wkt("POLYGON EMPTY"),
            None,
            shapely.Point(1, 2),
        ],
        dtype=object,
    )
    assert short_ring_mask(geoms).tolist() == [True, True, True, True, False, False, False, False]


def test_nonfinite_coordinates() -> None:
    geoms = np.array(
        [
            shapely.Point(np.nan, 1.0),
            shapely.LineString([(0, 0), (np.inf, 1)]),
            shapely.from_wkt("POINT EMPTY"),
            shapely.Point(118.78, 32.04),
            None,
        ],
        dtype=object,
    )
    assert nonfinite_mask(geoms).tolist() == [True, True, False, False, False]


@pytest.mark.parametrize(
    ("rings", "phrase"),
    [
        ([SQUARE], None),
        ([SQUARE[:-1]], "its outline is not closed: it starts at (0.000000, 0.000000) but ends"),
        ([SQUARE[:2]], "its outline has only 2 points and is not closed"),
        ([[(0.0, 0.0), (1.0, 0.0), (0.0, 0.0)]], "its outline has only 3 points: a ring needs"),
        ([SQUARE, [(0.2, 0.2), (0.4, 0.2)]], "hole 1 has only 2 points"),
        ([[(0.0, 0.0), (np.nan, 0.0), (1.0, 1.0), (0.0, 0.0)]], "(NaN, 0.000000)"),
    ],
)
def test_describe_wkb_polygons(rings: list, phrase: str | None) -> None:
    for big_endian in (False, True):
        problem = describe_wkb(wkb_polygon(*rings, big_endian=big_endian))
        if phrase is None:
            assert problem is None
        else:
            assert problem is not None and phrase in problem.message, problem


def test_describe_wkb_parts_and_dimensions() -> None:
    line_z = struct.pack("<BII", 1, 1002, 1) + struct.pack("<ddd", 1.0, 2.0, 3.0)  # ISO Z
    assert describe_wkb(line_z).message.startswith("its line has only 1 point")  # type: ignore[union-attr]
    multi = struct.pack("<BII", 1, 6, 2) + wkb_polygon(SQUARE) + wkb_polygon(SQUARE[:3])
    assert describe_wkb(multi).message.startswith("part 2: its outline has only 3 points")  # type: ignore[union-attr]
    ewkb_z = struct.pack("<BI", 1, 0x80000001) + struct.pack("<ddd", np.inf, 1.0, 0.0)
    problem = describe_wkb(ewkb_z)
    assert problem is not None and problem.coordinates and "(inf, 1.000000)" in problem.message


@pytest.mark.parametrize(
    ("data", "phrase"),
    [
        (b"\x01\x03\x00\x00\x00\x01\x00", "cut short"),
        (struct.pack("<BI", 1, 99), "unknown geometry type 99"),
        (b"\x07", "byte order"),
    ],
)
def test_describe_damaged_wkb(data: bytes, phrase: str) -> None:
    problem = describe_wkb(data)
    assert problem is not None and "damaged" in problem.message and phrase in problem.message
