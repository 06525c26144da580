"""Rendering a :class:`~gridmap.print.sheet.Sheet`: HTML for print, and PDF through WeasyPrint.

:func:`render_html` draws each page's map for the space the paper leaves it (true scale, see
:mod:`gridmap.print.mapfigure`), fits the legend and as many tables as the column beside (or
below) the map holds, moves the rest to pages of their own, and fills the Jinja2 template
``templates/sheet.html.j2``: one self-contained document (its CSS in one ``<style>`` block,
maps as inline SVG, no script, no ``style=`` attribute, nothing to fetch), which a browser
prints as it is. :func:`render_pdf` lays the same document out with WeasyPrint; the Chinese
font (Noto Sans CJK SC, Debian's fonts-noto-cjk) is embedded, subset, in the PDF. Nothing is
fetched while rendering: a resource the document named would be refused.

Both take ``progress(fraction, en, zh)`` and ``cancelled()`` callbacks (optional): progress
goes from 0 to 1 over the maps and, for PDF, the layout and writing; a cancel between two
steps raises :class:`PrintCancelled`.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any, NoReturn

import jinja2
from markupsafe import Markup

from gridmap import __version__
from gridmap.errors import PrintUnavailableError
from gridmap.print.mapfigure import RenderedMap
from gridmap.print.paper import FOOTER_MM, GAP_MM, MARGIN_MM, Layout, Paper, layout
from gridmap.print.paper import paper as make_paper
from gridmap.print.sheet import Page, Sheet, Table, words

Progress = Callable[[float, str, str], None]
Cancelled = Callable[[], bool]

TEMPLATES = Path(__file__).parent / "templates"

#: Heights (mm) the fitting of tables counts with: a table row, a caption, the gap after a
#: table, a legend line, the legend's heading and the scale note.
ROW_MM = 4.3
CAPTION_MM = 4.8
TABLE_GAP_MM = 3.2
LEGEND_LINE_MM = 4.6
LEGEND_HEAD_MM = 6.8
SCALE_NOTE_MM = 10.0


class PrintCancelled(Exception):
    """A print was cancelled before it finished (raised only when ``cancelled()`` said so)."""


@dataclass
class PreparedPage:
    """A page ready for the template: its map drawn, its tables split beside / after."""

    title: str
    subtitle: str
    layout: str
    lay: Layout | None
    map: RenderedMap | None
    scale_note: str = ""
    beside: list[Table] = field(default_factory=list)
    after: list[Table] = field(default_factory=list)
    notes: tuple[str, ...] = ()

    @property
    def box(self) -> str:
        """Return the CSS class of the page's division (its map and column sizes)."""
        if self.lay is None:
            return "text"
        (mw, mh), (cw, ch) = self.lay.map_mm, self.lay.column_mm
        return f"box-{round(mw * 10)}-{round(mh * 10)}-{round(cw * 10)}-{round(ch * 10)}"


def _steps(progress: Progress | None, cancelled: Cancelled | None) -> Progress:
    def step(fraction: float, en: str, zh: str) -> None:
        if cancelled is not None and cancelled():
            raise PrintCancelled("The print was cancelled. (打印已取消。)")
        if progress is not None:
            progress(fraction, en, zh)

    return step


#: Part of a column below the map (portrait) its legend takes; the tables take the rest.
STACK_KEY_SHARE = 0.36
#: The largest and smallest parts of a portrait page's body the column below the map takes.
STACK_MAX_SHARE = 0.56
STACK_MIN_SHARE = 0.2


def _legend_mm(lay: Layout) -> float:
    """Return the width of the legend: the column beside the map, or its left part below."""
    return lay.column_mm[0] * (STACK_KEY_SHARE if lay.kind == "stack" else 1.0)


