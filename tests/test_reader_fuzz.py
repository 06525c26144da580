"""Malformed bytes never end in a traceback: every failure is a gridmap error with a message.

The first tests pin the cases a hypothesis fuzz run found (each ended in a raw Python or GDAL
exception before); the property tests at the end keep fuzzing CSV, GeoJSON, KML, XLSX and zipped
shapefiles from small valid files, with a fixed seed (``derandomize``) so CI is repeatable. A
longer local run (thousands of examples per format) found nothing further.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path

import geopandas as gpd
import openpyxl
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridmap.errors import GridmapError, InputError, UnsupportedFormatError
from gridmap.io.importer import load_file
from gridmap.io.readers import read_table

# --- small valid files, the seeds of the fuzzing -------------------------------------------

CSV = (
    "kind,name,lon,lat,wkt\n"
    "school,新街口小学,118.78,32.04,POINT (118.78 32.04)\n"
    "shop,b,118.79,32.05,\n"
).encode()

GEOJSON = json.dumps(
    {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"kind": "school", "name": "甲"},
                "geometry": {"type": "Point", "coordinates": [118.78, 32.04]},
            },
            {
                "type": "Feature",
                "properties": {"kind": "shop", "name": "乙"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[118.78, 32.04], [118.79, 32.04], [118.79, 32.05], [118.78, 32.04]]
                    ],
                },
            },
        ],
    },
    ensure_ascii=False,
).encode()

KML = (
    '<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
    '<Folder><name>f</name><Placemark><name>甲</name><ExtendedData><Data name="kind">'
    "<value>school</value></Data></ExtendedData><Point><coordinates>118.78,32.04,0</coordinates>"
    "</Point></Placemark><Placemark><name>乙</name><Polygon><outerBoundaryIs><LinearRing>"
    "<coordinates>118.78,32.04 118.79,32.04 118.79,32.05 118.78,32.04</coordinates></LinearRing>"
    "</outerBoundaryIs></Polygon></Placemark><Placemark><name>丙</name><LineString><coordinates>"
    "118.78,32.04 118.79,32.05</coordinates></LineString></Placemark></Folder></Document></kml>"
).encode()


def xlsx_bytes() -> bytes:
    """Return a small workbook with a header, a row of values and a row of formulas."""
    book = openpyxl.Workbook()
    book.active.append(["kind", "name", "经度", "纬度"])
    book.active.append(["school", "甲", 118.78, 32.04])
    book.active.append(["shop", "=B2", "=C2+0.01", 32.05])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def shapefile_zip(tmp: Path) -> bytes:
    """Return a zipped GBK shapefile of two squares near Xinjiekou."""
    folder = tmp / "shp"
    folder.mkdir(exist_ok=True)
    frame = gpd.GeoDataFrame(
        {"kind": ["school", "shop"], "name": ["甲", "乙"]},
        geometry=[
            shapely.box(118.78, 32.04, 118.79, 32.05),
            shapely.box(118.79, 32.04, 118.8, 32.05),
        ],
        crs=4326,
    )
    frame.to_file(folder / "a.shp", encoding="GBK")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for part in sorted(folder.iterdir()):
            zf.write(part, part.name)
    return out.getvalue()


_SHAPEFILE: list[bytes] = []


def _shapefile_zip_once(factory: pytest.TempPathFactory) -> bytes:
    if not _SHAPEFILE:
        _SHAPEFILE.append(shapefile_zip(factory.mktemp("seed")))
    return _SHAPEFILE[0]


def rezip(data: bytes, member: str, body: bytes) -> bytes:
    """Return the zip ``data`` with ``member`` replaced by ``body``."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in src.namelist():
            zf.writestr(name, body if name == member else src.read(name))
    return out.getvalue()


# --- what fuzzing found -----------------------------------------------------------------------


