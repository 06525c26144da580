"""The print engine (gridmap/print): true scale and north, symbols as on the web map, paper
sizes, labels that do not overlap; grid sheets of the real demo from the CLI and over HTTP,
read back with poppler (pdftotext, pdffonts, pdftoppm); what each role may print.

Unit tests use hand-made squares in UTM zone 50 whose sizes on paper can be worked out by
hand; end-to-end tests print grids of the session's demo workspace (real OSM, central
Nanjing). PDFs are read with the poppler tools of ``scripts/setup --dev``.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from PIL import Image

from gridmap import store
from gridmap.access.roles import Access
from gridmap.cli import main
from gridmap.errors import FeatureNotFoundError, InputError
from gridmap.print import (
    Column,
    LabelRule,
    MapFigure,
    MapLayer,
    Page,
    Sheet,
    Style,
    Table,
    furniture,
    labels,
    render_html,
    render_pdf,
    symbols,
)
from gridmap.print.grids import choose_grids, grid_sheet, parse_grids, sheet_filename
from gridmap.print.jobs import print_params
from gridmap.print.paper import layout, paper
from gridmap.print.render import PrintCancelled, _fit
from gridmap.service import accounts
from gridmap.service import jobs as job_service
from web.jobs import runner_of

from .conftest import ROLE_USERS, client_for

SVG = "{http://www.w3.org/2000/svg}"
UTM50 = "EPSG:32650"
#: A point of the demo area (Nanjing), 1.79° east of zone 50's central meridian (117° E).
NANJING = (118.7875, 32.0425)
STYLES_JS = Path(__file__).resolve().parent.parent / "web" / "static" / "js" / "styles.js"

poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="poppler-utils (scripts/setup --dev) is missing"
)


def utm_square(x0: float, y0: float, side: float) -> gpd.GeoDataFrame:
    """A square of ``side`` metres in UTM zone 50, its south-west corner at (x0, y0), as stored
    (EPSG:4326)."""
    square = shapely.box(x0, y0, x0 + side, y0 + side)
    return gpd.GeoDataFrame({"name": ["方块"]}, geometry=[square], crs=UTM50).to_crs(4326)


def nanjing_xy() -> tuple[float, float]:
    to = pyproj.Transformer.from_crs(4326, UTM50, always_xy=True)
    return to.transform(*NANJING)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def path_x_extent(root: ET.Element, layer: str) -> tuple[float, float]:
    """The smallest and largest x (mm) of the paths of ``layer``'s group."""
    group = next(g for g in root.iter(f"{SVG}g") if g.get("class") == f"layer-{layer}")
    xs = []
    for p in group.iter(f"{SVG}path"):
        numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", p.get("d", ""))]
        xs.extend(numbers[0::2])
    return min(xs), max(xs)


# -- scale, north, furniture ------------------------------------------------------------------


def test_the_ground_of_utm_is_measured_scale_factor_and_true_north() -> None:
    crs = pyproj.CRS.from_user_input(UTM50)
    on_meridian = furniture.ground_at(crs, 117.0, 32.0)
    assert on_meridian.k == pytest.approx(0.9996, abs=2e-6)  # UTM's k0
    assert on_meridian.north_deg == pytest.approx(0.0, abs=1e-6)
    east = furniture.ground_at(crs, *NANJING)
    # east of the central meridian, true north leans west of grid north by the convergence
    factors = pyproj.Proj(crs).get_factors(*NANJING)
    assert east.north_deg == pytest.approx(-factors.meridian_convergence, abs=0.01)
    assert east.north_deg == pytest.approx(-0.95, abs=0.02)
    assert east.k == pytest.approx(factors.meridional_scale, abs=1e-6)


@pytest.mark.parametrize(
    ("asked", "nice"),
    [(9000.4, 10_000), (10_000, 10_000), (1234, 1250), (2600, 3000), (7600, 8000), (151, 200)],
)
def test_scales_round_up(asked: float, nice: int) -> None:
    assert furniture.nice_scale(asked) == nice


