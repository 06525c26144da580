"""Reading user files: formats, encodings, lon/lat and WKT columns, layer choice, bad files."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import openpyxl
import pyogrio
import pytest
import shapely

from gridmap.errors import EncodingError, InputError, UnsupportedFormatError
from gridmap.io.readers import decode_text, read_table

NAMES = ["新街口小学", "鼓楼医院", "玄武湖公园"]
LONS = [118.7835, 118.7791, 118.7952]
LATS = [32.0415, 32.0582, 32.0733]


# --- builders ---------------------------------------------------------------------------------


def write_csv(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    """Write CSV lines (header first) in the given encoding."""
    path.write_bytes("\n".join(lines).encode(encoding) + b"\n")
    return path


def sample_lines(sep: str = ",", lon: str = "lon", lat: str = "lat") -> list[str]:
    """Return the header and rows of a small facilities table."""
    rows = [sep.join(["kind", "name", lon, lat])]
    rows += [
        sep.join(["school", n, str(x), str(y)]) for n, x, y in zip(NAMES, LONS, LATS, strict=True)
    ]
    return rows


def sample_frame() -> gpd.GeoDataFrame:
    """Return the sample points as a GeoDataFrame in WGS84."""
    return gpd.GeoDataFrame(
        {"kind": ["school"] * 3, "name": NAMES},
        geometry=shapely.points(LONS, LATS),
        crs="EPSG:4326",
    )


def write_xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    """Write an Excel workbook with one sheet per entry (rows include the header)."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def write_zipped_shapefile(folder: Path, *, encoding: str, keep_cpg: bool) -> Path:
    """Write the sample as a shapefile in ``encoding``, optionally without .cpg, and zip it."""
    src = folder / "shp"
    src.mkdir()
    pyogrio.write_dataframe(sample_frame(), src / "sites.shp", encoding=encoding)
    if not keep_cpg:
        (src / "sites.cpg").unlink()
    out = folder / "sites.zip"
    with zipfile.ZipFile(out, "w") as zf:
        for part in sorted(src.iterdir()):
            zf.write(part, f"data/{part.name}")
    return out


def kml_text(placemarks: list[tuple[str, float, float]]) -> str:
    """Return a KML document with one point placemark per (name, lon, lat)."""
    body = "".join(
        f"<Placemark><name>{n}</name><Point><coordinates>{x},{y},0</coordinates></Point>"
        "</Placemark>"
        for n, x, y in placemarks
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2">'
        f"<Document><Folder><name>sites</name>{body}</Folder></Document></kml>"
    )


def geojson_text(features: list[dict], **extra: object) -> str:
    """Return a GeoJSON FeatureCollection."""
    return json.dumps(
        {"type": "FeatureCollection", **extra, "features": features}, ensure_ascii=False
    )


def point_feature(lon: float, lat: float, **props: object) -> dict:
    """Return a GeoJSON point feature."""
    return {
        "type": "Feature",
        "properties": props,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
    }


# --- encodings --------------------------------------------------------------------------------


def test_gbk_csv_read_and_reported(tmp_path: Path) -> None:
    frame, info = read_table(write_csv(tmp_path / "sites.csv", sample_lines(), "gbk"))
    assert info.encoding == "gbk"
    assert frame["name"].tolist() == NAMES
    assert isinstance(frame, gpd.GeoDataFrame)
    assert frame.geometry.iloc[1].coords[0] == pytest.approx((LONS[1], LATS[1]))
    assert info.geometry_columns == ["lon", "lat"]
    assert "lon" not in frame.columns


def test_utf8_bom_csv(tmp_path: Path) -> None:
    frame, info = read_table(write_csv(tmp_path / "sites.csv", sample_lines(), "utf-8-sig"))
    assert info.encoding == "utf-8-sig"
    assert list(frame.columns[:2]) == ["kind", "name"]  # no BOM glued to the first header
    assert frame["name"].tolist() == NAMES


def test_plain_utf8_csv(tmp_path: Path) -> None:
    _, info = read_table(write_csv(tmp_path / "sites.csv", sample_lines(), "utf-8"))
    assert info.encoding == "utf-8"


def test_explicit_encoding_wins(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "sites.csv", sample_lines(), "gbk")
    frame, info = read_table(path, encoding="GB18030")
    assert info.encoding == "gb18030"
    assert frame["name"].tolist() == NAMES


def test_explicit_wrong_encoding(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "sites.csv", sample_lines(), "gbk")
    with pytest.raises(EncodingError, match="not valid utf-8"):
        read_table(path, encoding="utf-8")


def test_unknown_encoding_name(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "sites.csv", sample_lines())
    with pytest.raises(EncodingError, match="Unknown text encoding 'klingon'"):
        read_table(path, encoding="klingon")