def _legend_per_line(lay: Layout) -> int:
    """Return how many legend entries one line of the legend holds (about 32 mm each)."""
    return max(1, int(_legend_mm(lay) // 32))


def _table_mm(table: Table) -> float:
    return table.lines * ROW_MM + (CAPTION_MM - ROW_MM if table.caption else 0) + TABLE_GAP_MM


def _fit(page: Page, lay: Layout, legend_entries: int) -> tuple[list[Table], list[Table]]:
    """Return the tables that fit in the column beside / below the map, and the rest.

    Tables are taken in order; a list that fits only in part is split (at least three rows
    beside), its rest continued after the map with its header repeated.
    """
    if page.tables_after:
        return [], list(page.tables)
    free = lay.column_mm[1] - 3.0 * len(page.notes)
    if lay.kind == "side":  # the legend is above the tables (below the map: beside them)
        free -= SCALE_NOTE_MM
        if legend_entries:
            lines = math.ceil(legend_entries / _legend_per_line(lay))
            free -= LEGEND_HEAD_MM + lines * LEGEND_LINE_MM
    beside: list[Table] = []
    tables = list(page.tables)
    while tables and _table_mm(tables[0]) <= free:
        free -= _table_mm(tables[0])
        beside.append(tables.pop(0))
    if tables and tables[0].kind == "list":
        first = tables[0]
        spare = _table_mm(replace(first, rows=(), total=None))
        rows = int((free - spare) // ROW_MM)
        if 3 <= rows < len(first.rows):
            beside.append(replace(first, rows=first.rows[:rows], total=None, note=""))
            tables[0] = replace(
                first, rows=first.rows[rows:], caption=f"{first.caption} ({len(first.rows)})"
            )
    return beside, tables


def _grown(page: Page, lay: Layout, page_paper: Paper, legend_entries: int) -> Layout | None:
    """Return a layout whose column below the map is as tall as its legend and tables need
    (the map larger, or smaller down to :data:`STACK_MAX_SHARE` of the body for the column),
    or None when the page's own fits them closely or is not a portrait one."""
    if lay.kind != "stack" or page.tables_after:
        return None
    tables = sum(_table_mm(t) for t in page.tables) + 3.0 * len(page.notes)
    lines = math.ceil(legend_entries / _legend_per_line(lay)) if legend_entries else 0
    legend = SCALE_NOTE_MM + (LEGEND_HEAD_MM + lines * LEGEND_LINE_MM if lines else 0)
    need = max(tables, legend) + 2.0
    body = page_paper.body_mm[1]
    share = min(STACK_MAX_SHARE, max(STACK_MIN_SHARE, (need + GAP_MM) / body))
    if abs(share * body - GAP_MM - lay.column_mm[1]) < 4.0:
        return None
    return layout(page_paper, column_share=share)


def scale_note(rendered: RenderedMap, lang: str) -> str:
    """Return the line under the legend: scale, CRS, and what north and the bar mean."""
    zone = rendered.crs
    return words(
        lang,
        f"Scale 1:{rendered.scale:,} on this paper (true at the map's centre). Drawn in "
        f"{zone} (UTM); the arrow points to true north.",
        f"比例尺 1:{rendered.scale:,}（按本纸张打印，图幅中心处准确）。投影 {zone}（UTM），"
        "指北针指向真北。",
    )


def prepare(sheet: Sheet, page_paper: Paper, step: Progress | None = None) -> list[PreparedPage]:
    """Draw each page's map for ``page_paper`` and split its tables; see the module."""
    out = []
    n = len(sheet.pages)
    for i, page in enumerate(sheet.pages):
        if step is not None:
            step(
                i / max(n, 1),
                f"Drawing page {i + 1} of {n}",
                f"正在绘制第 {i + 1} 页，共 {n} 页",
            )
        if page.figure is None:
            out.append(
                PreparedPage(
                    page.title,
                    page.subtitle,
                    "text",
                    None,
                    None,
                    "",
                    list(page.tables),
                    [],
                    page.notes,
                )
            )
            continue
        lay = layout(page_paper, column_share=page.column_share)
        rendered = page.figure.render(*lay.map_mm, ident=f"map{i + 1}")
        wider = _grown(page, lay, page_paper, len(rendered.legend))
        if wider is not None:  # below the map: the column as tall as its content needs
            lay = wider
            rendered = page.figure.render(*lay.map_mm, ident=f"map{i + 1}")
        beside, after = _fit(page, lay, len(rendered.legend))
        out.append(
            PreparedPage(
                page.title,
                page.subtitle,
                lay.kind,
                lay,
                rendered,
                scale_note(rendered, sheet.lang),
                beside,
                after,
                page.notes,
            )
        )
    return out


def _css_string(value: str) -> str:
    """Return ``value`` as a CSS string literal that cannot end its ``<style>`` block.

    Backslash and quote are escaped, ``<`` and ``>`` written as CSS escapes (so no
    ``</style>`` reaches the HTML), and control characters become spaces.
    """
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("<", "\\3c ").replace(">", "\\3e ")
    escaped = "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in escaped)
    return f'"{escaped}"'


def page_css(sheet: Sheet, page_paper: Paper, pages: list[PreparedPage]) -> str:
    """Return the CSS of the paper: its size, margins and footer, and the boxes of each map."""
    notice = " · ".join(sheet.notices)
    css = [
        "@page {",
        f"  size: {page_paper.width_mm}mm {page_paper.height_mm}mm;",
        f"  margin: {MARGIN_MM}mm {MARGIN_MM}mm {MARGIN_MM + FOOTER_MM}mm {MARGIN_MM}mm;",
        "  @bottom-left { content: "
        + _css_string(notice)
        + "; font-size: 6.5pt; color: #6c757d; vertical-align: top; padding-top: 2mm;"
        + " width: 85%; }",
        '  @bottom-right { content: counter(page) " / " counter(pages); font-size: 7pt;'
        " color: #495057; vertical-align: top; padding-top: 2mm; }",
        "}",
    ]
    seen: set[str] = set()
    for p in pages:
        if p.lay is None or p.box in seen:
            continue
        seen.add(p.box)
        mw, mh = p.lay.map_mm
        cw, _ = p.lay.column_mm
        per = _legend_per_line(p.lay)
        li = math.floor(_legend_mm(p.lay) / per * 10) / 10 - 0.5
        css.append(f".{p.box} .map {{ width: {mw}mm; height: {mh}mm; }}")
        css.append(f".{p.box} .column {{ width: {cw}mm; }}")
        css.append(f".{p.box} .legend li {{ width: {li}mm; }}")
    return "\n".join(css)


def screen_css(page_paper: Paper) -> str:
    """Return what a browser needs of HTML for print: the colours kept when it prints (it
    would drop them), and on screen each page shown as a sheet of its paper."""
    bw = page_paper.width_mm - 2 * MARGIN_MM
    bh = page_paper.height_mm - 2 * MARGIN_MM - FOOTER_MM
    pad = f"{MARGIN_MM}mm {MARGIN_MM}mm {MARGIN_MM + FOOTER_MM}mm"
    return "\n".join(
        [
            "html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }",
            "@media screen {",
            "  html { background: #dee2e6; }",
            "  body { padding: 6mm 0; }",
            f"  .page {{ width: {bw}mm; min-height: {bh}mm; margin: 0 auto 6mm; padding: {pad};"
            " background: #ffffff; box-shadow: 0 1px 4px rgba(0, 0, 0, 0.25); }",
            f"  .screen-hint {{ width: {page_paper.width_mm}mm; margin: 0 auto 4mm;"
            " font-size: 10pt; color: #343a40; }",
            "}",
            "@media print { .screen-hint { display: none; } }",
        ]
    )


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html", "j2"], default_for_string=True),
        trim_blocks=False,
        lstrip_blocks=False,
        undefined=jinja2.StrictUndefined,
    )


def _words(lang: str) -> dict[str, str]:
    return {
        "printed": words(lang, "Printed", "打印日期"),
        "legend": words(lang, "Legend", "图例"),
        "continued": words(lang, "continued", "续表"),
        "hint": words(
            lang,
            "Print this page with the browser (Ctrl+P) at 100 % (actual size), margins as "
            "set by the page: the map's scale is then true.",
            "用浏览器打印本页（Ctrl+P），缩放选 100%（实际大小）、页边距用页面的设置，"
            "图上比例尺即准确。",
        ),
    }


def render_html(
    sheet: Sheet,
    paper: str = "A4",
    orientation: str = "landscape",
    *,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
    browser: bool = True,
) -> str:
    """Return ``sheet`` as one self-contained HTML document for print on ``paper``.

    Parameters
    ----------
    sheet
        What to print.
    paper
        ``A4`` or ``A3``.
    orientation
        ``landscape`` (map left, legend and tables right) or ``portrait`` (tables below).
    progress, cancelled
        See the module; progress goes 0 → 1 over the pages' maps.
    browser
        Add what browsers need to print the colours (WeasyPrint does not know it).
    """
    page_paper = make_paper(paper, orientation)
    step = _steps(progress, cancelled)
    pages = prepare(sheet, page_paper, step)
    step(1.0, "Pages drawn", "页面已绘制")
    css = (TEMPLATES / "sheet.css").read_text(encoding="utf-8")
    if browser:
        css += screen_css(page_paper)
    template = _environment().get_template("sheet.html.j2")
    return template.render(
        sheet=sheet,
        paper=page_paper,
        pages=pages,
        css=Markup(page_css(sheet, page_paper, pages) + "\n" + css),
        words=_words(sheet.lang),
        browser=browser,
        printed=sheet.printed.isoformat(),
        version=__version__,
    )


def _refuse(url: str, *args: Any, **kwargs: Any) -> NoReturn:
    """WeasyPrint's URL fetcher: nothing is fetched while printing (offline, and safe)."""
    raise ValueError(f"printing fetches nothing: {url}")


@cache
def cjk_font() -> str | None:
    """Return the family of an installed Simplified Chinese font (fontconfig), or None.

    None also when fontconfig's ``fc-list`` is not installed (then nothing can be said).
    """
    if shutil.which("fc-list") is None:
        return None
    found = subprocess.run(
        ["fc-list", ":lang=zh-cn", "family"], capture_output=True, text=True, check=False
    ).stdout
    names = [n.split(",")[0].strip() for n in found.splitlines() if n.strip()]
    for preferred in ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei"):
        if preferred in names:
            return preferred
    return names[0] if names else ""


def render_pdf(
    sheet: Sheet,
    paper: str = "A4",
    orientation: str = "landscape",
    *,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> bytes:
    """Return ``sheet`` as a PDF on ``paper`` in ``orientation``; see :func:`render_html`.

    Progress: 0 → 0.6 drawing the maps, 0.6 → 0.9 laying the pages out, then writing. Raises
    :class:`PrintUnavailableError` when WeasyPrint (or Pango under it) or a Chinese font is
    missing on this machine.
    """
    step = _steps(progress, cancelled)

    def maps(fraction: float, en: str, zh: str) -> None:
        step(0.6 * fraction, en, zh)

    if cjk_font() == "":
        raise PrintUnavailableError(
            "No Chinese font is installed, so the sheet would print boxes for Chinese text: "
            "install fonts-noto-cjk (Debian). (未安装中文字体，请安装 fonts-noto-cjk。)"
        )
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: Pango is missing
        raise PrintUnavailableError(
            f"PDF printing needs WeasyPrint and Pango ({exc}): pip install weasyprint; Debian: "
            "libpango-1.0-0 libpangoft2-1.0-0. (打印 PDF 需要 WeasyPrint 与 Pango。)"
        ) from exc
    html = render_html(sheet, paper, orientation, progress=maps, cancelled=cancelled, browser=False)
    step(0.6, "Laying out the pages", "正在排版")
    document = weasyprint.HTML(string=html, url_fetcher=_refuse).render()
    step(0.9, "Writing the PDF", "正在生成 PDF")
    pdf = document.write_pdf()
    if pdf is None:  # pragma: no cover - write_pdf without a target returns the bytes
        raise PrintUnavailableError("WeasyPrint wrote no PDF. (未能生成 PDF。)")
    step(1.0, "PDF written", "PDF 已生成")
    return bytes(pdf)