def test_scale_bars_are_round_and_fit() -> None:
    assert furniture.scalebar_length(10.0) == 250  # 1:10,000: 250 m is 25 mm (≤ 32 mm)
    assert furniture.scalebar_length(2.0) == 50  # 1:2,000: 50 m is 25 mm
    assert furniture.scalebar_length(4.0) == 100  # 1:4,000: 100 m, not 125
    assert furniture.distance_text(250, "zh-CN") == "250 米"
    assert furniture.distance_text(1500, "en") == "1.5 km"


def test_a_900_m_square_in_100_mm_prints_at_1_to_10000_with_a_true_bar() -> None:
    """900 m across in 100 mm is 1:9,000 on the grid, 1:9,000.4 on the ground (k < 1): the
    round scale is 1:10,000, a millimetre is 10 ground metres, the bar 250 m = 25.0 mm, and
    the square 900 grid metres = 900 / (10 × k) = 90.004 mm wide."""
    x, y = nanjing_xy()
    frame = utm_square(x - 450, y - 450, 900)
    layer = MapLayer("square", frame, Style(fill="#8fb8de", stroke="#000000"))
    fig = MapFigure([layer], crs=UTM50, pad=0.0, lang="zh-CN")
    drawn = fig.render(100, 100, ident="t")
    k = furniture.ground_at(fig.crs, *fig.centre).k
    assert drawn.scale == 10_000
    assert drawn.metres_per_mm == pytest.approx(10.0, rel=1e-9)
    assert (drawn.scalebar_m, drawn.scalebar_mm) == (250, pytest.approx(25.0))
    root = parse(drawn.svg)
    bar = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "scalebar")
    assert bar.get("data-length-m") == "250" and bar.get("data-scale") == "10000"
    halves = [r for r in bar.iter(f"{SVG}rect") if r.get("stroke") == "#212529"]
    assert sum(float(r.get("width")) for r in halves) == pytest.approx(25.0, abs=0.01)
    assert any(t.text == "1:10,000" for t in bar.iter(f"{SVG}text"))
    assert any(t.text == "250 米" for t in bar.iter(f"{SVG}text"))
    left, right = path_x_extent(root, "square")
    assert right - left == pytest.approx(900 / (10 * k), abs=0.02)
    assert (left + right) / 2 == pytest.approx(50.0, abs=0.05)  # centred
    # the north arrow is there, turned to true north
    arrow = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "north-arrow")
    turned = next(g for g in arrow.iter(f"{SVG}g") if g.get("transform"))
    angle = float(re.match(r"rotate\((-?[\d.]+)", turned.get("transform")).group(1))
    assert angle == pytest.approx(drawn.north_deg, abs=0.01) and angle < -0.9
    assert any(t.text == "北" for t in arrow.iter(f"{SVG}text"))


def test_without_rounding_the_extent_fills_the_box() -> None:
    """An extent in metres is fitted as it is (in degrees, the square's box in longitude and
    latitude would be a little larger: UTM's grid north is 1° off the meridians here)."""
    x, y = nanjing_xy()
    fig = MapFigure(
        [MapLayer("square", utm_square(x, y, 500), Style(fill="#cccccc"))],
        extent=(x, y, x + 500, y + 500),
        extent_crs=UTM50,
        crs=UTM50,
        pad=0.0,
        round_scale=False,
        lang="en",
    )
    drawn = fig.render(50, 80)  # the width decides: 500 m in 50 mm
    left, right = path_x_extent(parse(drawn.svg), "square")
    assert right - left == pytest.approx(50.0, abs=0.02)
    k = furniture.ground_at(fig.crs, *fig.centre).k
    assert drawn.scale == round(10_000 / k)


def test_a_map_needs_a_projected_crs_and_some_room() -> None:
    x, y = nanjing_xy()
    frame = utm_square(x, y, 100)
    with pytest.raises(InputError):
        MapFigure([MapLayer("s", frame, Style())], crs="EPSG:4326")
    with pytest.raises(InputError):
        MapFigure([MapLayer("s", frame, Style())]).render(10, 80)
    with pytest.raises(InputError):
        MapFigure([])  # no extent, nothing to show


