"""Phone numbers as every write stores them: digits, full-width ones made plain.

A phone column (:attr:`gridmap.schema.model.Column.format` ``"phone"``) takes one or more
numbers separated by ``;``, ``,`` or ``/`` (an OSM facility often lists two); each is digits
with spaces, ``-``, ``(``, ``)`` and a leading ``+``, and holds 3 (110, 12345) to 15 digits
(E.164's longest). Full-width digits and punctuation typed on a Chinese keyboard are turned
into their plain forms (NFKC) before the check, so ``１３９１２３４５６７８`` is stored as
``13912345678``; "no phone" written as 无, 暂无, a dash or the like is stored empty. Anything else — letters, a lone digit — is refused, naming the row.
"""

from __future__ import annotations

import re
import unicodedata

import pandas as pd

from gridmap.errors import SchemaError
from gridmap.schema.model import Column

#: One number: an optional +, then digits with spaces, hyphens and brackets.
_NUMBER = re.compile(r"\+?[0-9(][0-9 ()\-]*")
_SPLIT = re.compile(r"\s*[;,/]\s*")
MIN_DIGITS, MAX_DIGITS = 3, 15
#: What registers write for "no phone": stored as an empty value, not refused.
NO_PHONE = frozenset({"", "无", "暂无", "没有", "-", "--", "—", "/", "none", "None", "n/a", "N/A"})


def _plain(text: str) -> str:
    return unicodedata.normalize("NFKC", text).replace("（", "(").replace("）", ")").strip()


def _is_phone(text: str) -> bool:
    parts = [p for p in _SPLIT.split(text) if p]
    if not parts:
        return False
    for p in parts:
        digits = sum(c.isdigit() for c in p)
        if not _NUMBER.fullmatch(p) or not MIN_DIGITS <= digits <= MAX_DIGITS:
            return False
    return True


def check_phones(values: pd.Series, column: Column, *, source: str | None) -> pd.Series:
    """Return the phone numbers of ``values`` in plain characters, or raise SchemaError naming
    the first row whose value is no phone number."""
    present = values.notna()
    if not present.any():
        return values
    plain = values[present].astype(str).map(_plain)
    # registers write "no phone" in words or a dash: that is no number, stored empty
    none = plain.isin(NO_PHONE)
    if none.any():
        values = values.astype(object).copy()
        values[plain.index[none]] = None
        present = values.notna()
        plain = plain[~none]
    bad = plain[~plain.map(_is_phone)]
    if len(bad):
        row, text = bad.index[0], str(bad.iloc[0])[:40]
        raise SchemaError(
            f"{column.zh} ({column.name}) '{text}' is not a phone number: digits only "
            f"(spaces, -, ( ) and a leading + allowed), {MIN_DIGITS} to {MAX_DIGITS} of them; "
            f"separate several numbers with ';'. (“{text}”不是有效的电话号码。)",
            row=row,
            column=column.name,
            source=source,
        )
    out = values.astype(object).copy()
    out[present] = plain
    return out
