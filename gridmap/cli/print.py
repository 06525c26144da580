"""``gridmap print``: grid sheets (maps and tables of grids) as PDF or HTML for print."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from gridmap.cli.common import Progress, Subparsers, add_reader_options, reader
from gridmap.errors import InputError


class _Report:
    """Progress of a print on stderr: a line each time the step changes, with its percent."""

    def __init__(self, quiet: bool, lang: str) -> None:
        self.line = Progress(quiet)
        self.lang = lang
        self.last = ""

    def __call__(self, fraction: float, en: str, zh: str) -> None:
        message = zh if self.lang == "zh-CN" else en
        if message != self.last:
            self.last = message
            self.line(f"{round(fraction * 100):3d} %  {message}")


def cmd_print(args: argparse.Namespace) -> None:
    """Print grid sheets of a workspace to a PDF or HTML file."""
    from gridmap.print.grids import choose_grids, grid_sheet, parse_grids
    from gridmap.print.render import render_html, render_pdf
    from gridmap.store import open_workspace

    out = Path(args.output)
    fmt = args.format or out.suffix.lower().lstrip(".")
    if fmt not in ("pdf", "html"):
        raise InputError(f"Print to a .pdf or .html file (or give --format), not '{out.name}'.")
    codes = parse_grids(args.grids)
    quiet = bool(getattr(args, "quiet", False))
    report = _Report(quiet, args.lang)
    with open_workspace(args.workspace, read_only=True) as ws:
        # a grid sheet shows no personal data (the register is never drawn): no --personal
        access = reader(ws, args, grids=codes or (), what="print")
        choice = choose_grids(ws, access, args.grids)
        report(0.0, f"Printing {len(choice.codes)} grid(s)", f"正在打印 {len(choice.codes)} 个网格")
        sheet = grid_sheet(ws, access, args.grids, lang=args.lang, progress=report)
        if fmt == "pdf":
            data = render_pdf(sheet, args.paper, args.orientation, progress=report)
        else:
            data = render_html(sheet, args.paper, args.orientation, progress=report).encode()
    _write(out, data)
    print(
        f"Printed {len(choice.codes)} grid(s) to {out} "
        f"({args.paper} {args.orientation}, {len(data):,} bytes)."
    )


def _write(out: Path, data: bytes) -> None:
    """Write ``data`` to ``out`` whole or not at all (an interrupted print leaves no file)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def add_commands(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``print`` to the ``gridmap`` command."""
    p = sub.add_parser(
        "print",
        parents=parents,
        help="print grid sheets (map and table of each grid) to PDF or HTML",
        description="Print the chosen grids: an overview page (two grids or more), then one "
        "page per grid with its map (true scale, scale bar, north arrow, legend), its details "
        "and its buildings. Chinese by default; fonts embedded in the PDF.",
    )
    p.add_argument("workspace")
    p.add_argument(
        "--grids", required=True, help="grid codes with commas between, or all (every grid)"
    )
    p.add_argument("-o", "--output", required=True, help="the file: .pdf or .html")
    p.add_argument("-f", "--format", choices=["pdf", "html"], help="default: from the extension")
    p.add_argument("--paper", choices=["A4", "A3"], default="A4")
    p.add_argument("--orientation", choices=["landscape", "portrait"], default="landscape")
    p.add_argument("--lang", choices=["zh-CN", "en"], default="zh-CN", help="default: zh-CN")
    add_reader_options(p, "print", personal=False)  # default: what an analyst sees
    p.set_defaults(func=cmd_print)