# -- symbols as on the web map -----------------------------------------------------------------


def _js_block(name: str) -> str:
    text = STYLES_JS.read_text(encoding="utf-8")
    start = text.index(name)
    return text[start : text.index(";", start)]


def test_the_palette_is_the_web_maps() -> None:
    """Read web/static/js/styles.js: the printed colours are its colours, in its order."""
    palette = re.findall(r'"(#[0-9a-f]{6})"', _js_block("const GRID_PALETTE"))
    assert tuple(palette) == symbols.GRID_PALETTE
    facilities = dict(re.findall(r'(\w+): "(#[0-9a-f]{6})"', _js_block("FACILITY_COLOURS = ")))
    assert facilities == symbols.FACILITY_COLOURS
    cameras = dict(re.findall(r'(\w+): "(#[0-9a-f]{6})"', _js_block("CAMERA_COLOURS = ")))
    assert cameras == symbols.CAMERA_COLOURS
    assert f'ACCENT = "{symbols.ACCENT}"' in STYLES_JS.read_text()
    assert f'background: "{symbols.BACKGROUND}"' in STYLES_JS.read_text()
    building = _js_block("export const BUILDING")
    for kind, style in symbols.BUILDING.items():
        assert f'{kind}: {{ fillColor: "{style.fill}", color: "{style.stroke}"' in building
    roads = _js_block("export const ROAD_CLASSES")
    for c in symbols.ROAD_CLASSES:
        assert f'id: "{c.id}"' in roads and f'color: "{c.color}"' in roads
        if c.casing:
            assert f'casing: "{c.casing}"' in roads
    assert symbols.darken("#8fb8de", 0.25) == "#6b8aa7"  # styles.js darken: round(v × 0.75)


def test_grid_colours_follow_the_web_maps_rule() -> None:
    """Eleven 100 m squares in a row, codes west to east: each takes the palette colour of its
    place unless a neighbour has it. The eleventh's own colour (palette[0]) is free (the
    first is far): it keeps it; moved next to the first, it takes the next, palette[1] —
    unless its other neighbour has that."""
    x, y = nanjing_xy()
    squares = [shapely.box(x + 100 * i, y, x + 100 * (i + 1), y + 100) for i in range(11)]
    codes = [f"G{i:02d}" for i in range(11)]
    row = gpd.GeoDataFrame({"code": codes}, geometry=squares, crs=UTM50).to_crs(4326)
    colours = symbols.grid_colours(row)
    assert [colours[c] for c in codes] == [*symbols.GRID_PALETTE, symbols.GRID_PALETTE[0]]
    moved = [*squares[:10], shapely.box(x - 100, y, x, y + 100)]  # west of G00
    beside = gpd.GeoDataFrame({"code": codes}, geometry=moved, crs=UTM50).to_crs(4326)
    assert symbols.grid_colours(beside)["G10"] == symbols.GRID_PALETTE[1]


def test_symbols_are_drawn_as_styled() -> None:
    x, y = nanjing_xy()
    points = gpd.GeoDataFrame(
        {"kind": ["police_post", "school"]},
        geometry=[shapely.Point(x, y), shapely.Point(x + 50, y)],
        crs=UTM50,
    ).to_crs(4326)
    layer = MapLayer("facilities", points, lambda p: symbols.facility_style(p["kind"]))
    root = parse(MapFigure([layer], crs=UTM50).render(60, 60).svg)
    circles = [c for c in root.iter(f"{SVG}circle")]
    fills = [c.get("fill") for c in circles]
    assert symbols.FACILITY_COLOURS["police_post"] in fills
    assert symbols.FACILITY_COLOURS["school"] in fills
    rings = [c for c in circles if c.get("fill") == "none"]
    assert len(rings) == 1 and rings[0].get("stroke") == symbols.FACILITY_COLOURS["police_post"]
    assert "style=" not in ET.tostring(root, encoding="unicode")  # presentation attributes only


