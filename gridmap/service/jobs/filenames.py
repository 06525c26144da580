"""The names exported files are saved as: layer, area, date and language, safe on Windows.

``<layer>_<area>[_<filtered>]_<date>_<lang>.<ext>``, in the export's language::

    households_320102001001001_2026-12-02_en.xlsx          one grid
    住户_320102001001001等3个网格_2026-12-02_zh-CN.xlsx      several grids: the first code, how many
    households_320102001001001+2grids_2026-12-02_en.xlsx
    事件_筛选_2026-12-02_zh-CN.csv                           the whole layer, filtered
    people_12selected_2026-12-02_en.xlsx                     a selection of 12 features
    buildings_view_2026-12-02_en.csv                         the map view (a bounding box)
    grids_all_2026-12-02_en.zip                              everything (a Shapefile is zipped)

The date is the workspace's local day. A name holds no character Windows refuses
(``<>:"/\\|?*``, control characters), no trailing dot or space, and at most :data:`MAX_CHARS`
characters (the area part is cut first). :func:`ascii_name` is the same name in English words
and ASCII characters only, for the plain ``filename=`` of a Content-Disposition header;
:func:`content_disposition` gives both (RFC 6266, the UTF-8 one as RFC 5987 ``filename*``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

from gridmap.schema import get_layer

#: The longest name given (Windows allows 255, but paths add up; mail and zip tools shorten).
MAX_CHARS = 100
_UNSAFE = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]|\s+')
_NOT_ASCII = re.compile(r"[^A-Za-z0-9._+\-]")


@dataclass(frozen=True)
class Choice:
    """What part of a layer an export holds, as its file name says it."""

    grids: tuple[str, ...] = ()
    ids: int = 0
    bbox: bool = False
    filtered: bool = False


def _clean(text: str, *, ascii_only: bool) -> str:
    out = _UNSAFE.sub("-", text)
    if ascii_only:
        out = _NOT_ASCII.sub("-", out)
    return re.sub(r"-{2,}", "-", out).strip("-. ")


def file_part(text: str) -> str:
    """Return ``text`` fit for a part of a file name: no path separators, quotes, controls or
    spaces (each run of them is one ``-``); Chinese stays."""
    return _clean(text, ascii_only=False)


def _area(choice: Choice, zh: bool, ascii_only: bool) -> str:
    if choice.grids:
        first = _clean(choice.grids[0], ascii_only=ascii_only) or "grid"
        more = len(choice.grids) - 1
        if not more:
            return first
        return f"{first}等{more + 1}个网格" if zh else f"{first}+{more}grids"
    if choice.ids:
        return f"选中{choice.ids}项" if zh else f"{choice.ids}selected"
    if choice.bbox:
        return "视图" if zh else "view"
    return "" if choice.filtered else ("全部" if zh else "all")


def export_name(
    layer: str,
    fmt: str,
    *,
    lang: str,
    day: date,
    choice: Choice = Choice(),
    ascii_only: bool = False,
) -> str:
    """Return the file name of an export (see the module docstring).

    Parameters
    ----------
    layer
        The layer's name (its Chinese title names a Chinese export).
    fmt
        The format: its extension (a Shapefile: ``.zip``).
    lang
        ``zh-CN`` or ``en``: the words of the name and its language tag.
    day
        The workspace's local date of the export.
    choice
        The grids, selection, view and filter the export holds.
    ascii_only
        English words and ASCII characters only, whatever ``lang`` (the tag stays ``lang``).
    """
    zh = lang == "zh-CN" and not ascii_only
    schema = get_layer(layer)
    title = _clean(schema.zh, ascii_only=False) if zh else layer
    ext = "zip" if fmt == "shp" else fmt
    tail = [day.isoformat(), "zh-CN" if lang == "zh-CN" else "en"]
    flag = ("筛选" if zh else "filtered") if choice.filtered else ""
    area = _area(choice, zh, ascii_only)
    fixed = "_".join(p for p in (title, flag, *tail) if p) + f".{ext}"
    room = MAX_CHARS - len(fixed) - 1
    if area and room < len(area):  # cut the area part, keeping what says how many
        if choice.grids and len(choice.grids) > 1:
            count = area[len(_clean(choice.grids[0], ascii_only=ascii_only)) :]
            area = area[: max(0, room - len(count))] + count
        else:
            area = area[: max(0, room)]
    return "_".join(p for p in (title, area, flag, *tail) if p) + f".{ext}"


def ascii_name(name: str) -> str:
    """Return ``name`` with every character but ASCII letters, digits and ``._+-`` as ``-``."""
    stem, dot, ext = name.rpartition(".")
    return _clean(stem, ascii_only=True) + dot + _clean(ext, ascii_only=True)


def content_disposition(name: str, fallback: str | None = None) -> str:
    """Return an ``attachment`` Content-Disposition for ``name``, with an ASCII fallback.

    ``filename="<fallback>"`` (default: :func:`ascii_name` of ``name``) for old clients, and
    ``filename*=UTF-8''<name, percent-encoded>`` (RFC 5987) when ``name`` is not ASCII.
    """
    plain = ascii_name(fallback or name)
    if name.isascii() and name == plain:
        return f'attachment; filename="{plain}"'
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


def choice_of(
    grids: Sequence[str] = (),
    ids: Sequence[int] = (),
    bbox: object = None,
    where: Sequence[str] = (),
) -> Choice:
    """Return the :class:`Choice` of an export's parameters."""
    return Choice(grids=tuple(grids), ids=len(ids), bbox=bbox is not None, filtered=bool(where))
