"""Register figures as a CSV file people open in Excel: titled in their language, BOM first.

:mod:`gridmap.service.figures` makes the tables; this words them: Chinese column titles for
``zh-CN`` with the UTF-8 byte order mark that makes Excel read the file as UTF-8 (column
names and no mark otherwise, as scripts read them), a suppressed count as 已隐藏 (hidden)
rather than an empty cell that reads as "nothing", formulas neutralised. A rounded column
(``visit_households`` for the masked view's readers: the table's ``attrs["rounded_to"]``)
says so in its title: ``visit_households (nearest 10)``, 六必访户数（约数，取整到10）.
"""

from __future__ import annotations

import pandas as pd

from gridmap.io.export_notes import HIDDEN
from gridmap.io.xlsx import neutralise_formulas
from gridmap.schema import VISIT_CATEGORIES, choice_titles
from gridmap.service.figures import AGE_BANDS, GENDERS

_BASE_ZH = {
    "grid_code": "网格编码",
    "community_code": "社区编码",
    "households": "户数",
    "residents": "人口",
    "migrants": "流动人口",
    "registered_here": "本地户籍人口",
    "rented_homes": "出租房户数",
    "visit_households": "六必访户数",
}
_GENDER_ZH = {"female": "女", "male": "男"}


def _band_zh(first: int, last: int | None) -> str:
    return f"{first}岁及以上" if last is None else f"{first}–{last}岁"


def figure_titles() -> dict[str, str]:
    """Return the Chinese title of every column of the register and category figures."""
    out = dict(_BASE_ZH)
    for _, word in GENDERS:
        for band, first, last in AGE_BANDS:
            out[f"{word}_{band}"] = f"{_GENDER_ZH[word]} {_band_zh(first, last)}"
    titles = choice_titles("visits", "category")
    for cat in VISIT_CATEGORIES:
        out[f"{cat}_households"] = f"{titles.get(cat, (cat, cat))[1]}户数"
        out[f"{cat}_people"] = f"{titles.get(cat, (cat, cat))[1]}人数"
    return out


def figures_csv(table: pd.DataFrame, lang: str) -> bytes:
    """Return a figures table as CSV bytes for ``lang`` (``zh-CN``: Chinese titles).

    Suppressed counts (missing in the table) say 已隐藏 / hidden. UTF-8; for ``zh-CN`` with a
    byte order mark.
    """
    key = table.columns[0] if len(table.columns) else None
    rounded: dict[str, int] = dict(table.attrs.get("rounded_to") or {})
    out = table.astype(object)
    word = HIDDEN["zh-CN" if lang == "zh-CN" else "en"]
    for name in out.columns:
        if name != key:
            out[name] = out[name].where(table[name].notna(), word)
    titles = figure_titles() if lang == "zh-CN" else {c: c for c in out.columns}
    for name, step in rounded.items():
        if lang == "zh-CN":
            titles[name] = f"{titles.get(name, name)}（约数，取整到{step}）"
        else:
            titles[name] = f"{name} (nearest {step})"
    out = out.rename(columns=titles)
    text: str = neutralise_formulas(out).to_csv(index=False)
    return text.encode("utf-8-sig" if lang == "zh-CN" else "utf-8")