# -- labels ------------------------------------------------------------------------------------


def test_labels_never_overlap_and_stay_inside() -> None:
    rule = LabelRule(lambda p: [p["name"]], size_mm=3.0, placement="point")
    found = []
    for i in range(6):  # six labels on nearly one spot, and one at the edge
        found.extend(
            labels.candidates(rule, [{"name": f"第{i}网格"}], [shapely.Point(20 + i * 0.5, 20)])
        )
    found.extend(labels.candidates(rule, [{"name": "边上"}], [shapely.Point(58, 5)]))
    placed = labels.place(found, 60, 40)
    assert 1 <= len(placed) < 6
    for i, a in enumerate(placed):
        assert shapely.box(0, 0, 60, 40).contains(a.box)
        for b in placed[i + 1 :]:
            assert not a.box.intersects(b.box)
    assert "边上" not in [p.lines[0] for p in placed]  # would cross the map's edge


def test_a_label_that_does_not_fit_loses_its_second_line_first() -> None:
    rule = LabelRule(lambda p: ["第1网格", "320102001001001"], size_mm=3.0)
    square = shapely.box(0, 0, 16, 16)
    placed = labels.place(labels.candidates(rule, [{}], [square]), 16, 16)
    assert [p.lines for p in placed] == [("第1网格",)]  # 15 digits at 2.4 mm: ~20 mm


# -- paper and layout --------------------------------------------------------------------------


def tiny_sheet(rows: int = 3, lang: str = "zh-CN") -> Sheet:
    x, y = nanjing_xy()
    table = Table(
        (Column("code", "编码"), Column("n", "户数", "right")),
        tuple((f"320102001001{i:03d}", str(i * 10)) for i in range(rows)),
        caption="网格一览",
    )
    figure = MapFigure(
        [MapLayer("square", utm_square(x, y, 300), Style(fill="#8fb8de", stroke="#1f3354"))],
        crs=UTM50,
        lang=lang,
    )
    return Sheet("测试图", (Page("测试页 · 网格图", "副标题", figure, (table,)),), lang=lang)


def pdf_pages(pdf: bytes, tmp_path: Path) -> list[tuple[float, float]]:
    """The page sizes of a PDF in millimetres (pdfinfo)."""
    path = tmp_path / "sheet.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdfinfo", "-f", "1", "-l", "999", str(path)], capture_output=True, text=True, check=True
    ).stdout
    sizes = re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", out)
    return [(float(w) / 72 * 25.4, float(h) / 72 * 25.4) for w, h in sizes]


@poppler
@pytest.mark.parametrize(
    ("name", "orientation", "mm"),
    [
        ("A4", "landscape", (297, 210)),
        ("A4", "portrait", (210, 297)),
        ("A3", "landscape", (420, 297)),
        ("A3", "portrait", (297, 420)),
    ],
)
def test_paper_sizes(name: str, orientation: str, mm: tuple[int, int], tmp_path: Path) -> None:
    pdf = render_pdf(tiny_sheet(), name, orientation)
    sizes = pdf_pages(pdf, tmp_path)
    assert sizes and all(w == pytest.approx(mm[0], abs=0.3) for w, _ in sizes)
    assert all(h == pytest.approx(mm[1], abs=0.3) for _, h in sizes)
    assert len(sizes) == 1  # one page: the map and its small table fit
    lay = layout(paper(name, orientation))
    assert lay.kind == ("side" if orientation == "landscape" else "stack")
    assert f"{lay.map_mm[0]}mm" in render_html(tiny_sheet(), name, orientation)


def test_bad_paper_is_refused_in_both_languages() -> None:
    with pytest.raises(InputError, match="A4 或 A3"):
        paper("Letter")
    with pytest.raises(InputError, match="portrait"):
        paper("A4", "sideways")
    with pytest.raises(InputError, match="pdf 或 html"):
        print_params("all", fmt="docx")