def test_undetectable_encoding(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_bytes(b"kind,name,lon,lat\nschool,\xff\xfe\xff,118.78,32.04\n")
    with pytest.raises(EncodingError, match="--encoding") as err:
        read_table(path)
    assert "line 2" in str(err.value)


def test_decode_text_order() -> None:
    assert decode_text("经度".encode())[1] == "utf-8"
    assert decode_text("经度".encode("gbk"))[1] == "gbk"
    assert decode_text("𠀀".encode("gb18030"))[1] == "gb18030"  # outside GBK


# --- CSV and XLSX columns ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lon", "lat"), [("经度", "纬度"), ("Longitude", "Latitude"), ("LNG", "Lat"), ("x", "Y")]
)
def test_lonlat_column_names(tmp_path: Path, lon: str, lat: str) -> None:
    frame, info = read_table(write_csv(tmp_path / "s.csv", sample_lines(lon=lon, lat=lat)))
    assert info.geometry_columns == [lon, lat]
    assert frame.geometry.iloc[0].x == pytest.approx(LONS[0])


def test_tab_separated_txt(tmp_path: Path) -> None:
    frame, _ = read_table(write_csv(tmp_path / "sites.txt", sample_lines(sep="\t")))
    assert frame["name"].tolist() == NAMES


def test_wkt_column(tmp_path: Path) -> None:
    lines = [
        "code;name;WKT",
        "1;甲;POLYGON ((118.78 32.04, 118.79 32.04, 118.79 32.05, 118.78 32.04))",
    ]
    frame, info = read_table(write_csv(tmp_path / "grids.csv", lines))
    assert info.geometry_columns == ["WKT"]
    assert frame.geometry.iloc[0].geom_type == "Polygon"
    assert frame["code"].tolist() == ["1"]  # text stays text: codes keep leading zeros


def test_table_without_geometry(tmp_path: Path) -> None:
    frame, info = read_table(write_csv(tmp_path / "people.csv", ["person_id,name", "p1,张三"]))
    assert not isinstance(frame, gpd.GeoDataFrame)
    assert info.geometry_columns == []


def test_blank_rows_keep_row_numbers(tmp_path: Path) -> None:
    lines = ["kind,name,lon,lat", "school,a,118.78,32.04", ",,,", "shop,b,118.79,32.05"]
    frame, _ = read_table(write_csv(tmp_path / "s.csv", lines))
    assert frame.index.tolist() == [2, 4]  # spreadsheet rows: the header is row 1


def test_xlsx_with_several_sheets(tmp_path: Path) -> None:
    rows = [["kind", "名称", "经度", "纬度", "households"]]
    rows += [["school", n, x, y, 12] for n, x, y in zip(NAMES, LONS, LATS, strict=True)]
    path = write_xlsx(tmp_path / "sites.xlsx", {"说明": [["read me"]], "sites": rows})
    frame, info = read_table(path, layer_name="sites")
    assert info.encoding is None and info.layer == "sites" and info.layers == ["说明", "sites"]
    assert frame["名称"].tolist() == NAMES
    assert frame.geometry.iloc[2].coords[0] == pytest.approx((LONS[2], LATS[2]))
    _, info = read_table(path)
    assert info.layer == "说明" and "Read sheet" in info.notes[0]


# --- GIS formats ------------------------------------------------------------------------------


def test_zipped_shapefile_gbk_without_cpg(tmp_path: Path) -> None:
    frame, info = read_table(write_zipped_shapefile(tmp_path, encoding="GBK", keep_cpg=False))
    assert info.format == "shapefile" and info.encoding == "gbk"
    assert frame["name"].tolist() == NAMES
    assert info.crs is not None and info.crs.to_epsg() == 4326


def test_zipped_shapefile_utf8_without_cpg(tmp_path: Path) -> None:
    frame, info = read_table(write_zipped_shapefile(tmp_path, encoding="UTF-8", keep_cpg=False))
    assert info.encoding == "utf-8"
    assert frame["name"].tolist() == NAMES


def test_shapefile_honours_cpg(tmp_path: Path) -> None:
    frame, info = read_table(write_zipped_shapefile(tmp_path, encoding="GBK", keep_cpg=True))
    assert info.encoding == "gbk"
    assert frame["name"].tolist() == NAMES


def test_plain_shapefile(tmp_path: Path) -> None:
    pyogrio.write_dataframe(sample_frame(), tmp_path / "sites.shp", encoding="GBK")
    (tmp_path / "sites.cpg").unlink()
    frame, info = read_table(tmp_path / "sites.shp")
    assert info.encoding == "gbk" and frame["name"].tolist() == NAMES


def test_zip_without_shapefile(tmp_path: Path) -> None:
    path = tmp_path / "data.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "nothing here")
    with pytest.raises(UnsupportedFormatError, match=r"no shapefile \(.shp\)"):
        read_table(path)


def test_kml(tmp_path: Path) -> None:
    path = tmp_path / "sites.kml"
    path.write_text(kml_text(list(zip(NAMES, LONS, LATS, strict=True))), encoding="utf-8")
    frame, info = read_table(path)
    assert info.format == "kml" and info.crs.to_epsg() == 4326
    assert frame["Name"].tolist() == NAMES
    assert "tessellate" not in frame.columns  # LIBKML boilerplate dropped
    assert frame.geometry.iloc[0].x == pytest.approx(LONS[0])


