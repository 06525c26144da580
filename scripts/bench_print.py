#!/usr/bin/env python3
"""Time the print engine on the real demo: one grid, two grids and all 53, as PDF and HTML.

Usage: ``.venv/bin/python scripts/bench_print.py [--workspace demo.gpkg] [--runs 3]
[--all-runs 1] [--paper A4] [--orientation landscape]``. Without ``--workspace`` it builds the
demo in a temporary folder first (about 20 s). Each case is timed ``--runs`` times (all grids:
``--all-runs``) and reported as the median and the range, split into building the sheet
(reading the layers for the reader), drawing the pages (maps as SVG, HTML) and WeasyPrint's
layout and writing; the PDF's page count and size are reported too. The numbers go into
docs/benchmarks.md (the lead writes it).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from gridmap.access.roles import Access
from gridmap.print.grids import grid_sheet
from gridmap.print.render import render_html, render_pdf
from gridmap.store import open_workspace


def pdf_pages(pdf: bytes) -> int:
    """Return the number of pages of a PDF (its ``/Type /Page`` objects, not ``/Pages``)."""
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))


def one_run(ws, access, grids, paper: str, orientation: str) -> dict[str, float]:
    t0 = time.perf_counter()
    sheet = grid_sheet(ws, access, grids, lang="zh-CN")
    t1 = time.perf_counter()
    html = render_html(sheet, paper, orientation)
    t2 = time.perf_counter()
    pdf = render_pdf(sheet, paper, orientation)
    t3 = time.perf_counter()
    return {
        "sheet": t1 - t0,
        "html": t2 - t1,
        "pdf": t3 - t2,
        "total_pdf": (t1 - t0) + (t3 - t2),
        "pages": float(pdf_pages(pdf)),
        "bytes": float(len(pdf)),
        "html_bytes": float(len(html.encode())),
    }


def summary(name: str, runs: list[dict[str, float]]) -> str:
    def med(key: str) -> str:
        values = [r[key] for r in runs]
        spread = f" ({min(values):.2f}–{max(values):.2f})" if len(values) > 1 else ""
        return f"{statistics.median(values):.2f} s{spread}"

    last = runs[-1]
    return (
        f"{name}: PDF {med('total_pdf')} = sheet {med('sheet')} + maps and PDF {med('pdf')}; "
        f"HTML for print {med('html')}; {int(last['pages'])} pages, "
        f"{last['bytes'] / 1e6:.2f} MB PDF, {last['html_bytes'] / 1e6:.2f} MB HTML "
        f"[{len(runs)} run(s)]"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", help="a demo workspace (default: build one)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--all-runs", type=int, default=1)
    parser.add_argument("--paper", default="A4")
    parser.add_argument("--orientation", default="landscape")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.workspace
        if path is None:
            from gridmap.build.demo import build_demo

            path = str(Path(tmp) / "demo.gpkg")
            print("building the demo workspace…", file=sys.stderr)
            build_demo(path, today=date(2026, 11, 27))
        ws = open_workspace(path, read_only=True)
        access = Access.of("bench", "planner")
        codes = sorted(ws.read("grids", columns=["code"])["code"])
        cases = [
            ("1 grid", [codes[0]], args.runs),
            ("2 grids", codes[:2], args.runs),
            (f"all {len(codes)} grids", "all", args.all_runs),
        ]
        one_run(ws, access, [codes[0]], args.paper, args.orientation)  # warm: imports, fonts
        print(f"paper {args.paper} {args.orientation}; machine load shared, see `uptime`")
        for name, grids, n in cases:
            runs = [one_run(ws, access, grids, args.paper, args.orientation) for _ in range(n)]
            print(summary(name, runs), flush=True)
        ws.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