def test_a_long_list_is_split_beside_the_map_and_continued() -> None:
    sheet = tiny_sheet(rows=80)
    lay = layout(paper("A4", "landscape"))
    beside, after = _fit(sheet.pages[0], lay, legend_entries=4)
    assert len(beside) == 1 and len(after) == 1
    assert 10 < len(beside[0].rows) < 40 and len(beside[0].rows) + len(after[0].rows) == 80
    assert after[0].rows[0] == sheet.pages[0].tables[0].rows[len(beside[0].rows)]


def test_html_for_print_fetches_nothing_and_has_no_script_or_style_attributes() -> None:
    html = render_html(tiny_sheet(), "A4", "landscape")
    assert html.count("<style>") == 1 and "<script" not in html
    assert " style=" not in html and "src=" not in html and "href=" not in html
    assert "@page" in html and "size: 297.0mm 210.0mm" in html
    assert "<svg" in html and "测试页 · 网格图" in html


def test_a_cancel_stops_between_pages() -> None:
    with pytest.raises(PrintCancelled):
        render_html(tiny_sheet(), cancelled=lambda: True)


# -- grid sheets of the demo -------------------------------------------------------------------


def pdf_text(path: Path, *pages: int) -> str:
    args = ["pdftotext", "-layout"]
    if pages:
        args += ["-f", str(pages[0]), "-l", str(pages[-1])]
    return subprocess.run(
        [*args, str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def ink(path: Path, page: int, box: tuple[float, float, float, float]) -> float:
    """The share of non-white pixels of ``box`` (fractions of the page: left, top, right,
    bottom) on ``page``, rendered by pdftoppm at 40 dpi."""
    png = subprocess.run(
        ["pdftoppm", "-r", "40", "-f", str(page), "-l", str(page), "-png", str(path)],
        capture_output=True,
        check=True,
    ).stdout
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    h, w, _ = image.shape
    crop = image[int(box[1] * h) : int(box[3] * h), int(box[0] * w) : int(box[2] * w)]
    return float((crop.min(axis=2) < 235).mean())


@pytest.fixture(scope="module")
def two_codes(demo_workspace) -> list[str]:
    return sorted(demo_workspace.read("grids", columns=["code"])["code"])[:2]


@poppler
def test_gridmap_print_two_grids_to_pdf(
    demo_path, demo_workspace, two_codes, tmp_path, capsys
) -> None:
    out = tmp_path / "两个网格.pdf"
    status = main(["print", str(demo_path), "--grids", ",".join(two_codes), "-o", str(out)])
    assert status == 0
    said = capsys.readouterr()
    assert "Printed 2 grid(s)" in said.out and "正在绘制第 1 页" in said.err  # progress
    text = pdf_text(out)
    for code in two_codes:
        assert code in text
    grids = demo_workspace.read("grids", columns=["code", "name"])
    names = grids.set_index("code").loc[two_codes, "name"]
    assert "网格总览" in text and all(name in text for name in names)
    assert "网格信息" in text and "楼栋（序号同图）" in text and "图例" in text
    assert "比例尺 1:" in text and "© OpenStreetMap contributors" in text
    assert two_codes[0] in pdf_text(out, 2)  # page 2: the first grid's own page
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True).stdout
    cjk = [line for line in fonts.splitlines() if "CJK" in line]
    assert cjk and all(" yes " in line for line in cjk), fonts  # embedded (emb: yes)
    assert any("Noto-Sans-CJK-SC" in line for line in cjk)
    # the map (left part of a landscape page, below the header) is drawn, not blank
    assert ink(out, 1, (0.05, 0.2, 0.55, 0.85)) > 0.5
    assert ink(out, 2, (0.05, 0.2, 0.55, 0.85)) > 0.5
    assert ink(out, 2, (0.9, 0.95, 0.99, 0.99)) < 0.2  # the footer's corner: page number only


@poppler
def test_gridmap_print_in_english_on_a3_portrait_html(demo_path, two_codes, tmp_path) -> None:
    out = tmp_path / "sheet.html"
    args = ["print", str(demo_path), "--grids", two_codes[0], "--lang", "en", "--paper", "A3"]
    assert main([*args, "--orientation", "portrait", "-o", str(out), "-q"]) == 0
    html = out.read_text(encoding="utf-8")
    assert "Grid details" in html and "Legend" in html and "Grid overview" not in html  # one grid
    assert "size: 297.0mm 420.0mm" in html and " style=" not in html and "<script" not in html
    assert html.count('class="map-svg"') == 1


def test_the_cli_refuses_unknown_grids_and_a_worker_without_grids(
    demo_path, tmp_path, capsys
) -> None:
    out = tmp_path / "x.pdf"
    assert main(["print", str(demo_path), "--grids", "999", "-o", str(out)]) == 2
    every = ["print", str(demo_path), "--grids", "all", "-o", str(out)]
    assert main([*every, "--role", "grid_worker"]) == 2
    assert "--grids CODES" in capsys.readouterr().err
    # --as names an account (as export and search take it); a role goes with --role
    assert main([*every, "--as", "grid_worker"]) == 2
    assert "--role grid_worker" in capsys.readouterr().err
    assert main(["print", str(demo_path), "--grids", "all", "-o", str(tmp_path / "x.docx")]) == 2
    assert not out.exists() and not list(tmp_path.iterdir())  # nothing left behind


def test_the_cli_prints_as_an_account(demo_path, tmp_path) -> None:
    """--as USER: the account's role and grids; another grid than theirs is not found."""
    out = tmp_path / "mine.html"
    mine = sorted(
        store.GeoPackageWorkspace(demo_path, read_only=True).get_user("demo-worker").grids
    )
    args = ["print", str(demo_path), "--as", "demo-worker", "-q", "-o", str(out)]
    assert main([*args, "--grids", mine[0]]) == 0 and out.exists()
    assert main([*args, "--grids", "320102001005003"]) == 2  # not one of theirs


def test_parse_grids() -> None:
    assert parse_grids("all") is None and parse_grids(["*"]) is None
    assert parse_grids(" a, b ,a") == ["a", "b"] and parse_grids(["a", "b,c"]) == ["a", "b", "c"]
    for bad in (None, "", " , ", "all,a", [3]):
        with pytest.raises(InputError):
            parse_grids(bad)  # type: ignore[arg-type]


def worker_access(ws) -> Access:
    return accounts.access_of(ws, accounts.user(ws, ROLE_USERS["grid_worker"]))


def test_a_grid_worker_prints_only_their_grids(demo_workspace) -> None:
    worker = worker_access(demo_workspace)
    own = sorted(worker.grids)
    assert len(own) == 2
    assert choose_grids(demo_workspace, worker, "all").codes == tuple(own)
    other = next(c for c in demo_workspace.read("grids", columns=["code"])["code"] if c not in own)
    with pytest.raises(FeatureNotFoundError, match="among your grids"):
        choose_grids(demo_workspace, worker, [own[0], other])
    sheet = grid_sheet(demo_workspace, worker, "all", today=None)
    titles = [p.title for p in sheet.pages]
    assert len(titles) == 3 and titles[0].startswith("网格总览")  # overview + their two grids
    planner = Access.of("p", "planner")
    assert len(choose_grids(demo_workspace, planner, "all").codes) == demo_workspace.count("grids")


def test_the_sheet_shows_only_the_columns_the_reader_is_served(
    demo_workspace, two_codes, monkeypatch
) -> None:
    """Whatever the masked view of grids leaves out (the worker's phone, for some roles) the
    sheet leaves out: the sheet asks privacy.served_layer, it does not decide."""
    import dataclasses

    from gridmap.access import privacy

    real = privacy.served_layer
    phone = demo_workspace.read("grids", where={"code": two_codes[0]})["worker_phone"].iloc[0]

    def without_phone(layer, access):
        served = real(layer, access)
        name = served.name
        if name != "grids":
            return served
        return dataclasses.replace(
            served, columns=tuple(c for c in served.columns if c.name != "worker_phone")
        )

    shown = grid_sheet(demo_workspace, Access.of("a", "analyst"), two_codes[0])
    fields = dict(shown.pages[0].tables[0].rows)
    assert fields["网格员电话"] == phone
    monkeypatch.setattr(privacy, "served_layer", without_phone)
    hidden = grid_sheet(demo_workspace, Access.of("a", "analyst"), two_codes[0])
    fields = dict(hidden.pages[0].tables[0].rows)
    assert "网格员电话" not in fields and phone not in render_html(hidden)


def test_a_grid_page_lists_and_numbers_its_buildings(demo_workspace, two_codes) -> None:
    sheet = grid_sheet(demo_workspace, Access.of("a", "analyst"), two_codes[0], lang="en")
    (page,) = sheet.pages
    details, buildings = page.tables
    fields = dict(details.rows)
    grid = demo_workspace.read("grids", where={"code": two_codes[0]}).iloc[0]
    assert fields["Grid code"] == two_codes[0] and fields["Households"] == f"{grid.households:,}"
    held = demo_workspace.read("buildings", where={"grid_code": two_codes[0]})
    assert [r[0] for r in buildings.rows] == [str(i) for i in range(1, len(held) + 1)]
    assert sum(int(r[4].replace(",", "")) for r in buildings.rows) == held["households"].sum()
    svg = page.figure.render(180, 160).svg
    numbers = {t.text for t in parse(svg).iter(f"{SVG}text")}
    assert {str(i) for i in range(1, len(held) + 1)} <= numbers  # every number on the map


# -- over HTTP ---------------------------------------------------------------------------------


def follow(c, doc: dict, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while doc["state"] not in job_service.FINISHED:
        assert time.monotonic() < deadline, doc
        time.sleep(0.1)
        doc = c.get(doc["url"]).get_json()
    return doc


@poppler
def test_a_print_job_over_http(app, two_codes, tmp_path) -> None:
    planner = client_for(app, "planner")
    resp = planner.post("/api/print", json={"grids": ",".join(two_codes), "lang": "zh-CN"})
    assert resp.status_code == 202, resp.get_json()
    doc = resp.get_json()
    assert doc["kind"] == "print" and doc["grids"] == two_codes and doc["format"] == "pdf"
    assert resp.headers["Location"] == doc["url"] == f"/api/jobs/{doc['id']}"
    doc = follow(planner, doc)
    assert doc["state"] == "done" and doc["progress"] == 1.0
    assert doc["filename"] == f"grids-2-{doc['filename'][8:18]}.pdf"
    got = planner.get(doc["result"])
    try:
        assert got.status_code == 200 and got.mimetype == "application/pdf"
        (tmp_path / "job.pdf").write_bytes(got.get_data())
    finally:
        got.close()
    text = pdf_text(tmp_path / "job.pdf")
    assert all(code in text for code in two_codes) and "网格总览" in text
    assert planner.delete(doc["url"]).status_code == 204


def test_the_plain_print_and_its_html_for_print(app, demo_workspace) -> None:
    worker = client_for(app, "grid_worker")
    own = sorted(worker_access(demo_workspace).grids)
    resp = worker.get(f"/api/print?grids={own[0]}&format=html&lang=en")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    assert resp.headers["Content-Disposition"].startswith('inline; filename="grid-')
    html = resp.get_data(as_text=True)
    assert own[0] in html and "Grid details" in html
    csp = resp.headers["Content-Security-Policy"]
    assert "style-src 'self' 'sha256-" in csp and "unsafe-inline" not in csp  # its <style> only
    head = worker.head(f"/api/print?grids={own[0]}")
    assert head.status_code == 200 and head.headers["Content-Disposition"].startswith("attachment")
    other = next(c for c in demo_workspace.read("grids")["code"] if c not in own)
    assert worker.get(f"/api/print?grids={other}").status_code == 404
    assert worker.post("/api/print", json={"grids": other}).status_code == 404
    # None of these left a print job (the app is shared: other tests' exports may be there).
    kinds = [j.kind for j in runner_of(app).jobs(worker_access(demo_workspace).owner)]
    assert "print" not in kinds, kinds


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (None, "JSON"),
        ({}, "Name the grids"),
        ({"grids": "all", "paper": "B5"}, "A4 或 A3"),
        ({"grids": "all", "orientation": 3}, "orientation must be text"),
        ({"grids": [1, 2]}, "grid codes"),
        ({"grids": "all", "format": "docx"}, "pdf 或 html"),
    ],
)
def test_bad_prints_are_refused_clearly(app, body, says) -> None:
    analyst = client_for(app, "analyst")
    resp = analyst.post("/api/print", json=body) if body is not None else analyst.post("/api/print")
    assert resp.status_code == 400, resp.get_json()
    assert says in resp.get_json()["error"]["message"]