def test_empty_wkt_cell_is_no_geometry(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes(CSV.replace(b"kind,", b"ind,", 1))  # no lon/lat pair: the WKT column counts
    frame, info = read_table(path)
    assert info.geometry_columns == ["wkt"]
    assert frame.geometry.isna().tolist() == [False, True]


@pytest.mark.parametrize("kind", [{"a": 1}, [1, "FeatureCollection"], 7])
def test_geojson_type_that_is_not_a_name(tmp_path: Path, kind: object) -> None:
    path = tmp_path / "s.geojson"
    path.write_text(json.dumps({"type": kind, "features": []}))
    with pytest.raises(UnsupportedFormatError, match="not GeoJSON"):
        read_table(path)


def test_geometry_type_that_is_not_a_name(tmp_path: Path) -> None:
    path = tmp_path / "s.geojson"
    feature = {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": ["Point"], "coordinates": [1, 2]},
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    with pytest.raises(InputError, match=r"row 1: .*\"type\" is \['Point'\]"):
        read_table(path)


def test_zip_of_a_version_python_cannot_open(tmp_path: Path) -> None:
    data = bytearray(shapefile_zip(tmp_path))
    at = data.find(b"PK\x01\x02")
    data[at + 6 : at + 8] = struct.pack("<H", 221)  # "needs version 22.1 to extract"
    path = tmp_path / "a.zip"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"not a zip archive gridmap can open.*version 22\.1"):
        read_table(path)


def test_zip_missing_its_first_byte(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    path.write_bytes(shapefile_zip(tmp_path)[1:])  # every offset is now one byte off
    with pytest.raises(InputError, match="damaged"):
        read_table(path)


def test_shp_that_gdal_finds_no_layer_in(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    path.write_bytes(rezip(shapefile_zip(tmp_path), "a.shp", b"\x00" * 40))
    with pytest.raises(InputError, match="could not be read as shapefile"):
        read_table(path)


def test_prj_that_is_not_text(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    path.write_bytes(rezip(shapefile_zip(tmp_path), "a.prj", b'GEOGCS["\x89\xff\x00"]'))
    with pytest.raises(InputError, match=r"\.prj file of 'a\.shp' is damaged"):
        read_table(path)


@pytest.mark.parametrize(
    ("member", "body"),
    [("xl/workbook.xml", b"<garbage"), ("[Content_Types].xml", b"x")],
)
def test_xlsx_with_garbled_xml(tmp_path: Path, member: str, body: bytes) -> None:
    path = tmp_path / "a.xlsx"
    path.write_bytes(rezip(xlsx_bytes(), member, body))
    with pytest.raises(InputError, match="Excel file could not be read"):
        read_table(path)


# --- fuzzing ----------------------------------------------------------------------------------

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)

#: Edits to a file's bytes: (0 delete, 1 insert, 2 overwrite, 3 cut the rest), position, bytes.
EDITS = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 10**6), st.binary(max_size=8)),
    min_size=1,
    max_size=6,
)