def test_kml_in_gbk(tmp_path: Path) -> None:
    path = tmp_path / "sites.kml"
    text = kml_text(list(zip(NAMES, LONS, LATS, strict=True))).replace('"UTF-8"', '"GBK"')
    path.write_bytes(text.encode("gbk"))
    frame, info = read_table(path)
    assert info.encoding == "gbk" and frame["Name"].tolist() == NAMES


def test_geojson(tmp_path: Path) -> None:
    path = tmp_path / "sites.geojson"
    feats = [point_feature(x, y, name=n) for n, x, y in zip(NAMES, LONS, LATS, strict=True)]
    path.write_text(geojson_text(feats), encoding="utf-8")
    frame, info = read_table(path)
    assert info.format == "geojson" and info.encoding == "utf-8"
    assert info.crs is None  # GeoJSON without a "crs" member: WGS84 by default, not declared
    assert frame["name"].tolist() == NAMES
    assert frame.index.tolist() == [1, 2, 3]


def test_geojson_with_crs_member_and_gbk(tmp_path: Path) -> None:
    path = tmp_path / "sites.json"
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32650"}}
    text = geojson_text([point_feature(669000.0, 3547000.0, name="新街口")], crs=crs)
    path.write_bytes(text.encode("gbk"))
    frame, info = read_table(path)
    assert info.encoding == "gbk" and info.crs.to_epsg() == 32650
    assert frame["name"].tolist() == ["新街口"]


def test_geojson_mixed_property_types(tmp_path: Path) -> None:
    path = tmp_path / "mixed.geojson"
    feats = [point_feature(118.78, 32.04, levels=3), point_feature(118.79, 32.04, levels="四")]
    path.write_text(geojson_text(feats), encoding="utf-8")
    frame, _ = read_table(path)
    assert frame["levels"].tolist() == ["3", "四"]


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.geojson"
    path.write_text('{"type": "FeatureCollection",\n  "features": [\n    {"type": "Feature",,}\n]}')
    with pytest.raises(InputError, match=r"not valid JSON: .* at line 3, column 24"):
        read_table(path)


def test_json_that_is_not_geojson(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[1, 2, 3]")
    with pytest.raises(UnsupportedFormatError, match="not GeoJSON"):
        read_table(path)


def test_gpkg_single_layer(tmp_path: Path) -> None:
    path = tmp_path / "sites.gpkg"
    pyogrio.write_dataframe(sample_frame(), path, layer="学校")
    frame, info = read_table(path)
    assert info.layer == "学校" and info.encoding == "utf-8" and info.crs.to_epsg() == 4326
    assert frame["name"].tolist() == NAMES


def test_gpkg_several_layers(tmp_path: Path) -> None:
    path = tmp_path / "sites.gpkg"
    pyogrio.write_dataframe(sample_frame(), path, layer="schools")
    pyogrio.write_dataframe(sample_frame().iloc[:1], path, layer="facilities", append=True)
    with pytest.raises(InputError, match=r"several layers: .*schools.*facilities"):
        read_table(path)
    frame, info = read_table(path, layer_name="facilities")
    assert len(frame) == 1 and info.layers == ["schools", "facilities"]
    frame, _ = read_table(path, prefer="schools")
    assert len(frame) == 3
    with pytest.raises(InputError, match=r"no layer 'roads'\. Its layers: schools, facilities"):
        read_table(path, layer_name="roads")


# --- unusable files ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sites.dwg", "sites.xls", "sites"])
def test_unknown_format_lists_supported(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"whatever")
    with pytest.raises(UnsupportedFormatError, match=r"GeoPackage \(.gpkg\).*\.xlsx"):
        read_table(path)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_table(tmp_path / "nothing.csv")
    (tmp_path / "empty.geojson").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        read_table(tmp_path / "empty.geojson")


def test_non_numeric_coordinate(tmp_path: Path) -> None:
    lines = ["kind,lon,lat", "school,118.78,32.04", "school,东经118度,32.05"]
    with pytest.raises(InputError, match="not a number of degrees") as err:
        read_table(write_csv(tmp_path / "s.csv", lines))
    assert err.value.row == 3 and err.value.column == "lon"  # spreadsheet row


def test_bad_wkt(tmp_path: Path) -> None:
    lines = ["code|wkt", "1|POINT (118.78 32.04)", "2|POLYGON ((1 2, 3"]
    with pytest.raises(InputError, match="not a valid WKT") as err:
        read_table(write_csv(tmp_path / "s.csv", lines))
    assert err.value.row == 3  # spreadsheet row: the header is row 1


def test_shapefile_with_wrong_cpg(tmp_path: Path) -> None:
    path = write_zipped_shapefile(tmp_path, encoding="GBK", keep_cpg=False)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("data/sites.cpg", "UTF-8")
    frame, info = read_table(path)
    assert info.encoding == "gbk" and frame["name"].tolist() == NAMES
    assert "says the text is UTF-8, but it is not" in info.notes[0]