def test_nobody_signed_in_prints_nothing(app) -> None:
    anon = client_for(app, None)
    assert anon.get("/api/print?grids=all").status_code == 401
    assert anon.post("/api/print", json={"grids": "all"}).status_code == 401


def test_a_cancelled_print_leaves_no_file(app) -> None:
    admin = client_for(app, "admin")
    doc = admin.post("/api/print", json={"grids": "all"}).get_json()
    assert admin.delete(doc["url"]).status_code in (200, 202)
    doc = follow(admin, admin.get(doc["url"]).get_json())
    assert doc["state"] == "cancelled" and doc["result"] is None
    assert not (runner_of(app).folder / doc["id"]).exists()
    assert admin.delete(doc["url"]).status_code == 204  # discarded


def test_the_tiny_workspace_prints_its_one_grid(tiny_workspace) -> None:
    """One grid of 200 m with two buildings (一号楼 residential, 24 households; 二号楼 not),
    no community layer, no worker: one page, both buildings listed and numbered."""
    sheet = grid_sheet(tiny_workspace, Access.of("a", "admin"), "all", lang="zh-CN")
    (page,) = sheet.pages
    assert page.title == "第1网格"
    details, buildings = page.tables
    fields = dict(details.rows)
    assert fields["网格编码"] == "320102001001001" and fields["户数"] == "24"
    assert fields["网格员"] == "—" and fields["监控探头"] == "0 个"
    assert [r[:3] for r in buildings.rows] == [("1", "一号楼", "住宅"), ("2", "二号楼", "非住宅")]
    drawn = page.figure.render(170, 160)
    assert drawn.scale == 1500  # 200 m + 2 × 6 % = 224 m in 160 mm: 1:1,400, rounded up
    root = parse(drawn.svg)
    assert {"1", "2"} <= {t.text for t in root.iter(f"{SVG}text")}
    assert "一号楼" in render_html(sheet)


def test_a_grid_code_that_is_not_ascii_names_a_safe_file() -> None:
    from web.print import _disposition

    name = sheet_filename(["东区/01"], False, date(2026, 12, 2), "pdf")
    assert name == "grid-东区-01-2026-12-02.pdf"  # no path separator reaches the job folder
    header = _disposition(name, "pdf")
    assert header.isascii() and header.startswith('attachment; filename="grid-')
    assert "filename*=UTF-8''grid-%E4%B8%9C%E5%8C%BA-01-2026-12-02.pdf" in header
    assert _disposition(name, "html").startswith("inline; ")


def test_a_workspace_note_cannot_end_the_style_block() -> None:
    from gridmap.print.render import _css_string

    text = _css_string('OSM </style><h1>x</h1>\n"q"\\')
    assert "<" not in text and ">" not in text and "\n" not in text
    assert text == '"OSM \\3c /style\\3e \\3c h1\\3e x\\3c /h1\\3e  \\"q\\"\\\\"'
