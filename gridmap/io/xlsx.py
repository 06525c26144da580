"""Write tables to Excel quickly: a header row, real date cells, filters, an "about" sheet.

xlsxwriter in constant-memory mode writes a row at a time: three times faster than going through
pandas and openpyxl, and flat in memory for the register's tens of thousands of rows.

Cells never attack their reader: text is always written as text (a name imported as
``=HYPERLINK(…)`` stays a string cell, never a formula or a link), and
:func:`neutralise_formulas` makes the same text harmless in a CSV file, which has no cell types.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import pandas as pd
import xlsxwriter

MAX_WIDTH = 40
#: First characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection):
#: = + - @, and tab or carriage return before them.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


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


def _cells(series: pd.Series) -> list[Any]:
    """Return a column as values xlsxwriter writes natively (None for missing)."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        out: list[Any] = [None if pd.isna(v) else v.to_pydatetime() for v in series]
        return out
    values = series.astype(object).tolist()
    return [
        None if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA else v
        for v in values
    ]


def write_xlsx(
    path: str | os.PathLike[str], table: pd.DataFrame, sheet: str, about: Sequence[str]
) -> None:
    """Write ``table`` to the sheet ``sheet`` of a new workbook, and ``about`` lines to "about".

    Text is written as text cells: xlsxwriter's ``strings_to_formulas`` and ``strings_to_urls``
    are off, so ``=HYPERLINK(…)`` or ``http://…`` in a name never becomes a formula or a link.
    Numbers stay numbers.
    """
    book = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "default_date_format": "yyyy-mm-dd hh:mm",
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    try:
        bold = book.add_format({"bold": True, "bg_color": "#EEF1F5", "bottom": 1})
        ws = book.add_worksheet(sheet[:31])
        columns = [str(c) for c in table.columns]
        cols = [_cells(table[c]) for c in table.columns]
        for j, name in enumerate(columns):
            sample = [len(str(v)) for v in cols[j][:200] if v is not None]
            ws.set_column(j, j, min(MAX_WIDTH, max([len(name) * 1.6, *sample, 6]) + 2))
        ws.write_row(0, 0, columns, bold)
        ws.freeze_panes(1, 0)
        if columns:
            ws.autofilter(0, 0, max(1, len(table)), len(columns) - 1)
        for i, row in enumerate(zip(*cols, strict=True), start=1):
            ws.write_row(i, 0, row)
        info = book.add_worksheet("about")
        info.set_column(0, 0, 100)
        info.write(0, 0, "about", bold)
        for i, line in enumerate(about, start=1):
            info.write(i, 0, line)
    finally:
        book.close()