def edited(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    """Return ``data`` with the edits applied."""
    out = bytearray(data)
    for kind, pos, chunk in edits:
        if not out:
            break
        at = pos % len(out)
        if kind == 0:
            del out[at : at + len(chunk) + 1]
        elif kind == 1:
            out[at:at] = chunk
        elif kind == 2:
            out[at : at + len(chunk)] = chunk
        else:
            del out[at:]
    return bytes(out)


def survives(path: Path, data: bytes, layer: str) -> None:
    """Read and import ``data``: it may be refused, but only by a gridmap error."""
    path.write_bytes(data)
    try:
        read_table(path)
        load_file(path, layer)
    except GridmapError as exc:
        assert str(exc).strip()


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats()
    | st.text(max_size=5)
    | st.sampled_from(["Point", "Polygon", "LineString", "MultiPolygon", "GeometryCollection"]),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(
                ["type", "coordinates", "geometries", "geometry", "properties", "name"]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@FUZZ
@given(edits=EDITS)
def test_fuzz_csv(tmp_path_factory: pytest.TempPathFactory, edits: list) -> None:
    survives(tmp_path_factory.mktemp("f") / "f.csv", edited(CSV, edits), "facilities")


@FUZZ
@given(edits=EDITS)
def test_fuzz_geojson_bytes(tmp_path_factory: pytest.TempPathFactory, edits: list) -> None:
    survives(tmp_path_factory.mktemp("f") / "f.geojson", edited(GEOJSON, edits), "grids")


@FUZZ
@given(geometry=JSON, properties=JSON)
def test_fuzz_geojson_structure(
    tmp_path_factory: pytest.TempPathFactory, geometry: object, properties: object
) -> None:
    doc = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": properties, "geometry": geometry}],
    }
    data = json.dumps(doc, allow_nan=True).encode()
    survives(tmp_path_factory.mktemp("f") / "f.geojson", data, "facilities")


@FUZZ
@given(edits=EDITS)
def test_fuzz_kml(tmp_path_factory: pytest.TempPathFactory, edits: list) -> None:
    survives(tmp_path_factory.mktemp("f") / "f.kml", edited(KML, edits), "grids")


@FUZZ
@given(
    parts=st.lists(
        st.sampled_from(["118.78", "32.04", ",", " ", "nan", "inf", "-", "1e400", "abc", "\n"]),
        max_size=30,
    ),
    kind=st.sampled_from(["Point", "LineString", "Polygon"]),
)
def test_fuzz_kml_coordinates(
    tmp_path_factory: pytest.TempPathFactory, parts: list[str], kind: str
) -> None:
    coords = f"<coordinates>{''.join(parts)}</coordinates>"
    if kind == "Polygon":
        coords = f"<outerBoundaryIs><LinearRing>{coords}</LinearRing></outerBoundaryIs>"
    kml = KML.decode().replace(
        "<Point><coordinates>118.78,32.04,0</coordinates></Point>", f"<{kind}>{coords}</{kind}>"
    )
    survives(tmp_path_factory.mktemp("f") / "f.kml", kml.encode(), "grids")


@FUZZ
@given(edits=EDITS, which=st.integers(0, 20))
def test_fuzz_xlsx_members(
    tmp_path_factory: pytest.TempPathFactory, edits: list, which: int
) -> None:
    data = xlsx_bytes()
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    member = names[which % len(names)]
    body = zipfile.ZipFile(io.BytesIO(data)).read(member)
    survives(
        tmp_path_factory.mktemp("f") / "f.xlsx",
        rezip(data, member, edited(body, edits)),
        "facilities",
    )


@FUZZ
@given(edits=EDITS)
def test_fuzz_xlsx_bytes(tmp_path_factory: pytest.TempPathFactory, edits: list) -> None:
    survives(tmp_path_factory.mktemp("f") / "f.xlsx", edited(xlsx_bytes(), edits), "facilities")


@FUZZ
@given(edits=EDITS, which=st.integers(0, 20))
def test_fuzz_shapefile_members(
    tmp_path_factory: pytest.TempPathFactory, edits: list, which: int
) -> None:
    tmp = tmp_path_factory.mktemp("f")
    data = _shapefile_zip_once(tmp_path_factory)
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    member = names[which % len(names)]
    body = zipfile.ZipFile(io.BytesIO(data)).read(member)
    survives(tmp / "f.zip", rezip(data, member, edited(body, edits)), "grids")


def test_gpkg_with_a_foreign_application_id(tmp_path: Path) -> None:
    path = tmp_path / "a.gpkg"
    frame = gpd.GeoDataFrame(
        {"code": ["320102001001001"], "name": ["甲"]},
        geometry=[shapely.box(118.78, 32.04, 118.79, 32.05)],
        crs=4326,
    )
    frame.to_file(path)
    data = bytearray(path.read_bytes())
    data[68:72] = b"\0\0\0\0"  # SQLite header: application_id, "GPKG" in a GeoPackage
    path.write_bytes(bytes(data))
    result = load_file(path, "grids")  # GDAL's warning is a note, not a stray warning
    assert result.rows == 1
    assert any("application_id" in w for w in result.warnings)


@FUZZ
@given(edits=EDITS)
def test_fuzz_gpkg_bytes(tmp_path_factory: pytest.TempPathFactory, edits: list) -> None:
    tmp = tmp_path_factory.mktemp("f")
    seed = tmp / "seed.gpkg"
    gpd.GeoDataFrame(
        {"code": ["320102001001001"], "name": ["甲"]},
        geometry=[shapely.box(118.78, 32.04, 118.79, 32.05)],
        crs=4326,
    ).to_file(seed)
    kept = [e for e in edits if e[0] != 3]  # cutting the file short only tests SQLite
    survives(tmp / "f.gpkg", edited(seed.read_bytes(), kept or edits), "grids")
