"""Values read from files or given by edits, converted to a column's type.

Each converter takes one raw value (text from a CSV, a spreadsheet cell, a JSON value) and
returns it in the column's Python type, or raises ``ValueError`` with the reason in words a
planner understands ("is not a whole number"); :mod:`gridmap.schema.validate` turns that into
an error naming the row and the column.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

import numpy as np
import pandas as pd

#: Times without a zone are read as China Standard Time (no daylight saving).
CHINA_TZ = dt.timezone(dt.timedelta(hours=8), "CST")

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "是", "有", "√", "✓", "对"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "否", "无", "×", "✗", "错"})
CHOICE_ALIASES = {"男": "M", "女": "F", "male": "M", "female": "F"}


def blank(v: Any) -> bool:
    """Return whether ``v`` is missing: None, NA, NaN or blank text."""
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return isinstance(v, str) and v.strip() == ""


def to_str(v: Any) -> str:
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    if isinstance(v, float | np.floating) and float(v).is_integer():
        if abs(float(v)) >= 1e15:  # beyond 15 digits a spreadsheet number has lost its last digits
            raise ValueError(
                "is a number too long to be exact (spreadsheets keep 15 digits); format the "
                "column as text and enter it again"
            )
        return str(int(v))  # Excel stores codes as numbers: 110101001001.0 -> "110101001001"
    if isinstance(v, pd.Timestamp | dt.datetime):
        return v.isoformat(sep=" ")
    return str(v).strip()


def show(v: Any) -> str:
    """Return a value as a planner would see it in the file, shortened."""
    big = isinstance(v, float | np.floating) and abs(float(v)) >= 1e15
    text = f"{v:.0f}" if big else to_str(v)
    return text if len(text) <= 60 else text[:57] + "..."


_INT_RE = re.compile(r"[+-]?\d+(?:\.0*)?")
_THOUSANDS_RE = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")


def number_text(s: str) -> str:
    s = s.strip()
    return s.replace(",", "") if _THOUSANDS_RE.fullmatch(s) else s


def to_int(v: Any) -> int:
    """Return ``v`` as a whole number that fits 64 bits, or raise ``ValueError``."""
    n = _to_int(v)
    if not -(2**63) <= n < 2**63:
        raise ValueError("is too large for a whole-number column (64 bits)")
    return n


def _to_int(v: Any) -> int:
    if isinstance(v, bool | np.bool_):
        raise ValueError("is a yes/no value, not a whole number")
    if isinstance(v, int | np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        if abs(float(v)) >= 1e15:
            raise ValueError("is a number too long to be exact (spreadsheets keep 15 digits)")
        if float(v).is_integer():
            return int(v)
        raise ValueError("is not a whole number")
    s = number_text(str(v))
    if _INT_RE.fullmatch(s):
        return int(s.split(".")[0])
    raise ValueError("is not a whole number")


def to_float(v: Any) -> float:
    if isinstance(v, bool | np.bool_):
        raise ValueError("is a yes/no value, not a number")
    try:
        f = float(v) if isinstance(v, int | float | np.number) else float(number_text(str(v)))
    except ValueError:
        raise ValueError("is not a number") from None
    if not math.isfinite(f):
        raise ValueError("is not a finite number")
    return f


def to_bool(v: Any) -> bool:
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | float | np.number) and float(v) in (0.0, 1.0):
        return bool(v)
    s = str(v).strip().lower()
    if s in TRUE_WORDS:
        return True
    if s in FALSE_WORDS:
        return False
    raise ValueError("is not a yes/no value (use 是/否, true/false or 1/0)")


_DATE_RE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_COMPACT_DATE_RE = re.compile(r"(\d{4})(\d{2})(\d{2})")


def to_date(v: Any) -> dt.date:
    if isinstance(v, pd.Timestamp | dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    s = to_str(v)
    m = _DATE_RE.match(s) or _COMPACT_DATE_RE.fullmatch(s)
    rest = s[m.end() :].strip() if m else ""
    if m is None or (rest and not re.fullmatch(r"[T ]?0{1,2}:00(:00(\.0+)?)?", rest)):
        raise ValueError("is not a date (use 2024-03-01)")
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        raise ValueError("is not a real date") from None


def to_datetime(v: Any) -> tuple[pd.Timestamp, bool]:
    """Return the time in UTC and whether it had no zone (then it is read as China time)."""
    if isinstance(v, pd.Timestamp | dt.datetime | dt.date):
        ts = pd.Timestamp(v)
    else:
        s = to_str(v)
        m = _DATE_RE.match(s) or _COMPACT_DATE_RE.fullmatch(s)
        if m is None:
            raise ValueError("is not a date and time (use 2024-03-01 14:30)")
        try:
            day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            raise ValueError("is not a real date") from None
        rest = s[m.end() :].strip().removeprefix("T").strip()
        try:
            ts = pd.Timestamp(f"{day.isoformat()} {rest}".strip())
        except ValueError:
            raise ValueError("is not a date and time (use 2024-03-01 14:30)") from None
    if ts.tzinfo is None:
        return ts.tz_localize(CHINA_TZ).tz_convert("UTC"), True
    return ts.tz_convert("UTC"), False
