"""Write tables to Excel quickly: a header row, real date cells, filters, a notes sheet.

The workbook is written here as its XML parts (ECMA-376 SpreadsheetML: a zip of a workbook, a
style sheet and one XML part per sheet), a column at a time: each column's cells are made as
text by vectorised pandas string operations, then joined into rows and streamed into the zip
in blocks of :data:`BLOCK_ROWS`. The register's 57,280 people (1.1 million cells) take about a
second this way; xlsxwriter, which writes one cell at a time through Python, took ten
(``scripts/bench_export.py``). Memory stays flat: one block of rows at a time.

Cells never attack their reader: text is always written as an inline string (a name imported
as ``=HYPERLINK(…)`` stays a string cell, never a formula or a link), and
:func:`neutralise_formulas` makes the same text harmless in a CSV file, which has no cell types.
Times are written as Excel date serials (days since 1899-12-30) with a date or date-time format:
real dates that sort and filter, in whatever zone the caller converted them to.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

MAX_WIDTH = 40
#: Rows joined and written to the zip at a time.
BLOCK_ROWS = 5_000
#: First characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection):
#: = + - @, and tab or carriage return before them.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Excel's sheet names: at most 31 characters, none of these.
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")
#: Characters XML 1.0 cannot hold or keep (a carriage return is read back as a line feed), and
#: the ``_`` of a literal ``_xHHHH_``, which Excel would read as an escape.
_XML_BAD = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")
_EPOCH = np.datetime64("1899-12-30T00:00:00", "us")
_DAY_US = 86_400_000_000

# cell styles (cellXfs indexes of _STYLES)
_HEADER, _DATE, _DATETIME, _WRAP = 1, 2, 3, 4


def neutralise_formulas(table: pd.DataFrame) -> pd.DataFrame:
    """Return ``table`` with text that a spreadsheet would run as a formula made plain text.

    Following OWASP's advice for CSV files, a text value starting with one of
    :data:`FORMULA_STARTS` gets a leading apostrophe (``'=HYPERLINK(…)``), which spreadsheets
    show as text. Numbers (negative ones too), dates and missing values are left as they are;
    so is ``table``.
    """
    out = table.copy()
    for name in out.columns:
        column = out[name]
        if not (column.dtype == object or pd.api.types.is_string_dtype(column.dtype)):
            continue
        values = column.tolist()
        if any(isinstance(v, str) and v.startswith(FORMULA_STARTS) for v in values):
            out[name] = pd.Series(
                [
                    f"'{v}" if isinstance(v, str) and v.startswith(FORMULA_STARTS) else v
                    for v in values
                ],
                index=column.index,
                dtype=object,
            )
    return out


def sheet_name(text: str, taken: Sequence[str] = ()) -> str:
    """Return ``text`` as a valid sheet name: no ``[]:*?/\\``, at most 31 characters, unique."""
    base = _SHEET_BAD.sub("_", text).strip("'") or "Sheet"
    name = base[:31]
    n = 2
    while name.lower() in {t.lower() for t in taken}:
        suffix = f" ({n})"
        name = base[: 31 - len(suffix)] + suffix
        n += 1
    return name


def _width(text: str) -> int:
    """Return how many narrow characters ``text`` takes on screen (CJK: two each)."""
    return sum(2 if ord(ch) >= 0x2E80 else 1 for ch in text)


def _column_letters(n: int) -> list[str]:
    out = []
    for i in range(n):
        s, k = "", i + 1
        while k:
            k, r = divmod(k - 1, 26)
            s = chr(65 + r) + s
        out.append(s)
    return out


def _xml_text(values: pd.Series) -> pd.Series:
    """Escape text for XML: &, <, > and characters XML cannot hold (as Excel's ``_xHHHH_``)."""
    text = values.astype(str)
    if text.str.contains("[&<>]", regex=True).any():
        text = text.str.replace("&", "&amp;", regex=False)
        text = text.str.replace("<", "&lt;", regex=False)
        text = text.str.replace(">", "&gt;", regex=False)
    if text.str.contains(_XML_BAD).any():
        text = text.str.replace(_XML_BAD, lambda m: f"_x{ord(m.group(0)):04X}_", regex=True)
    return text


@dataclass(frozen=True)
class _Column:
    """One column's cells as XML text (empty where the value is missing) and its width."""

    cells: np.ndarray
    width: float


def _cells(series: pd.Series, letter: str, rows: np.ndarray, kind: str | None) -> _Column:
    """Return the cells of one column (rows numbered ``rows``) as SpreadsheetML ``<c>`` text."""
    n = len(series)
    out = np.full(n, "", dtype=object)
    ref = letter + rows.astype(str).astype(object)
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
        known = series.notna().to_numpy()
        flags = series[known].astype(bool).to_numpy()
        out[known] = '<c r="' + ref[known] + '" t="b"><v>' + np.where(flags, "1", "0") + "</v></c>"
        return _Column(out, 6)
    if pd.api.types.is_datetime64_any_dtype(dtype):
        stamps = series.dt.tz_localize(None) if isinstance(dtype, pd.DatetimeTZDtype) else series
        values = stamps.to_numpy(dtype="datetime64[us]")
        known = ~np.isnat(values)
        days = (values[known] - _EPOCH).astype(np.int64) / _DAY_US
        whole = kind == "date" or (kind is None and bool(np.all(days == np.floor(days))))
        style = _DATE if whole else _DATETIME
        text = pd.Series(days).map(repr).to_numpy(dtype=object)
        out[known] = '<c r="' + ref[known] + f'" s="{style}"><v>' + text + "</v></c>"
        return _Column(out, 11 if whole else 17)
    if pd.api.types.is_numeric_dtype(dtype):
        values = series.to_numpy(dtype=float, na_value=np.nan)
        known = np.isfinite(values)
        if pd.api.types.is_integer_dtype(dtype):
            text = pd.Series(series[known].astype("int64").to_numpy()).astype(str)
        else:
            text = pd.Series(values[known]).map(repr)
        t = text.to_numpy(dtype=object)
        out[known] = '<c r="' + ref[known] + '"><v>' + t + "</v></c>"
        width = max((len(v) for v in t[:200]), default=6)
        return _Column(out, width)
    objects = series.astype(object)
    known = objects.notna().to_numpy() & (objects.astype(str) != "").to_numpy()
    raw = objects[known].astype(str)
    text = _xml_text(raw).to_numpy(dtype=object)
    # leading or trailing blanks are kept only when the cell says so
    spaced = (raw.str.strip() != raw).to_numpy()
    keep = np.where(spaced, ' xml:space="preserve"', "")
    out[known] = (
        '<c r="' + ref[known] + '" t="inlineStr"><is><t' + keep + ">" + text + "</t></is></c>"
    )
    width = max((_width(v) for v in raw.iloc[:200]), default=6)
    return _Column(out, width)


def _rows_xml(columns: list[_Column], first_row: int, n: int) -> Iterator[tuple[int, str]]:
    """Yield (rows done, ``<row>`` elements), :data:`BLOCK_ROWS` rows at a time."""
    for start in range(0, n, BLOCK_ROWS):
        stop = min(n, start + BLOCK_ROWS)
        numbers = np.arange(first_row + start, first_row + stop).astype(str).astype(object)
        row = '<row r="' + numbers + '">'
        for col in columns:
            row = row + col.cells[start:stop]
        yield stop, "".join((row + "</row>").tolist())


def _header_xml(titles: Sequence[str], letters: Sequence[str]) -> str:
    cells = "".join(
        f'<c r="{c}1" s="{_HEADER}" t="inlineStr"><is><t>{escape(str(t))}</t></is></c>'
        for c, t in zip(letters, titles, strict=True)
    )
    return f'<row r="1">{cells}</row>'


def _sheet_open(widths: Sequence[float], last: str, *, frozen: bool) -> str:
    pane = (
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
        if frozen
        else ""
    )
    cols = "".join(
        f'<col min="{i}" max="{i}" width="{w:.1f}" customWidth="1"/>'
        for i, w in enumerate(widths, start=1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f'<dimension ref="A1:{last}"/>'
        f'<sheetViews><sheetView workbookViewId="0">{pane}</sheetView></sheetViews>'
        '<sheetFormatPr defaultRowHeight="15"/>'
        + (f"<cols>{cols}</cols>" if cols else "")
        + "<sheetData>"
    )


_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy\\-mm\\-dd"/>'
    '<numFmt numFmtId="165" formatCode="yyyy\\-mm\\-dd\\ hh:mm"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="3"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFEEF1F5"/><bgColor indexed="64"/>'
    "</patternFill></fill></fills>"
    '<borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border>'
    '<border><left/><right/><top/><bottom style="thin"><color auto="1"/></bottom><diagonal/>'
    "</border></borders>"
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="5"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="1" xfId="0" applyFont="1" applyFill="1" '
    'applyBorder="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1">'
    '<alignment vertical="top" wrapText="1"/></xf></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def _package(names: Sequence[str], filters: dict[int, str]) -> dict[str, str]:
    """The parts of the workbook besides its sheets: content types, relations, workbook."""
    sheets = "".join(
        f'<sheet name="{escape(n, {chr(34): "&quot;"})}" sheetId="{i}" r:id="rId{i}"/>'
        for i, n in enumerate(names, start=1)
    )
    defined = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
        f"{escape(ref)}</definedName>"
        for i, ref in filters.items()
    )
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, len(names) + 1)
    )
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/'
        f'2006/relationships/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(names) + 1)
    )
    n = len(names)
    head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    return {
        "[Content_Types].xml": head
        + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.styles+xml"/>' + overrides + "</Types>",
        "_rels/.rels": head
        + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": head
        + '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<bookViews><workbookView activeTab="0"/></bookViews>'
        f"<sheets>{sheets}</sheets>"
        + (f"<definedNames>{defined}</definedNames>" if defined else "")
        + "</workbook>",
        "xl/_rels/workbook.xml.rels": head
        + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        + rels
        + f'<Relationship Id="rId{n + 1}" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>',
        "xl/styles.xml": _STYLES,
    }


