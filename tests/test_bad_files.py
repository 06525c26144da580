"""Files that used to crash an import or mislead the planner (issue 5, defect 11).

Every case here ends in a :mod:`gridmap.errors` class whose message names the row (or the file
part) and the problem; none may end in a traceback. The files are built by the helpers below
from a few hand-made features near Xinjiekou, Nanjing, so the expected rows are easy to read.
"""

from __future__ import annotations

import json
import stat
import struct
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pyogrio
import pyogrio.raw
import pytest
import shapely
import xlsxwriter

from gridmap.errors import (
    CoordinateError,
    GeometryError,
    InputError,
    SchemaError,
    UnsupportedFormatError,
)
from gridmap.io.importer import load_file
from gridmap.io.readers import ArchiveLimits, read_table

OK_RING = [(118.78, 32.04), (118.79, 32.04), (118.79, 32.05), (118.78, 32.04)]
CODES = ["320102001001001", "320102001001002"]

# --- builders ---------------------------------------------------------------------------------


def kml_polygons(rings: list[str], names: list[str] | None = None) -> str:
    """Return a KML document with one polygon placemark per ring (KML coordinate text)."""
    names = names or [f"网格{i + 1}" for i in range(len(rings))]
    marks = "".join(
        f"<Placemark><name>{n}</name><ExtendedData>"
        f'<Data name="code"><value>{CODES[i % 2]}{i}</value></Data></ExtendedData>'
        f"<Polygon><outerBoundaryIs><LinearRing><coordinates>{r}</coordinates></LinearRing>"
        "</outerBoundaryIs></Polygon></Placemark>"
        for i, (n, r) in enumerate(zip(names, rings, strict=True))
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2">'
        f"<Document><Folder><name>grids</name>{marks}</Folder></Document></kml>"
    )


def kml_coords(points: list[tuple[float, float]]) -> str:
    """Return KML coordinate text (lon,lat,0 separated by spaces)."""
    return " ".join(f"{x},{y},0" for x, y in points)


def polygon_wkb(rings: list[list[tuple[float, float]]]) -> bytes:
    """Return little-endian WKB of a polygon with these rings, as they are (even if broken)."""
    out = struct.pack("<BII", 1, 3, len(rings))
    for ring in rings:
        out += struct.pack("<I", len(ring)) + b"".join(struct.pack("<dd", *p) for p in ring)
    return out


def write_wkb(path: Path, wkbs: list[bytes], geometry_type: str = "Polygon") -> Path:
    """Write features with raw WKB geometries (GDAL stores them unchecked) and code/name fields."""
    driver = "GPKG" if path.suffix == ".gpkg" else "ESRI Shapefile"
    n = len(wkbs)
    pyogrio.raw.write(
        path,
        geometry=np.array(wkbs, dtype=object),
        field_data=[
            np.array([f"{CODES[i % 2]}{i}" for i in range(n)], dtype=object),
            np.array([f"第{i + 1}网格" for i in range(n)], dtype=object),
        ],
        fields=["code", "name"],
        geometry_type=geometry_type,
        crs="EPSG:4326",
        driver=driver,
    )
    return path


