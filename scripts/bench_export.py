#!/usr/bin/env python3
"""Benchmark layer exports: people and households as Excel, CSV and GeoPackage.

Builds the demo workspace (or takes ``--workspace``), then times, for each layer and format,
the whole export as gridmap runs it (:func:`gridmap.io.export.export_layer`, as the admin:
every row and column), and for Excel also its peers on the same table:

- ``xlsxwriter`` — the writer gridmap used before (xlsxwriter's constant-memory mode, one
  ``write_row`` per row), kept here to compare with;
- ``pandas.to_excel`` — the naive way (``DataFrame.to_excel`` with openpyxl, then xlsxwriter);
- ``http`` — ``GET /api/layers/people/export?format=xlsx`` through the Flask test client.

Each is run ``--runs`` times (default 3); the medians of wall time and of this process's CPU
time are printed (the machine is shared: CPU time says what the code costs, wall time what a
user waits). Run it on another checkout (``PYTHONPATH=/path/to/old/checkout``) to time the
exports as they were; the peers do not depend on the checkout.

    .venv/bin/python scripts/bench_export.py [--workspace demo.gpkg] [--runs 3] [--only people]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pandas as pd


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """Return the median wall and CPU seconds of ``runs`` calls of ``fn``."""
    walls, cpus = [], []
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def xlsxwriter_rows(path: Path, table: pd.DataFrame) -> None:
    """The Excel writer gridmap used before: xlsxwriter, constant memory, a row at a time."""
    import xlsxwriter

    def cells(series: pd.Series) -> list[object]:
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            return [None if pd.isna(v) else v.to_pydatetime() for v in series]
        values = series.astype(object).tolist()
        return [
            None if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA else v
            for v in values
        ]

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
        sheet = book.add_worksheet("data")
        sheet.write_row(0, 0, [str(c) for c in table.columns])
        cols = [cells(table[c]) for c in table.columns]
        for i, row in enumerate(zip(*cols, strict=True), start=1):
            sheet.write_row(i, 0, row)
    finally:
        book.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", help="a demo workspace (default: build one)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=["people", "households"], help="one layer only")
    parser.add_argument("--no-peers", action="store_true", help="gridmap's own exports only")
    args = parser.parse_args()

    from gridmap import store
    from gridmap.access.roles import Access
    from gridmap.io import export as export_module

    folder = Path(tempfile.mkdtemp(prefix="bench-export-"))
    if args.workspace:
        path = Path(args.workspace)
    else:
        from gridmap.build.demo import build_demo

        path = folder / "demo.gpkg"
        print("building the demo workspace …", file=sys.stderr)
        build_demo(path, today=date(2026, 11, 27))
    ws = store.GeoPackageWorkspace(path, read_only=True)
    admin = Access.of("bench", "admin")
    layers = [args.only] if args.only else ["people", "households"]
    print(f"gridmap from {Path(export_module.__file__).resolve().parent.parent.parent}")
    print(f"| layer | rows | what | wall s (median of {args.runs}) | CPU s | file MB |")
    print("| --- | ---: | --- | ---: | ---: | ---: |")

    def report(layer: str, rows: int, what: str, fn: Callable[[], Path]) -> None:
        wall, cpu = timed(fn, args.runs)
        size = fn().stat().st_size / 1e6 if what != "http" else float("nan")
        print(f"| {layer} | {rows:,} | {what} | {wall:.2f} | {cpu:.2f} | {size:.1f} |", flush=True)

    for layer in layers:
        rows = ws.count(layer)
        for fmt in ("xlsx", "csv", "gpkg"):
            out = folder / f"{layer}.{fmt}"

            def run(out: Path = out, layer: str = layer) -> Path:
                return export_module.export_layer(ws, layer, out, access=admin, lang="zh-CN")

            report(layer, rows, f"gridmap {fmt}", run)
        if args.no_peers:
            continue
        table = ws.read(layer, system=False).drop(columns="geometry", errors="ignore")
        table = pd.DataFrame(table).reset_index(drop=True)
        for col in table.columns:
            if isinstance(table[col].dtype, pd.DatetimeTZDtype):
                table[col] = table[col].dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)

        def old(layer: str = layer, table: pd.DataFrame = table) -> Path:
            out = folder / f"{layer}-xlsxwriter.xlsx"
            xlsxwriter_rows(out, table)
            return out

        report(layer, rows, "xlsxwriter, a row at a time (before)", old)
        for engine in ("openpyxl", "xlsxwriter"):

            def naive(
                layer: str = layer, table: pd.DataFrame = table, engine: str = engine
            ) -> Path:
                out = folder / f"{layer}-pandas-{engine}.xlsx"
                table.to_excel(out, index=False, engine=engine)
                return out

            report(layer, rows, f"pandas.to_excel ({engine})", naive)
    if not args.no_peers and "people" in layers:
        from gridmap.service import accounts
        from web.app import create_app

        copy = ws.backup(folder / "served.gpkg")
        served = store.GeoPackageWorkspace(copy)
        if served.get_user("admin") is None:
            accounts.create_demo_accounts(served)
        token = accounts.issue_token(served, "admin", "bench")
        app = create_app({"WORKSPACE": served, "TESTING": True})
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"

        def http() -> Path:
            resp = client.get("/api/layers/people/export?format=xlsx&lang=zh-CN")
            assert resp.status_code == 200, resp.status_code
            return copy

        wall, cpu = timed(http, args.runs)
        rows = ws.count("people")
        print(f"| people | {rows:,} | http GET …/export?format=xlsx | {wall:.2f} | {cpu:.2f} | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
