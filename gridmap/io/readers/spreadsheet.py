"""Excel workbooks (.xlsx): one sheet as a table, with formulas and error cells accounted for.

An .xlsx keeps a formula's last calculated value beside the formula; Excel and WPS store it, but
a file written by a program (openpyxl, many exporters) often keeps the formula alone. Such cells
would read as empty without a word: here the sheet is read for values (the calculated ones where
they exist) and, when the workbook holds formulas at all, once more for the formulas, so every
formula without a value, and every error value (``#DIV/0!``, ``#N/A``), is listed in
:attr:`ReadInfo.uncomputed` by column, with its cell. The workbook is a zip: it is opened through
:mod:`gridmap.io.readers.archive`, under the same caps as a zipped shapefile.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

import geopandas as gpd
import openpyxl
import pandas as pd
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from gridmap.errors import InputError
from gridmap.io.readers.archive import Budget, iter_member, open_zip
from gridmap.io.readers.base import ReadInfo, UncomputedCell, choose_layer
from gridmap.io.readers.tables import table_geometry

__all__ = ["read_xlsx"]

_EXACT_LIMIT = 10**15
_FORMULA_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")
_BROKEN = (
    KeyError,
    ValueError,
    TypeError,
    IndexError,
    AttributeError,
    OSError,
    EOFError,
    ParseError,
    InvalidFileException,
    zipfile.BadZipFile,
    zlib.error,
)


def _check_and_scan(p: Path, info: ReadInfo) -> bool:
    """Unpack every member once, counted and capped; return whether a worksheet has formulas.

    openpyxl reads members whole with ``ZipFile.read``, which inflates a member in one piece
    before cutting it to its declared size: a member whose header lies would take its real size
    in memory. So every member is first streamed here, and its real size must be the declared
    one (:func:`gridmap.io.readers.archive.iter_member`).
    """
    found = False
    with open_zip(p, info.limits, source=p.name, what="Excel workbook (.xlsx)") as zf:
        budget = Budget(limits=info.limits, source=p.name)
        for name in zf.namelist():
            scan = not found and name.startswith("xl/worksheets/") and name.endswith(".xml")
            tail = b""
            for chunk in iter_member(zf, name, budget):
                if scan and _FORMULA_TAG.search(tail + chunk):
                    found, scan = True, False
                tail = chunk[-32:]
    return found


def _value(v: Any, kind: str) -> Any:
    """Return a cell value as pandas would read it: whole numbers as int (below 10^15)."""
    if v is None or kind == "e":
        return None
    if kind == "n" and isinstance(v, int | float) and not isinstance(v, bool):
        if isinstance(v, float) and v.is_integer() and abs(v) < _EXACT_LIMIT:
            return int(v)
        if isinstance(v, int) and abs(v) >= _EXACT_LIMIT:
            return float(v)  # Excel keeps 15 digits: let validation see the number is not exact
        return v
    if isinstance(v, str) and not v.strip():
        return None
    return v


def _header(values: list[Any]) -> list[str]:
    names: list[str] = []
    seen: dict[str, int] = {}
    for i, v in enumerate(values):
        if v is None or (isinstance(v, str) and not v.strip()):
            name = f"Unnamed: {i}"
        elif isinstance(v, float) and v.is_integer():
            name = str(int(v))
        else:
            name = str(v).strip()
        if name in seen:  # as pandas: a, a.1, a.2
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        names.append(name)
    return names


def _sheet_rows(ws: Any) -> list[tuple[int, list[Any], list[str]]]:
    """Return (sheet row, values, data types) for every row of a read-only worksheet."""
    ws.reset_dimensions()  # some writers declare a wrong sheet size; read what is there
    rows = []
    for r, cells in enumerate(ws.iter_rows(), start=1):
        rows.append(
            (
                r,
                [getattr(c, "value", None) for c in cells],
                [getattr(c, "data_type", "n") for c in cells],
            )
        )
    return rows


def _formulas(p: Path, sheet: str) -> dict[tuple[int, int], str]:
    """Return the formulas of one sheet by (sheet row, 0-based column)."""
    out = {}
    with p.open("rb") as fh:  # ours to close, also when openpyxl fails half-way
        book = openpyxl.load_workbook(fh, read_only=True, data_only=False)
        try:
            for r, values, kinds in _sheet_rows(book[sheet]):
                for c, (v, k) in enumerate(zip(values, kinds, strict=True)):
                    if k == "f" or (isinstance(v, str) and v.startswith("=")):
                        out[(r, c)] = str(v)
        finally:
            book.close()
    return out


def _choose_sheet(book: Any, info: ReadInfo, layer_name: str | None, prefer: str | None) -> str:
    info.layers = [n for n in book.sheetnames if hasattr(book[n], "iter_rows")]
    if layer_name is not None:
        return choose_layer(info.layers, layer_name, None, info.path.name, "sheet")
    if prefer in info.layers:
        return str(prefer)
    if info.layers:
        return info.layers[0]
    raise InputError("The workbook holds no worksheet.", source=info.path.name)


def read_xlsx(
    p: Path, info: ReadInfo, encoding: str | None, layer_name: str | None, prefer: str | None
) -> gpd.GeoDataFrame | pd.DataFrame:
    """Read one sheet (named, named like ``prefer``, or the first) of an .xlsx workbook."""
    try:
        has_formulas = _check_and_scan(p, info)
        with p.open("rb") as fh:  # ours to close, also when openpyxl fails half-way
            book = openpyxl.load_workbook(fh, read_only=True, data_only=True)
            try:
                info.layer = _choose_sheet(book, info, layer_name, prefer)
                rows = _sheet_rows(book[info.layer])
            finally:
                book.close()
        formulas = _formulas(p, info.layer) if has_formulas else {}
    except InputError:
        raise
    except _BROKEN as exc:
        raise InputError(
            f"The Excel file could not be read (it is damaged, or not an .xlsx workbook): {exc}",
            source=p.name,
        ) from None
    if len(info.layers) > 1:
        info.notes.append(
            f"Read sheet '{info.layer}' of {len(info.layers)} ({', '.join(info.layers)})."
        )
    return table_geometry(_frame(rows, formulas, info), info)


def _frame(
    rows: list[tuple[int, list[Any], list[str]]],
    formulas: dict[tuple[int, int], str],
    info: ReadInfo,
) -> pd.DataFrame:
    """Build the table: header from the first non-empty row, index = sheet row numbers."""
    values = [
        (r, [_value(v, k) for v, k in zip(vs, ks, strict=True)], vs, ks) for r, vs, ks in rows
    ]
    filled = [item for item in values if any(v is not None for v in item[1])]
    if not filled:
        return pd.DataFrame(index=pd.RangeIndex(2, 2, name="row"))
    header_row = filled[0][0]
    data = [item for item in values if item[0] > header_row]
    width = max(
        max((i + 1 for i, v in enumerate(item[1]) if v is not None), default=0) for item in filled
    )
    header = _header((filled[0][2] + [None] * width)[:width])
    table = [(item[1] + [None] * width)[:width] for item in data]
    frame = pd.DataFrame(
        table, columns=header, index=pd.Index([d[0] for d in data], name="row"), dtype=object
    )
    calculated: list[str] = []
    for r, _, raw, kinds in data:
        for c in range(width):
            formula = formulas.get((r, c))
            kind = kinds[c] if c < len(kinds) else "n"
            cached = raw[c] if c < len(raw) else None
            cell = f"{get_column_letter(c + 1)}{r}"
            if kind == "e":
                info.uncomputed.setdefault(header[c], []).append(
                    UncomputedCell(r, cell, formula or "", error=str(cached))
                )
            elif formula is not None and cached is None:
                info.uncomputed.setdefault(header[c], []).append(UncomputedCell(r, cell, formula))
            elif formula is not None:
                calculated.append(cell)
    if calculated:
        listed = ", ".join(calculated[:8]) + (
            f" and {len(calculated) - 8} more" if len(calculated) > 8 else ""
        )
        info.notes.append(
            f"Cells {listed} hold formulas: the values Excel last calculated for them were read."
            if len(calculated) > 1
            else f"Cell {listed} holds a formula: the value Excel last calculated for it was read."
        )
    return frame