def geojson_file(path: Path, geometries: list[object]) -> Path:
    """Write a FeatureCollection whose features carry these geometry members as they are."""
    feats = [
        {
            "type": "Feature",
            "properties": {
                "code": f"{CODES[i % 2]}{i}",
                "name": f"第{i + 1}网格",
                "kind": "school",
            },
            "geometry": g,
        }
        for i, g in enumerate(geometries)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8")
    return path


def square() -> dict:
    """Return a valid GeoJSON polygon near Xinjiekou."""
    return {"type": "Polygon", "coordinates": [[list(p) for p in OK_RING]]}


def shapefile_folder(folder: Path, frame: gpd.GeoDataFrame, name: str = "sites") -> Path:
    """Write ``frame`` as a shapefile in ``folder``; return the .shp path."""
    folder.mkdir(parents=True, exist_ok=True)
    pyogrio.write_dataframe(frame, folder / f"{name}.shp", encoding="UTF-8")
    return folder / f"{name}.shp"


def sample_points(crs: int = 4326) -> gpd.GeoDataFrame:
    """Return two schools near Xinjiekou (in UTM 50N metres when ``crs`` is 32650)."""
    frame = gpd.GeoDataFrame(
        {"kind": ["school", "school"], "name": ["新街口小学", "鼓楼医院"]},
        geometry=shapely.points([118.7835, 118.7791], [32.0415, 32.0582]),
        crs=4326,
    )
    return frame.to_crs(crs)


def zip_folder(folder: Path, out: Path, skip: tuple[str, ...] = (), prefix: str = "data/") -> Path:
    """Zip the files of ``folder`` under ``prefix``, leaving out those ending in ``skip``."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for part in sorted(folder.iterdir()):
            if not part.name.endswith(skip):
                zf.write(part, prefix + part.name)
    return out


def zipped_sample(tmp_path: Path, skip: tuple[str, ...] = (), crs: int = 4326) -> Path:
    """Return a zipped two-school shapefile, without the parts ending in ``skip``."""
    shp = shapefile_folder(tmp_path / "shp", sample_points(crs))
    return zip_folder(shp.parent, tmp_path / "sites.zip", skip=skip)


# --- 1. degenerate rings and garbage geometries -------------------------------------------------


def test_kml_unclosed_ring_names_the_placemark(tmp_path: Path) -> None:
    open_ring = [(118.78, 32.04), (118.79, 32.04), (118.79, 32.05), (118.78, 32.05)]
    path = tmp_path / "grids.kml"
    path.write_text(kml_polygons([kml_coords(OK_RING), kml_coords(open_ring)], ["甲", "乙"]))
    with pytest.raises(GeometryError) as err:
        read_table(path)
    assert err.value.row == 2
    message = str(err.value)
    assert "placemark '乙'" in message and "not closed" in message
    assert "118.780000, 32.050000" in message  # where the ring ends (and should not)


def test_kml_two_point_ring(tmp_path: Path) -> None:
    path = tmp_path / "grids.kml"
    two = [(118.78, 32.04), (118.79, 32.04)]
    path.write_text(kml_polygons([kml_coords(OK_RING), kml_coords(two)], ["甲", "乙"]))
    with pytest.raises(GeometryError, match=r"row 2: placemark '乙'.*only 2 points") as err:
        load_file(path, "grids")
    assert "at least 4" in str(err.value)


def test_kml_single_point_ring(tmp_path: Path) -> None:
    path = tmp_path / "grids.kml"
    path.write_text(kml_polygons([kml_coords([(118.78, 32.04)])], ["甲"]))
    with pytest.raises(GeometryError, match=r"row 1: placemark '甲'.*only 1 point"):
        read_table(path)


@pytest.mark.parametrize("ext", ["gpkg", "shp"])
@pytest.mark.parametrize(
    ("ring", "phrase"),
    [
        ([(118.78, 32.04), (118.79, 32.04)], "only 2 points"),
        ([(118.78, 32.04), (118.79, 32.04), (118.79, 32.05), (118.78, 32.05)], "not closed"),
        ([(118.78, 32.04), (118.79, 32.04), (118.78, 32.04)], "only 3 points"),
    ],
)
def test_degenerate_ring_in_gpkg_and_shapefile(
    tmp_path: Path, ext: str, ring: list[tuple[float, float]], phrase: str
) -> None:
    path = write_wkb(tmp_path / f"grids.{ext}", [polygon_wkb([OK_RING]), polygon_wkb([ring])])
    with pytest.raises(GeometryError, match=phrase) as err:
        load_file(path, "grids")
    assert err.value.row == 2, str(err.value)


def test_hole_with_two_points(tmp_path: Path) -> None:
    hole = [(118.782, 32.042), (118.785, 32.042)]
    path = write_wkb(tmp_path / "grids.gpkg", [polygon_wkb([OK_RING, hole])])
    with pytest.raises(GeometryError, match=r"row 1: .*hole 1 has only 2 points"):
        load_file(path, "grids")


@pytest.mark.parametrize(
    ("geometry", "phrase"),
    [
        (
            {
                "type": "Polygon",
                "coordinates": [[[118.78, 32.04], [118.79, 32.04], [118.78, 32.04]]],
            },
            "only 3 points",
        ),
        ({"type": "Polygon", "coordinates": [[[118.78, 32.04], [118.79, 32.04]]]}, "only 2 points"),
        (
            {
                "type": "Polygon",
                "coordinates": [[[118.78, 32.04], [118.79, 32.04], [118.79, 32.05], [118.7, 32.0]]],
            },
            "not closed",
        ),
        ({"type": "LineString", "coordinates": [[118.78, 32.04]]}, "only 1 point"),
        ({"type": "Polygon", "coordinates": "abc"}, "coordinates"),
        ({"type": "Polygon", "coordinates": {"a": 1}}, "coordinates"),
        ({"type": "Polygon", "coordinates": [[["x", "y"]]]}, "'x'"),
        ({"type": "Point", "coordinates": [118.78]}, "at least two numbers"),
        ({"type": "Blob", "coordinates": [1, 2]}, "'Blob'"),
        ({"coordinates": [1, 2]}, 'no "type"'),
        ([118.78, 32.04], "not a GeoJSON geometry object"),
        (
            {"type": "MultiPolygon", "coordinates": [[[[118.78, 32.04], [118.79, 32.04]]]]},
            "part 1",
        ),
        (
            {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [1]}]},
            "at least two numbers",
        ),
    ],
)
def test_geojson_garbage_geometry(tmp_path: Path, geometry: object, phrase: str) -> None:
    path = geojson_file(tmp_path / "grids.geojson", [square(), geometry])
    with pytest.raises(GeometryError) as err:
        load_file(path, "grids")
    assert err.value.row == 2, str(err.value)
    assert phrase in str(err.value), str(err.value)


def test_geojson_empty_coordinates_is_named_empty(tmp_path: Path) -> None:
    path = geojson_file(
        tmp_path / "grids.geojson", [square(), {"type": "Polygon", "coordinates": []}]
    )
    with pytest.raises(GeometryError, match=r"row 2: has an empty geometry"):
        load_file(path, "grids")


def test_wkt_with_short_ring(tmp_path: Path) -> None:
    path = tmp_path / "grids.csv"
    path.write_text(
        "code;name;wkt\n320102001001001;甲;POLYGON ((118.78 32.04, 118.79 32.04, 118.78 32.04))\n"
    )
    with pytest.raises(GeometryError, match=r"row 2: .*only 3 points"):
        load_file(path, "grids")


# --- 2. archives: caps on what they unpack to, and members that have no business there ---------


def test_cpg_that_unpacks_to_megabytes_is_refused(tmp_path: Path) -> None:
    path = zipped_sample(tmp_path, skip=(".cpg",))
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data/sites.cpg", b"UTF-8" + b" " * (8 << 20))  # 8 MiB, 8 KB zipped
    with pytest.raises(InputError, match=r"sites\.cpg.*more than 64 KB"):
        read_table(path)


def test_member_over_the_cap(tmp_path: Path) -> None:
    path = zipped_sample(tmp_path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data/readme.txt", b"\0" * (3 << 20))
    limits = ArchiveLimits(max_member_bytes=2 << 20, max_total_bytes=10 << 20)
    with pytest.raises(InputError, match=r"readme\.txt.*3\.0 MB.*more than 2\.0 MB") as err:
        read_table(path, limits=limits)
    assert "one file in an archive" in str(err.value)


def test_archive_total_over_the_cap(tmp_path: Path) -> None:
    path = zipped_sample(tmp_path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        for i in range(3):
            zf.writestr(f"data/part{i}.txt", b"\0" * (1 << 20))
    limits = ArchiveLimits(max_member_bytes=2 << 20, max_total_bytes=2 << 20)
    with pytest.raises(InputError, match=r"unpack to 3\.0 MB in all.*more than 2\.0 MB"):
        read_table(path, limits=limits)


def test_too_many_members(tmp_path: Path) -> None:
    path = zipped_sample(tmp_path)
    with zipfile.ZipFile(path, "a") as zf:
        for i in range(20):
            zf.writestr(f"data/note{i}.txt", b"x")
    with pytest.raises(InputError, match=r"holds 25 files.*at most 10"):
        read_table(path, limits=ArchiveLimits(max_members=10))


def _lie_about_size(path: Path, member: str, size: int) -> None:
    """Rewrite the sizes a zip declares for ``member`` (local header and central directory)."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    for sig, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        at = data.find(sig)
        while at >= 0:
            if data[at + name_at : at + name_at + len(name)] == name:
                data[at + size_at : at + size_at + 4] = struct.pack("<I", size)
            at = data.find(sig, at + 1)
    path.write_bytes(bytes(data))


def test_declared_size_that_lies(tmp_path: Path) -> None:
    path = zipped_sample(tmp_path, skip=(".cpg",))
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data/sites.cpg", b"UTF-8" + b" " * (4 << 20))
    _lie_about_size(path, "data/sites.cpg", 5)
    with pytest.raises(InputError, match=r"sites\.cpg.*damaged"):
        read_table(path)


def test_dbf_that_lies_about_its_size(tmp_path: Path) -> None:
    path = zipped_sample(tmp_path)
    _lie_about_size(path, "data/sites.dbf", 40)
    with pytest.raises(InputError, match=r"sites\.dbf.*damaged"):
        read_table(path)


def test_path_traversal_refused(tmp_path: Path) -> None:
    path = zipped_sample(tmp_path)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("../../etc/cron.d/evil", b"* * * * * root true\n")
    with pytest.raises(InputError, match=r"'\.\./\.\./etc/cron\.d/evil'.*outside"):
        read_table(path)


def test_absolute_member_refused(tmp_path: Path) -> None:
    path = zipped_sample(tmp_path)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(zipfile.ZipInfo("/tmp/evil"), b"x")
    with pytest.raises(InputError, match=r"'/tmp/evil'.*outside"):
        read_table(path)


def test_symlink_refused(tmp_path: Path) -> None:
    path = zipped_sample(tmp_path, skip=(".prj",))
    link = zipfile.ZipInfo("data/sites.prj")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    link.create_system = 3  # Unix
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(InputError, match=r"'data/sites\.prj' is a symbolic link"):
        read_table(path)


def test_same_name_twice_refused(tmp_path: Path) -> None:
    path = zipped_sample(tmp_path)
    with zipfile.ZipFile(path, "a") as zf, pytest.warns(UserWarning, match="Duplicate name"):
        zf.writestr("data/sites.dbf", b"another table")
    with pytest.raises(InputError, match=r"two files named 'data/sites\.dbf'"):
        read_table(path)


def test_nested_archive_named(tmp_path: Path) -> None:
    inner = zipped_sample(tmp_path)
    outer = tmp_path / "outer.zip"
    with zipfile.ZipFile(outer, "w") as zf:
        zf.write(inner, "交付/sites.zip")
    with pytest.raises(UnsupportedFormatError, match=r"another archive.*'交付/sites\.zip'.*unzip"):
        read_table(outer)


def test_nested_archive_beside_a_shapefile_is_left_alone(tmp_path: Path) -> None:
    inner = zipped_sample(tmp_path)
    outer = tmp_path / "outer.zip"
    with zipfile.ZipFile(inner) as src, zipfile.ZipFile(outer, "w") as zf:
        for item in src.infolist():
            zf.writestr(item, src.read(item))
        zf.write(inner, "backup/old.zip")
    frame, _ = read_table(outer)
    assert frame["name"].tolist() == ["新街口小学", "鼓楼医院"]


def test_xlsx_member_over_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "sites.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["kind", "lon", "lat"])
    book.save(path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/media/image1.png", b"\0" * (3 << 20))
    with pytest.raises(InputError, match=r"image1\.png.*more than 2\.0 MB"):
        read_table(path, limits=ArchiveLimits(max_member_bytes=2 << 20))


def test_not_a_zip_at_all(tmp_path: Path) -> None:
    path = tmp_path / "sites.zip"
    path.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(InputError, match="not a valid zip archive"):
        read_table(path)


# --- 3. shapefiles with missing parts ---------------------------------------------------------


@pytest.mark.parametrize("part", [".dbf", ".shx"])
def test_zipped_shapefile_missing_part(tmp_path: Path, part: str) -> None:
    path = zipped_sample(tmp_path, skip=(part,))
    with pytest.raises(InputError, match=rf"'data/sites\.shp' has no {part} file") as err:
        load_file(path, "facilities")
    assert "lacks required column" not in str(err.value)


@pytest.mark.parametrize("part", [".dbf", ".shx"])
def test_loose_shapefile_missing_part(tmp_path: Path, part: str) -> None:
    shp = shapefile_folder(tmp_path, sample_points())
    shp.with_suffix(part).unlink()
    with pytest.raises(InputError, match=rf"has no {part} file next to it"):
        load_file(shp, "facilities")


def test_projected_shapefile_without_prj(tmp_path: Path) -> None:
    path = zipped_sample(tmp_path, skip=(".prj",), crs=32650)
    with pytest.raises(CoordinateError, match=r"no \.prj file") as err:
        load_file(path, "facilities")
    assert "--crs" in str(err.value) and err.value.row == 1


def test_loose_projected_shapefile_without_prj(tmp_path: Path) -> None:
    shp = shapefile_folder(tmp_path, sample_points(32650))
    shp.with_suffix(".prj").unlink()
    with pytest.raises(CoordinateError, match=r"no \.prj file"):
        load_file(shp, "facilities")


def test_degrees_shapefile_without_prj_still_reads(tmp_path: Path) -> None:
    result = load_file(zipped_sample(tmp_path, skip=(".prj",)), "facilities")
    assert result.rows == 2
    assert any(".prj" in w for w in result.warnings)


# --- 4. NaN and infinite coordinates -------------------------------------------------------------


@pytest.mark.parametrize("value", ["inf", "-Infinity", "1e400"])
def test_csv_infinite_coordinate(tmp_path: Path, value: str) -> None:
    path = tmp_path / "s.csv"
    path.write_text(f"kind,name,lon,lat\nschool,a,{value},32.04\n")
    with pytest.raises(CoordinateError) as err:
        load_file(path, "facilities")
    assert err.value.row == 2 and err.value.column == "lon"
    assert "metres" not in str(err.value) and "finite" in str(err.value)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_geojson_non_finite_coordinate(tmp_path: Path, value: str) -> None:
    path = tmp_path / "s.geojson"
    feature = (
        '{"type":"Feature","properties":{"kind":"school"},'
        f'"geometry":{{"type":"Point","coordinates":[{value},32.04]}}}}'
    )
    path.write_text(f'{{"type":"FeatureCollection","features":[{feature}]}}')
    with pytest.raises(CoordinateError) as err:
        load_file(path, "facilities")
    assert err.value.row == 1 and "metres" not in str(err.value)
    assert "not a finite number" in str(err.value)


def test_wkt_nan_coordinate(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("kind;wkt\nschool;POINT (nan 32.04)\n")
    with pytest.raises(CoordinateError, match=r"row 2: .*NaN") as err:
        load_file(path, "facilities")
    assert "metres" not in str(err.value)


def test_gpkg_nan_coordinate_with_projected_crs(tmp_path: Path) -> None:
    path = tmp_path / "s.gpkg"
    frame = sample_points(32650)
    frame.geometry = [frame.geometry.iloc[0], shapely.Point(np.nan, 3547000.0)]
    pyogrio.write_dataframe(frame, path)
    with pytest.raises(CoordinateError, match=r"row 2: .*NaN") as err:
        load_file(path, "facilities")
    assert "could not be converted" not in str(err.value)


def test_kml_nan_coordinate(tmp_path: Path) -> None:
    path = tmp_path / "s.kml"
    path.write_text(kml_polygons([kml_coords(OK_RING).replace("118.79,32.05", "nan,32.05")]))
    with pytest.raises(CoordinateError, match=r"row 1: placemark '网格1'.*NaN"):
        read_table(path)


# --- 5. spreadsheet formulas ------------------------------------------------------------------


def formula_book(path: Path, rows: list[list[object]]) -> Path:
    """Write a workbook as a program would (openpyxl): formulas are kept, never calculated."""
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def test_formula_without_value_in_optional_column_warns(tmp_path: Path) -> None:
    path = formula_book(
        tmp_path / "sites.xlsx",
        [
            ["kind", "name", "phone", "lon", "lat"],
            ["school", "甲", '="025"&"8888"', 118.78, 32.04],
            ["school", "乙", "02566666666", 118.79, 32.05],
            ["school", "丙", "=C3", 118.79, 32.05],
        ],
    )
    result = load_file(path, "facilities")
    assert result.frame["phone"].isna().tolist() == [True, False, True]
    note = next(w for w in result.warnings if "formula" in w)
    assert "C2, C4" in note and "phone" in note and "no calculated value" in note


def test_formula_without_value_in_required_column_refused(tmp_path: Path) -> None:
    path = formula_book(
        tmp_path / "sites.xlsx",
        [
            ["kind", "name", "lon", "lat"],
            ["school", "甲", 118.78, 32.04],
            ['=IF(1,"shop")', "乙", 118.79, 32.05],
        ],
    )
    with pytest.raises(SchemaError, match=r"row 3, column 'kind'.*cell A3.*formula") as err:
        load_file(path, "facilities")
    assert "no calculated value" in str(err.value)


def test_formula_without_value_in_coordinates_refused(tmp_path: Path) -> None:
    path = formula_book(
        tmp_path / "sites.xlsx",
        [["kind", "lon", "lat"], ["school", 118.78, 32.04], ["school", "=B2+0.01", 32.05]],
    )
    with pytest.raises(CoordinateError, match=r"row 3, column 'lon'.*cell B3.*formula"):
        read_table(path)


def test_formula_with_cached_value_is_read(tmp_path: Path) -> None:
    path = tmp_path / "sites.xlsx"
    with xlsxwriter.Workbook(path) as book:  # xlsxwriter can store a formula's result
        sheet = book.add_worksheet()
        sheet.write_row(0, 0, ["kind", "name", "lon", "lat"])
        sheet.write_row(1, 0, ["school", "甲", 118.78, 32.04])
        sheet.write_formula(2, 0, "=A2", None, "school")
        sheet.write(2, 1, "乙")
        sheet.write_formula(2, 2, "=C2+0.01", None, 118.79)
        sheet.write(2, 3, 32.05)
    result = load_file(path, "facilities")
    assert result.frame["kind"].tolist() == ["school", "school"]
    assert result.frame.geometry.iloc[1].x == pytest.approx(118.79)
    assert any("A3, C3" in w and "calculated" in w for w in result.warnings)


def test_error_value_in_cell_warns(tmp_path: Path) -> None:
    path = tmp_path / "sites.xlsx"
    with xlsxwriter.Workbook(path) as book:
        sheet = book.add_worksheet()
        sheet.write_row(0, 0, ["kind", "name", "lon", "lat"])
        sheet.write_row(1, 0, ["school", "甲", 118.78, 32.04])
        sheet.write_formula(2, 1, "=1/0", None, "#DIV/0!")
        sheet.write(2, 0, "school")
        sheet.write_row(2, 2, [118.79, 32.05])
    result = load_file(path, "facilities")
    assert result.frame["name"].tolist()[0] == "甲" and result.frame["name"].isna().tolist()[1]
    assert any("B3" in w and "#DIV/0!" in w for w in result.warnings)


def test_xlsx_member_that_lies_about_its_size(tmp_path: Path) -> None:
    path = tmp_path / "sites.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["kind", "name", "lon", "lat"])
    book.active.append(["school", "甲", 118.78, 32.04])
    book.save(path)
    _lie_about_size(path, "xl/styles.xml", 100)  # openpyxl's ZipFile.read would inflate it whole
    with pytest.raises(InputError, match=r"xl/styles\.xml.*damaged"):
        read_table(path)


def test_xlsx_header_below_blank_rows(tmp_path: Path) -> None:
    path = formula_book(
        tmp_path / "sites.xlsx",
        [
            [],
            [],
            ["kind", "name", "lon", "lat"],
            ["school", "甲", 118.78, 32.04],
            ["school", "乙", "东经118", 32.05],
        ],
    )
    with pytest.raises(CoordinateError, match=r"row 5, column 'lon': '东经118'"):  # sheet rows
        load_file(path, "facilities")
