"""load_file: every bad-file case names the row and the problem; good files come out clean."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import pytest
import shapely

from gridmap.errors import (
    CoordinateError,
    EncodingError,
    GeometryError,
    InputError,
    SchemaError,
    UnsupportedFormatError,
)
from gridmap.geo import chinacoords as cc
from gridmap.geo.crs import detect_china_datum, resolve_crs, to_wgs84, utm_crs
from gridmap.io.importer import load_file
from gridmap.schema import get_layer
from tests.bilingual import says_en, says_zh

GEOD = pyproj.Geod(ellps="WGS84")
CENTRE = (118.79, 32.04)  # Nanjing, Xinjiekou
AREA = shapely.box(118.77, 32.02, 118.81, 32.06)
UTM = pyproj.CRS.from_epsg(32650)


# --- builders ---------------------------------------------------------------------------------


def csv_file(tmp_path: Path, lines: list[str], *, name: str = "in.csv", encoding="utf-8") -> Path:
    """Write CSV lines (header first)."""
    path = tmp_path / name
    path.write_bytes("\n".join(lines).encode(encoding) + b"\n")
    return path


def facilities_csv(tmp_path: Path, points: list[tuple[float, float]], **kw: str) -> Path:
    """Write a facilities CSV with one school per (lon, lat)."""
    lines = ["kind,name,lon,lat"] + [f"school,学校{i},{x},{y}" for i, (x, y) in enumerate(points)]
    return csv_file(tmp_path, lines, **kw)


def geojson_file(tmp_path: Path, geometries: list[dict | None], **props: object) -> Path:
    """Write a GeoJSON FeatureCollection with the given geometries and shared properties."""
    feats = [
        {"type": "Feature", "properties": {**props, "name": f"第{i + 1}"}, "geometry": g}
        for i, g in enumerate(geometries)
    ]
    path = tmp_path / "in.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8")
    return path


def square(lon: float, lat: float, size: float = 0.001) -> dict:
    """Return a GeoJSON square polygon."""
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def point(lon: float, lat: float) -> dict:
    """Return a GeoJSON point."""
    return {"type": "Point", "coordinates": [lon, lat]}


def street_grid(seed: int = 3) -> tuple[gpd.GeoSeries, list[shapely.LineString], tuple]:
    """Return synthetic streets near Nanjing (WGS84), the lines in UTM, and the UTM centre."""
    rng = np.random.default_rng(seed)
    to_utm = pyproj.Transformer.from_crs(4326, UTM, always_xy=True)
    x0, y0 = to_utm.transform(*CENTRE)
    xs = x0 + np.cumsum(rng.uniform(200, 450, 14)) - 2300
    ys = y0 + np.cumsum(rng.uniform(200, 450, 14)) - 2300
    lines = [shapely.LineString([(x, ys[0]), (x, ys[-1])]) for x in xs]
    lines += [shapely.LineString([(xs[0], y), (xs[-1], y)]) for y in ys]
    return gpd.GeoSeries(lines, crs=UTM).to_crs(4326), lines, (x0, y0)


def roadside_points(n: int, seed: int = 3) -> gpd.GeoSeries:
    """Return ``n`` true WGS84 points within 8 m of the synthetic streets, in the central 2 km."""
    rng = np.random.default_rng(seed + 100)
    _, lines, (x0, y0) = street_grid(seed)
    pts: list[shapely.Point] = []
    while len(pts) < n:
        p = lines[rng.integers(len(lines))].interpolate(rng.uniform(0, 1), normalized=True)
        if abs(p.x - x0) < 1000 and abs(p.y - y0) < 1000:
            pts.append(shapely.Point(p.x + rng.uniform(-8, 8), p.y + rng.uniform(-8, 8)))
    return gpd.GeoSeries(pts, crs=UTM).to_crs(4326)


def scattered_points(n: int, seed: int = 3) -> gpd.GeoSeries:
    """Return ``n`` WGS84 points scattered with no relation to the streets, in the central 2 km."""
    rng = np.random.default_rng(seed + 200)
    _, _, (x0, y0) = street_grid(seed)
    xy = shapely.points(rng.uniform(x0 - 1000, x0 + 1000, n), rng.uniform(y0 - 1000, y0 + 1000, n))
    return gpd.GeoSeries(xy, crs=UTM).to_crs(4326)


def metres_apart(a: gpd.GeoSeries, b: gpd.GeoSeries) -> np.ndarray:
    """Return the geodesic distances between matching points."""
    return GEOD.inv(a.x.to_numpy(), a.y.to_numpy(), b.x.to_numpy(), b.y.to_numpy())[2]


def raises(exc: type[InputError], path: Path, layer: str, row: int | None, phrase: str, **kw):
    """Assert load_file raises ``exc`` at ``row`` with ``phrase`` in the message; return it."""
    with pytest.raises(exc) as info:
        load_file(path, layer, **kw)
    err = info.value
    assert type(err) is exc, f"{type(err).__name__}: {err}"
    assert err.row == row, str(err)
    assert phrase in str(err), str(err)
    if row is not None:
        assert f"row {row}" in str(err)
    return err


# --- bad files --------------------------------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(b"")
    raises(InputError, path, "facilities", None, "empty")


def test_header_only(tmp_path: Path) -> None:
    raises(InputError, csv_file(tmp_path, ["kind,name,lon,lat"]), "facilities", None, "no rows")


def test_empty_feature_collection(tmp_path: Path) -> None:
    raises(InputError, geojson_file(tmp_path, []), "grids", None, "no rows")


def test_missing_required_columns(tmp_path: Path) -> None:
    path = csv_file(tmp_path, ["worker,wkt", "王芳,POINT (118.79 32.04)"])
    err = raises(SchemaError, path, "grids", None, "required columns code (网格编码（15位）)")
    assert "name (网格名称)" in str(err)


def test_no_geometry_for_point_layer(tmp_path: Path) -> None:
    path = csv_file(tmp_path, ["kind,name,address", "school,一中,中山路1号"])
    raises(SchemaError, path, "facilities", None, "no geometry")


def test_empty_coordinates(tmp_path: Path) -> None:
    lines = ["kind,name,lon,lat", "school,a,118.79,32.04", "school,b,118.79,32.04", "shop,c,,"]
    raises(GeometryError, csv_file(tmp_path, lines), "facilities", 4, "no coordinates")


def test_null_geometry(tmp_path: Path) -> None:
    path = geojson_file(tmp_path, [square(118.79, 32.04), None], code="1")
    raises(GeometryError, path, "grids", 2, "empty geometry")


def test_self_intersecting_polygon(tmp_path: Path) -> None:
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[118.79, 32.04], [118.80, 32.05], [118.80, 32.04], [118.79, 32.05], [118.79, 32.04]]
        ],
    }
    path = geojson_file(tmp_path, [square(118.78, 32.03), square(118.78, 32.05), bowtie], code="1")
    err = raises(GeometryError, path, "grids", 3, "self-intersection")
    assert "118.795000, 32.045000" in str(err)  # where the outline crosses itself


def test_grids_with_a_code_twice_are_refused_in_both_languages(tmp_path: Path, capsys) -> None:
    """An import of grids with duplicate codes (issue 8's bad input): refused, naming the code
    and the rows, in English and in Chinese; through the CLI nothing is saved, and a file whose
    code a grid of the workspace has already is refused the same way when appended."""
    from gridmap.cli import main
    from tests.conftest import make_tiny_workspace

    code = "320102001001009"
    three = [square(118.785, 32.040, 0.0005), square(118.786, 32.040, 0.0005)]
    three.append(square(118.787, 32.040, 0.0005))
    path = geojson_file(tmp_path, three, code=code)
    err = raises(SchemaError, path, "grids", 2, "already used in row 1")
    message = str(err)
    assert says_en(message, code, "row 1", "row 3"), message
    assert says_zh(message, code, "第 1 行", "第 3 行", "不能重复"), message
    ws = make_tiny_workspace(tmp_path / "tiny.gpkg")
    before = ws.read("grids")
    ws.close()
    gpkg = str(tmp_path / "tiny.gpkg")
    for args in (["grids", str(path), "--replace"], ["grids", str(path)]):
        assert main(["-q", "import", gpkg, *args]) == 2
        said = capsys.readouterr().err
        assert says_en(said, code, "already used") and says_zh(said, code, "不能重复"), said
    taken = geojson_file(tmp_path, [square(118.785, 32.040, 0.0005)], code="320102001001001")
    with pytest.raises(InputError) as info:
        from gridmap import store

        with store.GeoPackageWorkspace(tmp_path / "tiny.gpkg") as ws:
            ws.append("grids", load_file(taken, "grids").frame)
    message = str(info.value)
    assert says_en(message, "320102001001001", "already has"), message
    assert says_zh(message, "320102001001001", "不能重复"), message
    with store.GeoPackageWorkspace(tmp_path / "tiny.gpkg") as ws:
        after = ws.read("grids")
    assert list(after["code"]) == list(before["code"])
    assert shapely.equals(after.geometry.iloc[0], before.geometry.iloc[0])


def test_points_into_polygon_layer(tmp_path: Path) -> None:
    path = geojson_file(tmp_path, [square(118.79, 32.04), point(118.79, 32.04)], code="1")
    raises(GeometryError, path, "grids", 2, "is a Point, but layer 'grids' (网格) holds polygons")


def test_polygon_into_point_layer(tmp_path: Path) -> None:
    path = geojson_file(tmp_path, [point(118.79, 32.04), square(118.79, 32.04)], kind="school")
    raises(GeometryError, path, "facilities", 2, "holds points only (POINT)")


def test_multipoint_into_point_layer(tmp_path: Path) -> None:
    multi = {"type": "MultiPoint", "coordinates": [[118.79, 32.04], [118.8, 32.05]]}
    path = geojson_file(tmp_path, [multi], kind="school")
    raises(GeometryError, path, "facilities", 1, "MultiPoint of 2 parts")


def test_coordinates_out_of_range(tmp_path: Path) -> None:
    path = facilities_csv(tmp_path, [(118.79, 32.04), (118.79, 32.04), (200.5, 32.04)])
    raises(CoordinateError, path, "facilities", 4, "out of range")


def test_lat_lon_swapped(tmp_path: Path) -> None:
    path = facilities_csv(tmp_path, [(118.79, 32.04), (32.05, 118.80)])
    raises(CoordinateError, path, "facilities", 3, "longitude and latitude look swapped")


def test_projected_coordinates_without_crs(tmp_path: Path) -> None:
    path = facilities_csv(tmp_path, [(669000.0, 3547000.0), (669100.0, 3547100.0)])
    raises(CoordinateError, path, "facilities", 2, "look like metres of a projected system")


def test_far_outside_area(tmp_path: Path) -> None:
    path = facilities_csv(tmp_path, [(118.79, 32.04), (118.79, 32.15)])
    err = raises(CoordinateError, path, "facilities", 3, "km outside the workspace area", area=AREA)
    assert "10.0 km" in str(err)


def test_just_outside_area_is_fine(tmp_path: Path) -> None:
    path = facilities_csv(tmp_path, [(118.79, 32.04), (118.79, 32.08)])  # 2.2 km north
    assert load_file(path, "facilities", area=AREA).rows == 2


def test_undetectable_encoding(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(b"kind,name,lon,lat\nschool,\xff\xff,118.79,32.04\n")
    raises(EncodingError, path, "facilities", None, "--encoding")


def test_unknown_format(tmp_path: Path) -> None:
    path = tmp_path / "in.dwg"
    path.write_bytes(b"AC1027")
    raises(UnsupportedFormatError, path, "facilities", None, "GeoPackage (.gpkg)")


def test_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "in.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [\n  {"type": "Feature" "x": 1}]}')
    raises(InputError, path, "grids", None, "line 2, column 22")


@pytest.mark.parametrize(
    ("column", "value", "phrase"),
    [
        ("households", "十二", "'十二' is not a whole number"),
        ("households", "12.5", "'12.5' is not a whole number"),
        ("area_m2", "big", "'big' is not a number"),
        ("community_code", "", ""),  # optional and empty: fine (checked below)
    ],
)
def test_value_does_not_fit(tmp_path: Path, column: str, value: str, phrase: str) -> None:
    lines = [f"code,name,{column},wkt", f"1,甲,3,{_wkt()}", f"2,乙,{value},{_wkt()}"]
    path = csv_file(tmp_path, lines)
    if not phrase:
        assert load_file(path, "grids").frame[column].isna().tolist() == [False, True]
        return
    err = raises(SchemaError, path, "grids", 3, phrase)
    assert err.column == column


def test_bool_date_and_choice_misfits(tmp_path: Path) -> None:
    head = "person_id,household_id,name,registered_here,birth_date,gender"
    good = "p1,h1,张三,是,1950-03-01,男"
    raises(
        SchemaError,
        csv_file(tmp_path, [head, good, "p2,h1,李四,也许,1950-03-01,F"]),
        "people",
        3,
        "not a yes/no value",
    )
    raises(
        SchemaError,
        csv_file(tmp_path, [head, good, good, "p3,h1,王五,否,1950-02-30,F"]),
        "people",
        4,
        "not a real date",
    )
    raises(
        SchemaError,
        csv_file(tmp_path, [head, "p1,h1,张三,是,1950-03-01,X"]),
        "people",
        2,
        "not one of: F (女), M (男)",
    )


def test_required_value_empty(tmp_path: Path) -> None:
    lines = ["code,name,wkt", f"1,甲,{_wkt()}", f"2,,{_wkt()}", f"3,,{_wkt()}"]
    err = raises(SchemaError, csv_file(tmp_path, lines), "grids", 3, "name (网格名称) is empty")
    assert "(also row 4)" in str(err)


def test_many_bad_rows_are_counted(tmp_path: Path) -> None:
    path = facilities_csv(tmp_path, [(118.79, 32.04)] + [(32.04, 118.79)] * 8)
    raises(CoordinateError, path, "facilities", 3, "(also rows 4, 5, 6, 7, 8 and 2 more)")


def _wkt() -> str:
    return '"POLYGON ((118.79 32.04, 118.8 32.04, 118.8 32.05, 118.79 32.04))"'


# --- good files -------------------------------------------------------------------------------


def test_columns_types_and_source(tmp_path: Path) -> None:
    lines = [
        "网格编码（15位）,网格名称,Worker,households,area_m2,colour,source,wkt",
        f'320102001001001,新街口一网格,王芳,"1,234",5000.5,red,,{_wkt()}',
        f"320102001001002,新街口二网格,,12,,blue,user,{_wkt()}",
    ]
    result = load_file(csv_file(tmp_path, lines), "grids")
    layer = get_layer("grids")
    assert isinstance(result.frame, gpd.GeoDataFrame)
    assert list(result.frame.columns) == [*layer.column_names, "geometry"]
    assert result.frame.crs.to_epsg() == 4326
    assert result.rows == 2 and result.crs_used == "EPSG:4326" and result.encoding_used == "utf-8"
    f = result.frame
    assert f["code"].tolist() == ["320102001001001", "320102001001002"]
    assert f["households"].tolist() == [1234, 12] and str(f["households"].dtype) == "Int64"
    assert f["area_m2"].iloc[0] == 5000.5 and np.isnan(f["area_m2"].iloc[1])
    assert f["worker"].tolist() == ["王芳", None]
    assert f["residents"].isna().all()
    assert f["source"].tolist() == ["import", "user"]
    assert f.geometry.iloc[0].geom_type == "MultiPolygon"  # Polygon promoted
    assert any("colour" in w and "Dropped" in w for w in result.warnings)
    assert any("'网格编码（15位）' as 'code'" in w for w in result.warnings)


def test_people_is_a_plain_frame(tmp_path: Path) -> None:
    lines = [
        "person_id,household_id,name,birth_date,registered_here,elderly_alone,arrived,lon,lat",
        "p1,h1,张三,1950年3月1日,是,1,2019/5/6,118.79,32.04",
        "p2,h1,李四,19520301,否,false,,118.79,32.04",
    ]
    result = load_file(csv_file(tmp_path, lines, encoding="gbk"), "people")
    f = result.frame
    assert not isinstance(f, gpd.GeoDataFrame) and result.crs_used is None
    assert result.encoding_used == "gbk"
    assert list(f.columns) == get_layer("people").column_names
    assert f["birth_date"].tolist() == [pd.Timestamp("1950-03-01"), pd.Timestamp("1952-03-01")]
    assert f["registered_here"].tolist() == [True, False]
    assert f["elderly_alone"].tolist() == [True, False]
    assert any("no geometry" in w for w in result.warnings)


def test_datetimes_become_utc(tmp_path: Path) -> None:
    lines = [
        "visit_id,household_id,visited_at,outcome,lon,lat",
        "v1,h1,2024-03-01 14:30,met,118.79,32.04",
        "v2,h1,2024-03-01T08:00:00Z,NOT_HOME,118.79,32.04",
    ]
    result = load_file(csv_file(tmp_path, lines), "visits")
    times = result.frame["visited_at"].tolist()
    assert times == [
        pd.Timestamp("2024-03-01 06:30", tz="UTC"),
        pd.Timestamp("2024-03-01 08:00", tz="UTC"),
    ]
    assert result.frame["outcome"].tolist() == ["met", "not_home"]
    assert any("China Standard Time" in w for w in result.warnings)


def test_xlsx_numbers_as_codes(tmp_path: Path) -> None:
    path = tmp_path / "cams.xlsx"
    frame = pd.DataFrame(
        {
            "code": [1001, 1002],
            "kind": ["fixed", "PTZ"],
            "height_m": [4, 6.5],
            "经度": [118.79, 118.8],
            "纬度": [32.04, 32.05],
        }
    )
    frame.to_excel(path, index=False)
    result = load_file(path, "cameras")
    assert result.frame["code"].tolist() == ["1001", "1002"]
    assert result.frame["kind"].tolist() == ["fixed", "ptz"]
    assert result.frame["height_m"].tolist() == [4.0, 6.5]
    assert result.encoding_used is None


def test_kml_drops_heights(tmp_path: Path) -> None:
    path = tmp_path / "cams.kml"
    marks = "".join(
        f'<Placemark><name>路口{i}</name><ExtendedData><Data name="code"><value>C{i}</value></Data>'
        f'<Data name="kind"><value>dome</value></Data></ExtendedData>'
        f"<Point><coordinates>118.79{i},32.04,12</coordinates></Point></Placemark>"
        for i in range(3)
    )
    path.write_text(
        f'<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2">'
        f"<Document>{marks}</Document></kml>",
        encoding="utf-8",
    )
    result = load_file(path, "cameras")
    assert result.frame["code"].tolist() == ["C0", "C1", "C2"]
    assert result.frame["name"].tolist() == ["路口0", "路口1", "路口2"]
    assert not result.frame.geometry.has_z.any()
    assert any("Z coordinates" in w for w in result.warnings)


def test_gpkg_layer_named_like_target(tmp_path: Path) -> None:
    path = tmp_path / "export.gpkg"
    polys = [shapely.box(118.79, 32.04, 118.8, 32.05)]
    grids = gpd.GeoDataFrame({"code": ["1"], "name": ["甲"]}, geometry=polys, crs=4326)
    pyogrio.write_dataframe(grids, path, layer="grids")
    pyogrio.write_dataframe(grids.assign(code="9"), path, layer="community", append=True)
    result = load_file(path, "grids")
    assert result.frame["code"].tolist() == ["1"] and result.format == "gpkg"


def test_projected_shapefile_converted(tmp_path: Path) -> None:
    x, y = pyproj.Transformer.from_crs(4326, UTM, always_xy=True).transform(*CENTRE)
    frame = gpd.GeoDataFrame({"kind": ["police_post"]}, geometry=[shapely.Point(x, y)], crs=UTM)
    pyogrio.write_dataframe(frame, tmp_path / "posts.shp")
    result = load_file(tmp_path / "posts.shp", "facilities", area=AREA)
    assert result.crs_used == "EPSG:32650"
    assert result.frame.geometry.iloc[0].coords[0] == pytest.approx(CENTRE, abs=1e-7)


def test_gcj02_csv_with_crs_option(tmp_path: Path) -> None:
    truth = roadside_points(5)
    gcj = cc.transform_geometries(truth, cc.wgs84_to_gcj02)
    path = facilities_csv(tmp_path, list(zip(gcj.x, gcj.y, strict=True)))
    result = load_file(path, "facilities", crs="gcj02", area=AREA)
    assert result.crs_used == "gcj02"
    assert metres_apart(result.frame.geometry, truth.reset_index(drop=True)).max() < 1.0


def test_bd09_csv_with_crs_option(tmp_path: Path) -> None:
    truth = roadside_points(5)
    bd = cc.transform_geometries(truth, cc.wgs84_to_bd09)
    path = facilities_csv(tmp_path, list(zip(bd.x, bd.y, strict=True)))
    result = load_file(path, "facilities", crs="BD09", area=AREA)
    assert result.crs_used == "bd09"
    assert metres_apart(result.frame.geometry, truth.reset_index(drop=True)).max() < 1.0


def test_gcj02_detected_against_streets(tmp_path: Path) -> None:
    streets, _, _ = street_grid()
    truth = roadside_points(40)
    gcj = cc.transform_geometries(truth, cc.wgs84_to_gcj02)
    assert detect_china_datum(gcj, streets) == "gcj02"
    assert detect_china_datum(truth, streets) == "wgs84"
    bd = cc.transform_geometries(truth, cc.wgs84_to_bd09)
    assert detect_china_datum(bd, streets) == "bd09"

    path = facilities_csv(tmp_path, list(zip(gcj.x, gcj.y, strict=True)))
    result = load_file(path, "facilities", reference=streets, area=AREA)
    assert result.crs_used == "gcj02"
    assert any("GCJ-02" in w and "converted" in w for w in result.warnings)
    assert metres_apart(result.frame.geometry, truth.reset_index(drop=True)).max() < 1.0


def test_ambiguous_datum_keeps_wgs84_and_warns(tmp_path: Path) -> None:
    streets, _, _ = street_grid()
    scattered = scattered_points(40)
    assert detect_china_datum(scattered, streets) is None
    path = facilities_csv(tmp_path, list(zip(scattered.x, scattered.y, strict=True)))
    result = load_file(path, "facilities", reference=streets)
    assert result.crs_used == "EPSG:4326"
    assert any("could not tell WGS84, GCJ-02" in w for w in result.warnings)
    assert metres_apart(result.frame.geometry, scattered.reset_index(drop=True)).max() < 1e-6


def test_declared_crs_ambiguous_is_silent(tmp_path: Path) -> None:
    streets, _, _ = street_grid()
    scattered = scattered_points(10)
    frame = gpd.GeoDataFrame({"kind": ["shop"] * 10}, geometry=scattered.to_numpy(), crs=4326)
    pyogrio.write_dataframe(frame, tmp_path / "shops.gpkg")
    result = load_file(tmp_path / "shops.gpkg", "facilities", reference=streets)
    assert result.crs_used == "EPSG:4326" and result.warnings == []


def test_explicit_crs_skips_detection(tmp_path: Path) -> None:
    streets, _, _ = street_grid()
    gcj = cc.transform_geometries(roadside_points(20), cc.wgs84_to_gcj02)
    path = facilities_csv(tmp_path, list(zip(gcj.x, gcj.y, strict=True)))
    result = load_file(path, "facilities", crs="wgs84", reference=streets)
    assert result.crs_used == "EPSG:4326" and result.warnings == []


def test_nothing_is_written(tmp_path: Path) -> None:
    pyogrio.write_dataframe(
        gpd.GeoDataFrame({"kind": ["shop"]}, geometry=[shapely.Point(*CENTRE)], crs=4326),
        tmp_path / "shops.gpkg",
    )
    facilities_csv(tmp_path, [CENTRE])
    before = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in tmp_path.iterdir())
    load_file(tmp_path / "shops.gpkg", "facilities")
    load_file(tmp_path / "in.csv", "facilities", crs="gcj02", reference=street_grid()[0])
    after = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in tmp_path.iterdir())
    assert before == after


# --- crs helpers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "name", "datum"),
    [
        ("EPSG:4326", "EPSG:4326", None),
        ("4326", "EPSG:4326", None),
        (4547, "EPSG:4547", None),
        ("WGS84", "EPSG:4326", None),
        ("cgcs2000", "EPSG:4490", None),
        ("GCJ-02", "gcj02", "gcj02"),
        ("bd09", "bd09", "bd09"),
    ],
)
def test_resolve_crs(spec: object, name: str, datum: str | None) -> None:
    src = resolve_crs(spec)
    assert src.name == name and src.china_datum == datum


def test_resolve_unknown_crs() -> None:
    with pytest.raises(CoordinateError, match="Unknown coordinate reference system 'mars2'"):
        resolve_crs("mars2")


def test_cgcs2000_treated_as_wgs84() -> None:
    frame = gpd.GeoDataFrame(geometry=[shapely.Point(*CENTRE)], crs=4490)
    out = to_wgs84(frame)
    assert out.crs.to_epsg() == 4326 and out.geometry.iloc[0].coords[0] == CENTRE


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [(118.79, 32.04, 32650), (116.4, 39.9, 32650), (87.6, 43.8, 32645), (151.2, -33.9, 32756)],
)
def test_utm_crs(lon: float, lat: float, epsg: int) -> None:
    assert utm_crs(lon, lat) == pyproj.CRS.from_epsg(epsg)


def test_long_number_in_text_column(tmp_path: Path) -> None:
    path = tmp_path / "people.xlsx"
    frame = pd.DataFrame(
        {"person_id": ["p1", "p2"], "household_id": ["h1", "h1"], "name": ["张三", "李四"]}
    )
    frame["id_number"] = [None, 320102195003011234.0]  # typed into Excel as a number
    frame.to_excel(path, index=False)
    raises(SchemaError, path, "people", 3, "too long to be exact")


def test_choice_titles_stand_for_codes(tmp_path):
    from gridmap.io.importer import load_file

    path = tmp_path / "cams.csv"
    path.write_text(
        "code,kind,lon,lat\nA,球机,118.787,32.043\nB,Fixed camera,118.788,32.043\nC,ptz,118.789,32.043\n",
        encoding="utf-8",
    )
    result = load_file(path, "cameras")
    assert list(result.frame["kind"]) == ["dome", "fixed", "ptz"]