def _quoted(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def write_xlsx(
    path: str | os.PathLike[str],
    table: pd.DataFrame,
    sheet: str,
    about: Sequence[str] | Sequence[tuple[str, str]],
    *,
    about_sheet: str = "about",
    kinds: Mapping[str, str] | None = None,
    progress: Callable[[float], None] | None = None,
) -> None:
    """Write ``table`` to the sheet ``sheet`` of a new workbook, and ``about`` to a notes sheet.

    Parameters
    ----------
    path
        The .xlsx file to write (replaced if it exists).
    table
        The rows: numbers become number cells, booleans Excel booleans, datetimes date cells
        (as they are: convert them to the zone the reader should see first), anything else
        text cells. Missing values leave the cell empty. The column names are the header row
        (bold, frozen, with a filter).
    sheet
        The data sheet's name (made valid: at most 31 characters, no ``[]:*?/\\``).
    about
        The notes: lines of text (one column), or (label, text) pairs (two columns).
    about_sheet
        The notes sheet's name.
    kinds
        ``{column: "date" | "datetime"}``: the format of a datetime column (default: a date
        where every value is midnight, else date and time).
    progress
        Called with the fraction of rows written (0-1) after each block of rows; what it
        raises stops the writing (the caller removes the file).
    """
    names = [sheet_name(sheet)]
    names.append(sheet_name(about_sheet, names))
    titles = [str(c) for c in table.columns]
    letters = _column_letters(max(len(titles), 2))
    n = len(table)
    numbers = np.arange(2, n + 2)
    columns = [
        _cells(table.iloc[:, j], letters[j], numbers, (kinds or {}).get(titles[j]))
        for j in range(len(titles))
    ]
    widths = [
        min(MAX_WIDTH, max(_width(t) * 1.2, c.width, 6) + 2)
        for t, c in zip(titles, columns, strict=True)
    ]
    last_col = letters[max(len(titles), 1) - 1]
    last = f"{last_col}{n + 1}"
    filters = {0: f"{_quoted(names[0])}!$A$1:${last_col}${max(n + 1, 2)}"} if titles else {}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for part, text in _package(names, filters).items():
            zf.writestr(part, text)
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            fh.write(_sheet_open(widths, last, frozen=True).encode())
            fh.write(_header_xml(titles, letters[: len(titles)]).encode())
            for done, block in _rows_xml(columns, 2, n):
                fh.write(block.encode())
                if progress is not None:
                    progress(done / max(n, 1))
            fh.write(b"</sheetData>")
            if titles:
                fh.write(f'<autoFilter ref="A1:{last_col}{max(n + 1, 2)}"/>'.encode())
            fh.write(b"</worksheet>")
        zf.writestr("xl/worksheets/sheet2.xml", _notes_xml(about))


def _notes_xml(about: Sequence[str] | Sequence[tuple[str, str]]) -> str:
    """The notes sheet: a bold first line, then lines or (label, text) pairs (labels bold)."""
    pairs = [(a if isinstance(a, tuple) else ("", a)) for a in about]
    two = any(label for label, _ in pairs)
    rows = []
    for i, (label, text) in enumerate(pairs, start=1):
        cells = []
        first = (label, "A") if two else (text, "A")
        style = f' s="{_HEADER}"' if (two or i == 1) else ""
        if first[0]:
            cells.append(
                f'<c r="A{i}"{style} t="inlineStr"><is><t>{_escape(first[0])}</t></is></c>'
            )
        if two and text:
            cells.append(
                f'<c r="B{i}" s="{_WRAP}" t="inlineStr"><is><t>{_escape(text)}</t></is></c>'
            )
        rows.append(f'<row r="{i}">{"".join(cells)}</row>')
    widths = [24.0, 100.0] if two else [110.0]
    last = f"{'B' if two else 'A'}{max(len(pairs), 1)}"
    return _sheet_open(widths, last, frozen=False) + "".join(rows) + "</sheetData></worksheet>"


def _escape(text: str) -> str:
    return str(_xml_text(pd.Series([text])).iloc[0])
