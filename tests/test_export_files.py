"""Exported files as their readers get them: names, Chinese notes, 已隐藏, 是/否, units, speed parts.

Unit tests on tiny cases one can check by hand (the tiny workspace of tests/conftest.py: two
buildings, one grid, five streets, two cameras; a few households and people), plus the
Excel writer on hand-made tables, read back with openpyxl.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date, datetime
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import openpyxl
import pandas as pd
import pytest

from gridmap.access import privacy
from gridmap.access.roles import Access
from gridmap.io import export_notes
from gridmap.io.export import export_layer
from gridmap.io.xlsx import sheet_name, write_xlsx
from gridmap.schema import get_layer
from gridmap.service.figures_export import figure_titles, figures_csv
from gridmap.service.jobs.filenames import (
    MAX_CHARS,
    Choice,
    ascii_name,
    content_disposition,
    export_name,
)

DAY = date(2026, 12, 2)
ADMIN = Access.of("admin", "admin")
ANALYST = Access.of("demo-analyst", "analyst")
WINDOWS_BAD = re.compile(r'[<>:"/\\|?*\x00-\x1f]')


def sheets(source) -> dict[str, list[tuple]]:
    """Every sheet of a workbook as rows of values (read-only, and closed after)."""
    book = openpyxl.load_workbook(source, read_only=True)
    try:
        return {name: list(book[name].values) for name in book.sheetnames}
    finally:
        book.close()


# -- file names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("choice", "lang", "name"),
    [
        (Choice(grids=("320102001001001",)), "en", "households_320102001001001_2026-12-02_en.xlsx"),
        (Choice(grids=("320102001001001",)), "zh-CN", "住户_320102001001001_2026-12-02_zh-CN.xlsx"),
        (
            Choice(grids=("320102001001001", "B", "C")),
            "zh-CN",
            "住户_320102001001001等3个网格_2026-12-02_zh-CN.xlsx",
        ),
        (
            Choice(grids=("320102001001001", "B", "C")),
            "en",
            "households_320102001001001+2grids_2026-12-02_en.xlsx",
        ),
        (Choice(filtered=True), "zh-CN", "住户_筛选_2026-12-02_zh-CN.xlsx"),
        (Choice(filtered=True), "en", "households_filtered_2026-12-02_en.xlsx"),
        (
            Choice(grids=("320102001001001",), filtered=True),
            "en",
            "households_320102001001001_filtered_2026-12-02_en.xlsx",
        ),
        (Choice(ids=12), "en", "households_12selected_2026-12-02_en.xlsx"),
        (Choice(ids=12), "zh-CN", "住户_选中12项_2026-12-02_zh-CN.xlsx"),
        (Choice(bbox=True), "en", "households_view_2026-12-02_en.xlsx"),
        (Choice(), "en", "households_all_2026-12-02_en.xlsx"),
        (Choice(), "zh-CN", "住户_全部_2026-12-02_zh-CN.xlsx"),
    ],
)
def test_names_say_layer_area_date_and_language(choice, lang, name):
    assert export_name("households", "xlsx", lang=lang, day=DAY, choice=choice) == name


def test_a_shapefile_is_named_zip():
    assert export_name("grids", "shp", lang="en", day=DAY) == "grids_all_2026-12-02_en.zip"


def test_names_are_safe_on_windows_and_short():
    codes = ('a<b>:"c/d\\e|f?g*h\x01 i.', *[f"3201020010010{i:02d}" for i in range(40)])
    for lang in ("en", "zh-CN"):
        name = export_name("households", "csv", lang=lang, day=DAY, choice=Choice(grids=codes))
        assert not WINDOWS_BAD.search(name) and " " not in name, name
        assert len(name) <= MAX_CHARS and name.endswith(f"_2026-12-02_{lang}.csv"), name
        assert ("等41个网格" if lang == "zh-CN" else "+40grids") in name  # how many survives
    long = ("9" * 300,)
    name = export_name("people", "xlsx", lang="zh-CN", day=DAY, choice=Choice(grids=long))
    assert len(name) <= MAX_CHARS and name.startswith("人员_999") and name.endswith("_zh-CN.xlsx")


def test_the_ascii_fallback_is_english_and_ascii():
    zh = export_name("households", "xlsx", lang="zh-CN", day=DAY, choice=Choice(grids=("A", "B")))
    plain = export_name(
        "households",
        "xlsx",
        lang="zh-CN",
        day=DAY,
        choice=Choice(grids=("A", "B")),
        ascii_only=True,
    )
    assert plain == "households_A+1grids_2026-12-02_zh-CN.xlsx" and plain.isascii()
    header = content_disposition(zh, plain)
    assert header.startswith(f"attachment; filename=\"{plain}\"; filename*=UTF-8''")
    assert unquote(header.split("UTF-8''", 1)[1]) == zh  # RFC 5987: percent-encoded UTF-8
    # an ASCII name needs no filename*; a name with a quote or a non-ASCII letter is made safe
    assert content_disposition("grids_all_2026-12-02_en.csv") == (
        'attachment; filename="grids_all_2026-12-02_en.csv"'
    )
    assert ascii_name('a"b网格.csv') == "a-b.csv"


# -- the Excel writer ---------------------------------------------------------------------------


def test_write_xlsx_types_header_filter_and_notes(tmp_path: Path):
    table = pd.DataFrame(
        {
            "名称": ["一号楼", '=HYPERLINK("x")', None, " 空格 ", "a<b>&c\x01"],
            "n": pd.array([1, None, 3, -4, 5], dtype="Int64"),
            "x": [1.5, np.nan, 2.0, 1e-5, np.inf],
            "when": pd.to_datetime(
                [
                    "2026-01-31 08:30",
                    None,
                    "2026-02-01 00:00",
                    "2026-02-02 00:00",
                    "2026-02-03 00:00",
                ]
            ),
            "day": pd.to_datetime(["2026-01-31", "2026-02-01", None, "2026-02-02", "2026-02-03"]),
            "flag": pd.array([True, False, None, True, False], dtype="boolean"),
        }
    )
    out = tmp_path / "t.xlsx"
    steps: list[float] = []
    write_xlsx(
        out,
        table,
        "数据[1]",
        [("说明", "文件说明"), ("行数", "5")],
        about_sheet="说明",
        kinds={"when": "datetime"},
        progress=steps.append,
    )
    assert steps and steps[-1] == 1.0
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["数据_1_", "说明"]
    sheet = book["数据_1_"]
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    assert rows[0] == ["名称", "n", "x", "when", "day", "flag"]
    assert rows[1] == ["一号楼", 1, 1.5, datetime(2026, 1, 31, 8, 30), datetime(2026, 1, 31), True]
    assert rows[2] == ['=HYPERLINK("x")', None, None, None, datetime(2026, 2, 1), False]
    assert sheet.cell(3, 1).data_type == "s"  # text, never a formula
    assert rows[3][:3] == [None, 3, 2.0] and rows[3][5] is None
    assert rows[4][:3] == [" 空格 ", -4, 1e-5]
    # a control character as Excel writes it (openpyxl leaves the escape as it is)
    assert rows[5][0] == "a<b>&c_x0001_" and rows[5][2] is None  # inf is no number Excel has
    assert sheet.cell(2, 4).number_format == "yyyy\\-mm\\-dd\\ hh:mm"
    assert sheet.cell(2, 5).number_format == "yyyy\\-mm\\-dd"  # midnight only: a date
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:F6"
    assert sheet.cell(1, 1).font.b
    assert [[c.value for c in r] for r in book["说明"].iter_rows()] == [
        ["说明", "文件说明"],
        ["行数", "5"],
    ]
    assert "_xlnm._FilterDatabase" in book.defined_names or sheet.auto_filter.ref
    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None


def test_write_xlsx_streams_many_rows_and_an_empty_table(tmp_path: Path):
    n = 12_345  # more than two blocks
    table = pd.DataFrame({"i": np.arange(n), "s": [f"行{i}" for i in range(n)]})
    write_xlsx(tmp_path / "big.xlsx", table, "big", ["about"])
    back = pd.read_excel(tmp_path / "big.xlsx", sheet_name="big")
    assert (
        len(back) == n and back["i"].tolist() == list(range(n)) and back["s"].iloc[-1] == "行12344"
    )
    write_xlsx(tmp_path / "empty.xlsx", table.iloc[:0], "empty", [])
    assert [c.value for c in openpyxl.load_workbook(tmp_path / "empty.xlsx")["empty"][1]] == [
        "i",
        "s",
    ]


def test_sheet_names_are_valid_and_unique():
    assert sheet_name("a" * 40) == "a" * 31
    assert sheet_name("about", ["About"]) == "about (2)"


# -- what the cells and titles say ------------------------------------------------------------


def test_column_titles_carry_units_in_chinese():
    columns = {c.name: c for c in get_layer("grids").columns}
    assert export_notes.column_title(columns["area_m2"], "zh-CN") == "面积 (m²)"
    assert export_notes.column_title(columns["area_m2"], "en") == "area_m2"
    assert export_notes.column_title(columns["households"], "zh-CN") == "户数"  # a count
    streets = {c.name: c for c in get_layer("streets").columns}
    assert export_notes.column_title(streets["length_m"], "zh-CN") == "长度 (m)"
    cameras = {c.name: c for c in get_layer("cameras").columns}
    assert export_notes.column_title(cameras["bearing_deg"], "zh-CN") == "朝向 (°)"


def test_every_masking_reason_has_its_chinese():
    for view in privacy.VIEWS.values():
        for why in view.dropped.values():
            assert why in export_notes.REASONS_ZH, why
        for how in view.coarsen.values():
            assert how.doc in export_notes.COARSENED_ZH, how.doc


def test_yes_no_hidden_and_titles_in_both_languages():
    table = pd.DataFrame(
        {
            "category": ["routine", privacy.MASK, None],
            "grid_code": ["A", "B", "C"],
        }
    )
    schema = privacy.served_layer("visits", ANALYST)
    zh = export_notes.readable_values(table, schema, "zh-CN", masked=True)
    assert zh["category"].tolist()[:2] == ["日常走访", "已隐藏"] and pd.isna(zh["category"][2])
    en = export_notes.readable_values(table, schema, "en", masked=True)
    assert en["category"].tolist()[:2] == ["Routine", "hidden"] and pd.isna(en["category"][2])
    flags = pd.DataFrame({"residential": pd.array([True, False, None], dtype="boolean")})
    buildings = get_layer("buildings")
    assert export_notes.readable_values(flags, buildings, "zh-CN", masked=False)[
        "residential"
    ].tolist() == ["是", "否", None]
    assert export_notes.readable_values(flags, buildings, "en", masked=False)[
        "residential"
    ].tolist() == ["Yes", "No", None]
    # an admin's *** is what was stored: only a masked view's mask says hidden
    raw = export_notes.readable_values(table, get_layer("visits"), "zh-CN", masked=False)
    assert raw["category"].tolist()[1] == privacy.MASK


def test_a_chinese_export_reads_as_chinese(demo_workspace, tmp_path: Path):
    out = export_layer(
        demo_workspace,
        "visits",
        tmp_path / "v.xlsx",
        access=ANALYST,
        lang="zh-CN",
        where={"grid_code": "320102001001003"},
        asked={"grids": ["320102001001003"], "where": ["outcome=met"]},
    )
    book = sheets(out)
    assert list(book) == ["走访记录", "说明"]
    rows = book["走访记录"]
    assert rows[0] == ("所属网格", "走访人", "走访时间", "走访类别", "走访结果", "数据来源")
    n = demo_workspace.count("visits", where={"grid_code": "320102001001003"})
    assert len(rows) - 1 == n
    categories = {r[3] for r in rows[1:]}
    assert categories <= {"已隐藏", "日常走访"} and "已隐藏" in categories
    assert all(isinstance(r[2], datetime) for r in rows[1:])  # real dates, local time
    stored = demo_workspace.read("visits", where={"grid_code": "320102001001003"})
    local = stored["visited_at"].dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
    # the same times; in the order of the analyst's opaque ids, not the stored one
    assert sorted(r[2] for r in rows[1:]) == sorted(local.dt.to_pydatetime())
    assert [r[2] for r in rows[1:]] != list(local.dt.to_pydatetime())
    notes = dict(book["说明"])
    assert notes["说明"] == "文件说明：走访记录"
    assert notes["范围"] == "网格 320102001001003；符合筛选条件的行"
    assert notes["筛选条件"] == "outcome=met"
    assert notes["走访时间"] == "走访时间，字段名 visited_at"  # the columns' list in Chinese too
    assert notes["行数"] == f"{n:,}" and notes["导出人"] == "demo-analyst (分析员)"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} \(Asia/Shanghai\)", notes["导出时间"])
    assert "脱敏视图" in notes["脱敏"] and "已隐藏" in notes["脱敏"]
    assert notes["备注 (note)"].startswith("未导出：")
    assert notes["走访类别 (category)"].startswith("已简化：")
    assert "演示数据" in notes and not any(
        re.search(r"[A-Za-z]{5,}", str(v)) for k, v in notes.items() if k in ("脱敏", "演示数据")
    )


def test_an_english_export_reads_as_english(demo_workspace, tmp_path: Path):
    out = export_layer(demo_workspace, "buildings", tmp_path / "b.csv", access=ANALYST, lang="en")
    table = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    header = table[0]
    assert header[:3] == ["osm_id", "name", "building"] and "residents" not in header
    assert {r[header.index("residential")] for r in table[1:]} == {"Yes", "No"}
    notes = (tmp_path / "b.notice.txt").read_text(encoding="utf-8")
    assert "About: About this file: Buildings" in notes and "Masked: " in notes
    assert "residents: left out: residents of a one-household building" in notes
    assert "OpenStreetMap contributors" in notes


def test_csv_in_chinese_has_the_bom_units_and_yes_no(demo_workspace, tmp_path: Path):
    out = export_layer(demo_workspace, "buildings", tmp_path / "b.csv", access=ADMIN, lang="zh-CN")
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with the mark
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert "高度 (m)" in table[0] and "是否住宅" in table[0]
    assert {r[table[0].index("是否住宅")] for r in table[1:]} == {"是", "否"}
    notes = (tmp_path / "b.notice.txt").read_text(encoding="utf-8")
    assert "说明：文件说明：楼栋" in notes and "OpenStreetMap 贡献者" in notes
    assert "脱敏" not in notes  # the admin sees every column


def test_figures_csv_in_chinese(demo_workspace):
    from gridmap.service import figures

    table = figures.register_figures(demo_workspace, ANALYST, None)
    raw = figures_csv(table, "zh-CN")
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:4] == ["网格编码", "户数", "人口", "女 0–14岁"]
    assert len(rows[0]) == len(table.columns) == len(set(figure_titles()) & set(table.columns))
    suppressed = int(table.iloc[:, 1:].isna().sum().sum())
    assert sum(cell == "已隐藏" for r in rows[1:] for cell in r) == suppressed
    assert "" not in {cell for r in rows[1:] for cell in r}  # nothing looks empty
    english = figures_csv(table, "en").decode("utf-8")
    assert english.startswith("grid_code,households,") and not english.startswith("\ufeff")


def test_a_chinese_csv_with_unit_titles_imports_back(demo_path, tmp_path):
    from gridmap.cli.main import main
    from gridmap.store import open_workspace

    out = tmp_path / "cameras.csv"
    assert main(["-q", "export", str(demo_path), "cameras", "-o", str(out), "--lang", "zh-CN"]) == 0
    copy = tmp_path / "copy.gpkg"
    copy.write_bytes(demo_path.read_bytes())
    assert main(["-q", "import", str(copy), "cameras", str(out), "--replace"]) == 0
    before = open_workspace(demo_path).read("cameras")
    after = open_workspace(copy).read("cameras")
    assert list(after["height_m"]) == list(before["height_m"])
    assert list(after["bearing_deg"]) == list(before["bearing_deg"])


def test_a_masked_cell_written_as_words_is_refused_on_import():
    import pandas as pd

    from gridmap.errors import SchemaError
    from gridmap.schema import get_layer
    from gridmap.schema.validate import check_not_masked

    layer = get_layer("households")
    for word in ("已隐藏", "hidden"):
        frame = pd.DataFrame({"household_id": ["H1"], "head_name": [word]})
        with pytest.raises(SchemaError, match="masked value"):
            check_not_masked(frame, layer, source="households.xlsx")
    check_not_masked(pd.DataFrame({"head_name": ["王小明"]}), layer, source=None)


def test_a_chinese_export_names_what_a_camera_watches(demo_workspace, tmp_path: Path):
    out = export_layer(demo_workspace, "cameras", tmp_path / "c.csv", access=ANALYST, lang="zh-CN")
    table = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    column = table[0].index("监控对象")
    assert {r[column] for r in table[1:]} <= {"路口", "出入口", "街道", "停车场", ""}
