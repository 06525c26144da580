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
import os
import re
import shutil
import statistics
import subprocess
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
    """Return the number of pages of a PDF (pdfinfo; -1 without poppler-utils)."""
    if shutil.which("pdfinfo") is None:
        return -1
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        out = subprocess.run(["pdfinfo", f.name], capture_output=True, text=True).stdout
    found = re.search(r"^Pages:\s+(\d+)", out, re.MULTILINE)
    return int(found.group(1)) if found else -1


def one_run(ws, access, grids, paper: str, orientation: str) -> dict[str, float]:
    """Time one print: wall-clock seconds of each phase, and the CPU seconds of the whole
    (the machine is shared: CPU time says what the print itself costs)."""
    c0, t0 = time.process_time(), time.perf_counter()
    sheet = grid_sheet(ws, access, grids, lang="zh-CN")
    t1 = time.perf_counter()
    pdf = render_pdf(sheet, paper, orientation)
    t2, c2 = time.perf_counter(), time.process_time()
    html = render_html(sheet, paper, orientation)
    t3 = time.perf_counter()
    return {
        "sheet": t1 - t0,
        "pdf": t2 - t1,
        "total_pdf": t2 - t0,
        "cpu_pdf": c2 - c0,
        "html": t3 - t2,
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
        f"{name}: PDF {med('total_pdf')} (CPU {med('cpu_pdf')}) = sheet {med('sheet')} + "
        f"maps and PDF {med('pdf')}; "
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
        load = os.getloadavg()[0]
        print(
            f"paper {args.paper} {args.orientation}; load average {load:.1f} on {os.cpu_count()} cores"
        )
        for name, grids, n in cases:
            runs = [one_run(ws, access, grids, args.paper, args.orientation) for _ in range(n)]
            print(summary(name, runs), flush=True)
        ws.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
